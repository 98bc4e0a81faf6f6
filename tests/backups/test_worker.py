"""The nightly chain through a real Celery worker on the Redis broker."""

import time

import pytest
from celery.contrib.testing.worker import start_worker
from django.conf import settings

from backups.models import BackupRecord
from backups.tasks import nightly_backup_task
from config.celery import app


@pytest.fixture
def worker_on_redis():
    overrides = {
        "task_always_eager": False,
        "broker_url": settings.REDIS_URL,
        "result_backend": None,
    }
    saved = {key: app.conf[key] for key in overrides}
    app.conf.update(overrides)
    try:
        with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=30):
            yield
    finally:
        app.conf.update(saved)


def wait_for(condition, timeout: float = 90.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return False


@pytest.mark.django_db(transaction=True)
def test_nightly_chain_runs_backup_verify_prune_on_a_worker(backup_dir, worker_on_redis):
    nightly_backup_task.delay()

    assert wait_for(
        lambda: BackupRecord.objects.filter(
            reason=BackupRecord.Reason.SCHEDULED, status=BackupRecord.Status.VERIFIED
        ).exists()
    ), list(BackupRecord.objects.values("status", "error"))
