from pathlib import Path

import pytest
from django.urls import reverse
from django.utils import timezone

from backups.models import BackupRecord
from backups.services import backup_create
from backups.tasks import backup_create_task, nightly_backup_task
from notifications.models import Notification

from .conftest import truncate

pytestmark = pytest.mark.django_db

# the user (the session is read from the cache); the changelist's filtered and
# full counts, its page, and the date hierarchy's range and days
QUERIES_CHANGELIST = 6


def test_nightly_chain_backs_up_verifies_and_prunes(
    backup_dir, settings, django_capture_on_commit_callbacks
):
    settings.BACKUP_KEEP_LAST = 1
    settings.BACKUP_KEEP_DAILY = 0
    settings.BACKUP_KEEP_WEEKLY = 0
    old = backup_create()

    with django_capture_on_commit_callbacks(execute=True):
        nightly_backup_task.delay()

    nightly = BackupRecord.objects.get(reason=BackupRecord.Reason.SCHEDULED)
    assert nightly.status == BackupRecord.Status.VERIFIED
    # pruned: the older, unverified manual backup went
    assert not BackupRecord.objects.filter(pk=old.pk).exists()
    assert not Path(old.path).exists()


def test_nightly_runs_once_a_night_even_if_delivered_twice(backup_dir):
    nightly_backup_task.delay()
    assert nightly_backup_task.delay().result is None

    assert BackupRecord.objects.filter(reason=BackupRecord.Reason.SCHEDULED).count() == 1


def test_failed_backup_task_alerts_staff(backup_dir, settings):
    from tests.factories import StaffFactory

    StaffFactory(email="ops@example.com")
    settings.BACKUP_PG_DUMP = "/nonexistent/pg_dump"

    with pytest.raises(Exception, match="pg_dump was not found"):
        backup_create_task.delay(reason=BackupRecord.Reason.SCHEDULED)

    alert = Notification.objects.get(kind=Notification.Kind.STAFF_ALERT)
    assert alert.subject.startswith("Backup failed")
    assert "pg_dump was not found" in alert.body_text


def test_admin_lists_backups_with_status_size_and_age(staff_client, backup_dir):
    record = backup_create()

    response = staff_client.get(reverse("admin:backups_backuprecord_changelist"))

    assert response.status_code == 200
    content = response.content.decode()
    assert record.file_name in content
    assert "Created, not yet verified" in content
    assert "KB" in content


def test_admin_verify_now_queues_the_verification(
    staff_client, backup_dir, django_capture_on_commit_callbacks
):
    good = backup_create()
    bad = backup_create()
    truncate(Path(bad.path))

    with django_capture_on_commit_callbacks() as callbacks:
        response = staff_client.post(
            reverse("admin:backups_backuprecord_changelist"),
            {"action": "verify_now", "_selected_action": [good.pk, bad.pk]},
            follow=True,
        )
    # queued, not run inside the request
    assert "Queued the verification of 2 backups." in response.content.decode()
    assert set(BackupRecord.objects.values_list("status", flat=True)) == {"created"}

    for callback in callbacks:
        callback()

    good.refresh_from_db()
    bad.refresh_from_db()
    assert good.status == BackupRecord.Status.VERIFIED
    assert bad.status == BackupRecord.Status.FAILED


def test_admin_changelist_query_count_does_not_grow_with_backups(
    staff_client, backup_dir, django_assert_num_queries
):
    def make(n: int) -> None:
        for i in range(n):
            BackupRecord.objects.create(
                path=str(backup_dir / f"b{BackupRecord.objects.count()}-{i}.dump"),
                created_at=timezone.now(),
                size_bytes=100,
                vendor="postgresql",
                reason="manual",
                status="created",
            )

    url = reverse("admin:backups_backuprecord_changelist")
    make(1)
    staff_client.get(url)  # warm the session and content-type caches
    with django_assert_num_queries(QUERIES_CHANGELIST):
        staff_client.get(url)
    make(20)
    with django_assert_num_queries(QUERIES_CHANGELIST):
        staff_client.get(url)
