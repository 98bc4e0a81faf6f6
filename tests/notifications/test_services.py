import threading
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from django.conf import settings
from django.core import mail
from django.db import connection, transaction
from django.utils import timezone

from notifications.exceptions import NotificationError
from notifications.models import Notification
from notifications.services import (
    _enqueue_many,
    notification_enqueue,
    notify_booking_event,
    notify_staff,
    reminder_schedule,
    reminder_time,
    reminders_backfill,
)
from tests.factories import HotelFactory, RoomTypeFactory, StaffFactory
from tests.notifications.factories import booking_with_nights

pytestmark = pytest.mark.django_db

Kind = Notification.Kind
Status = Notification.Status


def test_confirmed_booking_sends_one_confirmation_after_commit(
    django_capture_on_commit_callbacks,
):
    # given
    booking = booking_with_nights(
        guest_email="ana@example.com",
        prices=[Decimal("120.00"), Decimal("1350.50")],
    )

    # when
    with django_capture_on_commit_callbacks(execute=True):
        notify_booking_event(booking=booking, event="confirmed")

    # then
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["ana@example.com"]
    assert booking.reference in message.subject
    assert booking.hotel.name in message.subject
    assert "€1,470.50" in message.body
    assert "€1,350.50" in message.body
    html = message.alternatives[0][0]
    assert "€1,470.50" in html
    row = Notification.objects.get(kind=Kind.BOOKING_CONFIRMED)
    assert row.status == Status.SENT
    assert row.sent_at is not None
    assert row.subject == message.subject
    assert row.attempts == 1


def test_nothing_is_sent_before_the_callers_transaction_commits(
    django_capture_on_commit_callbacks,
):
    booking = booking_with_nights()

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        notify_booking_event(booking=booking, event="confirmed")

    assert mail.outbox == []
    assert len(callbacks) == 1
    assert Notification.objects.get(kind=Kind.BOOKING_CONFIRMED).status == Status.PENDING


def test_confirming_twice_writes_and_sends_one_confirmation(django_capture_on_commit_callbacks):
    booking = booking_with_nights()

    with django_capture_on_commit_callbacks(execute=True):
        notify_booking_event(booking=booking, event="confirmed")
        notify_booking_event(booking=booking, event="confirmed")
    with django_capture_on_commit_callbacks(execute=True):
        notify_booking_event(booking=booking, event="confirmed")

    assert Notification.objects.filter(kind=Kind.BOOKING_CONFIRMED).count() == 1
    assert Notification.objects.filter(kind=Kind.ARRIVAL_REMINDER).count() == 1
    assert len(mail.outbox) == 1


def test_money_is_formatted_in_the_hotels_currency(django_capture_on_commit_callbacks):
    room_type = RoomTypeFactory(hotel=HotelFactory(currency="GBP", timezone="Europe/London"))
    booking = booking_with_nights(
        room_type=room_type, currency="GBP", prices=[Decimal("99.99")] * 2
    )

    with django_capture_on_commit_callbacks(execute=True):
        notify_booking_event(booking=booking, event="confirmed")

    assert "£199.98" in mail.outbox[0].body


def test_reminder_is_scheduled_at_the_local_hour_days_before_arrival(settings):
    settings.NOTIFICATION_REMINDER_DAYS_BEFORE = 2
    settings.NOTIFICATION_REMINDER_HOUR = 10
    room_type = RoomTypeFactory(hotel=HotelFactory(timezone="America/New_York"))
    booking = booking_with_nights(room_type=room_type, check_in=date(2099, 7, 10))

    notify_booking_event(booking=booking, event="confirmed")

    reminder = Notification.objects.get(kind=Kind.ARRIVAL_REMINDER)
    # 10:00 in New York in July (EDT, UTC-4) is 14:00 UTC.
    assert reminder.scheduled_at == datetime(2099, 7, 8, 14, 0, tzinfo=UTC)
    assert reminder.status == Status.PENDING
    assert reminder_time(booking) == reminder.scheduled_at


