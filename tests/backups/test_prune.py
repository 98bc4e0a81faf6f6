import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from backups.exceptions import BackupError
from backups.models import BackupRecord
from backups.services import backups_prune

pytestmark = pytest.mark.django_db

# A Wednesday: this ISO week began Monday 13 July, the last one on 6 July.
NOW = datetime(2026, 7, 15, 12, 0, tzinfo=UTC)


def make(backup_dir: Path, name: str, age: timedelta, status: str = "created") -> BackupRecord:
    backup_dir.mkdir(parents=True, exist_ok=True)
    path = backup_dir / f"{name}.dump"
    path.write_bytes(b"PGDMP" + name.encode())
    path.with_name(path.name + ".json").write_text("{}")
    return BackupRecord.objects.create(
        path=str(path),
        created_at=NOW - age,
        size_bytes=path.stat().st_size,
        vendor="postgresql",
        reason="scheduled",
        status=status,
        verified_at=NOW - age if status == "verified" else None,
        error="broken" if status == "failed" else "",
    )


@pytest.fixture
def rotation(backup_dir):
    h, d = timedelta(hours=1), timedelta(days=1)
    return {
        "today_late": make(backup_dir, "today_late", 2 * h),
        "today_early": make(backup_dir, "today_early", 10 * h),
        "yesterday_late": make(backup_dir, "yesterday_late", d + 9 * h),
        "yesterday_verified": make(backup_dir, "yesterday_verified", d + 11 * h, "verified"),
        "monday": make(backup_dir, "monday", 2 * d),
        "last_friday": make(backup_dir, "last_friday", 5 * d),
        "last_sunday_week": make(backup_dir, "last_sunday_week", 10 * d),
        "old": make(backup_dir, "old", 40 * d),
        "failed_today": make(backup_dir, "failed_today", 3 * h, "failed"),
        "failed_old": make(backup_dir, "failed_old", 5 * d, "failed"),
    }


def test_prune_keeps_latest_daily_and_weekly_and_deletes_the_rest(
    rotation, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        result = backups_prune(keep_last=1, keep_daily=2, keep_weekly=2, now=NOW)

    kept = {Path(r.path).stem for r in result.kept}
    # latest: today_late; daily: today_late, and yesterday's VERIFIED one over
    # the newer unverified; weekly: this week's best (verified), last week's
    # newest; a failed backup stays for the daily window only.
    assert kept == {"today_late", "yesterday_verified", "last_friday", "failed_today"}
    assert set(BackupRecord.objects.values_list("pk", flat=True)) == {r.pk for r in result.kept}
    for name, record in rotation.items():
        path = Path(record.path)
        assert path.exists() == (name in kept), name
        assert path.with_name(path.name + ".json").exists() == (name in kept), name


def test_prune_never_deletes_the_newest_verified_backup(backup_dir):
    only_verified = make(backup_dir, "ancient_verified", timedelta(days=100), "verified")
    newest = make(backup_dir, "newest", timedelta(hours=1))
    make(backup_dir, "older", timedelta(hours=5))

    result = backups_prune(keep_last=1, keep_daily=0, keep_weekly=0, now=NOW)

    assert {r.pk for r in result.kept} == {only_verified.pk, newest.pk}


def test_prune_dry_run_deletes_nothing(rotation):
    result = backups_prune(keep_last=1, keep_daily=0, keep_weekly=0, now=NOW, dry_run=True)

    assert result.deleted
    assert BackupRecord.objects.count() == len(rotation)
    assert all(Path(r.path).exists() for r in rotation.values())


def test_prune_files_stay_when_the_transaction_rolls_back(rotation):
    # without running on_commit callbacks the deletion never committed
    backups_prune(keep_last=1, keep_daily=0, keep_weekly=0, now=NOW)

    assert all(Path(r.path).exists() for r in rotation.values())


def test_prune_refuses_negative_counts():
    with pytest.raises(BackupError, match="cannot be negative"):
        backups_prune(keep_last=-1)


def test_prune_removes_leftovers_of_crashed_backups(backup_dir):
    backup_dir.mkdir(parents=True)
    stale, fresh = backup_dir / ".tmp-stale.dump", backup_dir / ".tmp-fresh.dump"
    stale.write_bytes(b"x")
    fresh.write_bytes(b"x")

    day_old = NOW.timestamp() - 25 * 3600
    os.utime(stale, (day_old, day_old))
    os.utime(fresh, (NOW.timestamp(), NOW.timestamp()))

    backups_prune(now=NOW)

    assert not stale.exists()
    assert fresh.exists()
