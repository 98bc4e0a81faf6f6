import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import DatabaseError
from django.db.models import QuerySet
from django.utils import timezone

from .models import BackupRecord

logger = logging.getLogger(__name__)


def backups_list(*, status: str | None = None) -> QuerySet[BackupRecord]:
    """Backups newest first, optionally of one status."""
    records = BackupRecord.objects.order_by("-created_at", "-pk")
    if status:
        records = records.filter(status=status)
    return records


def backup_latest(*, verified_only: bool = False) -> BackupRecord | None:
    """The newest good backup (any not failed), or the newest verified one."""
    records = BackupRecord.objects.order_by("-created_at", "-pk")
    if verified_only:
        return records.filter(status=BackupRecord.Status.VERIFIED).first()
    return records.exclude(status=BackupRecord.Status.FAILED).first()


def backup_health(*, now: datetime | None = None) -> dict:
    """Backup status for /health/: degraded when the newest verified backup is too old.

    No verified backup at all also counts as degraded: until one has been
    restored and checked, nothing proves the data could be recovered, and a
    fresh install clears it with its first nightly run (or `manage.py backup
    --verify`).
    """
    now = now or timezone.now()
    max_age = timedelta(hours=settings.BACKUP_MAX_AGE_HOURS)
    try:
        newest = (
            BackupRecord.objects.filter(status=BackupRecord.Status.VERIFIED)
            .order_by("-created_at")
            .values("pk", "created_at", "verified_at")
            .first()
        )
    except DatabaseError as exc:
        # /health/ reports the database itself; this check must not 500 it.
        logger.warning("backup_health: cannot read backup records: %s", exc)
        newest, reason = None, "backup records unreadable"
    else:
        reason = "no verified backup"
    if newest is None:
        return {
            "status": "degraded",
            "reason": reason,
            "newest_verified_id": None,
            "newest_verified_at": None,
            "newest_verified_age_seconds": None,
            "max_age_hours": settings.BACKUP_MAX_AGE_HOURS,
        }
    age = now - newest["created_at"]
    stale = age > max_age
    return {
        "status": "degraded" if stale else "ok",
        "reason": "newest verified backup is too old" if stale else "",
        "newest_verified_id": newest["pk"],
        "newest_verified_at": newest["created_at"].isoformat(),
        "newest_verified_age_seconds": int(age.total_seconds()),
        "max_age_hours": settings.BACKUP_MAX_AGE_HOURS,
    }


def migrations_unknown_to_code(*, backup: BackupRecord) -> list[str]:
    """The backup's latest migrations that this code does not have (it is newer)."""
    from django.db.migrations.loader import MigrationLoader

    on_disk = set(MigrationLoader(None, ignore_no_migrations=True).disk_migrations)
    return sorted(
        f"{app}.{name}" for app, name in backup.migrations.items() if (app, name) not in on_disk
    )


def unapplied_migrations(*, alias: str = "default") -> list[str]:
    """Migrations the code has and the database has not applied, in order."""
    from django.db import connections
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connections[alias])
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    return [f"{migration.app_label}.{migration.name}" for migration, _backwards in plan]
