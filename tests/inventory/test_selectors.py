from datetime import timedelta
from decimal import Decimal

import pytest

from inventory.selectors import city_availability, hotel_availability, hotels_availability
from tests.factories import (
    AmenityFactory,
    HotelFactory,
    OccupancySupplementFactory,
    RoomInventoryFactory,
    RoomTypeFactory,
)

pytestmark = pytest.mark.django_db


def _nights(room_type, start, n, **kwargs):
    return [
        RoomInventoryFactory(room_type=room_type, date=start + timedelta(days=i), **kwargs)
        for i in range(n)
    ]


def _one(hotel, check_in, nights, adults=2, children=0):
    return hotel_availability(
        hotel=hotel,
        check_in=check_in,
        check_out=check_in + timedelta(days=nights),
        adults=adults,
        children=children,
        use_cache=False,
    )


def test_free_rooms_are_the_minimum_over_the_nights_with_prices(future):
    room_type = RoomTypeFactory()
    rows = _nights(room_type, future, 3, total=5)
    rows[1].sold = 4
    rows[1].price = Decimal("150.00")
    rows[1].save()

    [entry] = _one(room_type.hotel, future, 3)

    assert entry.bookable
    assert entry.rooms_free == 1
    assert entry.nightly_prices == [Decimal("100.00"), Decimal("150.00"), Decimal("100.00")]
    assert entry.total == Decimal("350.00")
    assert entry.currency == "EUR"
    assert entry.reasons == []


def test_sold_out_night_is_named(future):
    room_type = RoomTypeFactory()
    rows = _nights(room_type, future, 3, total=2)
    rows[2].sold = 2
    rows[2].save()

    [entry] = _one(room_type.hotel, future, 3)

    assert not entry.bookable
    assert entry.sold_out
    assert entry.sold_out_nights == [rows[2].date]
    assert entry.reasons == [f"Sold out on {rows[2].date:%a} {rows[2].date.day} {rows[2].date:%b}"]


def test_missing_night_makes_the_stay_not_bookable_without_error(future):
    room_type = RoomTypeFactory()
    _nights(room_type, future, 2)

    [entry] = _one(room_type.hotel, future, 3)

    assert not entry.bookable
    assert entry.unavailable_nights == [future + timedelta(days=2)]
    assert entry.total is None
    assert entry.reasons[0].startswith("Not for sale on")


def test_restrictions_each_give_their_reason(future):
    room_type = RoomTypeFactory()
    rows = _nights(room_type, future, 4)
    rows[0].closed_to_arrival = True
    rows[1].min_stay = 3
    rows[3].closed_to_departure = True
    for row in rows:
        row.save()

    [entry] = _one(room_type.hotel, future, 2)
    [longer] = _one(room_type.hotel, future + timedelta(days=1), 2)

    assert entry.reasons[0] == "Minimum stay 3 nights"
    assert entry.reasons[1].startswith("Closed to arrival on")
    assert not longer.bookable
    assert longer.reasons[0] == "Minimum stay 3 nights"
    assert longer.reasons[1].startswith("Closed to departure on")


def test_party_over_capacity_is_refused_with_the_room_size(future):
    room_type = RoomTypeFactory(max_adults=2, max_children=0, max_occupancy=2)
    _nights(room_type, future, 2)

    [entry] = _one(room_type.hotel, future, 2, adults=3)

    assert not entry.bookable
    assert not entry.fits_party
    assert not entry.sold_out
    assert entry.reasons == ["Sleeps at most 2 (2 adults, 0 children)"]


def test_supplements_are_added_to_every_night_and_the_total(future):
    room_type = RoomTypeFactory(max_adults=3, max_children=1, max_occupancy=4)
    OccupancySupplementFactory(
        room_type=room_type, extra_adult=Decimal("20"), extra_child=Decimal("5")
    )
    _nights(room_type, future, 2)

    [entry] = _one(room_type.hotel, future, 2, adults=3, children=1)

    assert entry.nightly_prices == [Decimal("125.00"), Decimal("125.00")]
    assert entry.total == Decimal("250.00")


