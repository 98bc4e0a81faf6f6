"""Backup, verify and restore on PostgreSQL, against the real test database."""

import errno
import json
from pathlib import Path

import pytest
from django.contrib.auth.models import Group

from backups.engines import PostgresEngine, engine_for
from backups.exceptions import BackupError, BackupUnavailable
from backups.models import BackupRecord
from backups.services import backup_create, backup_restore, backup_verify, file_sha256
from caching.api import namespace_version
from hotel.models import Hotel
from notifications.models import Notification

from .conftest import flip_bytes, flip_table_data, live_snapshot, scratch_databases, truncate

# Tests whose data pg_dump must see (it reads committed rows only) or that
# replace the database run with real commits; the others roll back, faster.
committed = pytest.mark.django_db(transaction=True)
pytestmark = pytest.mark.django_db


@pytest.mark.django_db(databases=[])
def test_a_backend_that_wraps_postgresqls_is_backed_up_as_postgresql(settings, monkeypatch):
    # given a database configured through a backend that is not named postgresql
    wrapped = {**settings.DATABASES["default"], "ENGINE": "tests.backups.wrapped_postgres"}
    monkeypatch.setitem(settings.DATABASES, "wrapped", wrapped)

    # then its backups are PostgreSQL's, not refused as an unknown engine
    engine = engine_for(alias="wrapped")
    assert isinstance(engine, PostgresEngine)
    assert engine_for(vendor="postgresql", alias="wrapped").vendor == "postgresql"


@pytest.mark.django_db(databases=[])
def test_a_backend_that_cannot_be_loaded_is_refused_with_a_clear_message(settings, monkeypatch):
    missing = {**settings.DATABASES["default"], "ENGINE": "tests.backups.no_such_backend"}
    monkeypatch.setitem(settings.DATABASES, "missing", missing)

    refused = r"not supported for the 'tests\.backups\.no_such_backend'"
    with pytest.raises(BackupError, match=refused):
        engine_for(alias="missing")


@committed
def test_backup_and_verify_restore_equal_row_counts(backup_dir, hotel_data):
    # given committed data in several tables
    live = live_snapshot()
    assert live.table_counts["hotel_hotel"] == 2
    # when
    record = backup_create()
    verified = backup_verify(backup=record)
    # then the manifest holds the live counts and the scratch restore matched them
    assert verified.status == BackupRecord.Status.VERIFIED, verified.error
    assert verified.verified_at is not None
    assert verified.table_counts == live.table_counts
    assert verified.migrations == live.migrations
    assert verified.migrations["backups"] == "0001_initial"
    assert scratch_databases() == []


def test_backup_writes_file_and_manifest_atomically(backup_dir, hotel_data):
    record = backup_create()

    path = Path(record.path)
    assert path.parent == backup_dir
    assert path.read_bytes().startswith(b"PGDMP")
    assert record.size_bytes == path.stat().st_size
    assert record.sha256 == file_sha256(path)
    manifest = json.loads(record.manifest_path.read_text())
    assert manifest["sha256"] == record.sha256
    assert manifest["size_bytes"] == record.size_bytes
    assert manifest["table_counts"] == record.table_counts
    assert manifest["migrations"] == record.migrations
    assert manifest["vendor"] == "postgresql"
    assert manifest["app_version"]
    assert not list(backup_dir.glob(".tmp-*"))
    # they hold guests' personal data: readable by the owner only
    assert path.stat().st_mode & 0o777 == 0o600
    assert record.manifest_path.stat().st_mode & 0o777 == 0o600


def test_dump_is_never_readable_by_others_while_it_is_being_written(backup_dir):
    # given a backup directory the operator made with the usual 0755
    backup_dir.mkdir(mode=0o755, parents=True)
    modes = set()

    def watch(message: str) -> None:
        if message.startswith("Dumped "):
            modes.update(p.stat().st_mode & 0o777 for p in backup_dir.glob(".tmp-*"))

    # when pg_dump writes the guests' data for minutes
    backup_create(progress=watch)

    # then the partial file was owner-only all along, not just once renamed
    assert modes == {0o600}


def test_backup_reports_progress(backup_dir):
    messages = []
    backup_create(progress=messages.append)
    assert any(m.startswith("Dumped public.hotel_hotel (") for m in messages)


