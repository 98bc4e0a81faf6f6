from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.utils import timezone

from bookings.exceptions import (
    BookingError,
    HoldExpired,
    IllegalTransition,
    RoomUnavailable,
    StayNotAvailable,
)
from bookings.models import Booking
from bookings.services import (
    booking_assign_room,
    booking_cancel,
    booking_check_in,
    booking_check_out,
    booking_confirm,
    booking_expire_holds,
    booking_hold,
    booking_mark_no_show,
    booking_update_details,
)
from inventory.models import RoomInventory
from tests.factories import BookingFactory, RoomFactory, StaffFactory

from .conftest import sold

pytestmark = pytest.mark.django_db


def hold(room_type, arrival, nights=3, **kwargs):
    kwargs.setdefault("adults", 2)
    return booking_hold(
        room_type=room_type, check_in=arrival, check_out=arrival + timedelta(days=nights), **kwargs
    )


def confirmed(room_type, arrival, nights=3, **kwargs):
    booking = hold(room_type, arrival, nights, guest_name="Ana", guest_email="a@x.pt", **kwargs)
    return booking_confirm(booking=booking, policy_accepted=True)


def test_hold_takes_one_room_each_night_and_snapshots_prices(room_type, arrival, guest):
    RoomInventory.objects.filter(room_type=room_type, date=arrival).update(price=Decimal("150.00"))

    booking = hold(room_type, arrival, guest=guest)

    assert booking.status == Booking.Status.HOLD
    assert sold(room_type, arrival, 3) == [1, 1, 1]
    assert sold(room_type, arrival + timedelta(days=3), 1) == [0]
    assert [n.price for n in booking.night_prices.all()] == [
        Decimal("150.00"),
        Decimal("100.00"),
        Decimal("100.00"),
    ]
    assert booking.total_price == Decimal("350.00")
    assert booking.currency == "EUR"
    assert booking.guest_name == "Ana Silva" and booking.guest_email == "ana@example.com"
    assert booking.hold_expires_at > timezone.now()
    assert booking.cancellation_policy["fee"] == "first_night"
    assert len(booking.reference) >= 8
    event = booking.events.get()
    assert (event.from_status, event.to_status, event.by) == ("", "hold", guest)


def test_price_snapshot_is_not_recomputed_when_inventory_price_changes(room_type, arrival):
    booking = hold(room_type, arrival)
    RoomInventory.objects.filter(room_type=room_type).update(price=Decimal("999.00"))

    booking.refresh_from_db()

    assert booking.total_price == Decimal("300.00")


def test_hold_on_a_sold_out_night_names_it_and_takes_nothing(room_type, arrival):
    RoomInventory.objects.filter(room_type=room_type, date=arrival + timedelta(days=1)).update(
        sold=3
    )

    with pytest.raises(StayNotAvailable) as exc:
        hold(room_type, arrival)

    assert exc.value.nights == [arrival + timedelta(days=1)]
    assert sold(room_type, arrival, 3) == [0, 3, 0]
    assert not Booking.objects.exists()


def test_hold_refuses_stop_sold_and_missing_nights(room_type, arrival):
    RoomInventory.objects.filter(room_type=room_type, date=arrival).update(stop_sell=True)
    with pytest.raises(StayNotAvailable):
        hold(room_type, arrival)
    far = arrival + timedelta(days=39)
    with pytest.raises(StayNotAvailable) as exc:
        hold(room_type, far, nights=2)
    assert exc.value.nights == [far + timedelta(days=1)]


@pytest.mark.parametrize(
    ("nights", "adults", "children", "message"),
    [
        (0, 2, 0, "Check-out must be after check-in"),
        (31, 2, 0, "at most 30 nights"),
        (2, 3, 0, "sleeps at most"),
        (2, 2, 2, "sleeps at most"),
    ],
)
def test_hold_refuses_impossible_stays(room_type, arrival, nights, adults, children, message):
    with pytest.raises(BookingError, match=message):
        hold(room_type, arrival, nights=nights, adults=adults, children=children)
    assert not Booking.objects.exists()


def test_hold_refuses_a_past_check_in(room_type):
    with pytest.raises(BookingError, match="past"):
        hold(room_type, timezone.localdate() - timedelta(days=3))


def test_same_idempotency_key_returns_the_first_booking(room_type, arrival):
    first = hold(room_type, arrival, idempotency_key="k-1")
    second = hold(room_type, arrival, idempotency_key="k-1")

    assert second.pk == first.pk
    assert sold(room_type, arrival, 3) == [1, 1, 1]