def test_city_search_groups_hotels_and_their_amenities(future):
    spa = AmenityFactory(slug="spa", name="Spa")
    lisbon = HotelFactory(city="Lisbon")
    lisbon.amenities.add(spa)
    other = HotelFactory(city="Porto")
    for hotel in (lisbon, other):
        _nights(RoomTypeFactory(hotel=hotel), future, 2)

    result = city_availability(
        city="LISBON",
        check_in=future,
        check_out=future + timedelta(days=2),
        adults=2,
        use_cache=False,
    )

    assert [h.hotel for h in result] == [lisbon]
    assert result[0].amenity_slugs == {"spa"}
    assert result[0].cheapest == Decimal("200.00")


@pytest.mark.parametrize("many", [1, 20])
def test_hotel_availability_query_count_does_not_grow_with_room_types(
    future, many, django_assert_num_queries
):
    hotel = HotelFactory()
    for _ in range(many):
        _nights(RoomTypeFactory(hotel=hotel), future, 3)

    with django_assert_num_queries(2):
        result = _one(hotel, future, 3)

    assert len(result) == many
    assert all(entry.bookable for entry in result)


@pytest.mark.parametrize("nights", [1, 30])
def test_hotel_availability_query_count_does_not_grow_with_nights(
    future, nights, django_assert_num_queries
):
    hotel = HotelFactory()
    _nights(RoomTypeFactory(hotel=hotel), future, nights)

    with django_assert_num_queries(2):
        [entry] = _one(hotel, future, nights)

    assert entry.bookable and len(entry.nightly_prices) == nights


@pytest.mark.parametrize("many", [1, 20])
def test_hotels_availability_query_count_does_not_grow_with_hotels(
    future, many, django_assert_num_queries
):
    hotels = [HotelFactory() for _ in range(many)]
    for hotel in hotels:
        hotel.amenities.add(AmenityFactory())
        _nights(RoomTypeFactory(hotel=hotel), future, 2)

    with django_assert_num_queries(4):
        result = hotels_availability(
            hotel_ids=[h.pk for h in hotels],
            check_in=future,
            check_out=future + timedelta(days=2),
            adults=2,
        )

    assert len(result) == many and all(h.bookable for h in result)


def test_cached_availability_is_refreshed_after_an_inventory_write_commits(
    future, django_capture_on_commit_callbacks, django_assert_num_queries
):
    from inventory.services import inventory_set

    room_type = RoomTypeFactory()
    _nights(room_type, future, 2, total=3)
    stay = {"check_in": future, "check_out": future + timedelta(days=2), "adults": 2}
    [before] = hotel_availability(hotel=room_type.hotel, **stay)
    with django_assert_num_queries(0):
        hotel_availability(hotel=room_type.hotel, **stay)

    with django_capture_on_commit_callbacks(execute=True):
        inventory_set(room_type=room_type, start=future, end=future + timedelta(days=1), total=1)

    [after] = hotel_availability(hotel=room_type.hotel, **stay)
    assert (before.rooms_free, after.rooms_free) == (3, 1)


def test_city_results_are_cached_as_plain_data(future):
    import pickle

    _nights(RoomTypeFactory(hotel=HotelFactory(city="Coimbra")), future, 2)
    stay = {"check_in": future, "check_out": future + timedelta(days=2), "adults": 2}

    first = city_availability(city="Coimbra", **stay)
    again = city_availability(city="coimbra", **stay)

    # The cache pickles the value; it must round-trip without querysets.
    assert pickle.loads(pickle.dumps(first))[0].room_types[0].total == Decimal("200.00")  # noqa: S301
    assert again[0].hotel == first[0].hotel


def test_search_by_hotel_name_spans_cities(future):
    from inventory.selectors import search_hotels

    for city in ("Lisbon", "Porto"):
        _nights(RoomTypeFactory(hotel=HotelFactory(city=city, name=f"Grand {city}")), future, 2)
    _nights(RoomTypeFactory(hotel=HotelFactory(city="Porto", name="Small")), future, 2)

    results = search_hotels(
        q="grand", check_in=future, check_out=future + timedelta(days=2), adults=2, sort="name"
    )

    assert [h.hotel.name for h in results] == ["Grand Lisbon", "Grand Porto"]
