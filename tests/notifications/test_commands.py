from datetime import timedelta

import pytest
from django.core import mail
from django.core.checks import run_checks
from django.core.management import call_command
from django.utils import timezone

from notifications.models import Notification
from tests.notifications.factories import booking_with_nights

pytestmark = pytest.mark.django_db


def test_send_due_notifications_sends_what_is_due_and_schedules_reminders(capsys):
    booking = booking_with_nights(check_in=timezone.localdate() + timedelta(days=3))
    Notification.objects.create(
        kind=Notification.Kind.STAFF_ALERT,
        recipient="ops@example.com",
        subject="Alert",
        body_text="Body",
        dedupe_key="command",
    )

    call_command("send_due_notifications")

    assert "Queued 1 due notification(s); scheduled 1 reminder(s)." in capsys.readouterr().out
    assert [m.to for m in mail.outbox] == [["ops@example.com"]]
    assert booking.notifications.get().kind == Notification.Kind.ARRIVAL_REMINDER


def test_deploy_check_warns_when_email_goes_nowhere(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"

    warnings = run_checks(include_deployment_checks=True)

    assert "notifications.W001" in {w.id for w in warnings}


def test_deploy_check_is_quiet_with_smtp(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"

    warnings = run_checks(include_deployment_checks=True)

    assert "notifications.W001" not in {w.id for w in warnings}


@pytest.mark.parametrize(
    ("setting", "value", "message"),
    [
        # 24 (midnight, to whoever typed it) made every confirmation answer 500.
        ("NOTIFICATION_REMINDER_HOUR", 24, "between 0 and 23"),
        ("NOTIFICATION_REMINDER_DAYS_BEFORE", -1, "0 or more"),
        # 0 failed every message on its first passing SMTP hiccup.
        ("NOTIFICATION_MAX_ATTEMPTS", 0, "at least 1"),
        # A lease shorter than a task may run hands a slow send to a second worker.
        ("NOTIFICATION_SENDING_LEASE_SECONDS", 60, "longer than CELERY_TASK_TIME_LIMIT"),
    ],
)
def test_check_refuses_notification_settings_that_break_sending(settings, setting, value, message):
    setattr(settings, setting, value)

    errors = [e for e in run_checks() if e.id.startswith("notifications.E")]

    assert len(errors) == 1
    assert setting in errors[0].msg
    assert message in errors[0].msg


def test_check_accepts_the_default_notification_settings():
    assert not [e for e in run_checks() if e.id.startswith("notifications.E")]
