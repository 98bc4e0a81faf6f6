"""Backups: take, verify (by restoring), restore, prune.

Backups, verifications and restores run external tools for minutes, so those
services do not hold a transaction around the slow part: each writes its
record in a short transaction of its own once the outcome is known.
"""

from __future__ import annotations

import errno
import hashlib
import json
import logging
import os
import secrets
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from importlib import metadata
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.color import no_style
from django.db import connections, transaction
from django.utils import timezone

from caching.api import invalidate
from caching.signals import every_namespace
from notifications.services import notify_staff

from .engines import ENGINES, Engine, Progress, Snapshot, engine_for
from .exceptions import BackupError, VerificationFailed
from .locks import backup_lock
from .models import BackupRecord, manifest_path_for

logger = logging.getLogger(__name__)

MANIFEST_FORMAT = "hotel-backup/1"
_CHUNK = 1024 * 1024


def _log_progress(message: str) -> None:
    logger.info(message)


def app_version() -> str:
    """The deployed version: APP_VERSION (e.g. a git commit) or the package version."""
    configured = getattr(settings, "APP_VERSION", "")
    if configured:
        return configured
    try:
        return metadata.version("hotel-booking")
    except metadata.PackageNotFoundError:
        return "unknown"


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_json_atomically(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_name(f".tmp-{path.name}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with open(fd, "w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=2, sort_keys=True)
        handle.write("\n")
        handle.flush()
        os.fsync(handle.fileno())
    tmp.replace(path)


def _backup_dir() -> Path:
    directory = Path(settings.BACKUP_DIR)
    try:
        # Backups hold every guest's name, email and phone: owner only.
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise BackupError(f"Cannot create the backup directory {directory}: {exc}") from exc
    return directory


def _file_name(engine: Engine, reason: str, now: datetime) -> str:
    database = Path(engine.database_name).stem or "database"
    stamp = now.strftime("%Y%m%dT%H%M%SZ")
    return f"{database}-{stamp}-{reason}-{secrets.token_hex(3)}{engine.extension}"


def _alert_staff(*, subject: str, body: str, dedupe_key: str) -> None:
    """Tell staff through the notifications outbox; log loudly if it cannot be reached."""
    logger.error("%s: %s", subject, body)
    try:
        # A savepoint: an outbox failure must not break the caller's
        # transaction, nor hide the failure the alert reports.
        with transaction.atomic():
            notify_staff(subject=subject, body=body, dedupe_key=dedupe_key)
    except Exception:
        logger.exception("Could not queue the staff alert %r", dedupe_key)


# --- backup -------------------------------------------------------------------------


def backup_create(
    *,
    reason: str = BackupRecord.Reason.MANUAL,
    progress: Progress = _log_progress,
    alias: str = "default",
) -> BackupRecord:
    """Back up the database to BACKUP_DIR with a manifest beside it, and record it.

    The archive is written to a temporary name and renamed into place only once
    it is complete and on disk, so a file under its final name is never partial.
    A failure leaves a failed record (when the database can take one), alerts
    staff and raises BackupError; BackupBusy while a restore or prune runs.
    """
    with backup_lock(exclusive=False, what="take a backup", alias=alias):
        return _backup_create(reason=reason, progress=progress, alias=alias)


def _backup_create(*, reason: str, progress: Progress, alias: str) -> BackupRecord:
    engine = engine_for(alias=alias)
    started = time.monotonic()
    now = timezone.now()
    directory = _backup_dir()
    name = _file_name(engine, reason, now)
    final = directory / name
    tmp = directory / f".tmp-{name}"
    try:
        # Created owner-only before the tool writes to it: pg_dump and SQLite
        # keep an existing file's mode, where they would create one with the
        # umask's (world-readable) for the minutes the dump takes.
        os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600))
        snapshot = engine.dump(target=tmp, progress=progress)
        _fsync(tmp)
        size = tmp.stat().st_size
        if size == 0:
            raise BackupError("The dump is empty.")
        progress(f"Computing the SHA-256 of {size} bytes")
        digest = file_sha256(tmp)
        tmp.replace(final)
        duration = timedelta(seconds=time.monotonic() - started)
        manifest = {
            "format": MANIFEST_FORMAT,
            "file": name,
            "sha256": digest,
            "size_bytes": size,
            "vendor": engine.vendor,
            "database": engine.database_name,
            "created_at": now.isoformat(),
            "reason": reason,
            "table_counts": snapshot.table_counts,
            "migrations": snapshot.migrations,
            "app_version": app_version(),
            "duration_seconds": round(duration.total_seconds(), 3),
        }
        _write_json_atomically(manifest_path_for(final), manifest)
        _fsync(directory)
    except Exception as exc:
        # Whatever stopped it (a tool, the disk, a task time limit), no partial
        # file stays under a backup's name, and the failure is recorded.
        for leftover in (tmp, final, manifest_path_for(final)):
            leftover.unlink(missing_ok=True)
        if isinstance(exc, BackupError):
            message = exc.message
        elif isinstance(exc, OSError):
            message = _os_error_message(exc)
        else:
            message = f"The backup was interrupted: {type(exc).__name__}: {exc}"
        record_id = _record_failed_backup(
            engine=engine, path=final, now=now, reason=reason, message=message, started=started
        )
        if isinstance(exc, BackupError | OSError):
            error_cls = type(exc) if isinstance(exc, BackupError) else BackupError
            raise error_cls(message, record_id=record_id) from exc
        raise
    record = BackupRecord.objects.create(
        path=str(final),
        created_at=now,
        size_bytes=size,
        sha256=digest,
        vendor=engine.vendor,
        database_name=engine.database_name,
        table_counts=snapshot.table_counts,
        migrations=snapshot.migrations,
        app_version=manifest["app_version"],
        reason=reason,
        status=BackupRecord.Status.CREATED,
        duration=duration,
    )
    progress(f"Backup #{record.pk} written to {final} ({size} bytes)")
    return record


