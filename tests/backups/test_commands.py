"""The management commands: exit codes and messages an operator can act on."""

from datetime import timedelta
from io import StringIO
from pathlib import Path

import pytest
from django.contrib.auth.models import Group
from django.core.management import CommandError, call_command
from django.utils import timezone

from backups.models import BackupRecord
from backups.services import backups_prune

from .conftest import truncate

pytestmark = pytest.mark.django_db


def run(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out, stderr=StringIO())
    return out.getvalue()


def test_backup_with_verify_reports_a_verified_backup(backup_dir):
    output = run("backup", "--verify")

    record = BackupRecord.objects.get()
    assert record.status == BackupRecord.Status.VERIFIED
    assert f"Backup #{record.pk}" in output
    assert "Verified" in output


def test_verify_latest_fails_with_the_reason_for_a_truncated_file(backup_dir):
    run("backup")
    record = BackupRecord.objects.get()
    truncate(Path(record.path))

    with pytest.raises(CommandError, match=r"FAILED verification: .* is truncated"):
        run("verify_backup", "--latest")

    record.refresh_from_db()
    assert record.status == BackupRecord.Status.FAILED


def test_verify_needs_a_backup_to_name():
    with pytest.raises(CommandError, match="one of the arguments"):
        run("verify_backup")
    with pytest.raises(CommandError, match="There is no backup #999"):
        run("verify_backup", "999")
    with pytest.raises(CommandError, match="There is no backup to verify yet"):
        run("verify_backup", "--latest")


def test_verify_file_refuses_a_foreign_file_with_a_failed_record(tmp_path, backup_dir):
    foreign = tmp_path / "holiday.jpg"
    foreign.write_bytes(b"\xff\xd8\xff\xe0" + b"\0" * 100)

    with pytest.raises(CommandError, match="not a backup made by this application"):
        run("verify_backup", "--file", str(foreign))

    record = BackupRecord.objects.get()
    assert record.status == BackupRecord.Status.FAILED
    assert record.reason == BackupRecord.Reason.IMPORTED


def test_prune_never_deletes_a_file_it_was_only_asked_to_verify(
    tmp_path, backup_dir, django_capture_on_commit_callbacks
):
    # given the operator pointed verify_backup at the wrong file: the live
    # SQLite database of the embedded default, which is not a backup
    live = tmp_path / "db.sqlite3"
    live.write_bytes(b"SQLite format 3\x00" + b"\0" * 100)
    with pytest.raises(CommandError, match="not a backup made by this application"):
        run("verify_backup", "--file", str(live))

    # when the failed record ages out of the rotation
    with django_capture_on_commit_callbacks(execute=True):
        result = backups_prune(now=timezone.now() + timedelta(days=30))

    # then its record goes, and the file, which no backup wrote, stays
    assert [r.path for r in result.deleted] == [str(live)]
    assert live.exists()


def test_verify_file_registers_and_verifies_a_copied_backup(backup_dir, tmp_path):
    run("backup")
    original = BackupRecord.objects.get()
    copy_dir = tmp_path / "copied"
    copy_dir.mkdir()
    for source in (Path(original.path), original.manifest_path):
        (copy_dir / source.name).write_bytes(source.read_bytes())

    output = run("verify_backup", "--file", str(copy_dir / Path(original.path).name))

    imported = BackupRecord.objects.exclude(pk=original.pk).get()
    assert imported.status == BackupRecord.Status.VERIFIED
    assert imported.table_counts == original.table_counts
    assert "verified" in output


def test_verify_file_registers_a_copy_once_its_manifest_has_been_copied_too(backup_dir, tmp_path):
    # given a backup brought to a new machine, the .json forgotten at first
    run("backup")
    original = BackupRecord.objects.get()
    copy_dir = tmp_path / "copied"
    copy_dir.mkdir()
    copy = copy_dir / Path(original.path).name
    copy.write_bytes(Path(original.path).read_bytes())
    with pytest.raises(CommandError, match="has no manifest"):
        run("verify_backup", "--file", str(copy))

    # when the operator copies the manifest and runs the command again
    (copy_dir / original.manifest_path.name).write_bytes(original.manifest_path.read_bytes())
    output = run("verify_backup", "--file", str(copy))

    # then the copy is registered from its manifest and verified
    imported = BackupRecord.objects.get(path=str(copy))
    assert imported.status == BackupRecord.Status.VERIFIED, imported.error
    assert imported.sha256 == original.sha256
    assert "verified" in output


def test_restore_refuses_without_yes(backup_dir):
    run("backup")
    record = BackupRecord.objects.get()
    Group.objects.create(name="kept")

    with pytest.raises(CommandError, match="Run again with --yes"):
        run("restore_backup", str(record.pk))

    assert Group.objects.filter(name="kept").exists()
    assert BackupRecord.objects.count() == 1


def test_list_backups_shows_status_size_errors_and_health(backup_dir):
    run("backup")
    record = BackupRecord.objects.get()
    record.manifest_path.unlink()
    with pytest.raises(CommandError):
        run("verify_backup", str(record.pk))

    output = run("list_backups")

    assert f"{record.pk:>5}  failed" in output
    assert str(record.size_bytes) in output
    assert "has no manifest" in output
    assert "Health: degraded no verified backup" in output


def test_list_backups_is_bounded(backup_dir):
    for _ in range(3):
        run("backup")

    output = run("list_backups", "--limit", "2")

    assert "... and 1 older" in output


def test_prune_dry_run_lists_what_would_go(backup_dir):
    for _ in range(3):
        run("backup")

    output = run(
        "prune_backups", "--keep-last", "1", "--keep-daily", "0", "--keep-weekly", "0", "--dry-run"
    )

    assert "Would delete 2, kept 1 backups." in output
    assert BackupRecord.objects.count() == 3


def test_backup_before_migrate_does_nothing_when_up_to_date(backup_dir):
    output = run("backup_before_migrate")

    assert "No unapplied migrations" in output
    assert not BackupRecord.objects.exists()
