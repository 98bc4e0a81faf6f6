import threading
from datetime import timedelta

import pytest
from django.core import mail
from django.db import connection
from django.utils import timezone

from bookings.models import Booking
from notifications.exceptions import NotificationError, TransientDeliveryError
from notifications.models import Notification
from notifications.services import (
    TEMPLATES,
    booking_context,
    notification_deliver,
    notification_enqueue,
    notification_resend,
    notifications_sweep,
    notify_booking_event,
    reminder_time,
    retry_delay,
)
from tests.factories import RoomTypeFactory
from tests.notifications.factories import booking_with_nights

Kind = Notification.Kind
Status = Notification.Status


def alert(recipient: str, key: str, **kwargs) -> Notification:
    return notification_enqueue(
        kind=Kind.STAFF_ALERT,
        recipient=recipient,
        subject=f"Alert {key}",
        body_text="Something needs a look.",
        dedupe_key=key,
        **kwargs,
    )


def make_due(notification: Notification) -> None:
    Notification.objects.filter(pk=notification.pk).update(
        scheduled_at=timezone.now() - timedelta(seconds=1)
    )


@pytest.mark.django_db
def test_invalid_recipient_fails_with_the_reason_and_is_not_retried():
    row = alert("not-an-address", "a1")

    outcome = notification_deliver(notification_id=row.pk)

    row.refresh_from_db()
    assert outcome == "failed"
    assert row.status == Status.FAILED
    assert row.attempts == 1
    assert "Invalid recipient address: 'not-an-address'" in row.last_error
    assert mail.outbox == []
    assert notification_deliver(notification_id=row.pk) == "skipped"


@pytest.mark.django_db
def test_booking_without_any_email_is_failed_for_staff_to_see(django_capture_on_commit_callbacks):
    booking = booking_with_nights(guest=None, guest_email="")

    with django_capture_on_commit_callbacks(execute=True):
        notify_booking_event(booking=booking, event="confirmed")

    row = Notification.objects.get(kind=Kind.BOOKING_CONFIRMED)
    assert row.status == Status.FAILED
    assert "Invalid recipient address: ''" in row.last_error


@pytest.mark.django_db
def test_missing_template_fails_that_row_only():
    broken = notification_enqueue(
        kind=Kind.PAYMENT_RECEIPT,
        recipient="ana@example.com",
        template="notifications/email/no_such_template",
        dedupe_key="broken",
    )
    fine = alert("ops@example.com", "fine")

    assert notification_deliver(notification_id=broken.pk) == "failed"
    assert notification_deliver(notification_id=fine.pk) == "sent"

    broken.refresh_from_db()
    assert broken.status == Status.FAILED
    assert broken.attempts == 1
    assert broken.last_error.startswith("Template error: TemplateDoesNotExist")
    assert [m.to for m in mail.outbox] == [["ops@example.com"]]


@pytest.mark.django_db
def test_template_that_raises_while_rendering_fails_that_row_only(settings):
    settings.TEMPLATES = [
        {
            "BACKEND": "django.template.backends.django.DjangoTemplates",
            "OPTIONS": {
                "loaders": [
                    (
                        "django.template.loaders.locmem.Loader",
                        {
                            "broken/mail_subject.txt": "Hello",
                            "broken/mail.txt": "{% if %}unclosed",
                        },
                    )
                ]
            },
        }
    ]
    broken = notification_enqueue(
        kind=Kind.WAITLIST_OFFER,
        recipient="ana@example.com",
        template="broken/mail",
        dedupe_key="broken-syntax",
    )
    fine = alert("ops@example.com", "fine")

    notification_deliver(notification_id=broken.pk)
    notification_deliver(notification_id=fine.pk)

    broken.refresh_from_db()
    fine.refresh_from_db()
    assert broken.status == Status.FAILED
    assert broken.last_error.startswith("Template error: TemplateSyntaxError")
    assert fine.status == Status.SENT