def test_no_reminder_when_its_time_has_passed():
    booking = booking_with_nights(check_in=date.today() + timedelta(days=1))

    notify_booking_event(booking=booking, event="confirmed")

    assert not Notification.objects.filter(kind=Kind.ARRIVAL_REMINDER).exists()


def test_cancelling_sends_the_cancellation_and_cancels_the_reminder(
    django_capture_on_commit_callbacks,
):
    booking = booking_with_nights()
    with django_capture_on_commit_callbacks(execute=True):
        notify_booking_event(booking=booking, event="confirmed")
    booking.status = booking.Status.CANCELLED
    booking.save()

    with django_capture_on_commit_callbacks(execute=True):
        notify_booking_event(booking=booking, event="cancelled")

    assert [m.subject for m in mail.outbox][-1].endswith("is cancelled")
    assert Notification.objects.get(kind=Kind.ARRIVAL_REMINDER).status == Status.CANCELLED


def test_changed_dates_move_the_pending_reminder():
    booking = booking_with_nights(check_in=date(2099, 3, 10))
    notify_booking_event(booking=booking, event="confirmed")
    booking.check_in, booking.check_out = date(2099, 4, 20), date(2099, 4, 22)
    booking.save()

    notify_booking_event(booking=booking, event="changed")

    reminders = Notification.objects.filter(kind=Kind.ARRIVAL_REMINDER)
    assert {(r.status, r.scheduled_at.date()) for r in reminders} == {
        (Status.CANCELLED, date(2099, 3, 8)),
        (Status.PENDING, date(2099, 4, 18)),
    }


def test_dates_moved_back_revive_the_first_reminder():
    booking = booking_with_nights(check_in=date(2099, 3, 10))
    notify_booking_event(booking=booking, event="confirmed")
    booking.check_in, booking.check_out = date(2099, 4, 20), date(2099, 4, 22)
    notify_booking_event(booking=booking, event="changed")
    booking.check_in, booking.check_out = date(2099, 3, 10), date(2099, 3, 12)

    notify_booking_event(booking=booking, event="changed")

    pending = Notification.objects.get(kind=Kind.ARRIVAL_REMINDER, status=Status.PENDING)
    assert pending.scheduled_at.date() == date(2099, 3, 8)


def test_unknown_booking_event_is_refused_with_a_clear_message():
    booking = booking_with_nights()

    with pytest.raises(NotificationError, match="Unknown booking event 'paid'"):
        notify_booking_event(booking=booking, event="paid")

    assert not Notification.objects.exists()


def test_enqueue_without_template_or_body_is_refused():
    with pytest.raises(NotificationError, match="template, or a subject and a body"):
        notification_enqueue(kind=Kind.STAFF_ALERT, recipient="a@example.com", dedupe_key="x")


def test_a_second_enqueue_returns_the_row_as_stored_and_queues_nothing(
    django_capture_on_commit_callbacks, monkeypatch
):
    # The same instant for both: a creation time does not tell the rows apart.
    now = timezone.now()
    monkeypatch.setattr(timezone, "now", lambda: now)

    def enqueue(body: str) -> Notification:
        return notification_enqueue(
            kind=Kind.STAFF_ALERT,
            recipient="a@example.com",
            subject="Backup failed",
            body_text=body,
            dedupe_key="backup:9",
        )

    # given a row written, and sent since
    with django_capture_on_commit_callbacks() as first_callbacks:
        first = enqueue("pg_dump exited 1")
    assert first.pk == Notification.objects.get(dedupe_key="backup:9").pk
    assert len(first_callbacks) == 1
    Notification.objects.filter(pk=first.pk).update(status=Status.SENT, sent_at=now)

    # when the same key is enqueued again, with another body
    with django_capture_on_commit_callbacks() as callbacks:
        again = enqueue("disk full")

    # then the stored row is returned, as it is stored, and nothing is queued
    assert (again.pk, again.status, again.body_text) == (first.pk, Status.SENT, "pg_dump exited 1")
    assert callbacks == []
    assert Notification.objects.filter(dedupe_key="backup:9").count() == 1