def test_hold_releases_lapsed_holds_on_its_nights_first(room_type, arrival):
    # given: every room held, and the holds lapsed
    old = [hold(room_type, arrival) for _ in range(3)]
    Booking.objects.filter(pk__in=[b.pk for b in old]).update(
        hold_expires_at=timezone.now() - timedelta(seconds=1)
    )

    # when
    booking = hold(room_type, arrival + timedelta(days=1), nights=1)

    # then
    assert booking.status == Booking.Status.HOLD
    assert set(
        Booking.objects.filter(pk__in=[b.pk for b in old]).values_list("status", flat=True)
    ) == {"expired"}
    assert sold(room_type, arrival, 3) == [0, 1, 0]


def test_confirm_needs_details_and_policy(room_type, arrival):
    booking = hold(room_type, arrival)
    with pytest.raises(BookingError, match="name and email"):
        booking_confirm(booking=booking, policy_accepted=True)
    booking = booking_update_details(booking=booking, guest_name="Ana", guest_email="a@x.pt")
    with pytest.raises(BookingError, match="policy"):
        booking_confirm(booking=booking, policy_accepted=False)

    booking = booking_confirm(booking=booking, policy_accepted=True)

    booking.refresh_from_db()
    assert booking.status == "confirmed"
    assert booking.confirmed_at and booking.policy_accepted_at
    assert booking.hold_expires_at is None
    assert list(booking.events.values_list("to_status", flat=True)) == ["hold", "confirmed"]


def test_confirm_of_a_lapsed_hold_raises_and_books_nothing(room_type, arrival):
    booking = hold(room_type, arrival, guest_name="Ana", guest_email="a@x.pt")
    Booking.objects.filter(pk=booking.pk).update(hold_expires_at=timezone.now())

    with pytest.raises(HoldExpired):
        booking_confirm(booking=booking, policy_accepted=True)

    booking.refresh_from_db()
    assert booking.status == "hold"
    assert booking_expire_holds() == 1
    booking.refresh_from_db()
    assert booking.status == "expired"
    assert sold(room_type, arrival, 3) == [0, 0, 0]


def test_confirm_twice_is_an_illegal_transition(room_type, arrival):
    booking = confirmed(room_type, arrival)
    with pytest.raises(IllegalTransition, match="confirmed"):
        booking_confirm(booking=booking, policy_accepted=True)


def test_cancel_within_free_period_costs_nothing_and_gives_nights_back(room_type, arrival, guest):
    booking = confirmed(room_type, arrival)

    booking = booking_cancel(booking=booking, by=guest, reason="Plans changed")

    assert booking.status == "cancelled"
    assert booking.cancellation_fee == Decimal("0.00")
    assert sold(room_type, arrival, 3) == [0, 0, 0]
    event = booking.events.last()
    assert (event.from_status, event.to_status, event.by) == ("confirmed", "cancelled", guest)
    assert "Plans changed" in event.reason


def test_cancel_after_deadline_charges_the_first_night(room_type, arrival):
    booking = confirmed(room_type, arrival)
    RoomInventory.objects.update(price=Decimal("1.00"))
    Booking.objects.filter(pk=booking.pk).update(
        cancellation_policy={
            **booking.cancellation_policy,
            "free_until": (timezone.now() - timedelta(hours=1)).isoformat(),
        }
    )

    booking = booking_cancel(booking=booking)

    assert booking.cancellation_fee == Decimal("100.00")


def test_percent_policy_snapshot_is_applied(room_type, arrival, hotel):
    hotel.cancellation_fee = "percent"
    hotel.cancellation_fee_percent = Decimal("33.33")
    hotel.free_cancellation_days = 30
    hotel.save()
    booking = confirmed(room_type, arrival)
    hotel.cancellation_fee = "none"
    hotel.save()

    booking = booking_cancel(booking=booking)

    assert booking.cancellation_fee == Decimal("99.99")


def test_only_staff_may_waive_the_fee(room_type, arrival, guest):
    booking = confirmed(room_type, arrival)
    with pytest.raises(BookingError, match="Only staff"):
        booking_cancel(booking=booking, by=guest, waive_fee=True)
    booking = booking_cancel(booking=booking, by=StaffFactory(), waive_fee=True)
    assert booking.cancellation_fee == Decimal("0.00")


