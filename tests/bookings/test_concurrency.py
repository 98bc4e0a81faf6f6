"""Races for the last rooms, on PostgreSQL with real threads.

Each thread has its own database connection (Django's connections are
per thread), so these are genuinely concurrent transactions. The naive
read-then-write test shows what the locking in booking_hold prevents.
"""

import threading
from collections import Counter
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.db.models import F

from bookings.exceptions import StayNotAvailable
from bookings.models import Booking
from bookings.services import booking_hold
from hotel.models import RoomType
from inventory.models import RoomInventory
from tests.factories import HotelFactory, RoomTypeFactory

from .conftest import stock

pytestmark = pytest.mark.django_db(transaction=True)

THREADS = 24


def run_threads(target, n=THREADS):
    """Run ``target(i)`` in ``n`` threads released together; return results and errors."""
    start = threading.Barrier(n)
    results, errors = [None] * n, []

    def worker(i):
        try:
            start.wait()
            results[i] = target(i)
        except Exception as exc:  # any error at all fails the test, via `errors`
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return results, errors


def assert_inventory_matches_bookings(room_type):
    live = Counter()
    for b in Booking.objects.filter(room_type=room_type, status__in=Booking.HOLDS_INVENTORY):
        for i in range(b.nights):
            live[b.check_in + timedelta(days=i)] += 1
    for row in RoomInventory.objects.filter(room_type=room_type):
        assert row.sold <= row.total, row
        assert row.sold == live[row.date], row


@pytest.fixture
def tight_room_type(arrival):
    rt = RoomTypeFactory(hotel=HotelFactory())
    stock(rt, start=arrival, nights=8, total=5)
    return RoomType.objects.select_related("hotel").get(pk=rt.pk)


def test_threads_racing_for_the_same_stay_get_exactly_the_free_rooms(tight_room_type, arrival):
    def hold(i):
        try:
            booking_hold(
                room_type=tight_room_type,
                check_in=arrival,
                check_out=arrival + timedelta(days=3),
                adults=1,
            )
            return "held"
        except StayNotAvailable:
            return "sold out"

    results, errors = run_threads(hold)

    assert errors == []
    assert Counter(results) == {"held": 5, "sold out": THREADS - 5}
    assert list(
        RoomInventory.objects.filter(room_type=tight_room_type)
        .order_by("date")
        .values_list("sold", flat=True)
    ) == [5, 5, 5, 0, 0, 0, 0, 0]
    assert_inventory_matches_bookings(tight_room_type)


def test_overlapping_stays_never_oversell_nor_deadlock_out(tight_room_type, arrival):
    # Stays of 1 to 4 nights starting on different days cross each other's
    # locks in every pattern; date-ordered locking and the retry keep every
    # deadlock inside the service.
    def hold(i):
        start = arrival + timedelta(days=i % 4)
        try:
            booking_hold(
                room_type=tight_room_type,
                check_in=start,
                check_out=start + timedelta(days=1 + i % 4),
                adults=1,
            )
            return "held"
        except StayNotAvailable:
            return "sold out"

    results, errors = run_threads(hold)

    assert errors == []
    assert results.count("held") >= 5
    assert_inventory_matches_bookings(tight_room_type)
    # A thread was refused only because a night of its stay was really full.
    refused = [i for i, r in enumerate(results) if r == "sold out"]
    full = set(
        RoomInventory.objects.filter(room_type=tight_room_type, sold=F("total")).values_list(
            "date", flat=True
        )
    )
    for i in refused:
        start = arrival + timedelta(days=i % 4)
        stay = {start + timedelta(days=d) for d in range(1 + i % 4)}
        assert stay & full, f"thread {i} was refused with free rooms on every night"


def naive_hold(*, room_type, check_in, check_out, between_read_and_write):
    """What booking_hold must not be: count the bookings, then insert, with no lock."""
    with transaction.atomic():
        night = RoomInventory.objects.get(room_type=room_type, date=check_in)
        taken = Booking.objects.filter(
            room_type=room_type,
            status__in=Booking.HOLDS_INVENTORY,
            check_in__lt=check_out,
            check_out__gt=check_in,
        ).count()
        between_read_and_write()
        if taken >= night.total:
            return "sold out"
        Booking.objects.create(
            hotel=room_type.hotel,
            room_type=room_type,
            check_in=check_in,
            check_out=check_out,
            status=Booking.Status.CONFIRMED,
            currency="EUR",
            total_price=night.price,
        )
        return "held"


def test_naive_read_then_write_oversells(tight_room_type, arrival):
    # Every racer reads "0 taken" before any of them writes: the textbook
    # lost update. A barrier makes the interleaving certain, not lucky.
    n = 10
    everyone_has_read = threading.Barrier(n)

    def hold(i):
        return naive_hold(
            room_type=tight_room_type,
            check_in=arrival,
            check_out=arrival + timedelta(days=1),
            between_read_and_write=lambda: everyone_has_read.wait(timeout=30),
        )

    results, errors = run_threads(hold, n=n)

    assert errors == []
    assert results.count("held") == n
    live = Booking.objects.filter(room_type=tight_room_type, check_in=arrival).count()
    assert live > RoomInventory.objects.get(room_type=tight_room_type, date=arrival).total


