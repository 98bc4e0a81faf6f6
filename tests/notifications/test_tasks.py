"""Delivery through a real Celery worker on the Redis broker and a real SMTP server."""

import threading
import time
from datetime import timedelta
from decimal import Decimal
from email import message_from_bytes
from email.policy import default as default_policy
from urllib.parse import urlparse

import pytest
from celery.exceptions import Retry
from django.db import transaction
from django.utils import timezone

from benchmarks.switch import DatabaseSwitch
from bookings.services import booking_cancel, booking_confirm, booking_hold
from inventory.models import RoomInventory
from notifications.formatting import format_day, format_money
from notifications.models import Notification
from notifications.services import dispatch, notifications_sweep, notify_booking_event
from notifications.tasks import (
    backfill_reminders_task,
    deliver_notification_task,
    sweep_notifications_task,
)
from tests.factories import HotelFactory, RoomTypeFactory
from tests.notifications.conftest import celery_broker, wait_until
from tests.notifications.factories import booking_with_nights
from tests.servers import python, require_packet_drop

pytestmark = pytest.mark.django_db(transaction=True)

Kind = Notification.Kind
Status = Notification.Status

UNREACHABLE_BROKER = "redis://127.0.0.1:1/0"


def _staff_alerts(prefix: str, count: int) -> list[Notification]:
    """``count`` pending staff alerts, their dedupe keys starting with ``prefix``."""
    return [
        Notification.objects.create(
            kind=Kind.STAFF_ALERT,
            recipient="ops@example.com",
            subject=f"Alert {n}",
            body_text="Body",
            dedupe_key=f"{prefix}-{n}",
        )
        for n in range(count)
    ]


def confirmation_of(booking) -> Notification:
    return Notification.objects.get(booking=booking, kind=Kind.BOOKING_CONFIRMED)


def test_worker_delivers_the_confirmation_once(celery_worker, smtp_server):
    # given
    booking = booking_with_nights(guest_email="ana@example.com")

    # when: the event commits; the task goes through Redis to the worker
    with transaction.atomic():
        notify_booking_event(booking=booking, event="confirmed")

    # then
    assert wait_until(lambda: confirmation_of(booking).status == Status.SENT)
    assert len(smtp_server.messages) == 1
    envelope = smtp_server.messages[0]
    assert envelope.rcpt_tos == ["ana@example.com"]
    message = message_from_bytes(envelope.content, policy=default_policy)
    text = message.get_body(preferencelist=("plain",)).get_content()
    assert booking.reference in message["Subject"]
    assert "€240.00" in text


def test_broker_down_at_commit_keeps_the_event_and_the_pending_row(smtp_server):
    # given: the broker does not answer when the event commits
    booking = booking_with_nights(guest_email="ana@example.com")
    with celery_broker(UNREACHABLE_BROKER), transaction.atomic():
        notify_booking_event(booking=booking, event="confirmed")

    # then: the event and its row committed, nothing was raised or sent
    assert confirmation_of(booking).status == Status.PENDING
    assert Notification.objects.filter(booking=booking, kind=Kind.ARRIVAL_REMINDER).exists()
    assert smtp_server.messages == []
    # and a sweep while the broker is still down loses nothing either, and
    # does not count the row as queued
    with celery_broker(UNREACHABLE_BROKER):
        assert notifications_sweep() == []
    assert confirmation_of(booking).status == Status.PENDING


def test_after_a_failed_publish_the_process_leaves_the_broker_alone_for_a_while(settings, caplog):
    settings.NOTIFICATION_PUBLISH_PAUSE_SECONDS = 2
    first, second, third = _staff_alerts("pause", 3)

    def failed_publishes() -> int:
        return caplog.text.count("Could not queue notification")

    with celery_broker(UNREACHABLE_BROKER):
        # given: a row whose task could not be queued
        assert dispatch(first.pk) is False
        assert failed_publishes() == 1
        assert "Not queueing from this process for 2 s" in caplog.text

        # when: the next is dispatched during the pause
        queued = dispatch(second.pk)

        # then: it did not try the broker (each try holds the guest's request
        # for its retries); its row waits for the sweeper like the first
        assert queued is False
        assert failed_publishes() == 1

        # and after the pause the process tries the broker again
        time.sleep(2.1)
        assert dispatch(third.pk) is False
        assert failed_publishes() == 2

    # and nothing was lost: the sweeper sends all three once the broker is
    # back (in the worker's own process, whose pause is its own; tasks run
    # eagerly here)
    assert set(notifications_sweep()) == {first.pk, second.pk, third.pk}
    statuses = Notification.objects.filter(dedupe_key__startswith="pause-")
    assert list(statuses.values_list("status", flat=True)) == [Status.SENT] * 3


def test_a_publish_to_a_broker_whose_host_goes_silent_gives_up_and_leaves_the_row_pending(
    redis_broker_url, caplog
):
    require_packet_drop()
    first, second = _staff_alerts("silent", 2)
    broker = urlparse(redis_broker_url)
    switch = DatabaseSwitch((broker.hostname, broker.port or 6379))
    outcome = {}
    try:
        with celery_broker(broker._replace(netloc=f"127.0.0.1:{switch.port}").geturl()):
            # given a process whose connection to the broker is open
            assert dispatch(first.pk) is True

            # when the broker's host drops every packet, and the next row is dispatched
            switch.down(drop=True)
            thread = threading.Thread(
                target=lambda: outcome.update(queued=dispatch(second.pk)), daemon=True
            )
            thread.start()
            # (without CELERY_BROKER_SOCKET_TIMEOUT the publish waited for the
            # kernel's retransmissions, about 15 minutes, holding the request)
            thread.join(timeout=60)
    finally:
        switch.close()

    # then the publish gave up, and the row waits, pending, for the sweeper
    assert not thread.is_alive(), "the publish still waits on the silent broker"
    assert outcome == {"queued": False}
    assert f"Could not queue notification {second.pk}" in caplog.text
    assert Notification.objects.get(pk=second.pk).status == Status.PENDING