def test_cannot_cancel_after_check_in(room_type):
    today = timezone.localdate()
    booking = confirmed(room_type, today, nights=2)
    booking = booking_check_in(booking=booking)

    with pytest.raises(IllegalTransition, match="checked in, so it cannot be cancelled"):
        booking_cancel(booking=booking)
    assert sold(room_type, today, 2) == [1, 1]


def test_cannot_check_in_a_cancelled_booking(room_type):
    booking = confirmed(room_type, timezone.localdate())
    booking_cancel(booking=booking)
    with pytest.raises(IllegalTransition, match="cancelled, so it cannot be checked in"):
        booking_check_in(booking=booking)


def test_cannot_check_in_before_arrival_day(room_type, arrival):
    booking = confirmed(room_type, arrival)
    with pytest.raises(BookingError, match="cannot be checked in before"):
        booking_check_in(booking=booking)


def test_check_in_then_out_keeps_the_nights_sold(room_type, monkeypatch):
    today = timezone.localdate()
    booking = booking_check_in(booking=confirmed(room_type, today, nights=2))
    departure = timezone.now() + timedelta(days=2)
    monkeypatch.setattr(timezone, "now", lambda: departure)
    booking = booking_check_out(booking=booking)
    assert booking.status == "checked_out"
    assert sold(room_type, today, 2) == [1, 1]
    assert list(booking.events.values_list("to_status", flat=True)) == [
        "hold",
        "confirmed",
        "checked_in",
        "checked_out",
    ]


def test_early_check_out_gives_the_remaining_nights_back(room_type, monkeypatch):
    today = timezone.localdate()
    RoomInventory.objects.filter(room_type=room_type, date=today + timedelta(days=3)).update(
        price=Decimal("140.00")
    )
    room = RoomFactory(room_type=room_type, hotel=room_type.hotel)
    booking = confirmed(room_type, today, nights=4)
    booking = booking_assign_room(booking=booking, room=room)
    booking = booking_check_in(booking=booking)
    assert booking.total_price == Decimal("440.00")

    # two nights later the guest leaves, two nights early
    later = timezone.now() + timedelta(days=2)
    monkeypatch.setattr(timezone, "now", lambda: later)
    booking = booking_check_out(booking=booking)

    assert booking.status == "checked_out"
    assert booking.check_out == today + timedelta(days=2)
    assert booking.total_price == Decimal("200.00")
    assert list(booking.night_prices.order_by("date").values_list("date", flat=True)) == [
        today,
        today + timedelta(days=1),
    ]
    assert sold(room_type, today, 4) == [1, 1, 0, 0]
    assert booking.events.last().reason == (
        f"Checked out early on {today + timedelta(days=2):%d %b %Y}, "
        f"booked until {today + timedelta(days=4):%d %b %Y}; "
        "2 night(s) given back (240.00 EUR)."
    )
    # the room is free again for the nights given back
    next_guest = confirmed(room_type, today + timedelta(days=2), nights=2)
    assert booking_assign_room(booking=next_guest, room=room).room == room


def test_leaving_on_the_arrival_day_keeps_the_first_night(room_type):
    today = timezone.localdate()
    booking = booking_check_in(booking=confirmed(room_type, today, nights=3))

    booking = booking_check_out(booking=booking)

    assert booking.check_out == today + timedelta(days=1)
    assert booking.total_price == Decimal("100.00")
    assert sold(room_type, today, 3) == [1, 0, 0]


def test_checking_out_after_the_booked_day_changes_no_nights(room_type, monkeypatch):
    today = timezone.localdate()
    booking = booking_check_in(booking=confirmed(room_type, today, nights=2))
    later = timezone.now() + timedelta(days=3)
    monkeypatch.setattr(timezone, "now", lambda: later)

    booking = booking_check_out(booking=booking)

    assert booking.check_out == today + timedelta(days=2)
    assert booking.total_price == Decimal("200.00")
    assert sold(room_type, today, 2) == [1, 1]
    assert booking.events.last().reason == "Checked out."


def test_no_show_releases_nights_and_records_the_late_fee(room_type):
    today = timezone.localdate()
    booking = confirmed(room_type, today, nights=2)
    booking = booking_mark_no_show(booking=booking)
    assert booking.status == "no_show"
    assert booking.cancellation_fee == Decimal("100.00")
    assert sold(room_type, today, 2) == [0, 0]


