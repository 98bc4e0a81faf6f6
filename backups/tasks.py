"""Celery tasks: thin wrappers that take ids and call the services.

Backups outlive the project's default task time limits, so these tasks carry
their own, kept under the broker's visibility timeout.
"""

import logging
from datetime import timedelta

from celery import chain, shared_task
from django.conf import settings
from django.utils import timezone

from .exceptions import BackupBusy, BackupUnavailable
from .models import BackupRecord
from .services import backup_create, backup_verify, backups_prune

logger = logging.getLogger(__name__)

_LIMITS = {
    "soft_time_limit": settings.BACKUP_TASK_SOFT_TIME_LIMIT,
    "time_limit": settings.BACKUP_TASK_TIME_LIMIT,
}


@shared_task(name="backups.create", bind=True, acks_late=True, max_retries=2, **_LIMITS)
def backup_create_task(self, reason: str = BackupRecord.Reason.MANUAL) -> int:
    """Take a backup; retry a few minutes later if the database was unreachable or busy."""
    try:
        return backup_create(reason=reason).pk
    except (BackupUnavailable, BackupBusy) as exc:
        raise self.retry(exc=exc, countdown=300 * (self.request.retries + 1)) from exc


@shared_task(name="backups.verify", bind=True, acks_late=True, max_retries=3, **_LIMITS)
def backup_verify_task(self, backup_id: int) -> int:
    """Verify one backup by restoring it; the record says how it went."""
    record = BackupRecord.objects.filter(pk=backup_id).first()
    if record is None:
        logger.warning("Backup #%s no longer exists; nothing to verify", backup_id)
        return backup_id
    try:
        backup_verify(backup=record)
    except BackupBusy as exc:
        raise self.retry(exc=exc, countdown=300) from exc
    return backup_id


@shared_task(name="backups.prune", bind=True, acks_late=True, max_retries=3)
def backups_prune_task(self) -> int:
    """Delete backups outside the retention rotation; return how many went."""
    try:
        return len(backups_prune().deleted)
    except BackupBusy as exc:
        raise self.retry(exc=exc, countdown=600) from exc


@shared_task(name="backups.nightly", acks_late=True)
def nightly_backup_task() -> str | None:
    """Start the nightly chain: backup, then verify it, then prune.

    Safe to run twice (acks_late redelivery, a beat restart): a second run on
    the same night finds the first one's backup and starts nothing.
    """
    since = timezone.now() - timedelta(hours=12)
    if (
        BackupRecord.objects.filter(reason=BackupRecord.Reason.SCHEDULED, created_at__gte=since)
        .exclude(status=BackupRecord.Status.FAILED)
        .exists()
    ):
        logger.info("A nightly backup was already taken in the last 12 hours")
        return None
    result = chain(
        backup_create_task.si(reason=BackupRecord.Reason.SCHEDULED),
        backup_verify_task.s(),
        backups_prune_task.si(),
    ).apply_async()
    return result.id