def _os_error_message(exc: OSError) -> str:
    if exc.errno == errno.ENOSPC:
        return f"The disk holding {settings.BACKUP_DIR} is full: {exc.strerror}."
    return f"Cannot write the backup: {exc}"


def _record_failed_backup(
    *, engine: Engine, path: Path, now: datetime, reason: str, message: str, started: float
) -> int | None:
    try:
        with transaction.atomic():
            record = BackupRecord.objects.create(
                path=str(path),
                created_at=now,
                vendor=engine.vendor,
                database_name=engine.database_name,
                app_version=app_version(),
                reason=reason,
                status=BackupRecord.Status.FAILED,
                error=message,
                duration=timedelta(seconds=time.monotonic() - started),
            )
            _alert_staff(
                subject=f"Backup failed ({record.get_reason_display()})",
                body=f"The backup of {engine.database_name} failed: {message}",
                dedupe_key=f"backup-failed:{record.pk}",
            )
            return record.pk
    except Exception:
        # The database itself may be what failed; the error still reaches the
        # operator or the task through the exception.
        logger.exception("Could not record the failed backup")
        _alert_staff(
            subject="Backup failed",
            body=f"The backup of {engine.database_name} failed: {message}",
            dedupe_key=f"backup-failed:{path.name}",
        )
        return None


# --- verify -------------------------------------------------------------------------


def read_manifest(path: Path) -> dict[str, Any]:
    """The manifest beside ``path``; VerificationFailed if it is missing or unreadable."""
    manifest_path = manifest_path_for(path)
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise VerificationFailed(
            f"{path.name} has no manifest ({manifest_path.name}): it is not a backup "
            "made by this application."
        ) from exc
    except (OSError, ValueError) as exc:
        raise VerificationFailed(f"The manifest {manifest_path.name} is unreadable: {exc}") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != MANIFEST_FORMAT:
        raise VerificationFailed(
            f"{manifest_path.name} is not a {MANIFEST_FORMAT} manifest: "
            f"{path.name} is not a backup made by this application."
        )
    return manifest


def check_file(record: BackupRecord) -> None:
    """Refuse a file that is missing, empty, foreign, truncated or not what was recorded."""
    path = Path(record.path)
    engine_cls = ENGINES.get(record.vendor)
    if not path.exists():
        raise VerificationFailed(f"The backup file {path} is missing.")
    size = path.stat().st_size
    if size == 0:
        raise VerificationFailed(f"The backup file {path.name} is empty (0 bytes).")
    with path.open("rb") as handle:
        head = handle.read(32)
    if engine_cls and not head.startswith(engine_cls.magic):
        raise VerificationFailed(
            f"{path.name} is not a {engine_cls.description}: it is a foreign file, "
            "or its first bytes are corrupted."
        )
    if record.size_bytes is not None and size < record.size_bytes:
        raise VerificationFailed(
            f"{path.name} is truncated: {size} bytes, {record.size_bytes} expected."
        )
    if record.size_bytes is not None and size != record.size_bytes:
        raise VerificationFailed(
            f"{path.name} has {size} bytes, {record.size_bytes} expected: it has been modified."
        )
    digest = file_sha256(path)
    if digest != record.sha256:
        raise VerificationFailed(
            f"Checksum mismatch for {path.name}: SHA-256 is {digest}, {record.sha256} expected. "
            "The file is corrupted or has been modified."
        )
    manifest = read_manifest(path)
    for key, recorded in (
        ("vendor", record.vendor),
        ("sha256", record.sha256),
        ("size_bytes", record.size_bytes),
        ("table_counts", record.table_counts),
        ("migrations", record.migrations),
    ):
        if manifest.get(key) != recorded:
            raise VerificationFailed(
                f"The manifest of {path.name} disagrees with the backup record on {key}."
            )