def test_expire_holds_commits_each_hold_on_its_own(room_type, arrival, monkeypatch):
    # given two lapsed holds, and a release that fails for the second
    from bookings import services

    first, second = hold(room_type, arrival), hold(room_type, arrival)
    Booking.objects.filter(pk__in=[first.pk, second.pk]).update(hold_expires_at=timezone.now())
    real_release, calls = services._release, []

    def release(booking):
        calls.append(booking.pk)
        if len(calls) == 2:
            raise RuntimeError("database went away")
        real_release(booking)

    monkeypatch.setattr(services, "_release", release)

    with pytest.raises(RuntimeError):
        booking_expire_holds()

    # then the first hold's expiry stands (its nights were locked for it alone),
    # and the second is untouched
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.status, second.status) == ("expired", "hold")
    assert sold(room_type, arrival, 2) == [1, 1]


def test_expire_holds_leaves_live_holds_alone(room_type, arrival):
    live = hold(room_type, arrival)
    lapsed = hold(room_type, arrival)
    Booking.objects.filter(pk=lapsed.pk).update(hold_expires_at=timezone.now())

    assert booking_expire_holds() == 1
    assert booking_expire_holds() == 0

    live.refresh_from_db()
    lapsed.refresh_from_db()
    assert (live.status, lapsed.status) == ("hold", "expired")
    assert sold(room_type, arrival, 3) == [1, 1, 1]
    assert lapsed.events.last().reason.startswith("Hold lapsed")


def test_assign_room_picks_a_free_room_and_refuses_overlaps(room_type, arrival):
    r1 = RoomFactory(room_type=room_type, number="101")
    r2 = RoomFactory(room_type=room_type, number="102")
    a = confirmed(room_type, arrival)
    b = confirmed(room_type, arrival + timedelta(days=1))

    a = booking_assign_room(booking=a)
    b = booking_assign_room(booking=b)

    assert (a.room, b.room) == (r1, r2)
    with pytest.raises(RoomUnavailable, match=f"already given to booking {a.reference}"):
        booking_assign_room(booking=b, room=r1)
    assert a.events.last().reason == "Room 101 assigned."


def test_assign_room_after_departure_day_is_free_again(room_type, arrival):
    r1 = RoomFactory(room_type=room_type, number="101")
    a = confirmed(room_type, arrival, nights=2)
    b = confirmed(room_type, arrival + timedelta(days=2), nights=2)
    booking_assign_room(booking=a, room=r1)
    assert booking_assign_room(booking=b, room=r1).room == r1


def test_assign_room_refuses_other_type_and_holds(room_type, arrival):
    other = RoomFactory()
    with pytest.raises(RoomUnavailable, match="is not a"):
        booking_assign_room(booking=confirmed(room_type, arrival), room=other)
    with pytest.raises(IllegalTransition):
        booking_assign_room(booking=hold(room_type, arrival))


def test_cancelled_booking_frees_its_room(room_type, arrival):
    r1 = RoomFactory(room_type=room_type, number="101")
    a = booking_assign_room(booking=confirmed(room_type, arrival))
    booking_cancel(booking=a)
    b = confirmed(room_type, arrival)
    assert booking_assign_room(booking=b).room == r1


def test_database_refuses_overlapping_room_assignments(room_type, arrival):
    # The exclusion constraint holds even when the service is bypassed.
    from django.db import IntegrityError, transaction

    r1 = RoomFactory(room_type=room_type, number="101")
    a = booking_assign_room(booking=confirmed(room_type, arrival), room=r1)
    b = confirmed(room_type, arrival + timedelta(days=2))
    with pytest.raises(IntegrityError), transaction.atomic():
        Booking.objects.filter(pk=b.pk).update(room=r1)
    assert a.room == r1
    assert connection.vendor == "postgresql"


def test_hold_plus_confirm_costs_the_same_queries_for_any_stay_length(room_type, arrival):
    from django.test.utils import CaptureQueriesContext

    room_type = type(room_type).objects.select_related("hotel").get(pk=room_type.pk)

    def hold_and_confirm(start, nights):
        with CaptureQueriesContext(connection) as ctx:
            booking = hold(room_type, start, nights=nights, guest_name="A", guest_email="a@x.pt")
            booking_confirm(booking=booking, policy_accepted=True)
        return len(ctx.captured_queries)

    one_night = hold_and_confirm(arrival, 1)
    week = hold_and_confirm(arrival + timedelta(days=2), 7)

    assert one_night == week
    # Savepoints, the lock and update of the nights, three inserts, the
    # confirm's lock, update and event, plus the notification outbox rows.
    assert week <= 20


