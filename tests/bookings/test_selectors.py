from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import psycopg
import pytest
from django.db import connection, transaction
from django.db.transaction import TransactionManagementError
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from bookings.models import Booking, BookingNight
from bookings.selectors import (
    booking_for_page,
    booking_for_update,
    booking_nights,
    bookings_for_guest,
    guest_bookings_page,
)
from tests.factories import BookingFactory, HotelFactory, RoomFactory, RoomTypeFactory

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


def _same_fields(read, stored) -> list[str]:
    """The concrete fields not read with the row, or whose value or type differ from the ORM's.

    A field left out of the statement would be deferred, and read quietly
    by the comparison itself.
    """
    return sorted(read.get_deferred_fields()) + [
        field.name
        for field in type(stored)._meta.concrete_fields
        if (getattr(read, field.attname), type(getattr(read, field.attname)))
        != (getattr(stored, field.attname), type(getattr(stored, field.attname)))
    ]


def test_a_booking_page_reads_the_booking_and_its_relations_as_the_orm_does(guest):
    room_type = RoomTypeFactory(hotel=HotelFactory(timezone="Asia/Tokyo"))
    booking = BookingFactory(
        room_type=room_type,
        guest=guest,
        room=RoomFactory(room_type=room_type),
        total_price=Decimal("123.45"),
        cancellation_fee=Decimal("20.00"),
        cancellation_policy={"free_until_hours": 48, "fee": "first_night"},
        confirmed_at=timezone.now(),
    )
    for offset, price in enumerate(("40.00", "41.50", "42.00")):
        BookingNight.objects.create(
            booking=booking, date=booking.check_in + timedelta(days=2 - offset), price=price
        )
    stored = Booking.objects.select_related("hotel", "room_type", "room", "guest").get(
        pk=booking.pk
    )

    with CaptureQueriesContext(connection) as queries:
        read = booking_for_page(reference=booking.reference)
        related = (read.hotel, read.room_type, read.room, read.guest, read.room_type.hotel)
        nights = [(night.date, night.price) for night in read.night_prices.all()]

    assert len(queries) == 2  # the booking with its relations, then its nights
    assert _same_fields(read, stored) == []
    orm_related = (stored.hotel, stored.room_type, stored.room, stored.guest)
    for mine, orm in zip(related[:4], orm_related, strict=True):
        assert _same_fields(mine, orm) == [], type(orm).__name__
        assert not mine._state.adding and mine._state.db == "default"
    assert related[4] is read.hotel
    assert nights == sorted(nights) and [price for _day, price in nights] == [
        Decimal("42.00"),
        Decimal("41.50"),
        Decimal("40.00"),
    ]


def test_a_booking_with_no_room_or_account_reads_them_as_none_without_a_query():
    booking = BookingFactory(guest=None, room=None)
    with CaptureQueriesContext(connection) as queries:
        read = booking_for_page(reference=booking.reference, with_nights=False)
        assert (read.room, read.guest) == (None, None)
        assert Booking.room.is_cached(read) and Booking.guest.is_cached(read)
    assert len(queries) == 1
    assert (read.pk, read.hotel, read.room_type) == (booking.pk, booking.hotel, booking.room_type)


def test_an_unknown_reference_is_no_booking():
    with pytest.raises(Booking.DoesNotExist):
        booking_for_page(reference="NO-SUCH-REF")


@pytest.mark.django_db(transaction=True)
def test_a_booking_is_locked_only_inside_a_transaction():
    booking = BookingFactory()
    with pytest.raises(TransactionManagementError):
        booking_for_update(pk=booking.pk)
    with transaction.atomic(), pytest.raises(Booking.DoesNotExist):
        booking_for_update(pk=booking.pk + 1000)


@pytest.mark.django_db(transaction=True)
def test_locking_a_booking_locks_its_row_and_not_its_hotels():
    booking = BookingFactory()
    other = BookingFactory(room_type=booking.room_type)
    dsn = connection.get_connection_params()
    with transaction.atomic():
        locked = booking_for_update(pk=booking.pk, related=("hotel", "room_type"))
        assert (locked.hotel, locked.room_type) == (booking.hotel, booking.room_type)
        assert locked.room_type.hotel is locked.hotel
        with psycopg.connect(
            **{key: dsn[key] for key in ("dbname", "user", "host", "port")}, autocommit=True
        ) as elsewhere:
            for table, pk, free in (
                ("bookings_booking", booking.pk, False),
                ("bookings_booking", other.pk, True),
                ("hotel_hotel", booking.hotel_id, True),
                ("hotel_roomtype", booking.room_type_id, True),
            ):
                row = elsewhere.execute(
                    f"SELECT id FROM {table} WHERE id = %s FOR UPDATE SKIP LOCKED",  # noqa: S608
                    [pk],
                ).fetchone()
                assert (row is not None) == free, (table, pk)


def test_a_bookings_nights_are_read_in_date_order_as_the_orm_reads_them(
    django_assert_num_queries,
):
    booking, other = BookingFactory(), BookingFactory()
    for offset, price in enumerate(("40.00", "41.50", "42.00")):
        BookingNight.objects.create(
            booking=booking, date=booking.check_in + timedelta(days=2 - offset), price=price
        )
    BookingNight.objects.create(booking=other, date=booking.check_in, price="99.00")

    with django_assert_num_queries(1):
        nights = booking_nights(booking=booking)

    stored = list(BookingNight.objects.filter(booking=booking).order_by("date"))
    assert [night.pk for night in nights] == [night.pk for night in stored]
    for mine, orm in zip(nights, stored, strict=True):
        assert _same_fields(mine, orm) == []
    assert [night.price for night in nights] == [
        Decimal("42.00"),
        Decimal("41.50"),
        Decimal("40.00"),
    ]
    assert booking_nights(booking=BookingFactory()) == []