def _compare(record: BackupRecord, restored: Snapshot) -> None:
    expected, actual = record.table_counts, restored.table_counts
    problems = []
    missing = sorted(set(expected) - set(actual))
    extra = sorted(set(actual) - set(expected))
    if missing:
        problems.append(f"tables missing after restore: {', '.join(missing)}")
    if extra:
        problems.append(f"unexpected tables after restore: {', '.join(extra)}")
    for table in sorted(set(expected) & set(actual)):
        if expected[table] != actual[table]:
            problems.append(f"{table} has {actual[table]} rows, {expected[table]} expected")
    if restored.migrations != record.migrations:
        problems.append(
            f"migration state {restored.migrations} differs from the manifest's {record.migrations}"
        )
    if problems:
        raise VerificationFailed(
            "The restored copy does not match the manifest: " + "; ".join(problems)
        )


def backup_verify(*, backup: BackupRecord, progress: Progress = _log_progress) -> BackupRecord:
    """Prove a backup: check its checksum, restore it into a scratch database, compare counts.

    Records the outcome (verified, or failed with the reason) and alerts staff on
    failure. Raises BackupError without touching the record when the check
    itself cannot run (no pg_restore, no scratch database, a restore or prune
    holding the lock), because that says nothing about the file.
    """
    started = time.monotonic()
    with backup_lock(exclusive=False, what="verify a backup"):
        try:
            progress(f"Checking {backup.file_name}")
            check_file(backup)
            engine = engine_for(vendor=backup.vendor)
            restored = engine.inspect_archive(path=Path(backup.path), progress=progress)
            _compare(backup, restored)
        except VerificationFailed as exc:
            return _record_verification(backup=backup, started=started, error=exc.message)
        return _record_verification(backup=backup, started=started, error="")


@transaction.atomic
def _record_verification(*, backup: BackupRecord, started: float, error: str) -> BackupRecord:
    record = BackupRecord.objects.select_for_update().filter(pk=backup.pk).first()
    if record is None:
        # Pruned while it was being verified: there is nothing left to mark.
        logger.warning("Backup #%s was deleted during its verification", backup.pk)
        return backup
    record.verify_duration = timedelta(seconds=time.monotonic() - started)
    record.verified_at = timezone.now()
    if error:
        record.status = BackupRecord.Status.FAILED
        record.error = error
        _alert_staff(
            subject="Backup verification failed",
            body=f"Backup #{record.pk} ({record.file_name}) failed verification: {error}",
            dedupe_key=f"backup-verify-failed:{record.pk}",
        )
    else:
        record.status = BackupRecord.Status.VERIFIED
        record.error = ""
    record.save(update_fields=["status", "error", "verified_at", "verify_duration"])
    return record


def backup_import(*, path: Path) -> BackupRecord:
    """Register a backup file from its manifest (a copy brought from another machine).

    A file without a valid manifest is refused with a failed record, so the
    attempt shows in the list.
    """
    path = path.resolve()
    existing = BackupRecord.objects.filter(path=str(path)).first()
    # An import refused before its manifest could be read (not there yet,
    # garbled) is tried again: otherwise it would fail on its empty checksum
    # forever, however the operator fixed the manifest.
    if existing and not (existing.reason == BackupRecord.Reason.IMPORTED and not existing.sha256):
        return existing
    try:
        if not path.exists():
            raise VerificationFailed(f"The backup file {path} is missing.")
        manifest = read_manifest(path)
        created_at = datetime.fromisoformat(manifest["created_at"])
        record, _created = BackupRecord.objects.update_or_create(
            path=str(path),
            defaults={
                "created_at": created_at,
                "size_bytes": int(manifest["size_bytes"]),
                "sha256": str(manifest["sha256"]),
                "vendor": str(manifest["vendor"]),
                "database_name": str(manifest.get("database", "")),
                "table_counts": dict(manifest["table_counts"]),
                "migrations": dict(manifest["migrations"]),
                "app_version": str(manifest.get("app_version", "")),
                "reason": BackupRecord.Reason.IMPORTED,
                "status": BackupRecord.Status.CREATED,
                "error": "",
            },
        )
        return record
    except (KeyError, TypeError, ValueError) as exc:
        message = f"The manifest of {path.name} lacks or garbles {exc}."
    except VerificationFailed as exc:
        message = exc.message
    record, _created = BackupRecord.objects.update_or_create(
        path=str(path),
        defaults={
            "created_at": timezone.now(),
            "size_bytes": path.stat().st_size if path.exists() else None,
            "sha256": "",
            "vendor": engine_for().vendor,
            "reason": BackupRecord.Reason.IMPORTED,
            "status": BackupRecord.Status.FAILED,
            "error": message,
        },
    )
    raise VerificationFailed(message, record_id=record.pk)


