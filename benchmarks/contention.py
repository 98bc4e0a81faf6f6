"""N clients booking the same room type and dates at once, each a process with its own connection.

Two scenarios, one round per client count each:

- ``open``: the room type has a room for every hold of the round, and each
  client holds again and again without letting go. Every hold still locks
  the same nights, so this measures how fast holds pass through them.
- ``last rooms``: only a few rooms are free, and each client gives its room
  back as soon as it has it, so the free rooms keep changing hands and most
  attempts find the nights full.

Clients are processes (forked once Django is set up, like the workers of a
server), so the holds run on every core rather than on one interpreter.
Afterwards SQL compares every night of the room type with the live bookings
that cover it: ``oversold`` (more live bookings than rooms) must be 0, and so
must ``drift`` (``sold`` not equal to the live bookings).
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import queue
import time
from dataclasses import dataclass
from datetime import date, timedelta

from django.contrib.auth import get_user_model
from django.db import connection, connections

from bookings.models import Booking, BookingNight
from hotel.models import RoomType
from inventory.models import RoomInventory

from .measure import percentile

RETRY_LOGGER = "bookings.services"
SCENARIOS = ("open", "last rooms")
# How long the parent waits for the clients: to be ready, then to finish.
READY_TIMEOUT_S = 120
ROUND_TIMEOUT_S = 600


class _RetryCounter(logging.Handler):
    """Counts the hold service's 'retry after deadlock/serialization failure' log lines."""

    def __init__(self) -> None:
        super().__init__(level=logging.INFO)
        self.by_kind: dict[str, int] = {}

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if "retry" not in message:
            return
        kind = message.rsplit(" ", 1)[-1]
        self.by_kind[kind] = self.by_kind.get(kind, 0) + 1


@dataclass
class Scenario:
    room_type: RoomType
    check_in: date
    check_out: date


def prepare(*, nights: int, today: date) -> Scenario:
    """Pick a room type and a stay near the end of its inventory."""
    room_type = (
        RoomType.objects.filter(is_active=True, hotel__is_active=True)
        .select_related("hotel")
        .order_by("pk")
        .first()
    )
    if room_type is None:
        raise RuntimeError("No room type: build the dataset first (python -m benchmarks build).")
    last = (
        RoomInventory.objects.filter(room_type=room_type)
        .order_by("-date")
        .values_list("date", flat=True)
        .first()
    )
    check_in = max(today + timedelta(days=1), last - timedelta(days=nights + 20))
    return Scenario(
        room_type=room_type, check_in=check_in, check_out=check_in + timedelta(days=nights)
    )


def free_up(scenario: Scenario, *, free_rooms: int) -> None:
    """Leave exactly ``free_rooms`` rooms free on every night of the stay, with no restriction."""
    from inventory.services import inventory_set

    most_sold = max(
        RoomInventory.objects.filter(
            room_type=scenario.room_type, date__gte=scenario.check_in, date__lt=scenario.check_out
        ).values_list("sold", flat=True),
        default=0,
    )
    inventory_set(
        room_type=scenario.room_type,
        start=scenario.check_in,
        end=scenario.check_out,
        total=most_sold + free_rooms,
        stop_sell=False,
        min_stay=1,
        max_stay=None,
        closed_to_arrival=False,
        closed_to_departure=False,
    )


