import itertools
from datetime import date, timedelta
from decimal import Decimal

import pytest

from inventory.models import Adjustment
from inventory.pricing import HotelRules, apply_adjustment, extra_guests, night_prices
from tests.factories import (
    OccupancySupplementFactory,
    RoomInventoryFactory,
    RoomTypeFactory,
    SeasonFactory,
    SpecialDayFactory,
    WeekdayRuleFactory,
)

# A Saturday well in the future, so weekday rules on Saturday match it.
SATURDAY = date(2031, 3, 15)
assert SATURDAY.weekday() == 5

SEASONS = {
    "none": None,
    "percent": (Adjustment.PERCENT, Decimal("20")),
    "set": (Adjustment.SET, Decimal("150.00")),
}
WEEKDAYS = {
    "none": None,
    "percent": (Adjustment.PERCENT, Decimal("10")),
    "amount": (Adjustment.AMOUNT, Decimal("5.55")),
}
SPECIALS = {
    "none": None,
    "set": (Adjustment.SET, Decimal("250.00")),
    "percent": (Adjustment.PERCENT, Decimal("-50")),
}


def _by_hand(base: Decimal, *layers) -> Decimal:
    price = base
    for layer in layers:
        if layer is None:
            continue
        kind, value = layer
        if kind == Adjustment.SET:
            price = value
        elif kind == Adjustment.PERCENT:
            price = price * (100 + value) / 100
        else:
            price = price + value
    return price.quantize(Decimal("0.01"))


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("season", "weekday", "special"), list(itertools.product(SEASONS, WEEKDAYS, SPECIALS))
)
def test_layers_apply_season_then_weekday_then_special_day(season, weekday, special):
    # given
    room_type = RoomTypeFactory(base_price=Decimal("100.00"))
    hotel = room_type.hotel
    if SEASONS[season]:
        kind, value = SEASONS[season]
        SeasonFactory(
            hotel=hotel,
            adjustment=kind,
            value=value,
            start_date=SATURDAY - timedelta(days=3),
            end_date=SATURDAY + timedelta(days=3),
        )
    if WEEKDAYS[weekday]:
        kind, value = WEEKDAYS[weekday]
        WeekdayRuleFactory(hotel=hotel, adjustment=kind, value=value, friday=False, saturday=True)
    if SPECIALS[special]:
        kind, value = SPECIALS[special]
        SpecialDayFactory(hotel=hotel, adjustment=kind, value=value, start_date=SATURDAY)

    # when
    rules = HotelRules.load(hotel_id=hotel.pk, start=SATURDAY, end=SATURDAY + timedelta(days=1))
    price = rules.price(room_type=room_type, night=SATURDAY)

    # then
    assert price == _by_hand(
        Decimal("100.00"), SEASONS[season], WEEKDAYS[weekday], SPECIALS[special]
    )


@pytest.mark.django_db
def test_rules_do_not_touch_nights_they_do_not_cover():
    room_type = RoomTypeFactory(base_price=Decimal("80.00"))
    hotel = room_type.hotel
    SeasonFactory(
        hotel=hotel, start_date=SATURDAY + timedelta(days=1), end_date=SATURDAY + timedelta(days=9)
    )
    WeekdayRuleFactory(hotel=hotel, saturday=False, friday=False, sunday=True)
    SpecialDayFactory(hotel=hotel, start_date=SATURDAY - timedelta(days=1))

    rules = HotelRules.load(hotel_id=hotel.pk, start=SATURDAY, end=SATURDAY + timedelta(days=1))

    assert rules.price(room_type=room_type, night=SATURDAY) == Decimal("80.00")


@pytest.mark.django_db
def test_higher_priority_season_wins_over_overlapping_one():
    room_type = RoomTypeFactory(base_price=Decimal("100.00"))
    hotel = room_type.hotel
    around = {"start_date": SATURDAY - timedelta(days=5), "end_date": SATURDAY + timedelta(days=5)}
    SeasonFactory(
        hotel=hotel, adjustment=Adjustment.SET, value=Decimal("300"), priority=5, **around
    )
    SeasonFactory(
        hotel=hotel, adjustment=Adjustment.SET, value=Decimal("120"), priority=1, **around
    )

    rules = HotelRules.load(hotel_id=hotel.pk, start=SATURDAY, end=SATURDAY + timedelta(days=1))

    assert rules.price(room_type=room_type, night=SATURDAY) == Decimal("300.00")


@pytest.mark.django_db
def test_room_type_rule_beats_hotel_wide_rule_of_same_priority():
    room_type = RoomTypeFactory(base_price=Decimal("100.00"))
    other = RoomTypeFactory(hotel=room_type.hotel, base_price=Decimal("100.00"))
    hotel = room_type.hotel
    WeekdayRuleFactory(hotel=hotel, room_type=room_type, adjustment=Adjustment.PERCENT, value=50)
    WeekdayRuleFactory(hotel=hotel, adjustment=Adjustment.PERCENT, value=10)

    rules = HotelRules.load(hotel_id=hotel.pk, start=SATURDAY, end=SATURDAY + timedelta(days=1))

    assert rules.price(room_type=room_type, night=SATURDAY) == Decimal("150.00")
    assert rules.price(room_type=other, night=SATURDAY) == Decimal("110.00")


