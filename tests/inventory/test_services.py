import threading
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.db import IntegrityError, connection, transaction

from caching.api import namespace_version
from inventory.exceptions import InventoryError, SoldOut
from inventory.models import Adjustment, RoomInventory
from inventory.services import (
    FEW_ROOMS_LEFT,
    availability_namespaces,
    hotel_availability_namespaces,
    inventory_generate,
    inventory_keep_window,
    inventory_reprice,
    inventory_set,
    inventory_take,
    shown_free,
)
from tests.factories import (
    HotelFactory,
    RoomFactory,
    RoomInventoryFactory,
    RoomTypeFactory,
    SeasonFactory,
    WeekdayRuleFactory,
)

pytestmark = pytest.mark.django_db


def _row(room_type, night):
    return RoomInventory.objects.get(room_type=room_type, date=night)


def test_database_refuses_sold_above_total_even_with_raw_sql(future):
    row = RoomInventoryFactory(date=future, total=2, sold=2)

    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {RoomInventory._meta.db_table} SET sold = total + 1 WHERE id = %s",  # noqa: S608
            [row.pk],
        )


def test_database_refuses_a_negative_price_with_raw_sql(future):
    row = RoomInventoryFactory(date=future)

    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {RoomInventory._meta.db_table} SET price = -1 WHERE id = %s",  # noqa: S608
            [row.pk],
        )


def test_generate_creates_nights_from_active_rooms_and_rules(future):
    # given a room type with three rooms, one out of order, and a weekend uplift
    room_type = RoomTypeFactory(base_price=Decimal("100.00"))
    RoomFactory.create_batch(2, room_type=room_type)
    RoomFactory(room_type=room_type, is_active=False)
    WeekdayRuleFactory(hotel=room_type.hotel, adjustment=Adjustment.PERCENT, value=Decimal("25"))

    # when
    created = inventory_generate(
        hotel=room_type.hotel, start=future, end=future + timedelta(days=14)
    )

    # then
    assert created == 14
    rows = list(RoomInventory.objects.filter(room_type=room_type).order_by("date"))
    assert {row.total for row in rows} == {2}
    for row in rows:
        expected = Decimal("125.00") if row.date.weekday() in (4, 5) else Decimal("100.00")
        assert row.price == expected


def test_generate_is_idempotent_and_fills_only_gaps(future, django_assert_max_num_queries):
    room_type = RoomTypeFactory()
    RoomInventoryFactory(room_type=room_type, date=future + timedelta(days=3), total=9, sold=4)

    assert (
        inventory_generate(room_type=room_type, start=future, end=future + timedelta(days=7)) == 6
    )
    # The second run reads which nights exist and writes nothing.
    with django_assert_max_num_queries(3) as captured:
        assert (
            inventory_generate(room_type=room_type, start=future, end=future + timedelta(days=7))
            == 0
        )

    assert not any("INSERT" in q["sql"] for q in captured.captured_queries)
    kept = _row(room_type, future + timedelta(days=3))
    assert (kept.total, kept.sold) == (9, 4)


def test_generate_without_scope_covers_every_active_hotel(future):
    active = RoomTypeFactory()
    RoomTypeFactory(hotel=HotelFactory(is_active=False))
    RoomTypeFactory(hotel=active.hotel, is_active=False)

    assert inventory_keep_window(days=10, today=future) == 10
    assert RoomInventory.objects.filter(room_type=active).count() == 10


def test_generate_invalidates_the_hotel_availability_of_its_weeks_after_commit(
    future, django_capture_on_commit_callbacks
):
    room_type = RoomTypeFactory()
    monday = future + timedelta(days=7 - future.weekday())
    whole, week, next_week = hotel_availability_namespaces(
        hotel_id=room_type.hotel_id, first=monday, last=monday + timedelta(days=7)
    )
    before = {ns: namespace_version(ns) for ns in (week, next_week, whole)}

    with django_capture_on_commit_callbacks(execute=True):
        inventory_generate(room_type=room_type, start=monday, end=monday + timedelta(days=2))

    after = {ns: namespace_version(ns) for ns in (week, next_week, whole)}
    assert after == {**before, week: before[week] + 1}


