"""Every kind of write makes the next cached read fresh, and only once it commits."""

from datetime import date, timedelta

import pytest
from django.db import transaction

from caching.api import _read_version, cached, invalidate_on_commit
from inventory.models import RoomInventory
from inventory.services import availability_namespaces, hotel_availability_namespaces
from tests.factories import (
    AmenityFactory,
    HotelFactory,
    RoomFactory,
    RoomInventoryFactory,
    RoomTypeFactory,
)

pytestmark = pytest.mark.django_db


def versions_of(*namespaces):
    return {ns: _read_version(ns) for ns in namespaces}


def bumped(before: dict) -> set[str]:
    after = versions_of(*before)
    return {ns for ns in before if after[ns] != before[ns]}


def hotel_namespaces(hotel):
    return ["catalogue", f"hotel:{hotel.pk}", *availability_namespaces(hotel=hotel)]


def test_hotel_save_bumps_its_namespaces_after_commit(django_capture_on_commit_callbacks):
    hotel = HotelFactory(city="Lisbon")
    before = versions_of(*hotel_namespaces(hotel), "hotel:999999")

    with django_capture_on_commit_callbacks(execute=True):
        hotel.name = "Renamed"
        hotel.save()

    assert bumped(before) == set(hotel_namespaces(hotel))


def test_nothing_is_bumped_before_the_commit(django_capture_on_commit_callbacks):
    hotel = HotelFactory()
    before = versions_of(*hotel_namespaces(hotel))

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        hotel.save()

    assert callbacks
    assert bumped(before) == set()


def test_a_hotel_that_moves_city_invalidates_both_cities(django_capture_on_commit_callbacks):
    hotel = HotelFactory(city="Lisbon")
    before = versions_of("availability:city:lisbon", "availability:city:porto")

    with django_capture_on_commit_callbacks(execute=True):
        hotel.city = "Porto"
        hotel.save()

    assert bumped(before) == {"availability:city:lisbon", "availability:city:porto"}


def test_hotel_delete_bumps_its_namespaces(django_capture_on_commit_callbacks):
    hotel = HotelFactory()
    namespaces = hotel_namespaces(hotel)
    before = versions_of(*namespaces)

    with django_capture_on_commit_callbacks(execute=True):
        hotel.delete()

    assert bumped(before) == set(namespaces)


def test_room_type_change_bumps_the_hotel_and_its_availability(
    django_capture_on_commit_callbacks,
):
    room_type = RoomTypeFactory()
    before = versions_of(*hotel_namespaces(room_type.hotel))

    with django_capture_on_commit_callbacks(execute=True):
        room_type.is_active = False
        room_type.save()

    assert bumped(before) == set(hotel_namespaces(room_type.hotel))


def test_room_taken_out_of_service_bumps_availability(django_capture_on_commit_callbacks):
    room = RoomFactory()
    before = versions_of(*availability_namespaces(hotel=room.hotel))

    with django_capture_on_commit_callbacks(execute=True):
        room.is_active = False
        room.save()

    assert bumped(before) == set(availability_namespaces(hotel=room.hotel))


def test_adding_an_amenity_to_a_hotel_bumps_its_page(django_capture_on_commit_callbacks):
    hotel, amenity = HotelFactory(), AmenityFactory()
    before = versions_of("catalogue", f"hotel:{hotel.pk}")

    with django_capture_on_commit_callbacks(execute=True):
        hotel.amenities.add(amenity)

    assert bumped(before) == {"catalogue", f"hotel:{hotel.pk}"}


def test_adding_hotels_from_the_amenity_side_bumps_each_hotel(
    django_capture_on_commit_callbacks,
):
    first, second, untouched = HotelFactory(), HotelFactory(), HotelFactory()
    amenity = AmenityFactory()
    before = versions_of(f"hotel:{first.pk}", f"hotel:{second.pk}", f"hotel:{untouched.pk}")

    with django_capture_on_commit_callbacks(execute=True):
        amenity.hotels.add(first, second)

    assert bumped(before) == {f"hotel:{first.pk}", f"hotel:{second.pk}"}


def test_clearing_an_amenity_from_room_types_bumps_their_hotels(
    django_capture_on_commit_callbacks,
):
    room_type, amenity = RoomTypeFactory(), AmenityFactory()
    room_type.amenities.add(amenity)
    before = versions_of(f"hotel:{room_type.hotel_id}")

    with django_capture_on_commit_callbacks(execute=True):
        amenity.room_types.clear()

    assert bumped(before) == {f"hotel:{room_type.hotel_id}"}


def test_renaming_an_amenity_bumps_the_hotels_that_have_it(django_capture_on_commit_callbacks):
    with_it, without = HotelFactory(), HotelFactory()
    amenity = AmenityFactory()
    with_it.amenities.add(amenity)
    before = versions_of("catalogue", f"hotel:{with_it.pk}", f"hotel:{without.pk}")

    with django_capture_on_commit_callbacks(execute=True):
        amenity.name = "Rooftop pool"
        amenity.save()

    assert bumped(before) == {"catalogue", f"hotel:{with_it.pk}"}


def test_deleting_an_amenity_bumps_the_hotels_that_had_it(django_capture_on_commit_callbacks):
    hotel, amenity = HotelFactory(), AmenityFactory()
    hotel.amenities.add(amenity)
    before = versions_of(f"hotel:{hotel.pk}")

    with django_capture_on_commit_callbacks(execute=True):
        amenity.delete()

    assert bumped(before) == {f"hotel:{hotel.pk}"}


# --- The next read is fresh -------------------------------------------------


