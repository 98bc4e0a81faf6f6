from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from hotel.validators import validate_currency_code, validate_timezone
from tests.factories import HotelFactory, RoomFactory, RoomTypeFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("stars", [0, 6])
def test_database_refuses_stars_outside_one_to_five(stars):
    with pytest.raises(IntegrityError):
        HotelFactory(stars=stars)


def test_database_refuses_a_currency_that_is_not_three_capitals():
    with pytest.raises(IntegrityError):
        HotelFactory(currency="eur")


def test_database_refuses_a_deposit_over_one_hundred_percent():
    with pytest.raises(IntegrityError):
        HotelFactory(deposit_percent=Decimal("100.01"))


def test_database_refuses_occupancy_beyond_the_beds():
    with pytest.raises(IntegrityError):
        RoomTypeFactory(max_adults=2, max_children=0, max_occupancy=3, base_occupancy=2)


def test_database_refuses_base_occupancy_above_max_occupancy():
    with pytest.raises(IntegrityError):
        RoomTypeFactory(max_adults=2, max_children=0, max_occupancy=2, base_occupancy=3)


def test_database_refuses_a_negative_base_price():
    with pytest.raises(IntegrityError):
        RoomTypeFactory(base_price=Decimal("-1.00"))


def test_database_refuses_two_room_types_with_one_slug_in_a_hotel():
    room_type = RoomTypeFactory(slug="double")
    with pytest.raises(IntegrityError):
        RoomTypeFactory(hotel=room_type.hotel, slug="double")


def test_the_same_room_type_slug_is_fine_in_another_hotel():
    RoomTypeFactory(slug="double")
    assert RoomTypeFactory(slug="double").slug == "double"


def test_database_refuses_two_rooms_with_one_number_in_a_hotel():
    room = RoomFactory(number="101")
    with transaction.atomic(), pytest.raises(IntegrityError):
        RoomFactory(room_type=room.room_type, number="101")
    assert RoomFactory(number="101").hotel != room.hotel


def test_a_room_of_another_hotels_room_type_is_invalid():
    room = RoomFactory.build(room_type=RoomTypeFactory(), hotel=HotelFactory())
    with pytest.raises(ValidationError) as excinfo:
        room.clean()
    assert "another hotel" in str(excinfo.value)


def test_unknown_time_zone_and_currency_are_refused_with_their_name():
    with pytest.raises(ValidationError, match="Mars/Olympus"):
        validate_timezone("Mars/Olympus")
    with pytest.raises(ValidationError, match="XXQ"):
        validate_currency_code("XXQ")
    validate_timezone("Europe/Lisbon")
    validate_currency_code("GBP")


def test_party_fits_room_type_by_adults_children_and_total():
    room_type = RoomTypeFactory.build(max_adults=2, max_children=2, max_occupancy=3)
    assert room_type.fits(adults=2, children=1)
    assert not room_type.fits(adults=3, children=0)
    assert not room_type.fits(adults=2, children=2)