def test_a_write_over_many_weeks_invalidates_the_whole_hotel_and_city():
    hotel = HotelFactory(city="Faro")
    start = date(2030, 1, 7)

    short = availability_namespaces(
        hotel=hotel, start=start, end=start + timedelta(days=8), room_type_ids=[7]
    )
    long = availability_namespaces(
        hotel=hotel, start=start, end=start + timedelta(days=70), room_type_ids=[7]
    )

    assert short == [
        f"availability:hotel-week:{hotel.pk}@2030-W02",
        f"availability:hotel-week:{hotel.pk}@2030-W03",
        f"availability:hotel-offers:{hotel.pk}@2030-W02",
        f"availability:hotel-offers:{hotel.pk}@2030-W03",
        "availability:city-offers:faro@2030-W02",
        "availability:city-offers:faro@2030-W03",
        "availability:room-type-offers:7@2030-W02",
        "availability:room-type-offers:7@2030-W03",
    ]
    assert long == [f"availability:hotel:{hotel.pk}", "availability:city:faro"]


def test_a_sale_that_changes_nothing_shown_leaves_the_offers_weeks_out():
    hotel = HotelFactory(city="Faro")
    start = date(2030, 1, 7)

    namespaces = availability_namespaces(
        hotel=hotel, start=start, end=start + timedelta(days=2), room_type_ids=[7], offers=False
    )

    assert namespaces == [f"availability:hotel-week:{hotel.pk}@2030-W02"]


@pytest.mark.parametrize(
    ("free", "shown"),
    [
        (-1, 0),
        (0, 0),
        (1, 1),
        (FEW_ROOMS_LEFT, FEW_ROOMS_LEFT),
        (FEW_ROOMS_LEFT + 1, FEW_ROOMS_LEFT + 1),
        (40, FEW_ROOMS_LEFT + 1),
    ],
)
def test_shown_free_tells_apart_sold_out_each_count_up_to_few_left_and_more(free, shown):
    assert shown_free(free) == shown


def test_nights_written_without_their_room_types_invalidate_the_whole_hotel_and_city():
    hotel = HotelFactory(city="Faro")
    start = date(2030, 1, 7)

    namespaces = availability_namespaces(hotel=hotel, start=start, end=start + timedelta(days=1))

    assert namespaces == [f"availability:hotel:{hotel.pk}", "availability:city:faro"]


def test_set_refuses_total_below_sold_naming_nights_and_writes_nothing(future):
    # given two room types, one night of one already sold three times
    hotel = HotelFactory()
    double = RoomTypeFactory(hotel=hotel, name="Double")
    single = RoomTypeFactory(hotel=hotel, name="Single")
    for room_type in (double, single):
        for i in range(3):
            RoomInventoryFactory(room_type=room_type, date=future + timedelta(days=i), total=5)
    RoomInventory.objects.filter(room_type=double, date=future + timedelta(days=1)).update(sold=3)

    # when staff cut both to two rooms and stop-sell
    with pytest.raises(InventoryError) as refused:
        inventory_set(
            room_types=[double, single],
            start=future,
            end=future + timedelta(days=3),
            total=2,
            stop_sell=True,
        )

    # then the message names the night and nothing changed anywhere
    night = future + timedelta(days=1)
    assert f"Double on {night:%a %d %b %Y}" in str(refused.value)
    assert "more rooms sold than 2" in str(refused.value)
    assert set(RoomInventory.objects.values_list("total", "stop_sell")) == {(5, False)}


def test_set_changes_only_the_chosen_weekdays(future):
    room_type = RoomTypeFactory()
    inventory_generate(room_type=room_type, start=future, end=future + timedelta(days=14))

    changed = inventory_set(
        room_type=room_type,
        start=future,
        end=future + timedelta(days=14),
        weekdays=[5],
        min_stay=2,
        closed_to_arrival=True,
    )

    assert changed == 2
    for row in RoomInventory.objects.filter(room_type=room_type):
        saturday = row.date.weekday() == 5
        assert row.min_stay == (2 if saturday else 1)
        assert row.closed_to_arrival is saturday


