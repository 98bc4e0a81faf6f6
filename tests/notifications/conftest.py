"""Real services for the notification tests: an SMTP server and a Celery worker.

The SMTP server is aiosmtpd on 127.0.0.1 (a free port); the worker is
celery.contrib.testing's in-process worker consuming from the suite's own
Redis database, with the solo pool so tasks run in one thread beside the test.
"""

import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import pytest
from aiosmtpd.controller import Controller
from celery.contrib.testing.worker import start_worker
from django.conf import settings as django_settings
from django.db import close_old_connections

from config.celery import app as celery_app
from notifications.services import reset_publish_pause


@dataclass
class RecordingSMTPHandler:
    """Accepts mail like a real server, except for the addresses told to refuse."""

    messages: list = field(default_factory=list)
    # recipient address -> SMTP reply, e.g. "450 4.2.1 Mailbox busy"
    refuse: dict = field(default_factory=dict)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(envelope)
        return "250 Message accepted for delivery"

    def recipients(self) -> list[str]:
        return [rcpt for envelope in self.messages for rcpt in envelope.rcpt_tos]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def smtp_server(settings) -> Iterator[RecordingSMTPHandler]:
    handler = RecordingSMTPHandler()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = controller.port
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = ""
    settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_TIMEOUT = 5
    try:
        yield handler
    finally:
        controller.stop()


@contextmanager
def celery_broker(url: str) -> Iterator[None]:
    """Publish tasks to ``url`` for real (not eagerly) while the block runs."""
    conf = celery_app.conf
    saved = (conf.broker_url, conf.task_always_eager)
    conf.broker_url = url
    conf.task_always_eager = False
    _reset_producer_pools()
    try:
        yield
    finally:
        conf.broker_url, conf.task_always_eager = saved
        _reset_producer_pools()


def _reset_producer_pools() -> None:
    # Celery caches the broker connection pool on first publish; drop it so
    # the next publish connects to the URL set now, whatever the last one did.
    celery_app._after_fork()
    reset_publish_pause()


@pytest.fixture
def redis_broker_url() -> str:
    return django_settings.CELERY_BROKER_URL


@pytest.fixture
def celery_worker(redis_broker_url) -> Iterator[object]:
    """A real Celery worker consuming from the Redis broker (the suite's own database)."""
    with celery_broker(redis_broker_url):
        with celery_app.connection_for_write() as connection:
            connection.default_channel.queue_purge(celery_app.conf.task_default_queue)
        with start_worker(
            celery_app, pool="solo", perform_ping_check=False, shutdown_timeout=10
        ) as worker:
            yield worker
    close_old_connections()


def wait_until(predicate: Callable[[], bool], *, timeout: float = 20.0) -> bool:
    """Poll until ``predicate`` holds; the worker runs in another thread."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()
