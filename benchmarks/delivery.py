"""Notification delivery: how fast a Celery worker turns confirmed bookings into emails.

Bookings are held and confirmed through the services, by one client, as a
guest's confirmation does: the email is written to the outbox in the
booking's transaction and its delivery task is queued on the broker after
the commit. A worker (``celery -A config worker``, prefork, as deployed)
takes the tasks from Redis and sends each email to an SMTP server on
127.0.0.1 (aiosmtpd, in this process). Two scenarios:

- ``backlog``: the confirmations are queued while no worker runs (a worker
  restarted, or down for a while), then one starts: how fast it drains them.
- ``live``: the worker runs while the client confirms bookings at a steady
  rate: how long a guest waits for the email (the row's ``sent_at``, once
  the SMTP server has accepted the message, less its ``created_at``, when
  the confirming transaction wrote it; the commit comes a few statements
  later).

The SMTP server counts every message by its ``X-Notification-ID`` header:
each confirmation must arrive exactly once. Afterwards the bookings are
cancelled (their nights given back) with no worker running, and their
cancellation emails withdrawn: the rows marked cancelled, the tasks purged.
"""

from __future__ import annotations

import contextlib
import email
import logging
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

from django.db import connections
from django.db.models import Max
from django.utils import timezone

from bookings.exceptions import StayNotAvailable
from bookings.models import Booking
from hotel.models import RoomType
from inventory.models import RoomInventory
from notifications.models import Notification

from .measure import percentile

SCENARIOS = ("backlog", "live")
ROOT = Path(__file__).resolve().parent.parent
CELERY = Path(sys.executable).parent / "celery"


@dataclass
class SMTPRecorder:
    """An aiosmtpd handler that accepts every message and counts it by notification id."""

    received: Counter = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.original_content or envelope.content)
        with self.lock:
            self.received[message.get("X-Notification-ID", "")] += 1
        return "250 Message accepted for delivery"


def _worker_argv(name: str, concurrency: int) -> list[str]:
    return [
        str(CELERY),
        "-A",
        "config",
        "worker",
        "--hostname",
        name,
        "--pool",
        "prefork",
        "--concurrency",
        str(concurrency),
        "--loglevel",
        "WARNING",
        # One worker alone: no cluster chatter to wait for at start-up.
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
    ]


