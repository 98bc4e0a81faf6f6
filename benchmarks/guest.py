"""A guest who books while the backups run, in a process of its own.

``python -m benchmarks.guest --rate 10 --today 2026-12-02 --seed 1`` holds a
stay and cancels it, ``rate`` times a second, through the booking services,
with one connection of its own, until SIGTERM. Its first line on stdout,
``ready <backend pid>``, says it is connected and about to book; its last,
once stopped, is its report as JSON: ``samples`` (start, hold ms, cancel ms),
the start of each attempt that found the stay ``sold_out`` or the nights
``busy``, and ``errors`` (start, message). Start times are ``time.monotonic()``,
one clock for every process of the machine.

Django is set up from the environment it is given: DJANGO_SETTINGS_MODULE
and DATABASE_URL name the parent's settings and database.
"""

from __future__ import annotations

import argparse
import json
import random
import signal
import sys
import threading
import time
from datetime import date


def book(*, rate: float, today: date, seed: int, stop: threading.Event, ready) -> dict:
    """Book until ``stop``; call ``ready(backend_pid)`` once connected."""
    from django.db import connection

    from bookings.exceptions import StayNotAvailable
    from bookings.services import BookingBusy, booking_cancel, booking_hold
    from hotel.models import RoomType

    from .delivery import stays

    report: dict = {"samples": [], "sold_out": [], "busy": [], "errors": []}
    room_types = list(RoomType.objects.filter(is_active=True, hotel__is_active=True))
    if not room_types:
        raise RuntimeError("No room type: build the dataset first (python -m benchmarks build)")
    upcoming = stays(today, random.Random(seed), room_types)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        ready(cursor.fetchone()[0])
    due = time.monotonic()
    while not stop.is_set():
        # Paced from start to start; a late one is not carried over.
        due = max(time.monotonic(), due + 1 / rate)
        if stop.wait(max(0.0, due - time.monotonic())):
            break
        room_type, check_in, check_out = next(upcoming)
        began = time.monotonic()
        try:
            booking = booking_hold(
                room_type=room_type,
                check_in=check_in,
                check_out=check_out,
                adults=1,
                guest_name="Backup Benchmark",
                guest_email="backup-benchmark@example.com",
            )
            held = time.monotonic()
            booking_cancel(booking=booking, reason="Backup benchmark.")
            report["samples"].append(
                (began, (held - began) * 1000, (time.monotonic() - held) * 1000)
            )
        except StayNotAvailable:
            report["sold_out"].append(began)
        except BookingBusy:
            report["busy"].append(began)
        except Exception as exc:  # counted in its phase; the guest goes on
            report["errors"].append((began, f"{type(exc).__name__}: {exc}"))
    return report


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.guest", description=__doc__)
    p.add_argument("--rate", type=float, required=True)
    p.add_argument("--today", type=date.fromisoformat, required=True)
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args(argv)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())

    import django

    django.setup()
    from django.db import connection

    # One plain connection, as a web process's thread holds one.
    connection.settings_dict["OPTIONS"].pop("pool", None)
    try:
        report = book(
            rate=args.rate,
            today=args.today,
            seed=args.seed,
            stop=stop,
            ready=lambda pid: print(f"ready {pid}", flush=True),
        )
    except Exception as exc:
        print(f"{type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
        return 1
    finally:
        connection.close()
    print(json.dumps(report), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