def _alert(key: str, body: str = "body", **fields) -> Notification:
    return Notification(
        kind=Kind.STAFF_ALERT,
        recipient="a@example.com",
        subject="Subject",
        body_text=body,
        dedupe_key=key,
        scheduled_at=timezone.now(),
        **fields,
    )


@pytest.mark.parametrize("returning", [True, False], ids=["returning", "no returning"])
def test_a_mix_of_new_and_stored_keys_returns_each_rows_own_stored_row(
    returning, monkeypatch, django_capture_on_commit_callbacks
):
    # without RETURNING (SQLite before 3.35) every row is read back instead
    monkeypatch.setattr(connection.features, "can_return_rows_from_bulk_insert", returning)
    with django_capture_on_commit_callbacks():
        [old] = _enqueue_many([_alert("k:old", "first")])
    Notification.objects.filter(pk=old.pk).update(status=Status.SENT, sent_at=timezone.now())

    # new keys around a stored one, and one new key twice
    with django_capture_on_commit_callbacks() as callbacks:
        rows = _enqueue_many(
            [_alert("k:b", "b"), _alert("k:old", "second"), _alert("k:a", "a"), _alert("k:b", "b2")]
        )

    stored = {n.dedupe_key: n for n in Notification.objects.all()}
    assert len(stored) == 3
    assert [row.dedupe_key for row in rows] == ["k:b", "k:old", "k:a", "k:b"]
    assert [row.pk for row in rows] == [stored[row.dedupe_key].pk for row in rows]
    assert [row.body_text for row in rows] == ["b", "first", "a", "b"]
    assert (rows[1].status, stored["k:b"].body_text) == (Status.SENT, "b")
    assert rows[0] is rows[3] and not rows[0]._state.adding
    assert len(callbacks) == 2  # the two new rows, not the sent one


def test_a_notification_of_an_unsaved_booking_is_refused_and_nothing_written():
    booking = booking_with_nights(check_in=date(2099, 6, 1))
    unsaved = type(booking)(hotel=booking.hotel, room_type=booking.room_type)
    with pytest.raises(ValueError, match="unsaved related object 'booking'"), transaction.atomic():
        _enqueue_many([_alert("k:saved", booking=booking), _alert("k:unsaved", booking=unsaved)])
    assert not Notification.objects.exists()
    assert _enqueue_many([]) == []


def test_staff_alert_goes_to_each_active_staff_user_once(django_capture_on_commit_callbacks):
    StaffFactory(email="ops@example.com")
    StaffFactory(email="boss@example.com")
    StaffFactory(email="gone@example.com", is_active=False)

    with django_capture_on_commit_callbacks(execute=True):
        notify_staff(subject="Backup failed", body="pg_dump exited 1", dedupe_key="backup:7")
        notify_staff(subject="Backup failed", body="pg_dump exited 1", dedupe_key="backup:7")

    assert sorted(m.to[0] for m in mail.outbox) == ["boss@example.com", "ops@example.com"]
    assert mail.outbox[0].body == "pg_dump exited 1"


def test_staff_alert_falls_back_to_admins(settings, django_capture_on_commit_callbacks):
    settings.ADMINS = [("Ops", "ops-team@example.com")]

    with django_capture_on_commit_callbacks(execute=True):
        notify_staff(subject="Backup failed", body="disk full", dedupe_key="backup:8")

    assert [m.to for m in mail.outbox] == [["ops-team@example.com"]]


