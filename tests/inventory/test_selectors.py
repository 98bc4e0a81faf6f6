import re
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


# --- Cached availability follows the weeks of its nights ----------------------


def _monday_after(day):
    return day + timedelta(days=7 - day.weekday())


def _take(room_type, check_in, nights, callbacks) -> None:
    from django.db import transaction

    from inventory.services import inventory_take

    with callbacks(execute=True), transaction.atomic():
        inventory_take(
            room_type=room_type, check_in=check_in, check_out=check_in + timedelta(days=nights)
        )


def _stay(check_in, nights):
    return {"check_in": check_in, "check_out": check_in + timedelta(days=nights), "adults": 2}


def test_a_hold_refreshes_cached_stays_of_its_week_and_leaves_other_weeks_cached(
    future, django_capture_on_commit_callbacks, django_assert_num_queries
):
    # given a hotel's stays in two weeks, both cached
    monday = _monday_after(future)
    room_type = RoomTypeFactory()
    _nights(room_type, monday, 14, total=3)
    this_week, next_week = _stay(monday, 2), _stay(monday + timedelta(days=7), 2)
    hotel_availability(hotel=room_type.hotel, **this_week)
    hotel_availability(hotel=room_type.hotel, **next_week)

    # when a guest holds the Thursday of the first week
    _take(room_type, monday + timedelta(days=3), 1, django_capture_on_commit_callbacks)

    # then the first week's stay is read again and shows the room taken
    with django_assert_num_queries(1):
        [this_week_after] = hotel_availability(
            hotel=room_type.hotel, **_stay(monday + timedelta(days=2), 2)
        )
    assert this_week_after.rooms_free == 2
    # and the other week's stay is still served from the cache
    with django_assert_num_queries(0):
        [next_week_after] = hotel_availability(hotel=room_type.hotel, **next_week)
    assert next_week_after.rooms_free == 3


def test_a_hold_refreshes_a_cached_stay_that_reaches_into_its_week(
    future, django_capture_on_commit_callbacks
):
    monday = _monday_after(future)
    room_type = RoomTypeFactory()
    _nights(room_type, monday, 14, total=3)
    # Saturday to Tuesday: two weeks.
    over_the_weekend = _stay(monday + timedelta(days=5), 3)
    [before] = hotel_availability(hotel=room_type.hotel, **over_the_weekend)

    _take(room_type, monday + timedelta(days=7), 1, django_capture_on_commit_callbacks)

    [after] = hotel_availability(hotel=room_type.hotel, **over_the_weekend)
    assert (before.rooms_free, after.rooms_free) == (3, 2)


def test_a_change_to_a_stays_check_out_day_refreshes_it(future, django_capture_on_commit_callbacks):
    # given a stay from Friday to the Monday after, cached as bookable
    monday = _monday_after(future)
    room_type = RoomTypeFactory()
    nights = _nights(room_type, monday, 14, total=3)
    friday_to_monday = _stay(monday + timedelta(days=4), 3)
    [before] = hotel_availability(hotel=room_type.hotel, **friday_to_monday)

    # when staff close the Monday to departures (a night of the next week)
    with django_capture_on_commit_callbacks(execute=True):
        nights[7].closed_to_departure = True
        nights[7].save()

    # then the stay is read again and refused for its departure day
    [after] = hotel_availability(hotel=room_type.hotel, **friday_to_monday)
    assert before.bookable and not after.bookable
    assert any("Closed to departure" in reason for reason in after.reasons)


def test_a_city_search_is_refreshed_by_a_hold_in_its_week_only(
    future, django_capture_on_commit_callbacks, django_assert_num_queries
):
    monday = _monday_after(future)
    room_type = RoomTypeFactory(hotel=HotelFactory(city="Braga"))
    _nights(room_type, monday, 14, total=3)
    this_week, next_week = _stay(monday, 2), _stay(monday + timedelta(days=7), 2)
    city_availability(city="Braga", **this_week)
    city_availability(city="Braga", **next_week)

    _take(room_type, monday, 1, django_capture_on_commit_callbacks)

    [this_week_after] = city_availability(city="Braga", **this_week)
    with django_assert_num_queries(0):
        [next_week_after] = city_availability(city="Braga", **next_week)
    assert this_week_after.room_types[0].rooms_free == 2
    assert next_week_after.room_types[0].rooms_free == 3


def _release(room_type, check_in, nights, callbacks) -> None:
    from django.db import transaction

    from inventory.services import inventory_release

    with callbacks(execute=True), transaction.atomic():
        inventory_release(
            room_type=room_type, check_in=check_in, check_out=check_in + timedelta(days=nights)
        )


def _shown(entries) -> list:
    """What the guest pages show of each room type: the cards they are rendered from."""
    from inventory.cards import option_card

    return [option_card(entry) for entry in entries]