# --- restore ------------------------------------------------------------------------


def backup_restore(
    *, backup: BackupRecord, progress: Progress = _log_progress, alias: str = "default"
) -> BackupRecord:
    """Replace the database with a backup, after taking a safety backup of it.

    Refuses a backup of another vendor and a file whose checksum or manifest
    does not match its record. The backup catalogue survives: records the
    restored database does not know are written back, so the safety backup and
    every newer backup stay listed. Returns the safety backup's record.
    """
    with backup_lock(exclusive=True, what="restore a backup", alias=alias):
        return _backup_restore(backup=backup, progress=progress, alias=alias)


def _backup_restore(*, backup: BackupRecord, progress: Progress, alias: str) -> BackupRecord:
    engine = engine_for(alias=alias)
    if backup.vendor != engine.vendor:
        raise BackupError(
            f"Backup #{backup.pk} is a {backup.get_vendor_display()} backup; "
            f"this site runs on {engine.vendor}."
        )
    try:
        check_file(backup)
    except VerificationFailed as exc:
        raise BackupError(f"Refusing to restore backup #{backup.pk}: {exc.message}") from exc

    engine.check_restore_tools()
    connection = connections[alias]
    close_connections(connection)
    engine.check_no_other_sessions()
    progress("Taking a safety backup of the current database first")
    safety = _backup_create(reason=BackupRecord.Reason.PRE_RESTORE, progress=progress, alias=alias)
    catalogue = list(BackupRecord.objects.values())

    # Connections opened before the restore may hold locks or cached state of
    # tables that are about to be replaced.
    close_connections(connection)
    engine.restore(path=Path(backup.path), progress=progress)
    connection.close()

    _catalogue_put_back(catalogue, alias=alias)
    # Every cached read describes the database that was just replaced.
    invalidate(*every_namespace())
    progress(
        f"Restored backup {backup.file_name}; the list of backups is kept as it was; "
        f"the safety backup is {safety.file_name}"
    )
    return BackupRecord.objects.get(path=safety.path)


def close_connections(connection) -> None:
    """Close this process's sessions on ``connection``'s database, its pool's included.

    With a pool, ``close()`` only hands the session back, and the pool's
    sessions would count as other sessions in the restore's way.
    """
    connection.close()
    if hasattr(connection, "close_pool"):
        connection.close_pool()


@transaction.atomic
def _catalogue_put_back(catalogue: list[dict[str, Any]], *, alias: str) -> None:
    """Put back the backup records as they were before the restore.

    The restored database holds the records of its own day; the files on disk,
    the safety backup among them, are described by the catalogue taken just
    before, so that is what stays, ids included.
    """
    BackupRecord.objects.all().delete()
    BackupRecord.objects.bulk_create([BackupRecord(**row) for row in catalogue])
    connection = connections[alias]
    reset = connection.ops.sequence_reset_sql(no_style(), [BackupRecord])
    with connection.cursor() as cursor:
        for statement in reset:
            cursor.execute(statement)


# --- prune --------------------------------------------------------------------------


@dataclass
class PruneResult:
    kept: list[BackupRecord] = field(default_factory=list)
    deleted: list[BackupRecord] = field(default_factory=list)


