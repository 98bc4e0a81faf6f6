"""A hypothesis state machine over holds, confirmations, cancellations, expiry and inventory edits.

A plain Python model predicts whether each hold succeeds; after every step
each night's ``sold`` must equal the live bookings covering it, and never
exceed ``total``.
"""

from collections import Counter
from datetime import timedelta

import pytest
from django.utils import timezone
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    invariant,
    rule,
    run_state_machine_as_test,
)

from bookings.exceptions import StayNotAvailable
from bookings.models import Booking
from bookings.services import (
    booking_cancel,
    booking_confirm,
    booking_expire_holds,
    booking_hold,
)
from hotel.models import RoomType
from inventory.models import RoomInventory
from tests.factories import HotelFactory, RoomTypeFactory

from .conftest import stock

NIGHTS = 5
TOTAL = 2


class BookingMachine(RuleBasedStateMachine):
    holds = Bundle("holds")
    confirmed = Bundle("confirmed")

    def __init__(self):
        super().__init__()
        self.arrival = timezone.localdate() + timedelta(days=10)
        rt = RoomTypeFactory(hotel=HotelFactory(), max_adults=2)
        stock(rt, start=self.arrival, nights=NIGHTS, total=TOTAL)
        self.room_type = RoomType.objects.select_related("hotel").get(pk=rt.pk)

    def nights(self, booking) -> list:
        return [booking.check_in + timedelta(days=i) for i in range(booking.nights)]

    def free_in_model(self, start, length) -> bool:
        rows = {r.date: r for r in RoomInventory.objects.filter(room_type=self.room_type)}
        now = timezone.now()
        live = Counter()
        for b in Booking.objects.filter(
            room_type=self.room_type, status__in=Booking.HOLDS_INVENTORY
        ):
            lapsed = b.status == "hold" and b.hold_expires_at <= now
            overlaps = b.check_in < start + timedelta(days=length) and b.check_out > start
            # A lapsed hold on the requested nights is released by the hold itself.
            if lapsed and overlaps:
                continue
            for night in self.nights(b):
                live[night] += 1
        for i in range(length):
            night = start + timedelta(days=i)
            row = rows.get(night)
            if row is None or row.stop_sell or live[night] + 1 > row.total:
                return False
        return True

    @rule(target=holds, offset=st.integers(0, NIGHTS - 1), length=st.integers(1, 3))
    def hold(self, offset, length):
        start = self.arrival + timedelta(days=offset)
        expected = self.free_in_model(start, length)
        try:
            booking = booking_hold(
                room_type=self.room_type,
                check_in=start,
                check_out=start + timedelta(days=length),
                adults=1,
                guest_name="Ana",
                guest_email="ana@example.com",
            )
        except StayNotAvailable:
            assert not expected, "refused although the model has a room on every night"
            return None
        assert expected, "held although the model says a night is full"
        return booking.pk

    @rule(target=confirmed, pk=consumes(holds))
    def confirm(self, pk):
        booking = Booking.objects.filter(pk=pk).first()
        if booking is None or booking.status != "hold" or booking.hold_expires_at <= timezone.now():
            return None
        booking_confirm(booking=booking, policy_accepted=True)
        return pk

    @rule(pk=consumes(holds) | consumes(confirmed))
    def cancel(self, pk):
        booking = Booking.objects.filter(pk=pk).first()
        if booking is None or booking.status not in Booking.CANCELLABLE:
            return
        booking_cancel(booking=booking)

    @rule(pk=holds)
    def lapse(self, pk):
        Booking.objects.filter(pk=pk, status="hold").update(
            hold_expires_at=timezone.now() - timedelta(seconds=1)
        )

    @rule()
    def expire(self):
        booking_expire_holds()

    @rule(offset=st.integers(0, NIGHTS - 1), total=st.integers(0, 3))
    def edit_total(self, offset, total):
        # Staff may lower a night's total only down to what is already sold.
        row = RoomInventory.objects.get(
            room_type=self.room_type, date=self.arrival + timedelta(days=offset)
        )
        row.total = max(total, row.sold)
        row.save(update_fields=["total"])

    @rule(offset=st.integers(0, NIGHTS - 1), stop=st.booleans())
    def stop_sell(self, offset, stop):
        RoomInventory.objects.filter(
            room_type=self.room_type, date=self.arrival + timedelta(days=offset)
        ).update(stop_sell=stop)

    @invariant()
    def sold_equals_live_bookings(self):
        live = Counter()
        for b in Booking.objects.filter(
            room_type=self.room_type, status__in=Booking.HOLDS_INVENTORY
        ):
            live.update(self.nights(b))
        for row in RoomInventory.objects.filter(room_type=self.room_type):
            assert 0 <= row.sold <= row.total, row
            assert row.sold == live[row.date], (row, live[row.date])

    def teardown(self):
        Booking.objects.filter(room_type=self.room_type).delete()
        RoomInventory.objects.filter(room_type=self.room_type).delete()


@pytest.mark.django_db
def test_inventory_always_matches_live_bookings():
    # Small enough for CI on two cores; raise max_examples locally to dig.
    run_state_machine_as_test(
        BookingMachine,
        settings=settings(
            max_examples=25,
            stateful_step_count=25,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