def _client(*, guest_id: int, scenario: Scenario, holds: int, let_go: bool, ready, start, results):
    """One client, in its own process: ``holds`` attempts, then a report on ``results``."""
    from bookings.exceptions import StayNotAvailable
    from bookings.services import BookingBusy, booking_cancel, booking_hold
    from caching.api import reset_process_state

    report = {"times_ms": [], "outcomes": {}, "retries": {}, "errors": [], "kept": []}
    retries = _RetryCounter()
    logger = logging.getLogger(RETRY_LOGGER)
    logger.addHandler(retries)
    logger.setLevel(logging.INFO)
    signalled = False
    try:
        # One plain connection per client, opened before the start signal.
        connection.settings_dict["OPTIONS"].pop("pool", None)
        reset_process_state()
        guest = get_user_model().objects.get(pk=guest_id)
        ready.put(os.getpid())
        signalled = True
        if not start.wait(READY_TIMEOUT_S):
            raise RuntimeError("The start signal never came.")
        for _ in range(holds):
            began = time.perf_counter_ns()
            try:
                booking = booking_hold(
                    room_type=scenario.room_type,
                    check_in=scenario.check_in,
                    check_out=scenario.check_out,
                    adults=1,
                    guest=guest,
                )
            except StayNotAvailable:
                _count(report, "sold_out")
                continue
            except BookingBusy:
                _count(report, "busy")
                continue
            report["times_ms"].append((time.perf_counter_ns() - began) / 1e6)
            _count(report, "held")
            if let_go:
                booking_cancel(booking=booking, by=guest, reason="Contention benchmark.")
            else:
                report["kept"].append(booking.pk)
    except Exception as exc:  # reported to the parent, which counts it as an error
        report["errors"].append(f"{type(exc).__name__}: {exc}")
    finally:
        report["finished"] = time.monotonic()
        report["retries"] = retries.by_kind
        if not signalled:
            ready.put(os.getpid())
        results.put(report)
        connection.close()


def _count(report: dict, outcome: str) -> None:
    report["outcomes"][outcome] = report["outcomes"].get(outcome, 0) + 1


def _close_connections_before_fork() -> None:
    """A forked child must not share the parent's sockets or its pool's threads."""
    connections.close_all()
    for conn in connections.all(initialized_only=True):
        if conn.alias in getattr(conn, "_connection_pools", {}):
            conn.close_pool()


def run_round(
    *, scenario: Scenario, clients: int, holds_per_client: int, free_rooms: int, let_go: bool
) -> dict:
    """Run ``clients`` processes of ``holds_per_client`` holds each, timed from one start."""
    from bookings.services import booking_cancel

    free_up(scenario, free_rooms=free_rooms)
    guest_ids = list(get_user_model().objects.order_by("pk").values_list("pk", flat=True)[:clients])
    if len(guest_ids) < clients:
        raise RuntimeError(f"The contention run needs {clients} guest accounts.")
    context = multiprocessing.get_context("fork")
    ready, results, start = context.Queue(), context.Queue(), context.Event()
    _close_connections_before_fork()
    processes = [
        context.Process(
            target=_client,
            kwargs={
                "guest_id": guest_id,
                "scenario": scenario,
                "holds": holds_per_client,
                "let_go": let_go,
                "ready": ready,
                "start": start,
                "results": results,
            },
            daemon=True,
        )
        for guest_id in guest_ids
    ]
    reports = []
    try:
        for process in processes:
            process.start()
        for _ in processes:
            ready.get(timeout=READY_TIMEOUT_S)
        started = time.monotonic()
        start.set()
        for _ in processes:
            reports.append(results.get(timeout=ROUND_TIMEOUT_S))
    except queue.Empty as exc:
        raise RuntimeError("A contention client did not answer in time.") from exc
    finally:
        for process in processes:
            process.join(timeout=10)
            if process.is_alive():
                process.kill()
    wall = max(r["finished"] for r in reports) - started
    kept = [pk for r in reports for pk in r["kept"]]
    # Give back what the open round kept, after the clock stopped.
    for booking in Booking.objects.filter(pk__in=kept).select_related("hotel", "room_type"):
        booking_cancel(booking=booking, reason="Contention benchmark.")
    times = sorted(t for r in reports for t in r["times_ms"])
    outcomes: dict[str, int] = {}
    retries: dict[str, int] = {}
    for r in reports:
        for key, n in r["outcomes"].items():
            outcomes[key] = outcomes.get(key, 0) + n
        for key, n in r["retries"].items():
            retries[key] = retries.get(key, 0) + n
    errors = [e for r in reports for e in r["errors"]]
    held = outcomes.get("held", 0)
    attempts = sum(outcomes.values())
    check = consistency(room_type_id=scenario.room_type.pk)
    return {
        "scenario": "last rooms" if let_go else "open",
        "clients": clients,
        "free_rooms": free_rooms,
        "attempts": attempts,
        "held": held,
        "sold_out": outcomes.get("sold_out", 0),
        "busy": outcomes.get("busy", 0),
        "errors": len(errors),
        "error_samples": errors[:3],
        "deadlock_retries": sum(retries.values()),
        "retries_by_kind": retries,
        "wall_s": round(wall, 3),
        "holds_per_s": round(held / wall, 1) if wall > 0 else None,
        "attempts_per_s": round(attempts / wall, 1) if wall > 0 else None,
        "hold_p50_ms": round(percentile(times, 50), 2) if times else None,
        "hold_p95_ms": round(percentile(times, 95), 2) if times else None,
        "hold_p99_ms": round(percentile(times, 99), 2) if times else None,
        "oversold_nights": check["oversold_nights"],
        "drift_nights": check["drift_nights"],
    }