def hotel_name(hotel) -> str:
    from hotel.models import Hotel

    return cached(
        f"hotel:{hotel.pk}",
        ["name"],
        lambda: Hotel.objects.values_list("name", flat=True).get(pk=hotel.pk),
    )


def free_rooms(room_type, night) -> int:
    def load() -> int:
        row = RoomInventory.objects.get(room_type=room_type, date=night)
        return row.total - row.sold

    namespaces = hotel_availability_namespaces(hotel_id=room_type.hotel_id, first=night, last=night)
    return cached(namespaces, ["free", room_type.pk, night], load)


def test_model_save_makes_the_next_read_fresh(django_capture_on_commit_callbacks):
    hotel = HotelFactory(name="Old name")
    assert hotel_name(hotel) == "Old name"

    with django_capture_on_commit_callbacks(execute=True):
        hotel.name = "New name"
        hotel.save()

    assert hotel_name(hotel) == "New name"


def test_admin_edit_of_a_night_makes_the_next_read_fresh(django_capture_on_commit_callbacks):
    night = RoomInventoryFactory(total=5)
    assert free_rooms(night.room_type, night.date) == 5

    with django_capture_on_commit_callbacks(execute=True):
        night.total = 3
        night.save()

    assert free_rooms(night.room_type, night.date) == 3


def test_bulk_update_with_explicit_invalidation_makes_the_next_read_fresh(
    django_capture_on_commit_callbacks,
):
    night = RoomInventoryFactory(total=5)
    assert free_rooms(night.room_type, night.date) == 5

    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        RoomInventory.objects.filter(room_type=night.room_type).update(total=2)
        invalidate_on_commit(*availability_namespaces(hotel=night.room_type.hotel))

    assert free_rooms(night.room_type, night.date) == 2


def test_bulk_inventory_edit_makes_the_next_read_fresh(django_capture_on_commit_callbacks):
    from inventory.services import inventory_set

    night = RoomInventoryFactory(total=5)
    assert free_rooms(night.room_type, night.date) == 5

    with django_capture_on_commit_callbacks(execute=True):
        inventory_set(
            room_type=night.room_type,
            start=night.date,
            end=night.date + timedelta(days=1),
            total=1,
        )

    assert free_rooms(night.room_type, night.date) == 1


def _stay(room_type, nights: int = 2):
    check_in = date.today() + timedelta(days=10)
    for n in range(nights):
        RoomInventoryFactory(room_type=room_type, date=check_in + timedelta(days=n), total=2)
    return check_in, check_in + timedelta(days=nights)


def test_hold_and_cancel_make_the_next_read_fresh(django_capture_on_commit_callbacks):
    from bookings.services import booking_cancel, booking_hold

    room_type = RoomTypeFactory()
    RoomFactory.create_batch(2, room_type=room_type)
    check_in, check_out = _stay(room_type)
    assert free_rooms(room_type, check_in) == 2

    with django_capture_on_commit_callbacks(execute=True):
        booking = booking_hold(
            room_type=room_type,
            check_in=check_in,
            check_out=check_out,
            adults=2,
            guest_name="Ana Guest",
            guest_email="ana@example.com",
        )
    after_hold = free_rooms(room_type, check_in)
    with django_capture_on_commit_callbacks(execute=True):
        booking_cancel(booking=booking)
    after_cancel = free_rooms(room_type, check_in)

    assert (after_hold, after_cancel) == (1, 2)


def test_a_rolled_back_write_bumps_nothing_and_leaves_the_old_value(
    django_capture_on_commit_callbacks,
):
    hotel = HotelFactory(name="Committed")
    assert hotel_name(hotel) == "Committed"
    before = versions_of(*hotel_namespaces(hotel))

    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        hotel.name = "Rolled back"
        hotel.save()
        # A read inside the write sees the uncommitted row; it must not be
        # cached, or the rollback would leave it behind.
        assert hotel_name(hotel) == "Rolled back"
        raise RuntimeError("payment declined")

    assert callbacks == []
    assert bumped(before) == set()
    assert hotel_name(hotel) == "Committed"


# --- What the receivers cost -------------------------------------------------


def test_saving_a_loaded_night_costs_only_its_update(django_assert_num_queries):
    night = RoomInventoryFactory()

    with django_assert_num_queries(1):
        night.total = 4
        night.save()


def test_saving_a_hotel_costs_one_lookup_of_its_old_city(django_assert_num_queries):
    hotel = HotelFactory()

    with django_assert_num_queries(2):
        hotel.save()
    with django_assert_num_queries(1):
        hotel.save(update_fields=["name"])


def test_creating_rows_costs_no_extra_query(django_assert_num_queries):
    from hotel.models import Amenity

    hotel = HotelFactory()

    with django_assert_num_queries(1):
        RoomTypeFactory(hotel=hotel)
    with django_assert_num_queries(1):
        Amenity.objects.create(name="Sauna", slug="sauna")


def test_a_supplement_change_reprices_cached_stays_once_it_commits(
    django_capture_on_commit_callbacks,
):
    from inventory.selectors import city_availability
    from tests.factories import OccupancySupplementFactory

    room_type = RoomTypeFactory(hotel=HotelFactory(city="Braga"), max_adults=3, max_occupancy=3)
    check_in = date.today() + timedelta(days=10)
    RoomInventoryFactory(room_type=room_type, date=check_in, price="100.00")
    stay = {"city": "Braga", "check_in": check_in, "check_out": check_in + timedelta(days=1)}
    [before] = city_availability(adults=3, **stay)

    with django_capture_on_commit_callbacks(execute=True):
        OccupancySupplementFactory(room_type=room_type, extra_adult="30.00")

    [after] = city_availability(adults=3, **stay)
    assert (before.room_types[0].total, after.room_types[0].total) == (100, 130)