def test_real_path_under_the_same_interleaving_does_not_oversell(tight_room_type, arrival):
    # The same racers through booking_hold: the nights are locked before they
    # are read, so each racer reads what the previous one wrote.
    def hold(i):
        try:
            booking_hold(
                room_type=tight_room_type,
                check_in=arrival,
                check_out=arrival + timedelta(days=1),
                adults=1,
            )
            return "held"
        except StayNotAvailable:
            return "sold out"

    results, errors = run_threads(hold, n=10)

    assert errors == []
    assert results.count("held") == 5
    assert_inventory_matches_bookings(tight_room_type)


def _deadlock():
    from django.db import OperationalError
    from psycopg import errors

    try:
        raise errors.DeadlockDetected("deadlock detected")
    except errors.DeadlockDetected as cause:
        raise OperationalError("deadlock detected") from cause


def test_hold_retries_after_a_deadlock(tight_room_type, arrival, monkeypatch):
    from bookings import services

    real, calls = services._hold_once, []

    def flaky(**kwargs):
        calls.append(1)
        if len(calls) == 1:
            _deadlock()
        return real(**kwargs)

    monkeypatch.setattr(services, "_hold_once", flaky)

    booking = booking_hold(
        room_type=tight_room_type, check_in=arrival, check_out=arrival + timedelta(days=2), adults=1
    )

    assert len(calls) == 2
    assert booking.status == "hold"
    assert_inventory_matches_bookings(tight_room_type)


def test_hold_gives_a_clear_error_when_deadlocks_persist(tight_room_type, arrival, monkeypatch):
    from bookings import services

    monkeypatch.setattr(services, "_hold_once", lambda **kwargs: _deadlock())
    monkeypatch.setattr(services, "HOLD_BACKOFF_SECONDS", 0)

    with pytest.raises(services.BookingBusy, match="try again"):
        booking_hold(
            room_type=tight_room_type,
            check_in=arrival,
            check_out=arrival + timedelta(days=2),
            adults=1,
        )


def test_one_form_submitted_by_many_threads_makes_one_booking(tight_room_type, arrival):
    def hold(i):
        return booking_hold(
            room_type=tight_room_type,
            check_in=arrival,
            check_out=arrival + timedelta(days=2),
            adults=1,
            idempotency_key="same-form",
        ).pk

    results, errors = run_threads(hold, n=12)

    assert errors == []
    assert len(set(results)) == 1
    assert Booking.objects.count() == 1
    assert_inventory_matches_bookings(tight_room_type)


def test_racing_room_assignments_give_a_room_to_one_stay(tight_room_type, arrival):
    from bookings.exceptions import RoomUnavailable
    from bookings.services import booking_assign_room, booking_confirm
    from tests.factories import RoomFactory

    room = RoomFactory(room_type=tight_room_type, number="501")
    bookings = []
    for i in range(5):
        b = booking_hold(
            room_type=tight_room_type,
            check_in=arrival + timedelta(days=i % 2),
            check_out=arrival + timedelta(days=2 + i % 2),
            adults=1,
            guest_name="A",
            guest_email="a@example.com",
        )
        bookings.append(booking_confirm(booking=b, policy_accepted=True))

    def assign(i):
        try:
            booking_assign_room(booking=bookings[i], room=room)
            return "assigned"
        except RoomUnavailable:
            return "refused"

    results, errors = run_threads(assign, n=5)

    assert errors == []
    assert results.count("assigned") == 1
    assert Booking.objects.filter(room=room).count() == 1


def test_confirm_racing_cancel_leaves_one_consistent_outcome(tight_room_type, arrival):
    from bookings.exceptions import BookingError
    from bookings.services import booking_cancel, booking_confirm

    holds = [
        booking_hold(
            room_type=tight_room_type,
            check_in=arrival,
            check_out=arrival + timedelta(days=2),
            adults=1,
            guest_name="A",
            guest_email="a@example.com",
        )
        for _ in range(5)
    ]

    def race(i):
        booking = holds[i // 2]
        try:
            if i % 2:
                booking_cancel(booking=booking)
            else:
                booking_confirm(booking=booking, policy_accepted=True)
            return "done"
        except BookingError:
            return "refused"

    results, errors = run_threads(race, n=10)

    assert errors == []
    statuses = Booking.objects.values_list("status", flat=True)
    assert set(statuses) <= {"confirmed", "cancelled"}
    # Whichever came second found the booking moved: confirm refuses a
    # cancelled hold, and a cancel of a confirmed booking simply cancels it.
    assert results.count("done") >= 5
    assert_inventory_matches_bookings(tight_room_type)
