"""The availability selector against a plain Python model of the same rules."""

from dataclasses import dataclass, replace
from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from inventory.models import OccupancySupplement, RoomInventory
from inventory.selectors import hotel_availability
from inventory.services import FEW_ROOMS_LEFT
from tests.factories import HotelFactory, RoomTypeFactory

START = date(2031, 6, 1)
WINDOW = 12


@dataclass(frozen=True)
class NightSpec:
    total: int
    sold: int
    price: Decimal
    min_stay: int
    max_stay: int | None
    cta: bool
    ctd: bool
    stop: bool


PERTURBATIONS = ("missing", "sold_out", "stop", "cta", "ctd", "min_stay", "max_stay")


@st.composite
def scenarios(draw, kind, on_key):
    """Clean nights with a few restrictions dropped on them.

    Most stays then fail for one reason or none, so each rule decides the
    outcome often and a selector that gets one rule wrong is caught quickly.
    """
    specs = {}
    for offset in range(WINDOW):
        # Past FEW_ROOMS_LEFT + 1 too, where guests are told only "available".
        total = draw(st.integers(1, 8))
        specs[offset] = NightSpec(
            total=total,
            sold=draw(st.integers(0, total - 1)),
            price=draw(st.decimals(min_value=0, max_value=500, places=2)),
            min_stay=1,
            max_stay=None,
            cta=False,
            ctd=False,
            stop=False,
        )
    arrive = draw(st.integers(1, WINDOW - 7))
    length = draw(st.integers(1, 5).map(lambda n: 6 - n))
    # Each change lands either where its rule looks (the arrival night for
    # closed-to-arrival, the check-out night for closed-to-departure, a night
    # of the stay otherwise) or anywhere near the stay, where it must not
    # matter; stay limits fall either side of the stay's length.
    # One rule at a time (the test is parametrized over them), so that it
    # alone decides many stays. It lands where the rule looks (the arrival
    # night for closed-to-arrival, the check-out night for closed-to-departure)
    # or on any night around the stay, where it may or may not count; stay
    # limits fall either side of the stay's length.
    changes = []
    if kind is not None:
        key = {"cta": arrive, "ctd": arrive + length}.get(kind)
        if key is None or not on_key:
            around = [n for n in range(arrive - 1, arrive + length + 1) if n != key]
            key = draw(st.sampled_from(sorted(around, key=lambda n: (n == arrive - 1, -n))))
        limit = draw(st.sampled_from([length + 1, max(1, length - 1), length]))
        changes.append((key, kind, limit))
    for offset, kind, n in changes:
        spec = specs.get(offset)
        if spec is None:
            continue
        if kind == "missing":
            del specs[offset]
        elif kind == "sold_out":
            specs[offset] = replace(spec, sold=spec.total)
        elif kind == "stop":
            specs[offset] = replace(spec, stop=True)
        elif kind == "cta":
            specs[offset] = replace(spec, cta=True)
        elif kind == "ctd":
            specs[offset] = replace(spec, ctd=True)
        elif kind == "min_stay":
            specs[offset] = replace(spec, min_stay=n, max_stay=None)
        else:
            specs[offset] = replace(spec, max_stay=max(n, spec.min_stay))
    return specs, arrive, length


parties = st.sampled_from([(2, 0), (1, 0), (2, 1), (3, 0), (1, 2), (3, 1)])
capacities = st.sampled_from([(3, 2), (2, 1), (2, 0), (3, 0), (1, 0)]).map(
    lambda c: {"max_adults": c[0], "max_children": c[1], "max_occupancy": c[0] + c[1]}
)


