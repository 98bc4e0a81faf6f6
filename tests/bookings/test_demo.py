from collections import Counter
from datetime import timedelta
from io import StringIO

import pytest
from django.utils import timezone

from bookings.demo import STAYS, seed_demo_bookings
from bookings.models import Booking
from inventory.models import RoomInventory
from tests.factories import HotelFactory, RoomFactory, RoomTypeFactory, UserFactory

from .conftest import stock

pytestmark = pytest.mark.django_db


@pytest.fixture
def catalogue():
    UserFactory(username="guest", email="guest@example.com")
    start = timezone.localdate() - timedelta(days=60)
    for h in range(2):
        hotel = HotelFactory(timezone="UTC")
        for t in range(2):
            rt = RoomTypeFactory(hotel=hotel, sort_order=t)
            for n in range(3):
                RoomFactory(room_type=rt, number=f"{h}{t}{n}")
            stock(rt, start=start, nights=140, total=3)


def test_demo_bookings_cover_every_status_and_keep_inventory_consistent(catalogue):
    out = StringIO()

    created = seed_demo_bookings(stdout=out)

    assert created == len(STAYS)
    assert set(Booking.objects.values_list("status", flat=True)) == set(Booking.Status.values)
    today = timezone.localdate()
    assert Booking.objects.filter(check_out__lt=today).exists()
    assert Booking.objects.filter(check_in__gt=today).exists()
    assert Booking.objects.filter(guest__username="guest").count() >= 4
    live = Counter()
    for b in Booking.objects.filter(status__in=Booking.HOLDS_INVENTORY):
        live.update((b.room_type_id, b.check_in + timedelta(days=i)) for i in range(b.nights))
    for row in RoomInventory.objects.all():
        assert row.sold == live[(row.room_type_id, row.date)], row
    assert all(b.events.exists() for b in Booking.objects.all())


def test_running_it_again_changes_nothing(catalogue):
    seed_demo_bookings()
    before = list(Booking.objects.order_by("pk").values_list("reference", "status"))
    sold_before = list(RoomInventory.objects.order_by("pk").values_list("sold", flat=True))

    assert seed_demo_bookings() == 0

    assert list(Booking.objects.order_by("pk").values_list("reference", "status")) == before
    assert list(RoomInventory.objects.order_by("pk").values_list("sold", flat=True)) == sold_before


def test_without_a_catalogue_it_does_nothing():
    assert seed_demo_bookings() == 0