@pytest.mark.django_db
def test_smtp_refusal_is_retried_with_backoff_then_failed_while_others_go_out(
    settings, smtp_server
):
    # given: a server that keeps answering "try later" for one mailbox
    settings.NOTIFICATION_MAX_ATTEMPTS = 3
    smtp_server.refuse["busy@example.com"] = "450 4.2.1 Mailbox busy, try later"
    refused = alert("busy@example.com", "busy")
    fine = alert("ops@example.com", "fine")

    # when: the first attempt
    assert notification_deliver(notification_id=fine.pk) == "sent"
    with pytest.raises(TransientDeliveryError) as first:
        notification_deliver(notification_id=refused.pk)

    # then: pending again, due after the backoff, not before
    refused.refresh_from_db()
    assert first.value.retry_in == retry_delay(1)
    assert refused.status == Status.PENDING
    assert refused.scheduled_at > timezone.now()
    assert "450" in refused.last_error
    assert notification_deliver(notification_id=refused.pk) == "skipped"

    # when: the remaining attempts, each once due
    make_due(refused)
    with pytest.raises(TransientDeliveryError) as second:
        notification_deliver(notification_id=refused.pk)
    assert second.value.retry_in == 2 * first.value.retry_in
    make_due(refused)
    assert notification_deliver(notification_id=refused.pk) == "failed"

    # then
    refused.refresh_from_db()
    assert refused.status == Status.FAILED
    assert refused.attempts == 3
    assert refused.last_error.startswith("Gave up after 3 attempts: SMTPRecipientsRefused")
    assert smtp_server.recipients() == ["ops@example.com"]


@pytest.mark.django_db
def test_permanent_smtp_refusal_of_the_address_fails_without_retry(smtp_server):
    smtp_server.refuse["nobody@example.com"] = "550 5.1.1 No such user"
    row = alert("nobody@example.com", "nobody")

    assert notification_deliver(notification_id=row.pk) == "failed"

    row.refresh_from_db()
    assert row.attempts == 1
    assert row.last_error.startswith("Refused by the mail server")
    assert "550" in row.last_error