def test_scheduled_notification_is_not_sent_before_it_is_due(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        notification_enqueue(
            kind=Kind.STAFF_ALERT,
            recipient="a@example.com",
            subject="Later",
            body_text="Later",
            dedupe_key="later",
            scheduled_at=timezone.now() + timedelta(hours=1),
        )

    assert callbacks == []
    assert mail.outbox == []


def test_cancelling_a_hold_that_was_never_confirmed_sends_nothing(
    django_capture_on_commit_callbacks,
):
    booking = booking_with_nights(status="cancelled", confirmed_at=None)

    with django_capture_on_commit_callbacks(execute=True):
        notify_booking_event(booking=booking, event="cancelled")

    assert mail.outbox == []
    assert not Notification.objects.exists()


def test_backfill_schedules_missing_reminders_once(settings):
    settings.NOTIFICATION_REMINDER_DAYS_BEFORE = 2
    now = datetime(2099, 5, 1, 6, 0, tzinfo=UTC)
    soon = booking_with_nights(check_in=date(2099, 5, 3))
    already = booking_with_nights(check_in=date(2099, 5, 3))
    reminder_schedule(booking=already, now=now)
    booking_with_nights(check_in=date(2099, 5, 20))
    booking_with_nights(check_in=date(2099, 5, 3), status="cancelled")

    assert reminders_backfill(now=now) == 1
    assert reminders_backfill(now=now) == 0

    assert set(
        Notification.objects.filter(kind=Kind.ARRIVAL_REMINDER).values_list("booking_id", flat=True)
    ) == {soon.pk, already.pk}


@pytest.mark.parametrize("nights", [1, 14])
def test_confirmation_adds_a_constant_number_of_queries(nights, django_assert_num_queries):
    booking = booking_with_nights(
        check_in=date(2099, 6, 1), check_out=date(2099, 6, 1) + timedelta(days=nights)
    )
    booking = type(booking).objects.select_related("hotel", "room_type").get(pk=booking.pk)

    # the nights' prices, then one INSERT for both rows that returns their ids
    with django_assert_num_queries(2):
        written = notify_booking_event(booking=booking, event="confirmed")

    assert Notification.objects.count() == 2
    # the rows come back as stored, as create() returns a row
    for row in written:
        stored = Notification.objects.get(pk=row.pk)
        assert not row._state.adding
        assert [
            field.name
            for field in Notification._meta.concrete_fields
            if getattr(row, field.attname) != getattr(stored, field.attname)
        ] == []
    # and a second time, every key is stored: the INSERT inserts none, one SELECT reads them
    with django_assert_num_queries(3):
        again = notify_booking_event(booking=booking, event="confirmed")
    assert [row.pk for row in again] == [row.pk for row in written]
    assert Notification.objects.count() == 2


def test_changed_guest_details_rewrite_the_pending_reminder():
    booking = booking_with_nights(check_in=date(2099, 3, 10), guest_email="old@example.com")
    notify_booking_event(booking=booking, event="confirmed")
    booking.guest_email, booking.guest_name = "new@example.com", "Ana Nova"
    booking.save()

    notify_booking_event(booking=booking, event="changed")

    reminder = Notification.objects.get(kind=Kind.ARRIVAL_REMINDER)
    assert reminder.status == Status.PENDING
    assert reminder.recipient == "new@example.com"
    assert reminder.context["guest_name"] == "Ana Nova"


def test_email_links_to_the_signed_booking_page(client, django_capture_on_commit_callbacks):
    booking = booking_with_nights()

    with django_capture_on_commit_callbacks(execute=True):
        notify_booking_event(booking=booking, event="confirmed")

    link = Notification.objects.get(kind=Kind.BOOKING_CONFIRMED).context["link"]
    assert link in mail.outbox[0].body
    response = client.get(link.removeprefix(settings.SITE_URL.rstrip("/")))
    assert response.status_code == 200
    assert booking.reference in response.content.decode()


@pytest.mark.django_db(transaction=True)
def test_two_confirmations_racing_write_one_row_each():
    booking = booking_with_nights()
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def confirm() -> None:
        try:
            barrier.wait()
            with transaction.atomic():
                notify_booking_event(booking=booking, event="confirmed")
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=confirm) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert Notification.objects.filter(kind=Kind.BOOKING_CONFIRMED).count() == 1
    assert Notification.objects.filter(kind=Kind.ARRIVAL_REMINDER).count() == 1
