from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from bookings.selectors import bookings_for_guest, guest_bookings_page
from tests.factories import BookingFactory, HotelFactory, RoomTypeFactory

pytestmark = pytest.mark.django_db

NOW = datetime(2030, 12, 1, 16, 0, tzinfo=UTC)  # 2 Dec 01:00 in Tokyo, 1 Dec in New York


@pytest.fixture
def mixed_bookings(guest, monkeypatch):
    """A guest's bookings in every status, around the hotels' own today, and another guest's."""
    monkeypatch.setattr(timezone, "now", lambda: NOW)
    tokyo = RoomTypeFactory(hotel=HotelFactory(timezone="Asia/Tokyo"))
    new_york = RoomTypeFactory(hotel=HotelFactory(timezone="America/New_York"))
    for room_type in (tokyo, new_york):
        for status in ("hold", "confirmed", "checked_in", "checked_out", "cancelled", "no_show"):
            for check_out in (date(2030, 11, 30), date(2030, 12, 1), date(2030, 12, 2)):
                BookingFactory(
                    room_type=room_type,
                    guest=guest,
                    status=status,
                    check_in=check_out - timedelta(days=2),
                    check_out=check_out,
                    total_price=Decimal("123.45"),
                )
        BookingFactory(room_type=room_type, guest=guest, status="expired")
        BookingFactory(  # a hold that lapsed and was not expired yet
            room_type=room_type,
            guest=guest,
            status="hold",
            check_in=date(2030, 12, 20),
            hold_expires_at=NOW - timedelta(seconds=1),
        )
        BookingFactory(room_type=room_type, status="confirmed", check_in=date(2030, 12, 20))


@pytest.mark.parametrize("past", [False, True])
def test_my_bookings_page_lists_exactly_the_orm_definitions_rows_in_its_order(
    mixed_bookings, guest, past
):
    expected = list(bookings_for_guest(guest=guest, past=past).select_related("hotel", "room_type"))
    assert len(expected) > 8  # several pages of 4

    first = guest_bookings_page(guest=guest, past=past, number=1, per_page=4)
    assert first.paginator.count == len(expected)
    rows = [*first.object_list]
    for number in first.paginator.page_range[1:]:
        rows += guest_bookings_page(guest=guest, past=past, number=number, per_page=4).object_list

    assert [row.reference for row in rows] == [booking.reference for booking in expected]
    for row, booking in zip(rows, expected, strict=True):
        assert (row.status, row.check_in, row.check_out, row.currency, row.total_price) == (
            booking.status,
            booking.check_in,
            booking.check_out,
            booking.currency,
            booking.total_price,
        )
        assert (row.hotel_name, row.hotel_city, row.room_type_name) == (
            booking.hotel.name,
            booking.hotel.city,
            booking.room_type.name,
        )
        assert row.get_absolute_url() == booking.get_absolute_url()
        assert row.get_status_display() == booking.get_status_display()
    assert all(type(row.total_price) is Decimal for row in rows)