def _retained(
    records: list[BackupRecord], *, now: datetime, keep_last: int, keep_daily: int, keep_weekly: int
) -> set[int]:
    """Which records to keep: a grandfather-father-son rotation over good backups."""
    good = [r for r in records if r.status != BackupRecord.Status.FAILED]
    keep = {r.pk for r in good[:keep_last]}

    def best_of(bucket: list[BackupRecord]) -> BackupRecord:
        verified = [r for r in bucket if r.status == BackupRecord.Status.VERIFIED]
        return (verified or bucket)[0]

    today = timezone.localdate(now)
    daily: dict[Any, list[BackupRecord]] = {}
    weekly: dict[Any, list[BackupRecord]] = {}
    this_week = today - timedelta(days=today.weekday())
    for record in good:
        day = timezone.localdate(record.created_at)
        if (today - day).days < keep_daily:
            daily.setdefault(day, []).append(record)
        week = day - timedelta(days=day.weekday())
        if (this_week - week).days // 7 < keep_weekly:
            weekly.setdefault(week, []).append(record)
    keep |= {best_of(bucket).pk for bucket in daily.values()}
    keep |= {best_of(bucket).pk for bucket in weekly.values()}

    newest_verified = next((r for r in records if r.status == BackupRecord.Status.VERIFIED), None)
    if newest_verified:
        keep.add(newest_verified.pk)
    # Failed backups stay as long as the daily window, for whoever investigates.
    keep |= {
        r.pk
        for r in records
        if r.status == BackupRecord.Status.FAILED
        and (today - timezone.localdate(r.created_at)).days < max(keep_daily, 1)
    }
    return keep


def backups_prune(
    *,
    keep_last: int | None = None,
    keep_daily: int | None = None,
    keep_weekly: int | None = None,
    now: datetime | None = None,
    dry_run: bool = False,
) -> PruneResult:
    """Delete backups outside the rotation: the N latest, one a day, one a week.

    The newest verified backup is never deleted, whatever its age. Files are
    removed only after the records' deletion has committed, so a rolled-back
    prune never loses a file that is still listed. Raises BackupBusy while a
    backup or verification runs, so it never deletes a file being read.
    """
    keep_last = settings.BACKUP_KEEP_LAST if keep_last is None else keep_last
    keep_daily = settings.BACKUP_KEEP_DAILY if keep_daily is None else keep_daily
    keep_weekly = settings.BACKUP_KEEP_WEEKLY if keep_weekly is None else keep_weekly
    if min(keep_last, keep_daily, keep_weekly) < 0:
        raise BackupError("Retention counts cannot be negative.")
    now = now or timezone.now()
    if dry_run:
        return _prune(keep_last, keep_daily, keep_weekly, now=now, dry_run=True)
    with backup_lock(exclusive=True, what="prune backups"):
        return _prune(keep_last, keep_daily, keep_weekly, now=now, dry_run=False)


def _prune(
    keep_last: int, keep_daily: int, keep_weekly: int, *, now: datetime, dry_run: bool
) -> PruneResult:
    with transaction.atomic():
        records = list(BackupRecord.objects.select_for_update().order_by("-created_at", "-pk"))
        keep = _retained(
            records, now=now, keep_last=keep_last, keep_daily=keep_daily, keep_weekly=keep_weekly
        )
        result = PruneResult(
            kept=[r for r in records if r.pk in keep],
            deleted=[r for r in records if r.pk not in keep],
        )
        if dry_run:
            return result
        if result.deleted:
            BackupRecord.objects.filter(pk__in=[r.pk for r in result.deleted]).delete()
            paths = [Path(r.path) for r in result.deleted]
            transaction.on_commit(lambda: _delete_files(paths))
    _delete_stale_temporary_files(now=now)
    return result


def _delete_files(paths: list[Path]) -> None:
    directory = Path(settings.BACKUP_DIR).resolve()
    for path in paths:
        # Only what backups wrote: `verify_backup --file` records whatever
        # path it is given (a copy on a USB stick, or by mistake the live
        # SQLite database), and the rotation must not delete those.
        if path.resolve().parent != directory:
            logger.warning("Not deleting %s: it is outside BACKUP_DIR %s", path, directory)
            continue
        for candidate in (path, manifest_path_for(path)):
            try:
                candidate.unlink(missing_ok=True)
            except OSError:
                logger.exception("Could not delete %s", candidate)


def _delete_stale_temporary_files(*, now: datetime) -> None:
    """Remove what a backup that crashed mid-way left behind (older than a day)."""
    directory = Path(settings.BACKUP_DIR)
    if not directory.is_dir():
        return
    cutoff = now.timestamp() - 24 * 3600
    for tmp in directory.glob(".tmp-*"):
        try:
            if tmp.stat().st_mtime < cutoff:
                tmp.unlink()
        except OSError:
            logger.exception("Could not delete %s", tmp)