def test_set_generates_missing_nights_before_editing(future):
    room_type = RoomTypeFactory()

    changed = inventory_set(
        room_type=room_type, start=future, end=future + timedelta(days=3), stop_sell=True
    )

    assert changed == 3
    assert RoomInventory.objects.filter(room_type=room_type, stop_sell=True).count() == 3


def test_set_refuses_max_stay_below_min_stay(future):
    room_type = RoomTypeFactory()
    RoomInventoryFactory(room_type=room_type, date=future, min_stay=3)

    with pytest.raises(InventoryError, match="maximum stay would be below the minimum"):
        inventory_set(room_type=room_type, start=future, end=future + timedelta(days=1), max_stay=2)

    assert _row(room_type, future).max_stay is None


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"total": -1}, "cannot be negative"),
        ({"price": Decimal("-5")}, "cannot be negative"),
        ({"min_stay": 0}, "at least one night"),
        ({"weekdays": []}, "at least one weekday"),
        ({}, "at least one thing"),
        ({"price": Decimal("5"), "price_from_rules": True}, "not both"),
    ],
)
def test_set_refuses_bad_input_with_a_message(future, kwargs, message):
    room_type = RoomTypeFactory()
    RoomInventoryFactory(room_type=room_type, date=future)

    with pytest.raises(InventoryError, match=message):
        inventory_set(room_type=room_type, start=future, end=future + timedelta(days=1), **kwargs)


def test_set_refuses_an_empty_range(future):
    with pytest.raises(InventoryError, match="after the start"):
        inventory_set(room_type=RoomTypeFactory(), start=future, end=future, stop_sell=True)


def test_hand_set_price_survives_rule_changes_until_reset(future):
    room_type = RoomTypeFactory(base_price=Decimal("100.00"))
    inventory_generate(room_type=room_type, start=future, end=future + timedelta(days=2))
    inventory_set(
        room_type=room_type, start=future, end=future + timedelta(days=1), price=Decimal("77")
    )

    SeasonFactory(
        hotel=room_type.hotel,
        start_date=future,
        end_date=future + timedelta(days=5),
        adjustment=Adjustment.SET,
        value=Decimal("200"),
    )
    assert (
        inventory_reprice(hotel=room_type.hotel, start=future, end=future + timedelta(days=2)) == 1
    )
    assert _row(room_type, future).price == Decimal("77.00")
    assert _row(room_type, future + timedelta(days=1)).price == Decimal("200.00")

    inventory_set(
        room_type=room_type, start=future, end=future + timedelta(days=1), price_from_rules=True
    )
    row = _row(room_type, future)
    assert (row.price, row.price_overridden) == (Decimal("200.00"), False)


@pytest.mark.django_db(transaction=True)
def test_concurrent_takes_and_a_total_cut_never_oversell():
    # given one night with three rooms
    night = date.today() + timedelta(days=20)
    room_type = RoomTypeFactory()
    RoomInventoryFactory(room_type=room_type, date=night, total=3)
    barrier = threading.Barrier(5)
    outcomes = []

    def take():
        barrier.wait()
        try:
            with transaction.atomic():
                inventory_take(
                    room_type=room_type, check_in=night, check_out=night + timedelta(days=1)
                )
            outcomes.append("took")
        except SoldOut:
            outcomes.append("sold out")
        finally:
            connection.close()

    def cut():
        barrier.wait()
        try:
            inventory_set(room_type=room_type, start=night, end=night + timedelta(days=1), total=1)
            outcomes.append("cut")
        except InventoryError:
            outcomes.append("cut refused")
        finally:
            connection.close()

    # when four guests and a staff member act at once
    threads = [threading.Thread(target=take) for _ in range(4)] + [threading.Thread(target=cut)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # then the night is never oversold, whatever the order
    row = _row(room_type, night)
    assert row.sold <= row.total
    assert row.sold == outcomes.count("took")
    assert len(outcomes) == 5