def test_cached_offers_are_kept_while_sales_change_nothing_shown_and_always_match_a_fresh_read(
    future, django_capture_on_commit_callbacks
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    # given a room type with six rooms a night, a stay of it cached for the
    # hotel page and for the city's search
    monday = _monday_after(future)
    room_type = RoomTypeFactory(hotel=HotelFactory(city="Lagos"))
    _nights(room_type, monday, 7, total=6)
    stay = _stay(monday, 2)
    hotel = room_type.hotel
    hotel_availability(hotel=hotel, **stay)
    city_availability(city="Lagos", **stay)

    # when guests take the rooms one by one, then give them all back
    read_again = []
    for sale in [_take] * 6 + [_release] * 6:
        sale(room_type, monday, 2, django_capture_on_commit_callbacks)
        with CaptureQueriesContext(connection) as queries:
            option = hotel_availability(hotel=hotel, **stay)
            [result] = city_availability(city="Lagos", **stay)
        read_again.append(len(queries) > 0)

        # then both cached reads are what a fresh read is, and show the same
        fresh = hotel_availability(hotel=hotel, **stay, use_cache=False)
        assert option[0].rooms_free == result.room_types[0].rooms_free == fresh[0].rooms_free
        assert _shown(option) == _shown(result.room_types) == _shown(fresh)

    # and only the sales that changed what is shown read the nights again:
    # 6 to 5 and 5 to 4 rooms free (and back) are all "available".
    assert read_again == [False, False] + [True] * 8 + [False, False]


def test_a_sale_that_changes_what_one_night_of_a_stay_shows_refreshes_the_stay(
    future, django_capture_on_commit_callbacks
):
    # given a two-night stay whose first night has rooms to spare and whose
    # second has four, cached as "available"
    monday = _monday_after(future)
    room_type = RoomTypeFactory(hotel=HotelFactory(city="Tomar"))
    RoomInventoryFactory(room_type=room_type, date=monday, total=8)
    RoomInventoryFactory(room_type=room_type, date=monday + timedelta(days=1), total=4)
    stay = _stay(monday, 2)
    [before] = hotel_availability(hotel=room_type.hotel, **stay)
    [city_before] = city_availability(city="Tomar", **stay)

    # when a guest takes both nights: 8 to 7 shows the same, 4 to 3 does not
    _take(room_type, monday, 2, django_capture_on_commit_callbacks)

    # then both cached reads show three left, as a fresh read does
    [after] = hotel_availability(hotel=room_type.hotel, **stay)
    [city_after] = city_availability(city="Tomar", **stay)
    assert (before.rooms_free, city_before.room_types[0].rooms_free) == (4, 4)
    assert (after.rooms_free, city_after.room_types[0].rooms_free) == (3, 3)
    assert _shown([after]) == _shown(
        hotel_availability(hotel=room_type.hotel, **stay, use_cache=False)
    )


def test_every_sale_refreshes_the_staff_calendar(future, django_capture_on_commit_callbacks):
    from inventory.selectors import hotel_calendar

    room_type = RoomTypeFactory()
    _nights(room_type, future, 7, total=10)

    def free_first_night() -> int:
        [(_room_type, days)] = hotel_calendar(hotel=room_type.hotel, start=future, days=7).rows
        return days[0].free

    before = free_first_night()
    _take(room_type, future, 1, django_capture_on_commit_callbacks)
    held = free_first_night()
    _release(room_type, future, 1, django_capture_on_commit_callbacks)

    assert (before, held, free_first_night()) == (10, 9, 10)


def _calendar(**kwargs) -> list[str]:
    """What the room type page's cached calendar shows day by day: "3 left", "Sold out"..."""
    html = "".join(_block(**kwargs))
    return [
        re.sub(r"<br>.*", "", cell.split("</div>")[1], flags=re.S).strip()
        for cell in re.findall(r"<td class=.*?</td>", html, re.S)
    ]


def test_a_hold_refreshes_the_room_calendar_that_shows_its_nights_only(
    future, django_capture_on_commit_callbacks, django_assert_num_queries
):
    room_type = RoomTypeFactory()
    _nights(room_type, future, 40, total=3)
    calendar = {"room_type": room_type, "start": future, "days": 14}
    assert _calendar(**calendar) == ["3 left"] * 14

    # A hold three weeks out is not on a two-week calendar.
    _take(room_type, future + timedelta(days=21), 1, django_capture_on_commit_callbacks)
    with django_assert_num_queries(0):
        assert _calendar(**calendar) == ["3 left"] * 14
    _take(room_type, future + timedelta(days=13), 1, django_capture_on_commit_callbacks)

    assert _calendar(**calendar)[12:] == ["3 left", "2 left"]


def test_a_room_calendar_is_kept_through_sales_that_leave_it_showing_the_same(
    future, django_capture_on_commit_callbacks, django_assert_num_queries
):
    # given a room type with five rooms a night, its calendar cached
    room_type = RoomTypeFactory()
    _nights(room_type, future, 14, total=5)
    calendar = {"room_type": room_type, "start": future, "days": 14}
    assert _calendar(**calendar) == ["Available"] * 14

    # when a guest takes a room of the first night: four left is not worth telling
    _take(room_type, future, 1, django_capture_on_commit_callbacks)

    # then the calendar is served as rendered
    with django_assert_num_queries(0):
        assert _calendar(**calendar) == ["Available"] * 14
    # and when another guest takes one more, three left is: it is read again
    _take(room_type, future, 1, django_capture_on_commit_callbacks)
    assert _calendar(**calendar)[:2] == ["3 left", "Available"]


def test_a_hold_leaves_the_calendars_of_the_hotels_other_room_types_cached(
    future, django_capture_on_commit_callbacks, django_assert_num_queries
):
    held = RoomTypeFactory()
    other = RoomTypeFactory(hotel=held.hotel)
    for room_type in (held, other):
        _nights(room_type, future, 14, total=3)
        _calendar(room_type=room_type, start=future, days=14)

    _take(held, future + timedelta(days=2), 1, django_capture_on_commit_callbacks)

    with django_assert_num_queries(0):
        other_days = _calendar(room_type=other, start=future, days=14)
    held_days = _calendar(room_type=held, start=future, days=14)
    assert (other_days[2], held_days[2]) == ("3 left", "2 left")


def test_a_staff_edit_of_a_room_types_nights_refreshes_its_calendar(
    future, django_capture_on_commit_callbacks
):
    from inventory.services import inventory_set

    room_type = RoomTypeFactory()
    _nights(room_type, future, 14, total=3)
    _calendar(room_type=room_type, start=future, days=14)

    with django_capture_on_commit_callbacks(execute=True):
        inventory_set(room_types=[room_type], start=future, end=future + timedelta(days=1), total=1)

    assert _calendar(room_type=room_type, start=future, days=14)[0] == "1 left"


def test_a_change_of_the_hotels_currency_refreshes_its_calendars_even_mid_request(
    future, django_capture_on_commit_callbacks
):
    from hotel.models import RoomType

    room_type = RoomTypeFactory(hotel__currency="EUR")
    _nights(room_type, future, 7, total=3, price=Decimal("80.00"))
    calendar = {"start": future, "days": 7}
    assert "€80.00" in "".join(_block(room_type=room_type, **calendar))
    # a request that read the room type from the catalogue before the edit ...
    before = RoomType.objects.select_related("hotel").get(pk=room_type.pk)

    hotel = room_type.hotel
    hotel.currency = "GBP"
    with django_capture_on_commit_callbacks(execute=True):
        hotel.save()
    # ... renders its calendar after the edit's invalidation
    assert "€80.00" in "".join(_block(room_type=before, **calendar))

    # and what it kept is not served to the requests that read the room type afresh
    after = RoomType.objects.select_related("hotel").get(pk=room_type.pk)
    assert "£80.00" in "".join(_block(room_type=after, **calendar))


def _block(**kwargs):
    from inventory.blocks import room_type_calendar_block

    return room_type_calendar_block(**kwargs)


def test_an_invalidation_without_dates_refreshes_every_week(
    future, django_capture_on_commit_callbacks
):
    from django.db import transaction

    from caching.api import invalidate_on_commit
    from inventory.models import RoomInventory
    from inventory.services import availability_namespaces

    monday = _monday_after(future)
    room_type = RoomTypeFactory()
    _nights(room_type, monday, 14, total=3)
    stays = [_stay(monday, 2), _stay(monday + timedelta(days=7), 2)]
    before = [hotel_availability(hotel=room_type.hotel, **s)[0].rooms_free for s in stays]

    # A write that does not say which nights it changed, as a bulk update.
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        RoomInventory.objects.filter(room_type=room_type).update(total=1)
        invalidate_on_commit(*availability_namespaces(hotel=room_type.hotel))

    after = [hotel_availability(hotel=room_type.hotel, **s)[0].rooms_free for s in stays]
    assert (before, after) == ([3, 3], [1, 1])


def test_a_cached_city_catalogue_holds_one_object_per_hotel(future):
    from inventory.selectors import _city_catalogue

    for hotel in HotelFactory.create_batch(2, city="Elvas"):
        RoomTypeFactory.create_batch(3, hotel=hotel)
    _city_catalogue("elvas")

    catalogue = _city_catalogue("elvas")

    hotels = {id(h): h for h in catalogue.hotels}
    assert len(catalogue.room_types) == 6
    assert all(hotels[id(rt.hotel)].pk == rt.hotel_id for rt in catalogue.room_types)