@pytest.mark.parametrize(
    ("damage", "expected"),
    [
        (lambda p: truncate(p), "is truncated"),
        (lambda p: flip_bytes(p), "Checksum mismatch"),
        (lambda p: p.write_bytes(b""), "is empty (0 bytes)"),
        (lambda p: p.unlink(), "is missing"),
        (lambda p: p.write_bytes(b"%PDF-1.7 " + b"x" * p.stat().st_size), "foreign file"),
    ],
    ids=["truncated", "flipped-bytes", "empty", "missing", "foreign"],
)
def test_verify_detects_a_damaged_file(backup_dir, damage, expected):
    record = backup_create()
    damage(Path(record.path))

    verified = backup_verify(backup=record)

    assert verified.status == BackupRecord.Status.FAILED
    assert expected in verified.error
    assert BackupRecord.objects.get(pk=record.pk).status == BackupRecord.Status.FAILED


def test_verify_detects_a_checksum_that_does_not_match_the_record(backup_dir):
    record = backup_create()
    BackupRecord.objects.filter(pk=record.pk).update(sha256="0" * 64)
    record.refresh_from_db()

    verified = backup_verify(backup=record)

    assert verified.status == BackupRecord.Status.FAILED
    assert "Checksum mismatch" in verified.error


def test_verify_detects_a_manifest_that_disagrees_with_the_record(backup_dir):
    record = backup_create()
    manifest = json.loads(record.manifest_path.read_text())
    manifest["table_counts"]["hotel_hotel"] = 999
    record.manifest_path.write_text(json.dumps(manifest))

    verified = backup_verify(backup=record)

    assert verified.status == BackupRecord.Status.FAILED
    assert "disagrees with the backup record on table_counts" in verified.error


@committed
@pytest.mark.parametrize("damage", [truncate, flip_table_data], ids=["truncated", "flipped-bytes"])
def test_restore_catches_damage_the_checksum_was_taken_over(backup_dir, hotel_data, damage):
    # given an archive damaged BEFORE its checksum was recorded (a bad disk
    # under pg_dump): size and checksum agree, only a full restore can tell
    record = backup_create()
    path = Path(record.path)
    damage(path)
    digest, size = file_sha256(path), path.stat().st_size
    BackupRecord.objects.filter(pk=record.pk).update(sha256=digest, size_bytes=size)
    manifest = json.loads(record.manifest_path.read_text())
    manifest.update(sha256=digest, size_bytes=size)
    record.manifest_path.write_text(json.dumps(manifest))
    record.refresh_from_db()

    verified = backup_verify(backup=record)

    assert verified.status == BackupRecord.Status.FAILED
    assert "cannot be restored" in verified.error or "does not match" in verified.error
    assert scratch_databases() == []


def test_verify_failure_alerts_staff(backup_dir):
    from tests.factories import StaffFactory

    StaffFactory(email="ops@example.com")
    record = backup_create()
    truncate(Path(record.path))

    backup_verify(backup=record)

    alert = Notification.objects.get(kind=Notification.Kind.STAFF_ALERT)
    assert alert.recipient == "ops@example.com"
    assert "verification failed" in alert.subject.lower()


def test_backup_without_pg_dump_fails_with_a_record_and_a_clear_message(backup_dir, settings):
    settings.BACKUP_PG_DUMP = "/nonexistent/pg_dump"

    with pytest.raises(BackupError, match="pg_dump was not found") as excinfo:
        backup_create()

    failed = BackupRecord.objects.get(pk=excinfo.value.record_id)
    assert failed.status == BackupRecord.Status.FAILED
    assert "pg_dump was not found" in failed.error
    assert not list(backup_dir.iterdir())


def test_backup_of_an_unreachable_database_says_so(tmp_path, settings):
    settings_dict = {**settings.DATABASES["default"], "HOST": "127.0.0.1", "PORT": 1}
    engine = PostgresEngine(settings_dict)

    with pytest.raises(BackupUnavailable, match="Cannot connect to PostgreSQL"):
        engine.dump(target=tmp_path / "x.dump")


@committed
def test_restore_brings_back_the_data_and_keeps_a_safety_backup(backup_dir, hotel_data):
    # given a backup, then changes after it
    record = backup_verify(backup=backup_create())
    Group.objects.create(name="after the backup")
    assert Group.objects.count() == 1
    catalogue_version = namespace_version("catalogue")

    # when
    safety = backup_restore(backup=record)

    # then the data is as it was, and the newer state is in the safety backup
    assert not Group.objects.exists()
    assert Hotel.objects.count() == 2
    assert safety.reason == BackupRecord.Reason.PRE_RESTORE
    assert safety.table_counts["auth_group"] == 1
    # the catalogue of backups is the one from before the restore
    assert set(BackupRecord.objects.values_list("pk", "status")) == {
        (record.pk, BackupRecord.Status.VERIFIED),
        (safety.pk, BackupRecord.Status.CREATED),
    }
    # and the id sequence was moved past them, so the next backup gets a new id
    assert backup_create().pk > safety.pk
    # and nothing cached from the replaced database is served any more
    assert namespace_version("catalogue") > catalogue_version