class Worker:
    """A Celery worker process of this run, known by a name of its own."""

    def __init__(self, *, env: dict[str, str], concurrency: int, log_path: Path) -> None:
        self.env, self.concurrency, self.log_path = env, concurrency, log_path
        self.name = f"delivery-benchmark-{uuid.uuid4().hex[:8]}@{socket.gethostname()}"
        self.proc: subprocess.Popen | None = None
        self.started_at: datetime | None = None

    def start(self) -> None:
        self.started_at = timezone.now()
        with open(self.log_path, "a") as log:
            self.proc = subprocess.Popen(  # noqa: S603 - our own argv
                _worker_argv(self.name, self.concurrency),
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def check(self) -> None:
        if self.proc is not None and self.proc.poll() is not None:
            raise RuntimeError(
                f"The Celery worker exited with {self.proc.returncode}:\n{self.log_tail()}"
            )

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text().splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def stop(self, *, grace: float = 30) -> None:
        """A warm shutdown: the main process lets its children finish and acknowledge.

        Signalled as a group, the children would die at once (they restore
        SIGTERM's default), and a task killed after sending but before its
        acknowledgement would go back on the queue.
        """
        if self.proc is None or self.proc.poll() is not None:
            return
        try:
            os.kill(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)
        except ProcessLookupError:
            pass


def stays(today: date, rng: random.Random, room_types: list[RoomType]):
    """Endless (room type, check-in, check-out): 1 to 3 nights, from a month ahead where the
    inventory reaches that far, to its last night."""
    last = RoomInventory.objects.aggregate(last=Max("date"))["last"] or today
    ahead = max((last - today).days - 3, 1)
    first = min(30, ahead)
    while True:
        check_in = today + timedelta(days=rng.randint(first, ahead))
        yield rng.choice(room_types), check_in, check_in + timedelta(days=rng.randint(1, 3))


def _confirm(
    count: int,
    *,
    today: date,
    rng: random.Random,
    tag: str,
    made: list[int],
    rate: float | None = None,
) -> tuple[list[int], float]:
    """Hold and confirm ``count`` bookings, ``rate`` a second or as fast as they go.

    Return their ids and the seconds it took; each id is also added to
    ``made`` as soon as its booking exists, for the clean-up.
    """
    from bookings.services import booking_confirm, booking_hold

    room_types = list(RoomType.objects.filter(is_active=True, hotel__is_active=True))
    if not room_types:
        raise RuntimeError("No room type: build the dataset first (python -m benchmarks build).")
    ids: list[int] = []
    upcoming = stays(today, rng, room_types)
    started = time.perf_counter()
    attempts = 0
    while len(ids) < count:
        if rate:
            # Paced from the start, so that one slow confirmation is not carried over.
            time.sleep(max(0.0, started + len(ids) / rate - time.perf_counter()))
        attempts += 1
        if attempts > count * 10:
            raise RuntimeError("Most stays were sold out: too few free nights to confirm on.")
        room_type, check_in, check_out = next(upcoming)
        try:
            booking = booking_hold(
                room_type=room_type,
                check_in=check_in,
                check_out=check_out,
                adults=1,
                guest_name="Delivery Benchmark",
                guest_email=f"delivery-{tag}-{len(ids)}@example.com",
            )
        except StayNotAvailable:
            continue
        made.append(booking.pk)
        booking = booking_confirm(booking=booking, policy_accepted=True)
        ids.append(booking.pk)
    return ids, time.perf_counter() - started


def _confirmations(booking_ids: list[int]):
    return Notification.objects.filter(
        booking_id__in=booking_ids, kind=Notification.Kind.BOOKING_CONFIRMED
    )


def _wait_delivered(booking_ids: list[int], worker: Worker, *, timeout: float, log) -> None:
    deadline = time.monotonic() + timeout
    done = (Notification.Status.SENT, Notification.Status.FAILED)
    while time.monotonic() < deadline:
        worker.check()
        if not _confirmations(booking_ids).exclude(status__in=done).exists():
            return
        time.sleep(0.1)
    by_status = Counter(_confirmations(booking_ids).values_list("status", flat=True))
    log(
        f"  Not all delivered within {timeout:g}s: "
        + ", ".join(f"{n} {status}" for status, n in sorted(by_status.items()))
    )


def _measure(
    *,
    scenario: str,
    booking_ids: list[int],
    recorder: SMTPRecorder,
    confirm_s: float,
    worker_started_at: datetime | None,
) -> dict:
    rows = list(_confirmations(booking_ids).values_list("pk", "status", "created_at", "sent_at"))
    sent = [
        (created, sent_at)
        for _pk, status, created, sent_at in rows
        if status == Notification.Status.SENT
    ]
    sent_times = sorted(s for _c, s in sent)
    backlog = scenario == "backlog"
    # The backlog's figures are the worker's pace; the live scenario's, each
    # guest's wait (its pace is the client's). Each has no meaning for the other.
    latencies = [] if backlog else sorted((s - c).total_seconds() * 1000 for c, s in sent)
    drain_s = (
        (sent_times[-1] - sent_times[0]).total_seconds() if backlog and len(sent_times) > 1 else 0.0
    )
    # From the worker's start (the process, not its readiness) to the last email.
    start_to_last_s = (
        round((sent_times[-1] - worker_started_at).total_seconds(), 2)
        if backlog and sent_times and worker_started_at
        else None
    )
    with recorder.lock:
        received = Counter({key: recorder.received[key] for key in (str(r[0]) for r in rows)})
    return {
        "scenario": scenario,
        "confirmed": len(booking_ids),
        "confirmations_per_s": round(len(booking_ids) / confirm_s, 1) if confirm_s else None,
        "queued": len(rows),
        "sent": len(sent),
        "failed": sum(1 for r in rows if r[1] == Notification.Status.FAILED),
        "received": sum(1 for n in received.values() if n),
        "duplicates": sum(n - 1 for n in received.values() if n > 1),
        "missing": sum(1 for n in received.values() if n == 0),
        "emails_per_s": round((len(sent_times) - 1) / drain_s, 1) if drain_s else None,
        "worker_start_to_last_s": start_to_last_s,
        "latency_p50_ms": round(percentile(latencies, 50), 1) if latencies else None,
        "latency_p95_ms": round(percentile(latencies, 95), 1) if latencies else None,
        "latency_p99_ms": round(percentile(latencies, 99), 1) if latencies else None,
        "latency_max_ms": round(latencies[-1], 1) if latencies else None,
    }


def _give_back(booking_ids: list[int]) -> None:
    """Cancel the bookings (their nights back on sale) and withdraw the emails that makes."""
    from bookings.services import booking_cancel

    live = Booking.objects.filter(pk__in=booking_ids, status__in=Booking.CANCELLABLE)
    for booking in live.select_related("hotel"):
        booking_cancel(booking=booking, reason="Delivery benchmark clean-up.")
    # Pending, a sweeper on this database would send them one day.
    Notification.objects.filter(
        booking_id__in=booking_ids, status=Notification.Status.PENDING
    ).update(
        status=Notification.Status.CANCELLED,
        last_error="Withdrawn: a benchmark's clean-up, never sent.",
        updated_at=timezone.now(),
    )


def run_delivery(
    *,
    emails: int,
    concurrency: int,
    today: date,
    worker_env: dict[str, str],
    log_dir: Path,
    rate: float = 10.0,
    seed: int = 1,
    scenarios: tuple[str, ...] = SCENARIOS,
    start_timeout: float = 60,
    drain_timeout: float | None = None,
    log=print,
) -> dict:
    """Run each scenario with ``emails`` confirmations; return what was measured.

    ``worker_env`` is the worker's environment: the same database and broker
    as this process. Its EMAIL_URL is set here, to the SMTP server started here.
    ``drain_timeout`` (seconds) defaults to a minute and a second per email.
    """
    from aiosmtpd.controller import Controller

    if drain_timeout is None:
        drain_timeout = 60 + emails
    _refuse_other_workers()
    rng = random.Random(seed)
    # aiosmtpd logs every SMTP command at INFO.
    smtp_log = logging.getLogger("mail.log")
    smtp_level = smtp_log.level
    smtp_log.setLevel(logging.WARNING)
    recorder = SMTPRecorder()
    smtp = Controller(recorder, hostname="127.0.0.1", port=_free_port())
    smtp.start()
    rounds: list[dict] = []
    made: list[int] = []
    # A task left on the queue would be sent before this run's, and timed with them.
    _purge_queue()
    try:
        env = {**worker_env, "EMAIL_URL": f"smtp://127.0.0.1:{smtp.port}"}
        for scenario in scenarios:
            worker = Worker(env=env, concurrency=concurrency, log_path=log_dir / "worker.log")
            booking_ids: list[int] = []
            try:
                if scenario == "live":
                    worker.start()
                    _wait_ready(worker, timeout=start_timeout)
                booking_ids, confirm_s = _confirm(
                    emails,
                    today=today,
                    rng=rng,
                    tag=scenario,
                    made=made,
                    rate=rate if scenario == "live" else None,
                )
                if scenario == "backlog":
                    worker.start()
                _wait_delivered(booking_ids, worker, timeout=drain_timeout, log=log)
            finally:
                worker.stop()
            result = _measure(
                scenario=scenario,
                booking_ids=booking_ids,
                recorder=recorder,
                confirm_s=confirm_s,
                worker_started_at=worker.started_at,
            )
            rounds.append(result)
            measured = (
                f"{result['emails_per_s']} emails/s, the last "
                f"{result['worker_start_to_last_s']} s after the worker started"
                if scenario == "backlog"
                else f"latency p50 {result['latency_p50_ms']} p95 {result['latency_p95_ms']} ms"
            )
            log(
                f"  {scenario:>8}: {result['sent']}/{result['queued']} sent, {measured}, "
                f"duplicates {result['duplicates']}, missing {result['missing']}, "
                f"failed {result['failed']}"
            )
    finally:
        try:
            # Given back once no worker runs: their cancellation emails,
            # queued on the broker, would otherwise be sent first by the next
            # scenario's worker. They are withdrawn, tasks and rows.
            _give_back(made)
        finally:
            _purge_queue()
            smtp.stop()
            smtp_log.setLevel(smtp_level)
            connections.close_all()
    return {"emails": emails, "concurrency": concurrency, "rate": rate, "rounds": rounds}


def _purge_queue() -> None:
    from config.celery import app

    with app.connection_for_write() as connection:
        connection.default_channel.queue_purge(app.conf.task_default_queue)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _refuse_other_workers() -> None:
    """Stop if another worker consumes from this broker: it would send this run's emails."""
    from config.celery import app

    others = app.control.ping(timeout=1)
    if others:
        names = ", ".join(name for reply in others for name in reply)
        raise RuntimeError(
            f"Another Celery worker ({names}) consumes from {app.conf.broker_url}: "
            "stop it, or give the benchmark a broker of its own (CELERY_BROKER_URL)."
        )


def _wait_ready(worker: Worker, *, timeout: float) -> None:
    """Until the worker answers a ping, so that the live scenario does not time its start-up."""
    from config.celery import app

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        worker.check()
        if app.control.ping(destination=[worker.name], timeout=0.5):
            return
    raise RuntimeError(
        f"The Celery worker did not answer within {timeout:g}s:\n{worker.log_tail()}"
    )
