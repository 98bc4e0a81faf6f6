"""Celery tasks: they take ids, call a service, and are safe to run twice."""

from celery import shared_task
from django.conf import settings

from .exceptions import TransientDeliveryError
from .services import notification_deliver, notifications_sweep, reminders_backfill


@shared_task(
    bind=True,
    name="notifications.deliver",
    acks_late=True,
    # The row counts its attempts and fails itself at the limit; this bound
    # only stops a runaway loop if the row's count were ever reset.
    max_retries=settings.NOTIFICATION_MAX_ATTEMPTS * 2,
)
def deliver_notification_task(self, notification_id: int) -> str:
    try:
        return notification_deliver(notification_id=notification_id)
    except TransientDeliveryError as exc:
        # The row is pending again with its next due time, so the sweeper
        # would send it even if this retry message were lost.
        raise self.retry(exc=exc, countdown=exc.retry_in) from exc


@shared_task(name="notifications.sweep", acks_late=True)
def sweep_notifications_task() -> int:
    return len(notifications_sweep())


@shared_task(name="notifications.backfill_reminders", acks_late=True)
def backfill_reminders_task() -> int:
    return reminders_backfill()
