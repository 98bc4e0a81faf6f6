"""Nightly prices: the rules that write them onto inventory and the party's quote.

How a night's price is computed (``rule_price``), in this order:

1. The room type's base price.
2. Seasons covering the night: one wins and applies its adjustment.
3. Weekday rules for the night's weekday: one wins and applies its adjustment.
4. Special days covering the night: one wins and applies its adjustment.

Within a layer the winner is the rule with the highest ``priority``; on a tie,
a rule for this room type beats a hotel-wide one, then the rule covering
fewer nights (the more specific), then the most recently created. An
adjustment either sets the price, changes it by a percentage, or by an
amount; the price never goes below zero and is rounded (half up) to the
minor unit of the hotel's currency at the end: cents, or whole yen. A
weekday uplift therefore applies on top of the season's price, and a
special day with a set price overrides everything before it.

The result is stored on RoomInventory.price (for the base occupancy) unless
staff set the night's price by hand. ``night_prices`` then adds the
supplements for each adult and child above the room type's base occupancy:
adults fill the base occupancy first, children whatever is left.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from hotel.models import Hotel, RoomType
from hotel.money import minor_unit

from .models import (
    Adjustment,
    OccupancySupplement,
    PriceRule,
    RoomInventory,
    Season,
    SpecialDay,
    WeekdayRule,
)

CENT = Decimal("0.01")
ZERO = Decimal("0")


def apply_adjustment(price: Decimal, *, adjustment: str, value: Decimal) -> Decimal:
    """Apply one rule's adjustment to a price, never going below zero."""
    if adjustment == Adjustment.SET:
        result = value
    elif adjustment == Adjustment.PERCENT:
        result = price * (Decimal(100) + value) / Decimal(100)
    elif adjustment == Adjustment.AMOUNT:
        result = price + value
    else:
        raise ValueError(f"Unknown adjustment {adjustment!r}")
    return max(result, ZERO)


def _span(rule: PriceRule) -> int:
    start, end = getattr(rule, "start_date", None), getattr(rule, "end_date", None)
    if start is None or end is None:
        return 0
    return (end - start).days


def _precedence(rule: PriceRule) -> tuple:
    # Larger wins: priority, then room-type-specific, then fewer nights, then newest.
    return (rule.priority, rule.room_type_id is not None, -_span(rule), rule.pk or 0)


def winning_rule(rules: Iterable[PriceRule], *, room_type_id: int, night: date):
    """The rule of one layer that prices this night for this room type, or None."""
    matching = [r for r in rules if r.applies_to(room_type_id) and r.covers(night)]
    return max(matching, key=_precedence) if matching else None


@dataclass(frozen=True)
class HotelRules:
    """The pricing rules of one hotel that touch a date range, loaded in three queries."""

    seasons: Sequence[Season]
    weekday_rules: Sequence[WeekdayRule]
    special_days: Sequence[SpecialDay]
    # What a price is rounded to: the cent, or 1 for a currency without one (JPY).
    unit: Decimal = CENT

    @classmethod
    def load(cls, *, hotel_id: int, start: date, end: date) -> "HotelRules":
        """Load the rules of a hotel that can price any night in [start, end)."""
        currency = Hotel.objects.values_list("currency", flat=True).get(pk=hotel_id)
        return cls(
            seasons=list(
                Season.objects.filter(hotel_id=hotel_id, start_date__lt=end, end_date__gte=start)
            ),
            weekday_rules=list(WeekdayRule.objects.filter(hotel_id=hotel_id)),
            special_days=list(
                SpecialDay.objects.filter(
                    hotel_id=hotel_id, start_date__lt=end, end_date__gte=start
                )
            ),
            unit=minor_unit(currency),
        )

    def price(self, *, room_type: RoomType, night: date) -> Decimal:
        """The rule price of one night for the base occupancy (see the module docstring)."""
        price = room_type.base_price
        for layer in (self.seasons, self.weekday_rules, self.special_days):
            rule = winning_rule(layer, room_type_id=room_type.pk, night=night)
            if rule is not None:
                price = apply_adjustment(price, adjustment=rule.adjustment, value=rule.value)
        return price.quantize(self.unit, rounding=ROUND_HALF_UP)


def extra_guests(*, base_occupancy: int, adults: int, children: int) -> tuple[int, int]:
    """How many adults and children pay a supplement: adults fill the base occupancy first."""
    extra_adults = max(0, adults - base_occupancy)
    left_for_children = max(0, base_occupancy - adults)
    extra_children = max(0, children - left_for_children)
    return extra_adults, extra_children


def supplement_per_night(*, room_type: RoomType, adults: int, children: int) -> Decimal:
    """What the party pays per night on top of the stored price; at most one query."""
    extra_adults, extra_children = extra_guests(
        base_occupancy=room_type.base_occupancy, adults=adults, children=children
    )
    if not extra_adults and not extra_children:
        return ZERO
    try:
        # Free when the caller loaded it with select_related("supplement").
        supplement = room_type.supplement
    except OccupancySupplement.DoesNotExist:
        return ZERO
    return extra_adults * supplement.extra_adult + extra_children * supplement.extra_child


def night_prices(
    *, room_type: RoomType, nights: list[RoomInventory], adults: int, children: int
) -> list[Decimal]:
    """The price of each night for this party: the stored price plus the supplements.

    ``nights`` are the room type's inventory rows (for a booking, the rows it
    just locked), in the order the prices are wanted. Reads the room type's
    supplement settings at most once, never per night.
    """
    extra = supplement_per_night(room_type=room_type, adults=adults, children=children)
    return [(row.price + extra).quantize(CENT, rounding=ROUND_HALF_UP) for row in nights]
