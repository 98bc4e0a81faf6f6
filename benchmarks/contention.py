"""N clients booking the same room type and dates at once, each on its own connection.

Each client holds one room and gives it back straight away, over and over, so
the few free rooms keep changing hands and every hold queues on the same
locked nights. Afterwards SQL compares every night of the room type with the
live bookings that cover it: ``oversold`` (more live bookings than rooms)
must be 0, and so must ``drift`` (``sold`` not equal to the live bookings).
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from datetime import date, timedelta

from django.contrib.auth import get_user_model
from django.db import connection, connections

from bookings.exceptions import StayNotAvailable
from bookings.models import Booking, BookingNight
from hotel.models import RoomType
from inventory.models import RoomInventory

from .measure import Sample, percentile

RETRY_LOGGER = "bookings.services"


class _RetryCounter(logging.Handler):
    """Counts the hold service's 'retry after deadlock/serialization failure' log lines."""

    def __init__(self) -> None:
        super().__init__(level=logging.INFO)
        self.lock_ = threading.Lock()
        self.by_kind: dict[str, int] = {}

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if "retry" not in message:
            return
        kind = message.rsplit(" ", 1)[-1]
        with self.lock_:
            self.by_kind[kind] = self.by_kind.get(kind, 0) + 1


@dataclass
class Scenario:
    room_type: RoomType
    check_in: date
    check_out: date
    free_rooms: int


def prepare(*, free_rooms: int, nights: int, today: date) -> Scenario:
    """Pick a room type and a stay, and leave exactly ``free_rooms`` rooms for it."""
    from inventory.services import inventory_set

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
    check_out = check_in + timedelta(days=nights)
    most_sold = max(
        RoomInventory.objects.filter(
            room_type=room_type, date__gte=check_in, date__lt=check_out
        ).values_list("sold", flat=True),
        default=0,
    )
    inventory_set(
        room_type=room_type,
        start=check_in,
        end=check_out,
        total=most_sold + free_rooms,
        stop_sell=False,
        min_stay=1,
        max_stay=None,
        closed_to_arrival=False,
        closed_to_departure=False,
    )
    return Scenario(
        room_type=room_type, check_in=check_in, check_out=check_out, free_rooms=free_rooms
    )


def run_round(*, scenario: Scenario, clients: int, holds_per_client: int) -> dict:
    """Run ``clients`` threads of ``holds_per_client`` hold-then-cancel attempts each."""
    from bookings.services import BookingBusy, booking_cancel, booking_hold

    guests = list(get_user_model().objects.order_by("pk")[:clients])
    if len(guests) < clients:
        raise RuntimeError(f"The contention run needs {clients} guest accounts.")
    room_type = scenario.room_type
    holds = Sample(name="contention_hold", mode=f"{clients} clients")
    lock = threading.Lock()
    errors: list[str] = []
    barrier = threading.Barrier(clients)

    def client(guest) -> None:
        local = Sample(name="hold", mode="")
        try:
            barrier.wait(timeout=60)
            for _ in range(holds_per_client):
                start = time.perf_counter_ns()
                try:
                    booking = booking_hold(
                        room_type=room_type,
                        check_in=scenario.check_in,
                        check_out=scenario.check_out,
                        adults=1,
                        guest=guest,
                    )
                except StayNotAvailable:
                    local.count("sold_out")
                    continue
                except BookingBusy:
                    local.count("busy")
                    continue
                local.add((time.perf_counter_ns() - start) / 1e6, 0)
                local.count("held")
                booking_cancel(booking=booking, by=guest, reason="Contention benchmark.")
        except Exception as exc:
            with lock:
                errors.append(f"{type(exc).__name__}: {exc}")
        finally:
            connection.close()
        with lock:
            holds.times_ms.extend(local.times_ms)
            for outcome, n in local.outcomes.items():
                holds.outcomes[outcome] = holds.outcomes.get(outcome, 0) + n

    retries = _RetryCounter()
    logger = logging.getLogger(RETRY_LOGGER)
    level = logger.level
    logger.addHandler(retries)
    logger.setLevel(logging.INFO)
    threads = [threading.Thread(target=client, args=(g,), daemon=True) for g in guests]
    started = time.perf_counter()
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=600)
    finally:
        logger.removeHandler(retries)
        logger.setLevel(level)
    wall = time.perf_counter() - started
    ordered = sorted(holds.times_ms)
    attempts = sum(holds.outcomes.values())
    check = consistency(room_type_id=room_type.pk)
    return {
        "clients": clients,
        "attempts": attempts,
        "held": holds.outcomes.get("held", 0),
        "sold_out": holds.outcomes.get("sold_out", 0),
        "busy": holds.outcomes.get("busy", 0),
        "errors": len(errors),
        "error_samples": errors[:3],
        "deadlock_retries": sum(retries.by_kind.values()),
        "retries_by_kind": retries.by_kind,
        "wall_s": round(wall, 3),
        "holds_per_s": round(holds.outcomes.get("held", 0) / wall, 1) if wall else None,
        "attempts_per_s": round(attempts / wall, 1) if wall else None,
        "hold_p50_ms": round(percentile(ordered, 50), 2) if ordered else None,
        "hold_p95_ms": round(percentile(ordered, 95), 2) if ordered else None,
        "hold_p99_ms": round(percentile(ordered, 99), 2) if ordered else None,
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
    log=print,
) -> dict:
    """Run one round per client count on the same scenario; return the rounds and the setup."""
    scenario = prepare(free_rooms=free_rooms, nights=nights, today=today)
    rounds = []
    for n in clients:
        result = run_round(scenario=scenario, clients=n, holds_per_client=holds_per_client)
        rounds.append(result)
        log(
            f"  {n:>3} clients: {result['held']} held, {result['sold_out']} sold out, "
            f"{result['busy']} busy, {result['deadlock_retries']} retries, "
            f"{result['holds_per_s']} holds/s, p95 {result['hold_p95_ms']} ms, "
            f"oversold {result['oversold_nights']}, drift {result['drift_nights']}"
        )
    return {
        "room_type": f"{scenario.room_type.hotel.name} / {scenario.room_type.name}",
        "check_in": scenario.check_in.isoformat(),
        "check_out": scenario.check_out.isoformat(),
        "free_rooms": free_rooms,
        "holds_per_client": holds_per_client,
        "rounds": rounds,
    }
