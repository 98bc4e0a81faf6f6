"""Writes in plain SQL (hotel.rows.insert and update) store what the ORM stores."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from bookings.models import Booking, BookingEvent, BookingNight
from hotel import rows
from tests.factories import BookingFactory, RoomFactory, RoomTypeFactory, UserFactory

pytestmark = pytest.mark.django_db

STAMPS = {"id", "reference", "created_at", "updated_at"}
HOLD_EXPIRES_AT = timezone.now() + timedelta(minutes=10)


def _booking(room_type, guest, **extra) -> Booking:
    return BookingFactory.build(
        room_type=room_type,
        hotel=room_type.hotel,
        guest=guest,
        status=Booking.Status.HOLD,
        total_price=Decimal("123.45"),
        cancellation_policy={"free_until": "2026-12-01", "fee": "first_night"},
        idempotency_key=None,
        hold_expires_at=HOLD_EXPIRES_AT,
        **extra,
    )


def _stored(booking: Booking) -> dict:
    stored = Booking.objects.get(pk=booking.pk)
    return {
        field.attname: getattr(stored, field.attname)
        for field in Booking._meta.concrete_fields
        if field.attname not in STAMPS
    }


def test_an_inserted_booking_reads_back_as_one_the_orm_saved():
    room_type, guest = RoomTypeFactory(), UserFactory()
    by_orm = _booking(room_type, guest)
    by_orm.save()
    by_sql = _booking(room_type, guest)

    with CaptureQueriesContext(connection) as ctx:
        rows.insert(connection, [by_sql])

    assert len(ctx.captured_queries) == 1
    assert by_sql.pk is not None and by_sql.pk != by_orm.pk
    assert not by_sql._state.adding and by_sql._state.db == "default"
    assert _stored(by_sql) == _stored(by_orm)
    stored = Booking.objects.get(pk=by_sql.pk)
    assert stored.reference == by_sql.reference
    # auto_now_add and auto_now stamped on the object and stored as stamped
    assert stored.created_at == by_sql.created_at and stored.updated_at == by_sql.updated_at
    assert timezone.now() - stored.created_at < timedelta(minutes=1)
    assert isinstance(stored.total_price, Decimal) and stored.cancellation_policy["fee"] == (
        "first_night"
    )


def test_many_rows_go_in_one_statement_each_given_its_own_id_in_order():
    booking = BookingFactory()
    nights = [
        BookingNight(booking=booking, date=booking.check_in + timedelta(days=i), price=price)
        for i, price in enumerate([Decimal("90.00"), Decimal("95.50"), Decimal("101.25")])
    ]

    with CaptureQueriesContext(connection) as ctx:
        rows.insert(connection, nights)

    assert len(ctx.captured_queries) == 1
    stored = {n.pk: (n.date, n.price) for n in BookingNight.objects.filter(booking=booking)}
    assert stored == {n.pk: (n.date, n.price) for n in nights}
    assert len(stored) == 3


def test_a_related_object_never_saved_is_refused_and_nothing_is_written():
    room_type = RoomTypeFactory()
    unsaved_guest = UserFactory.build()
    booking = _booking(room_type, unsaved_guest)

    with pytest.raises(ValueError, match="unsaved related object 'guest'"):
        rows.insert(connection, [booking])

    assert not Booking.objects.exists()


def test_a_related_object_saved_after_it_was_assigned_gives_its_id():
    booking = BookingFactory()
    event = BookingEvent(booking=booking, by=UserFactory.build(), to_status="hold")
    event.by.save()

    rows.insert(connection, [event])

    assert BookingEvent.objects.get(pk=event.pk).by_id == event.by.pk


def test_without_returning_rows_each_is_saved_by_the_orm_and_still_given_its_id(monkeypatch):
    booking = BookingFactory()
    monkeypatch.setattr(connection.features, "can_return_rows_from_bulk_insert", False)
    events = [BookingEvent(booking=booking, to_status=s) for s in ("hold", "confirmed")]

    rows.insert(connection, events)

    assert [e.to_status for e in BookingEvent.objects.filter(pk__in=[e.pk for e in events])] == [
        "hold",
        "confirmed",
    ]


def test_an_update_writes_the_named_fields_alone_and_stamps_auto_now():
    booking = BookingFactory(guest_name="Ana Guest", guest_phone="")
    before = booking.updated_at
    # changed in memory, not named: must stay as stored
    booking.total_price = Decimal("1.00")
    booking.guest_name = "Ana Maria"
    booking.guest_phone = "+351 21 000 0000"

    with CaptureQueriesContext(connection) as ctx:
        rows.update(connection, booking, ["guest_name", "guest_phone", "updated_at"])

    assert len(ctx.captured_queries) == 1
    stored = Booking.objects.get(pk=booking.pk)
    assert (stored.guest_name, stored.guest_phone) == ("Ana Maria", "+351 21 000 0000")
    assert stored.total_price == Decimal("300.00")
    assert stored.updated_at == booking.updated_at > before


def test_an_update_of_a_row_that_is_gone_raises_as_save_does():
    booking = BookingFactory()
    Booking.objects.filter(pk=booking.pk).delete()
    booking.check_out = date(2030, 1, 2)

    with pytest.raises(DatabaseError, match="no row has its id"):
        rows.update(connection, booking, ["check_out"])


@pytest.mark.parametrize("name", ["id", "night_prices"])
def test_an_update_refuses_what_is_not_one_of_the_models_own_columns(name):
    booking = BookingFactory()

    with pytest.raises(TypeError, match="own columns once"):
        rows.update(connection, booking, [name])


def test_several_rows_go_in_as_one_statement_whatever_their_number_as_bulk_create_sends_them():
    booking = BookingFactory()

    first = date(2031, 1, 1)

    def sql_for(nights: int) -> str:
        nonlocal first
        rows_ = [
            BookingNight(booking=booking, date=first + timedelta(days=i), price=1)
            for i in range(nights)
        ]
        first += timedelta(days=nights)
        sent = []

        def note(execute, sql, params, many, context):
            sent.append(sql)
            return execute(sql, params, many, context)

        with connection.execute_wrapper(note):
            rows.insert(connection, rows_)
        (sql,) = sent
        return sql

    # one statement text, prepared once on each connection, for any stay length
    assert sql_for(2) == sql_for(5) == sql_for(3)
    assert "UNNEST" in sql_for(2) and sql_for(1) != sql_for(2)
    assert BookingNight.objects.filter(booking=booking).count() == 2 + 5 + 3 + 2 + 2 + 1


def test_a_refused_insert_inside_a_transaction_leaves_it_to_roll_back_as_save_does():
    first = BookingFactory()
    twin = _booking(first.room_type, first.guest, reference=first.reference)

    with transaction.atomic():
        with pytest.raises(IntegrityError):
            rows.insert(connection, [twin])
        # caught, yet the block rolls back instead of committing
        assert connection.needs_rollback

    assert Booking.objects.filter(reference=first.reference).count() == 1


def test_only_new_objects_of_one_model_are_inserted():
    saved = BookingFactory()
    with pytest.raises(ValueError, match="is not new"):
        rows.insert(connection, [saved])
    # an id the database gives, set by hand, would be overwritten by the one it returns
    with pytest.raises(ValueError, match="is not new"):
        rows.insert(connection, [BookingEvent(pk=10**9, booking=saved, to_status="hold")])
    with pytest.raises(TypeError, match="One model a statement"):
        rows.insert(
            connection,
            [BookingEvent(booking=saved, to_status="hold"), BookingNight(booking=saved)],
        )


def test_an_update_writes_a_related_objects_id():
    booking = BookingFactory(room=None)
    room = RoomFactory(room_type=booking.room_type)
    booking.room = room

    rows.update(connection, booking, ["room", "updated_at"])

    assert Booking.objects.get(pk=booking.pk).room_id == room.pk


def test_an_update_needs_a_saved_object_and_each_column_once():
    with pytest.raises(ValueError, match="never saved"):
        rows.update(connection, BookingFactory.build(), ["status"])
    with pytest.raises(TypeError, match="once"):
        rows.update(connection, BookingFactory(), ["status", "status"])