def expected(
    nights, *, check_in, check_out, adults, children, caps, base_occupancy, extra_adult, extra_child
):
    """The rules, said plainly."""
    wanted = [check_in + timedelta(days=i) for i in range((check_out - check_in).days)]
    present = [nights[n] for n in wanted if n in nights]
    missing = [n for n in wanted if n not in nights]
    stopped = [n for n in wanted if n in nights and nights[n].stop]
    sold_out = [
        n
        for n in wanted
        if n in nights and not nights[n].stop and nights[n].total <= nights[n].sold
    ]
    fits = (
        adults <= caps["max_adults"]
        and children <= caps["max_children"]
        and adults + children <= caps["max_occupancy"]
    )
    too_short = any(r.min_stay > len(wanted) for r in present)
    too_long = any(r.max_stay is not None and r.max_stay < len(wanted) for r in present)
    cta = check_in in nights and nights[check_in].cta
    ctd = check_out in nights and nights[check_out].ctd
    extra_a = max(0, adults - base_occupancy)
    extra_c = max(0, children - max(0, base_occupancy - adults))
    extra = extra_a * extra_adult + extra_c * extra_child
    complete = not missing
    rooms_free = min(r.total - r.sold for r in present) if complete and not stopped else 0
    # Counted as guests are told them: up to one more than FEW_ROOMS_LEFT.
    rooms_free = min(rooms_free, FEW_ROOMS_LEFT + 1)
    return {
        "bookable": fits
        and complete
        and not stopped
        and not sold_out
        and not too_short
        and not too_long
        and not cta
        and not ctd,
        "rooms_free": rooms_free,
        "sold_out_nights": sold_out,
        "unavailable_nights": sorted(missing + stopped),
        "nightly_prices": [nights[n].price + extra for n in wanted] if complete else [],
        "total": sum((nights[n].price + extra for n in wanted), Decimal("0")) if complete else None,
    }


@pytest.mark.django_db
@pytest.mark.parametrize("on_key", [True, False], ids=["on-key-night", "elsewhere"])
@pytest.mark.parametrize("kind", [None, *PERTURBATIONS])
@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    data=st.data(),
    party=parties,
    caps=capacities,
    supplements=st.tuples(st.sampled_from([0, 10, 25]), st.sampled_from([0, 5])),
)
def test_selector_agrees_with_the_plain_model(kind, on_key, data, party, caps, supplements):
    # given a fresh hotel with one room type and the drawn nights
    inventory, arrive, length = data.draw(scenarios(kind, on_key))
    hotel = HotelFactory()
    room_type = RoomTypeFactory(hotel=hotel, base_occupancy=min(2, caps["max_occupancy"]), **caps)
    OccupancySupplement.objects.create(
        room_type=room_type, extra_adult=supplements[0], extra_child=supplements[1]
    )
    nights = {START + timedelta(days=offset): spec for offset, spec in inventory.items()}
    RoomInventory.objects.bulk_create(
        RoomInventory(
            room_type=room_type,
            date=night,
            total=spec.total,
            sold=spec.sold,
            price=spec.price,
            min_stay=spec.min_stay,
            max_stay=spec.max_stay,
            closed_to_arrival=spec.cta,
            closed_to_departure=spec.ctd,
            stop_sell=spec.stop,
        )
        for night, spec in nights.items()
    )
    check_in = START + timedelta(days=arrive)
    check_out = check_in + timedelta(days=length)
    adults, children = party

    # when
    [entry] = hotel_availability(
        hotel=hotel,
        check_in=check_in,
        check_out=check_out,
        adults=adults,
        children=children,
        use_cache=False,
    )

    # then
    model = expected(
        nights,
        check_in=check_in,
        check_out=check_out,
        adults=adults,
        children=children,
        caps=caps,
        base_occupancy=room_type.base_occupancy,
        extra_adult=Decimal(supplements[0]),
        extra_child=Decimal(supplements[1]),
    )
    for r in entry.reasons:
        event(r.split(" on ")[0])
    event(f"bookable={model['bookable']}")
    assert entry.bookable == model["bookable"]
    assert entry.bookable == (not entry.reasons)
    assert entry.rooms_free == model["rooms_free"]
    assert entry.sold_out_nights == model["sold_out_nights"]
    assert entry.unavailable_nights == model["unavailable_nights"]
    assert entry.nightly_prices == model["nightly_prices"]
    assert entry.total == model["total"]
