"""A hold obeys the stay restrictions staff set, as the availability pages show them."""

from datetime import timedelta

import pytest

from bookings.exceptions import BookingError
from bookings.models import Booking
from bookings.services import booking_hold
from inventory.models import RoomInventory

from .conftest import sold

pytestmark = pytest.mark.django_db


def hold(room_type, check_in, nights):
    return booking_hold(
        room_type=room_type,
        check_in=check_in,
        check_out=check_in + timedelta(days=nights),
        adults=1,
    )


def night(room_type, day):
    return RoomInventory.objects.filter(room_type=room_type, date=day)


@pytest.mark.parametrize(
    ("offset", "changes", "nights", "message"),
    [
        (1, {"min_stay": 3}, 2, "minimum stay"),
        (0, {"max_stay": 2}, 3, "maximum stay"),
        (0, {"closed_to_arrival": True}, 2, "Arrivals are closed"),
        (2, {"closed_to_departure": True}, 2, "Departures are closed"),
    ],
)
def test_hold_refuses_a_stay_that_breaks_a_restriction_and_takes_nothing(
    room_type, arrival, offset, changes, nights, message
):
    night(room_type, arrival + timedelta(days=offset)).update(**changes)

    with pytest.raises(BookingError, match=message):
        hold(room_type, arrival, nights)

    assert sold(room_type, arrival, 3) == [0, 0, 0]
    assert not Booking.objects.exists()


def test_hold_within_the_restrictions_is_taken(room_type, arrival):
    night(room_type, arrival + timedelta(days=1)).update(min_stay=3, max_stay=3)
    night(room_type, arrival + timedelta(days=1)).update(closed_to_departure=True)

    hold(room_type, arrival, 3)

    assert sold(room_type, arrival, 3) == [1, 1, 1]
