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