def test_restore_refuses_a_file_whose_checksum_does_not_match(backup_dir, hotel_data):
    record = backup_create()
    flip_bytes(Path(record.path))
    Group.objects.create(name="must survive")

    with pytest.raises(BackupError, match=r"Refusing to restore.*Checksum mismatch"):
        backup_restore(backup=record)

    assert Group.objects.filter(name="must survive").exists()
    assert BackupRecord.objects.count() == 1


def test_restore_without_psql_refuses_before_touching_anything(backup_dir, settings):
    record = backup_create()
    settings.BACKUP_PSQL = "/nonexistent/psql"

    with pytest.raises(BackupError, match="psql was not found"):
        backup_restore(backup=record)

    assert BackupRecord.objects.count() == 1  # no safety backup either


@committed
def test_restore_that_fails_midway_leaves_the_database_unchanged(backup_dir, hotel_data, settings):
    # given a backup, a newer row, and another session holding a table lock
    record = backup_create()
    Group.objects.create(name="must survive")
    settings.BACKUP_LOCK_TIMEOUT_SECONDS = 0.3
    engine = PostgresEngine(settings.DATABASES["default"])
    with engine._connect() as blocker, blocker.transaction():
        blocker.execute("LOCK TABLE hotel_hotel IN ACCESS SHARE MODE")
        # when the restore cannot drop the locked table
        with pytest.raises(BackupError, match="rolled back; the database is unchanged"):
            backup_restore(backup=record)
    # then nothing was replaced
    assert Group.objects.filter(name="must survive").exists()
    assert Hotel.objects.count() == 2


@committed
def test_restore_refuses_while_another_process_is_connected(backup_dir, hotel_data, settings):
    # given a backup, and a web or worker process still connected (idle, so
    # it holds no lock that would make the restore wait and fail)
    record = backup_create()
    Group.objects.create(name="must survive")
    engine = PostgresEngine({**settings.DATABASES["default"]})
    with engine._connect() as web:
        web.execute("SET application_name = 'gunicorn'")
        # when (the message names its server process, for pg_stat_activity)
        pid = web.info.backend_pid
        with pytest.raises(BackupError, match=rf"1 other session.*\(gunicorn from .+: pid {pid}\)"):
            backup_restore(backup=record)
    # then nothing was replaced: what that process writes would be in neither
    # the safety backup nor the restored database
    assert Group.objects.filter(name="must survive").exists()


@committed
def test_restore_whose_psql_is_killed_fails_instead_of_reporting_success(
    backup_dir, hotel_data, settings, tmp_path
):
    # given a psql that the OOM killer (or a kill -9) stops at the end of its input
    record = backup_create()
    Group.objects.create(name="must survive")
    psql = tmp_path / "psql"
    psql.write_text("#!/bin/sh\ncat > /dev/null\nkill -9 $$\n")
    psql.chmod(0o755)
    settings.BACKUP_PSQL = str(psql)

    # when / then the operator is told the restore did not happen
    with pytest.raises(BackupError, match="rolled back; the database is unchanged"):
        backup_restore(backup=record)
    assert Group.objects.filter(name="must survive").exists()


@committed
def test_restoring_an_archive_that_breaks_off_commits_nothing(backup_dir, hotel_data, settings):
    # given an archive cut short (below check_file, straight to the engine)
    record = backup_create()
    truncate(Path(record.path), keep=0.8)
    Group.objects.create(name="must survive")
    engine = PostgresEngine(settings.DATABASES["default"])

    with pytest.raises(BackupError, match="could not read the archive to its end"):
        engine.restore(path=Path(record.path))

    assert Group.objects.filter(name="must survive").exists()
    assert Hotel.objects.count() == 2


def test_dump_onto_a_full_disk_fails_with_the_reason(settings):
    engine = PostgresEngine(settings.DATABASES["default"])

    with pytest.raises(BackupError, match="No space left on device"):
        engine.dump(target=Path("/dev/full"))


def test_disk_full_while_writing_the_manifest_leaves_no_file_and_a_failed_record(
    backup_dir, monkeypatch
):
    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("backups.services._write_json_atomically", full)

    with pytest.raises(BackupError, match="is full") as excinfo:
        backup_create()

    assert BackupRecord.objects.get(pk=excinfo.value.record_id).status == "failed"
    assert list(backup_dir.iterdir()) == []
