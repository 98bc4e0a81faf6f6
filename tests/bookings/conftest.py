from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from inventory.models import RoomInventory
from tests.factories import HotelFactory, RoomTypeFactory, UserFactory


def stock(room_type, *, start, nights, total=5, price=Decimal("100.00")):
    """Put ``nights`` nights of inventory on sale from ``start``."""
    RoomInventory.objects.bulk_create(
        RoomInventory(room_type=room_type, date=start + timedelta(days=i), total=total, price=price)
        for i in range(nights)
    )


def sold(room_type, start, nights) -> list[int]:
    rows = RoomInventory.objects.filter(
        room_type=room_type, date__gte=start, date__lt=start + timedelta(days=nights)
    ).order_by("date")
    return [row.sold for row in rows]


@pytest.fixture
def arrival():
    return timezone.localdate() + timedelta(days=20)


@pytest.fixture
def hotel():
    # UTC, so that "today" in a test is the hotel's today at any hour.
    return HotelFactory(free_cancellation_days=2, cancellation_fee="first_night", timezone="UTC")


@pytest.fixture
def room_type(hotel, arrival):
    rt = RoomTypeFactory(hotel=hotel)
    stock(rt, start=arrival - timedelta(days=20), nights=60, total=3)
    return rt


@pytest.fixture
def guest():
    return UserFactory(first_name="Ana", last_name="Silva", email="ana@example.com")