@pytest.mark.django_db
def test_shorter_season_beats_longer_one_then_newest_wins():
    room_type = RoomTypeFactory(base_price=Decimal("100.00"))
    hotel = room_type.hotel
    SeasonFactory(
        hotel=hotel,
        adjustment=Adjustment.SET,
        value=Decimal("110"),
        start_date=SATURDAY - timedelta(days=30),
        end_date=SATURDAY + timedelta(days=30),
    )
    SeasonFactory(
        hotel=hotel,
        adjustment=Adjustment.SET,
        value=Decimal("130"),
        start_date=SATURDAY,
        end_date=SATURDAY + timedelta(days=2),
    )
    SeasonFactory(
        hotel=hotel,
        adjustment=Adjustment.SET,
        value=Decimal("140"),
        start_date=SATURDAY - timedelta(days=2),
        end_date=SATURDAY,
    )

    rules = HotelRules.load(hotel_id=hotel.pk, start=SATURDAY, end=SATURDAY + timedelta(days=1))

    assert rules.price(room_type=room_type, night=SATURDAY) == Decimal("140.00")
    assert rules.price(room_type=room_type, night=SATURDAY - timedelta(days=10)) == Decimal(
        "110.00"
    )


def test_adjustments_never_make_a_price_negative():
    assert apply_adjustment(Decimal("40"), adjustment=Adjustment.AMOUNT, value=Decimal("-50")) == 0
    assert (
        apply_adjustment(Decimal("40"), adjustment=Adjustment.PERCENT, value=Decimal("-100")) == 0
    )


def test_percent_rounds_half_up_to_cents_at_the_end():
    room_type = RoomTypeFactory.build(pk=1, base_price=Decimal("99.99"))
    rules = HotelRules(
        seasons=[],
        weekday_rules=[
            WeekdayRuleFactory.build(
                hotel=room_type.hotel, adjustment=Adjustment.PERCENT, value=Decimal("12.5")
            )
        ],
        special_days=[],
    )
    # 99.99 * 1.125 = 112.48875
    assert rules.price(room_type=room_type, night=SATURDAY) == Decimal("112.49")


@pytest.mark.parametrize(
    ("base", "adults", "children", "expected"),
    [
        (2, 1, 0, (0, 0)),
        (2, 2, 0, (0, 0)),
        (2, 1, 1, (0, 0)),
        (2, 3, 0, (1, 0)),
        (2, 2, 2, (0, 2)),
        (2, 1, 3, (0, 2)),
        (1, 2, 1, (1, 1)),
        (3, 1, 1, (0, 0)),
    ],
)
def test_adults_fill_the_base_occupancy_before_children(base, adults, children, expected):
    assert extra_guests(base_occupancy=base, adults=adults, children=children) == expected


@pytest.mark.django_db
def test_night_prices_add_supplements_per_extra_guest_per_night(django_assert_num_queries):
    # given a room for two with supplements, and three nights at different prices
    room_type = RoomTypeFactory(max_adults=3, max_children=2, max_occupancy=4, base_occupancy=2)
    OccupancySupplementFactory(
        room_type=room_type, extra_adult=Decimal("30"), extra_child=Decimal("12.50")
    )
    nights = [
        RoomInventoryFactory(room_type=room_type, date=SATURDAY + timedelta(days=i), price=price)
        for i, price in enumerate([Decimal("100"), Decimal("120.00"), Decimal("99.99")])
    ]
    room_type.refresh_from_db()

    # when three adults and one child stay
    with django_assert_num_queries(1):
        prices = night_prices(room_type=room_type, nights=nights, adults=3, children=1)

    # then each night carries one adult and one child supplement
    assert prices == [Decimal("142.50"), Decimal("162.50"), Decimal("142.49")]
    assert all(isinstance(p, Decimal) for p in prices)


@pytest.mark.django_db
def test_night_prices_need_no_query_for_the_base_occupancy(django_assert_num_queries):
    room_type = RoomTypeFactory()
    nights = [RoomInventoryFactory(room_type=room_type, price=Decimal("88.00"))]
    room_type.refresh_from_db()

    with django_assert_num_queries(0):
        assert night_prices(room_type=room_type, nights=nights, adults=2, children=0) == [
            Decimal("88.00")
        ]


@pytest.mark.django_db
def test_night_prices_without_supplement_settings_charge_nothing_extra():
    room_type = RoomTypeFactory(max_adults=3, max_occupancy=3)
    nights = [RoomInventoryFactory(room_type=room_type, price=Decimal("90.00"))]

    assert night_prices(room_type=room_type, nights=nights, adults=3, children=0) == [
        Decimal("90.00")
    ]


@pytest.mark.django_db
def test_night_prices_use_a_preloaded_supplement_without_querying(django_assert_num_queries):
    from hotel.models import RoomType

    room_type = RoomTypeFactory(max_adults=3, max_occupancy=3)
    OccupancySupplementFactory(room_type=room_type, extra_adult=Decimal("25"))
    nights = [RoomInventoryFactory(room_type=room_type, price=Decimal("90.00"))]
    loaded = RoomType.objects.select_related("supplement").get(pk=room_type.pk)

    with django_assert_num_queries(0):
        assert night_prices(room_type=loaded, nights=nights, adults=3, children=0) == [
            Decimal("115.00")
        ]


@pytest.mark.django_db
def test_rule_prices_are_whole_yen_in_a_yen_hotel():
    # given a yen hotel (no minor unit) with a 10% weekend uplift on 10,001 yen
    from inventory.models import RoomInventory
    from inventory.services import inventory_generate
    from tests.factories import HotelFactory

    room_type = RoomTypeFactory(
        hotel=HotelFactory(currency="JPY", timezone="Asia/Tokyo"), base_price=Decimal("10001")
    )
    WeekdayRuleFactory(hotel=room_type.hotel, adjustment=Adjustment.PERCENT, value=Decimal("10"))

    # when the night is put on sale
    inventory_generate(room_type=room_type, start=SATURDAY, end=SATURDAY + timedelta(days=1))

    # then 11,001.10 yen is sold as 11,001 yen, an amount that can be paid
    assert RoomInventory.objects.get(room_type=room_type).price == Decimal("11001")
