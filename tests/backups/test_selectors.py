import json
from datetime import timedelta

import pytest
from django.utils import timezone

from backups.models import BackupRecord
from backups.selectors import (
    backup_health,
    backup_latest,
    migrations_unknown_to_code,
    unapplied_migrations,
)

pytestmark = pytest.mark.django_db


def record(age: timedelta, status: str, name: str) -> BackupRecord:
    created = timezone.now() - age
    return BackupRecord.objects.create(
        path=f"/backups/{name}.dump",
        created_at=created,
        vendor="postgresql",
        reason="scheduled",
        status=status,
        verified_at=created if status == "verified" else None,
        error="broken" if status == "failed" else "",
    )


def test_health_is_degraded_without_any_verified_backup(django_assert_num_queries):
    record(timedelta(hours=1), "created", "unverified")

    with django_assert_num_queries(1):
        health = backup_health()

    assert health["status"] == "degraded"
    assert health["reason"] == "no verified backup"
    assert health["newest_verified_at"] is None
    json.dumps(health)


def test_health_is_ok_with_a_recent_verified_backup(django_assert_num_queries):
    recent = record(timedelta(hours=20), "verified", "recent")
    record(timedelta(hours=1), "failed", "failed")

    with django_assert_num_queries(1):
        health = backup_health()

    assert health["status"] == "ok"
    assert health["newest_verified_id"] == recent.pk
    assert 20 * 3600 - 5 < health["newest_verified_age_seconds"] <= 20 * 3600 + 60
    json.dumps(health)


def test_health_is_degraded_when_the_newest_verified_backup_is_older_than_36_hours():
    record(timedelta(hours=37), "verified", "stale")
    record(timedelta(hours=1), "created", "not yet verified")

    health = backup_health()

    assert health["status"] == "degraded"
    assert health["reason"] == "newest verified backup is too old"


def test_latest_skips_failed_backups():
    good = record(timedelta(hours=3), "created", "good")
    record(timedelta(hours=1), "failed", "failed")

    assert backup_latest() == good
    assert backup_latest(verified_only=True) is None


def test_health_is_degraded_not_an_error_when_records_cannot_be_read(monkeypatch):
    from django.db import DatabaseError

    def broken(*args, **kwargs):
        raise DatabaseError("connection refused")

    monkeypatch.setattr(BackupRecord.objects, "filter", broken)

    health = backup_health()

    assert health["status"] == "degraded"
    assert health["reason"] == "backup records unreadable"


def test_migrations_unknown_to_code_names_what_a_newer_backup_holds():
    backup = record(timedelta(hours=1), "verified", "from the future")
    backup.migrations = {"hotel": "0001_initial", "inventory": "9999_from_the_future"}

    assert migrations_unknown_to_code(backup=backup) == ["inventory.9999_from_the_future"]


def test_no_unapplied_migrations_on_the_test_database():
    assert unapplied_migrations() == []