def test_sweeper_sends_through_the_worker_once_the_broker_is_back(celery_worker, smtp_server):
    # given: a row left pending because the broker was down at commit
    booking = booking_with_nights(guest_email="ana@example.com")
    with celery_broker(UNREACHABLE_BROKER), transaction.atomic():
        notify_booking_event(booking=booking, event="confirmed")
    assert confirmation_of(booking).status == Status.PENDING

    # when: beat's sweeper runs with the broker back, twice for good measure
    notifications_sweep()
    notifications_sweep()

    # then
    assert wait_until(lambda: confirmation_of(booking).status == Status.SENT)
    assert wait_until(lambda: not Notification.objects.filter(status=Status.SENDING).exists())
    assert len(smtp_server.messages) == 1


def test_task_retries_a_transient_failure_and_the_row_keeps_its_backoff(settings):
    # given: an SMTP server that refuses connections
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", 1, 2
    row = Notification.objects.create(
        kind=Kind.STAFF_ALERT,
        recipient="ops@example.com",
        subject="Alert",
        body_text="Body",
        dedupe_key="task-retry",
    )

    # when
    with pytest.raises(Retry) as retry:
        deliver_notification_task.apply(kwargs={"notification_id": row.pk})

    # then: Celery schedules a retry, and the row alone would let the sweeper do it
    row.refresh_from_db()
    assert retry.value.when == settings.NOTIFICATION_RETRY_BASE_SECONDS
    assert row.status == Status.PENDING
    assert row.attempts == 1
    assert row.scheduled_at > timezone.now()


def test_task_for_a_row_already_sent_does_nothing(smtp_server):
    row = Notification.objects.create(
        kind=Kind.STAFF_ALERT,
        recipient="ops@example.com",
        subject="Alert",
        body_text="Body",
        dedupe_key="task-twice",
    )

    first = deliver_notification_task.apply(kwargs={"notification_id": row.pk})
    second = deliver_notification_task.apply(kwargs={"notification_id": row.pk})

    assert (first.get(), second.get()) == ("sent", "skipped")
    assert len(smtp_server.messages) == 1


def test_sweep_and_backfill_tasks_run_their_services():
    booking = booking_with_nights(check_in=timezone.localdate() + timedelta(days=3))
    Notification.objects.create(
        kind=Kind.STAFF_ALERT,
        recipient="ops@example.com",
        subject="Alert",
        body_text="Body",
        dedupe_key="task-sweep",
    )

    assert backfill_reminders_task.apply().get() == 1
    assert sweep_notifications_task.apply().get() == 1
    assert Notification.objects.get(dedupe_key="task-sweep").status == Status.SENT
    assert Notification.objects.get(booking=booking).kind == Kind.ARRIVAL_REMINDER


def test_confirming_a_booking_delivers_exactly_one_message_through_the_worker(
    celery_worker, smtp_server
):
    # given: a hold through the booking services, with a price on every night
    room_type = RoomTypeFactory(hotel=HotelFactory(name="Casa Azul", currency="EUR"))
    arrival = timezone.localdate() + timedelta(days=30)
    RoomInventory.objects.bulk_create(
        RoomInventory(
            room_type=room_type,
            date=arrival + timedelta(days=i),
            total=2,
            price=Decimal("135.50"),
        )
        for i in range(3)
    )
    booking = booking_hold(
        room_type=room_type,
        check_in=arrival,
        check_out=arrival + timedelta(days=3),
        adults=2,
        guest_name="Ana Silva",
        guest_email="ana@example.com",
    )

    # when
    booking = booking_confirm(booking=booking, policy_accepted=True)

    # then: one message, with the reference, the dates and the price
    assert wait_until(lambda: confirmation_of(booking).status == Status.SENT)
    assert len(smtp_server.messages) == 1
    envelope = smtp_server.messages[0]
    assert envelope.rcpt_tos == ["ana@example.com"]
    message = message_from_bytes(envelope.content, policy=default_policy)
    text = message.get_body(preferencelist=("plain",)).get_content()
    html = message.get_body(preferencelist=("html",)).get_content()
    assert message["Subject"] == f"Your booking {booking.reference} at Casa Azul is confirmed"
    for part in (text, html):
        assert booking.reference in part
        assert format_day(booking.check_in) in part
        assert format_day(booking.check_out) in part
        assert format_money(booking.total_price, "EUR") in part
    assert Notification.objects.get(booking=booking, kind=Kind.ARRIVAL_REMINDER).status == (
        Status.PENDING
    )

    # when: the guest cancels
    booking_cancel(booking=booking, reason="Plans changed.")

    # then: one cancellation, and the reminder will not go out
    assert wait_until(
        lambda: (
            Notification.objects.get(booking=booking, kind=Kind.BOOKING_CANCELLED).status
            == Status.SENT
        )
    )
    assert len(smtp_server.messages) == 2
    assert Notification.objects.get(booking=booking, kind=Kind.ARRIVAL_REMINDER).status == (
        Status.CANCELLED
    )


@pytest.mark.parametrize("seconds", ["1", "0.5"])
def test_a_broker_socket_timeout_a_worker_could_not_poll_within_is_refused(seconds):
    result = python(
        "from django.conf import settings; settings.CELERY_BROKER_TRANSPORT_OPTIONS",
        CELERY_BROKER_SOCKET_TIMEOUT=seconds,
    )
    assert result.returncode != 0
    assert "CELERY_BROKER_SOCKET_TIMEOUT must be more than 1 s" in result.stderr
