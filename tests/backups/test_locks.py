"""Backups share a lock; restores and prunes need it alone."""

import pytest

from backups.exceptions import BackupBusy
from backups.locks import _file_lock, backup_lock
from backups.models import BackupRecord
from backups.services import backup_create, backup_restore, backup_verify, backups_prune

pytestmark = pytest.mark.django_db


def test_backups_and_verifications_run_side_by_side(backup_dir):
    with backup_lock(exclusive=False, what="take another backup"):
        record = backup_verify(backup=backup_create())

    assert record.status == BackupRecord.Status.VERIFIED


def test_prune_waits_for_a_running_verification(backup_dir):
    backup_create()
    with backup_lock(exclusive=False, what="verify"):
        with pytest.raises(BackupBusy, match="Cannot prune backups now: a backup or verif"):
            backups_prune(keep_last=0, keep_daily=0, keep_weekly=0)
        # a dry run deletes nothing and needs no lock
        assert backups_prune(keep_last=0, keep_daily=0, keep_weekly=0, dry_run=True)

    assert BackupRecord.objects.count() == 1


def test_restore_refuses_while_a_backup_runs(backup_dir):
    record = backup_create()
    with (
        backup_lock(exclusive=False, what="take a backup"),
        pytest.raises(BackupBusy, match="Cannot restore a backup now"),
    ):
        backup_restore(backup=record)


def test_backup_refuses_while_a_restore_runs(backup_dir):
    with (
        backup_lock(exclusive=True, what="restore"),
        pytest.raises(BackupBusy, match="a restore or prune is running"),
    ):
        backup_create()

    assert not BackupRecord.objects.exists()


def test_the_file_lock_of_the_embedded_default_excludes_the_same_way(backup_dir):
    with _file_lock(exclusive=False, what="back up"):
        with _file_lock(exclusive=False, what="verify"):
            pass
        with pytest.raises(BackupBusy), _file_lock(exclusive=True, what="prune backups"):
            pass
    with _file_lock(exclusive=True, what="prune backups"):
        pass
