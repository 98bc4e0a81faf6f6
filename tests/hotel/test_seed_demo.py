from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db.models import Sum

from bookings.models import Booking
from hotel import demo
from hotel.models import Amenity, Hotel, Room, RoomType
from inventory.models import RoomInventory

pytestmark = pytest.mark.django_db


def _snapshot() -> dict:
    return {
        "amenities": sorted(Amenity.objects.values_list("slug", flat=True)),
        "hotels": sorted(Hotel.objects.values_list("slug", "city", "currency", "timezone")),
        "room_types": sorted(RoomType.objects.values_list("hotel__slug", "slug", "base_price")),
        "rooms": sorted(Room.objects.values_list("hotel__slug", "number", "room_type__slug")),
        "nights": RoomInventory.objects.count(),
        "sold": RoomInventory.objects.aggregate(s=Sum("sold"))["s"],
        "bookings": sorted(
            Booking.objects.values_list("hotel__slug", "room_type__slug", "check_in", "status")
        ),
        "users": sorted(get_user_model().objects.values_list("username", "is_staff")),
    }


def test_seed_demo_twice_leaves_the_same_data():
    out = StringIO()
    call_command("seed_demo", stdout=out)
    first = _snapshot()
    call_command("seed_demo", stdout=StringIO())
    assert _snapshot() == first
    # three or more hotels in two or more cities, four to six room types each
    assert len(first["hotels"]) >= 3
    assert len({city for _slug, city, _cur, _tz in first["hotels"]}) >= 2
    per_hotel = {}
    for hotel_slug, _rt, _price in first["room_types"]:
        per_hotel[hotel_slug] = per_hotel.get(hotel_slug, 0) + 1
    assert all(4 <= n <= 6 for n in per_hotel.values())
    # bookings in every status, and the logins printed
    assert {status for *_rest, status in first["bookings"]} == set(Booking.Status.values)
    assert f"{demo.STAFF_USERNAME} / {demo.STAFF_PASSWORD}" in out.getvalue()
    assert f"{demo.GUEST_USERNAME} / {demo.GUEST_PASSWORD}" in out.getvalue()


def test_the_printed_staff_login_opens_the_admin(client):
    call_command("seed_demo", stdout=StringIO())
    # through the admin's own login form, as staff would type it
    response = client.post(
        "/admin/login/?next=/admin/",
        {"username": demo.STAFF_USERNAME, "password": demo.STAFF_PASSWORD},
    )
    assert response.status_code == 302
    assert client.get("/admin/").status_code == 200


def test_demo_inventory_sold_matches_the_live_demo_bookings():
    call_command("seed_demo", stdout=StringIO())
    live = Booking.objects.filter(status__in=Booking.HOLDS_INVENTORY)
    expected: dict[tuple[int, object], int] = {}
    for booking in live:
        for night in booking.night_prices.all():
            key = (booking.room_type_id, night.date)
            expected[key] = expected.get(key, 0) + 1
    actual = {
        (row.room_type_id, row.date): row.sold for row in RoomInventory.objects.filter(sold__gt=0)
    }
    assert actual == expected