@pytest.mark.django_db(transaction=True)
def test_a_hold_locks_its_nights_last_for_one_statement_before_the_commit(room_type, arrival):
    from django.test.utils import CaptureQueriesContext

    room_type = type(room_type).objects.select_related("hotel").get(pk=room_type.pk)
    with CaptureQueriesContext(connection) as ctx:
        hold(room_type, arrival, nights=3)
    sql = [q["sql"] for q in ctx.captured_queries]

    # begin, read the nights, write booking, nights and audit row, take, commit
    assert len(sql) == 7, sql
    assert sql[0] == "BEGIN" and sql[-1] == "COMMIT"
    locking = [i for i, statement in enumerate(sql) if "FOR UPDATE" in statement]
    assert locking == [len(sql) - 2]
    assert "UPDATE" in sql[-2] and "inventory_roominventory" in sql[-2]


@pytest.mark.django_db(transaction=True)
def test_a_cancel_gives_the_nights_back_in_its_last_statement(room_type, arrival):
    from django.test.utils import CaptureQueriesContext

    booking = confirmed(room_type, arrival)
    with CaptureQueriesContext(connection) as ctx:
        booking_cancel(booking=booking)
    # (after the commit, the eager test worker sends the cancellation email)
    sql = [q["sql"] for q in ctx.captured_queries]
    sql = sql[: sql.index("COMMIT")]

    assert sql[-1].startswith('UPDATE "inventory_roominventory"')
    assert not any("inventory_roominventory" in statement for statement in sql[:-1])
    assert sold(room_type, arrival, 3) == [0, 0, 0]


def test_a_night_taken_between_the_read_and_the_lock_refuses_the_hold_and_writes_nothing(
    room_type, arrival, monkeypatch
):
    # given: the nights look free when read, but the last room of the middle
    # night goes to another guest before this hold takes its lock
    from bookings import services
    from inventory.services import inventory_check

    def read_then_lose_the_race(**stay):
        rows = inventory_check(**stay)
        RoomInventory.objects.filter(room_type=room_type, date=arrival + timedelta(days=1)).update(
            sold=3
        )
        return rows

    monkeypatch.setattr(services, "inventory_check", read_then_lose_the_race)
    bookings_before = Booking.objects.count()

    # when / then
    with pytest.raises(StayNotAvailable) as refused:
        hold(room_type, arrival, nights=3)
    assert refused.value.nights == [arrival + timedelta(days=1)]
    assert Booking.objects.count() == bookings_before


def test_a_stay_that_has_ended_cannot_be_cancelled(room_type):
    booking = BookingFactory(
        room_type=room_type,
        check_in=timezone.localdate() - timedelta(days=3),
        check_out=timezone.localdate(),
    )
    with pytest.raises(IllegalTransition, match="mark it as a no-show"):
        booking_cancel(booking=booking)


def test_arrival_day_is_the_hotels_not_the_servers(monkeypatch):
    # Noon UTC on 1 Jan is already 2 Jan on Kiritimati (UTC+14).
    from datetime import UTC, date, datetime

    from tests.factories import HotelFactory, RoomTypeFactory

    from .conftest import stock

    noon_utc = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
    monkeypatch.setattr(timezone, "now", lambda: noon_utc)
    rt = RoomTypeFactory(hotel=HotelFactory(timezone="Pacific/Kiritimati"))
    stock(rt, start=date(2030, 1, 1), nights=5)

    with pytest.raises(BookingError, match="past"):
        hold(rt, date(2030, 1, 1), nights=2)
    booking = confirmed(rt, date(2030, 1, 2), nights=2)
    assert booking_check_in(booking=booking).status == "checked_in"


def test_percent_fee_is_rounded_half_up_to_the_currencys_minor_unit(room_type, arrival, hotel):
    # given a yen hotel (no minor unit) whose late fee is half of a 3,001 yen stay
    hotel.currency = "JPY"
    hotel.cancellation_fee = "percent"
    hotel.cancellation_fee_percent = Decimal("50")
    hotel.free_cancellation_days = 30
    hotel.save()
    RoomInventory.objects.filter(room_type=room_type).update(price=Decimal("3001"))
    booking = confirmed(room_type, arrival, nights=1)

    # when the guest cancels after the free period
    booking = booking_cancel(booking=booking)

    # then 1,500.5 yen is charged as 1,501 yen, an amount that can be paid
    assert booking.cancellation_fee == Decimal("1501")