@pytest.mark.django_db
def test_smtp_server_down_is_a_transient_failure(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", 1, 2
    row = alert("ops@example.com", "down")

    with pytest.raises(TransientDeliveryError):
        notification_deliver(notification_id=row.pk)

    row.refresh_from_db()
    assert row.status == Status.PENDING
    assert "ConnectionRefusedError" in row.last_error


@pytest.mark.django_db(transaction=True)
def test_two_deliveries_of_the_same_row_racing_send_one_email(smtp_server):
    # given: a due row that no task has been queued for yet
    row = alert("ops@example.com", "race", scheduled_at=timezone.now() + timedelta(hours=1))
    make_due(row)
    racers = 4
    barrier = threading.Barrier(racers)
    outcomes: list[str] = []

    def deliver() -> None:
        try:
            barrier.wait()
            outcomes.append(notification_deliver(notification_id=row.pk))
        finally:
            connection.close()

    # when
    threads = [threading.Thread(target=deliver) for _ in range(racers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # then
    row.refresh_from_db()
    assert sorted(outcomes) == ["sent"] + ["skipped"] * (racers - 1)
    assert len(smtp_server.messages) == 1
    assert row.status == Status.SENT
    assert row.attempts == 1


@pytest.mark.django_db
def test_message_carries_a_stable_id_and_the_hotel_as_reply_to(
    django_capture_on_commit_callbacks,
):
    booking = booking_with_nights(room_type__hotel__email="desk@hotel.example")

    with django_capture_on_commit_callbacks(execute=True):
        notify_booking_event(booking=booking, event="confirmed")

    row = Notification.objects.get(kind=Kind.BOOKING_CONFIRMED)
    message = mail.outbox[0]
    assert message.reply_to == ["desk@hotel.example"]
    assert message.extra_headers["X-Notification-ID"] == str(row.pk)
    assert message.extra_headers["Message-ID"].startswith(f"<notification.{row.pk}.")


# --- Sweeper ------------------------------------------------------------------


@pytest.mark.django_db
def test_sweeper_sends_due_rows_and_leaves_future_ones():
    due = alert("a@example.com", "due")
    later = alert("b@example.com", "later", scheduled_at=timezone.now() + timedelta(hours=2))

    swept = notifications_sweep()

    assert swept == [due.pk]
    due.refresh_from_db()
    later.refresh_from_db()
    assert due.status == Status.SENT
    assert later.status == Status.PENDING
    assert [m.to for m in mail.outbox] == [["a@example.com"]]


@pytest.mark.django_db
def test_sweeper_takes_over_a_row_whose_worker_died_mid_send(settings):
    row = alert("a@example.com", "died")
    lease = settings.NOTIFICATION_SENDING_LEASE_SECONDS
    Notification.objects.filter(pk=row.pk).update(
        status=Status.SENDING,
        attempts=1,
        claimed_at=timezone.now() - timedelta(seconds=lease + 1),
    )

    notifications_sweep()

    row.refresh_from_db()
    assert row.status == Status.SENT
    assert row.attempts == 2
    assert len(mail.outbox) == 1


@pytest.mark.django_db
def test_sweeper_leaves_a_send_in_progress_alone():
    row = alert("a@example.com", "busy")
    Notification.objects.filter(pk=row.pk).update(
        status=Status.SENDING, attempts=1, claimed_at=timezone.now()
    )

    assert notifications_sweep() == []

    row.refresh_from_db()
    assert row.status == Status.SENDING
    assert mail.outbox == []


@pytest.mark.django_db
def test_a_dead_workers_last_attempt_is_failed_not_retried(settings):
    settings.NOTIFICATION_MAX_ATTEMPTS = 2
    row = alert("a@example.com", "died-last")
    Notification.objects.filter(pk=row.pk).update(
        status=Status.SENDING, attempts=2, claimed_at=timezone.now() - timedelta(hours=1)
    )

    notifications_sweep()

    row.refresh_from_db()
    assert row.status == Status.FAILED
    assert "worker stopped" in row.last_error
    assert mail.outbox == []


@pytest.mark.django_db
def test_sweeper_picks_up_a_reminder_once_it_is_due(django_capture_on_commit_callbacks):
    booking = booking_with_nights()
    with django_capture_on_commit_callbacks(execute=True):
        notify_booking_event(booking=booking, event="confirmed")
    reminder = Notification.objects.get(kind=Kind.ARRIVAL_REMINDER)
    mail.outbox.clear()

    assert notifications_sweep() == []
    make_due(reminder)
    notifications_sweep()

    assert len(mail.outbox) == 1
    assert mail.outbox[0].subject.startswith(f"See you soon at {booking.hotel.name}")


# --- Resend -------------------------------------------------------------------


@pytest.mark.django_db
def test_resend_creates_a_new_row_and_keeps_the_original(django_capture_on_commit_callbacks):
    original = alert("not-an-address", "resend-me")
    notification_deliver(notification_id=original.pk)

    with django_capture_on_commit_callbacks(execute=True):
        again = notification_resend(notification=original, recipient="ops@example.com")

    original.refresh_from_db()
    again.refresh_from_db()
    assert original.status == Status.FAILED
    assert again.pk != original.pk
    assert again.resent_from == original
    assert again.status == Status.SENT
    assert [m.to for m in mail.outbox] == [["ops@example.com"]]


@pytest.mark.django_db
def test_resend_of_a_message_still_in_flight_is_refused():
    row = alert("ops@example.com", "in-flight", scheduled_at=timezone.now() + timedelta(hours=1))

    with pytest.raises(NotificationError, match="still being delivered"):
        notification_resend(notification=row)

    assert Notification.objects.count() == 1


def test_retry_delay_doubles_and_is_capped(settings):
    settings.NOTIFICATION_RETRY_BASE_SECONDS = 30
    assert [retry_delay(n) for n in (1, 2, 3, 4)] == [30, 60, 120, 240]
    assert retry_delay(20) == 3600


# --- Reminders at delivery ----------------------------------------------------


def overdue_reminder(booking) -> Notification:
    """The reminder the confirmation scheduled, still pending when workers come back late."""
    return notification_enqueue(
        kind=Kind.ARRIVAL_REMINDER,
        recipient=booking.guest_email,
        booking=booking,
        template=TEMPLATES[Kind.ARRIVAL_REMINDER],
        context=booking_context(booking),
        dedupe_key=f"booking:{booking.pk}:reminder:{booking.check_in.isoformat()}",
        scheduled_at=reminder_time(booking),
    )


def booking_arriving(days_from_today: int) -> Booking:
    """A confirmed booking arriving that many days from today in its hotel's time zone."""
    room_type = RoomTypeFactory()
    today = timezone.localtime(timezone.now(), room_type.hotel.tzinfo).date()
    check_in = today + timedelta(days=days_from_today)
    return booking_with_nights(room_type=room_type, check_in=check_in)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "status",
    [
        Booking.Status.CHECKED_IN,
        Booking.Status.CHECKED_OUT,
        Booking.Status.NO_SHOW,
        Booking.Status.CANCELLED,
    ],
)
def test_overdue_reminder_is_not_sent_once_the_booking_is_no_longer_confirmed(status):
    # given: workers were down over the reminder's hour; the guest's arrival
    # day came and staff checked them in (or out, or marked a no-show)
    booking = booking_arriving(0)
    reminder = overdue_reminder(booking)
    Booking.objects.filter(pk=booking.pk).update(status=status)

    # when: the sweeper runs again
    notifications_sweep()

    # then: no "your stay is coming up" email, and staff can see why
    reminder.refresh_from_db()
    assert mail.outbox == []
    assert reminder.status == Status.CANCELLED
    assert "no longer confirmed" in reminder.last_error


@pytest.mark.django_db
def test_overdue_reminder_is_not_sent_after_the_arrival_day():
    booking = booking_arriving(-1)
    reminder = overdue_reminder(booking)

    notifications_sweep()

    reminder.refresh_from_db()
    assert mail.outbox == []
    assert reminder.status == Status.CANCELLED
    assert "has passed" in reminder.last_error


@pytest.mark.django_db
def test_overdue_reminder_still_goes_out_on_the_arrival_day():
    booking = booking_arriving(0)
    reminder = overdue_reminder(booking)

    notifications_sweep()

    reminder.refresh_from_db()
    assert reminder.status == Status.SENT
    assert len(mail.outbox) == 1


# --- Confirmations at delivery ------------------------------------------------


@pytest.mark.django_db
def test_a_confirmation_held_up_until_after_the_cancellation_is_not_sent():
    # given: the confirmation is still queued (its first attempt failed, or
    # workers were down) when the guest cancels
    booking = booking_arriving(10)
    confirmation = notify_booking_event(booking=booking, event="confirmed")[0]
    Booking.objects.filter(pk=booking.pk).update(status=Booking.Status.CANCELLED)
    booking.refresh_from_db()
    notify_booking_event(booking=booking, event="cancelled")

    # when: the sweeper sends what is due
    notifications_sweep()

    # then: the guest reads only that the booking is cancelled; staff see why
    confirmation.refresh_from_db()
    assert len(mail.outbox) == 1
    assert "cancelled" in mail.outbox[0].subject.lower()
    assert confirmation.status == Status.CANCELLED
    assert "has been cancelled; its confirmation is not sent" in confirmation.last_error


@pytest.mark.django_db
def test_a_cancelled_bookings_confirmation_is_not_resent():
    booking = booking_arriving(10)
    confirmation = notify_booking_event(booking=booking, event="confirmed")[0]
    notifications_sweep()
    confirmation.refresh_from_db()
    assert confirmation.status == Status.SENT
    Booking.objects.filter(pk=booking.pk).update(status=Booking.Status.CANCELLED)

    with pytest.raises(NotificationError, match="has been cancelled"):
        notification_resend(notification=confirmation)
    assert Notification.objects.filter(resent_from=confirmation).count() == 0


@pytest.mark.django_db
@pytest.mark.parametrize("nights", [1, 14])
def test_sending_a_confirmation_runs_a_fixed_number_of_queries(nights, django_assert_num_queries):
    booking = booking_with_nights(
        guest_email="ana@example.com",
        check_in=timezone.now().date() + timedelta(days=30),
        check_out=timezone.now().date() + timedelta(days=30 + nights),
    )
    notify_booking_event(booking=booking, event="confirmed")
    confirmation = Notification.objects.get(booking=booking, kind=Kind.BOOKING_CONFIRMED)

    # The claim (the row locked, then marked sending, in its own transaction:
    # a savepoint and its release inside the test's), the booking as it
    # stands now, and the row marked sent. The email is written from the
    # row's snapshot: the stay's length adds nothing.
    with django_assert_num_queries(6):
        assert notification_deliver(notification_id=confirmation.pk) == "sent"

    assert [m.to for m in mail.outbox] == [["ana@example.com"]]