def consistency(*, room_type_id: int | None = None) -> dict:
    """Nights with more live bookings than rooms, and nights whose ``sold`` disagrees.

    Read with SQL straight from the tables, not through any service, so the
    check does not share a bug with the code it checks.
    """
    qn = connection.ops.quote_name
    inv = qn(RoomInventory._meta.db_table)
    bn = qn(BookingNight._meta.db_table)
    bk = qn(Booking._meta.db_table)
    live = [str(s) for s in Booking.HOLDS_INVENTORY]
    where = "WHERE i.room_type_id = %s" if room_type_id is not None else ""
    sql = f"""
        WITH live AS (
            SELECT b.room_type_id, n.date, count(*) AS taken
            FROM {bn} n JOIN {bk} b ON b.id = n.booking_id
            WHERE b.status = ANY(%s) {"AND b.room_type_id = %s" if room_type_id else ""}
            GROUP BY b.room_type_id, n.date
        )
        SELECT
            count(*) FILTER (WHERE coalesce(l.taken, 0) > i.total OR i.sold > i.total),
            count(*) FILTER (WHERE coalesce(l.taken, 0) <> i.sold),
            count(*)
        FROM {inv} i
        LEFT JOIN live l ON l.room_type_id = i.room_type_id AND l.date = i.date
        {where}
    """  # noqa: S608 - table names come from the models, values are parameters
    params: list = [live]
    if room_type_id is not None:
        params += [room_type_id, room_type_id]
    with connections["default"].cursor() as cursor:
        cursor.execute(sql, params)
        oversold, drift, nights = cursor.fetchone()
    return {"oversold_nights": oversold, "drift_nights": drift, "nights_checked": nights}


def run_contention(
    *,
    clients: list[int],
    holds_per_client: int,
    free_rooms: int,
    nights: int,
    today: date,
    scenarios: tuple[str, ...] = SCENARIOS,
    log=print,
) -> dict:
    """Run one round per scenario and client count on the same stay; return the rounds."""
    scenario = prepare(nights=nights, today=today)
    rounds = []
    for name in scenarios:
        for n in clients:
            let_go = name == "last rooms"
            result = run_round(
                scenario=scenario,
                clients=n,
                holds_per_client=holds_per_client,
                free_rooms=free_rooms if let_go else n * holds_per_client,
                let_go=let_go,
            )
            rounds.append(result)
            log(
                f"  {name:>10}, {n:>3} clients: {result['held']} held, "
                f"{result['sold_out']} sold out, {result['busy']} busy, "
                f"{result['deadlock_retries']} retries, {result['holds_per_s']} holds/s, "
                f"p95 {result['hold_p95_ms']} ms, oversold {result['oversold_nights']}, "
                f"drift {result['drift_nights']}, errors {result['errors']}"
            )
    return {
        "room_type": f"{scenario.room_type.hotel.name} / {scenario.room_type.name}",
        "check_in": scenario.check_in.isoformat(),
        "check_out": scenario.check_out.isoformat(),
        "free_rooms": free_rooms,
        "holds_per_client": holds_per_client,
        "clients_are": "processes",
        "rounds": rounds,
    }
