import json
from pathlib import Path

import pytest
import redis
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from backups.models import BackupRecord
from backups.services import backup_create
from backups.tasks import backup_create_task, backup_verify_task, nightly_backup_task
from config.celery import app as celery_app
from notifications.models import Notification
from tests.notifications.conftest import celery_broker

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


def _queued_tasks(broker_url: str, queue: str) -> list[tuple[str, str]]:
    """The (task name, keyword arguments) of the messages waiting on a Redis broker's queue."""
    with redis.Redis.from_url(broker_url) as client:
        messages = client.lrange(queue, 0, -1)
    return sorted(
        (body["headers"]["task"], body["headers"]["kwargsrepr"])
        for body in (json.loads(message) for message in messages)
    )


def _verify_now(staff_client, *records: BackupRecord):
    """Staff select ``records`` in the backups list and choose "Verify now"."""
    return staff_client.post(
        reverse("admin:backups_backuprecord_changelist"),
        {"action": "verify_now", "_selected_action": [r.pk for r in records]},
        follow=True,
    )


def test_admin_verify_now_queues_the_verification(staff_client, backup_dir, settings):
    good = backup_create()
    bad = backup_create()
    truncate(Path(bad.path))
    queue = celery_app.conf.task_default_queue

    # given a broker with no worker, so the tasks wait on it
    with celery_broker(settings.CELERY_BROKER_URL):
        with celery_app.connection_for_write() as connection:
            connection.default_channel.queue_purge(queue)
        response = _verify_now(staff_client, good, bad)
        waiting = _queued_tasks(settings.CELERY_BROKER_URL, queue)
        with celery_app.connection_for_write() as connection:
            connection.default_channel.queue_purge(queue)

    # queued, not run inside the request
    assert "Queued the verification of 2 backups." in response.content.decode()
    assert waiting == sorted(
        ("backups.verify", repr({"backup_id": pk})) for pk in (good.pk, bad.pk)
    )
    assert set(BackupRecord.objects.values_list("status", flat=True)) == {"created"}

    # and what the worker then does with each
    for pk in (good.pk, bad.pk):
        backup_verify_task.delay(backup_id=pk)
    good.refresh_from_db()
    bad.refresh_from_db()
    assert good.status == BackupRecord.Status.VERIFIED
    assert bad.status == BackupRecord.Status.FAILED


def test_admin_verify_now_says_so_when_the_task_queue_is_down(staff_client, backup_dir):
    first = backup_create()
    second = backup_create()

    with celery_broker("redis://127.0.0.1:1/0"):
        response = _verify_now(staff_client, first, second)

    # a page that tells staff what happened and what to do, not an error page
    # nor a "Queued" for tasks that are nowhere
    assert response.status_code == 200
    content = response.content.decode()
    assert "Queued the verification" not in content
    assert (
        f"Could not queue the verification of #{first.pk}, #{second.pk}: "
        "the task queue does not answer."
    ) in content
    assert "manage.py verify_backup ID" in content
    assert set(BackupRecord.objects.values_list("status", flat=True)) == {"created"}


def test_admin_verify_now_without_a_task_queue_verifies_at_once_and_says_how_each_went(
    staff_client, backup_dir
):
    # given the embedded default, where tasks run eagerly in the web process
    # (the test settings too)
    assert celery_app.conf.task_always_eager
    good = backup_create()
    bad = backup_create()
    truncate(Path(bad.path))

    response = _verify_now(staff_client, good, bad)

    content = response.content.decode()
    good.refresh_from_db()
    bad.refresh_from_db()
    assert good.status == BackupRecord.Status.VERIFIED
    assert bad.status == BackupRecord.Status.FAILED
    assert "Queued" not in content
    assert f"Verified #{good.pk}." in content
    assert f"Backup #{bad.pk} failed its verification: " in content
    assert escape(bad.error) in content


def test_admin_verify_now_without_a_task_queue_says_so_when_a_restore_holds_the_lock(
    staff_client, backup_dir
):
    from backups.locks import backup_lock

    first = backup_create()
    second = backup_create()

    # given a restore or prune running elsewhere
    with backup_lock(exclusive=True, what="restore a backup"):
        response = _verify_now(staff_client, first, second)

    # a page that says why, not an error page, and nothing recorded
    assert response.status_code == 200
    content = response.content.decode()
    assert (
        f"Could not verify #{first.pk}, #{second.pk}: Cannot verify a backup now: "
        "a restore or prune is running."
    ) in content
    assert set(BackupRecord.objects.values_list("status", flat=True)) == {"created"}


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
