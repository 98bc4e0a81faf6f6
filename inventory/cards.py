"""What the availability fragments show, as hashable values (the keys of caching.fragments).

The selectors return model instances and mutable dataclasses; a card copies
exactly the fields its template reads, so that two renders with equal cards
are the same HTML and the memoised fragment can be reused after a write that
did not change them. A template that starts showing another field needs it
added here, or it cannot read it at all: the fragment sees only its card.
"""

from datetime import date
from decimal import Decimal
from functools import lru_cache
from typing import NamedTuple

from django.urls import NoReverseMatch, get_script_prefix, reverse

from hotel.models import Hotel, RoomType

from .selectors import CalendarDay, HotelAvailability, RoomTypeAvailability
from .services import FEW_ROOMS_LEFT, shown_free


class RoomTypeCard(NamedTuple):
    pk: int
    url: str
    name: str
    beds: str
    max_occupancy: int


class NightCard(NamedTuple):
    date: date
    price: Decimal


class OptionCard(NamedTuple):
    """One room type over one stay for one party (inventory_tags: room_option, hotel_option)."""

    room_type: RoomTypeCard
    check_in: date
    check_out: date
    adults: int
    children: int
    currency: str
    bookable: bool
    # The rooms free, only when few enough to tell the guest (FEW_ROOMS_LEFT):
    # a hold that leaves ten rooms of twelve then changes nothing shown, and
    # the fragments rendered from this card stay valid.
    rooms_left: int | None
    total: Decimal | None
    nights: tuple[NightCard, ...]
    reasons: tuple[str, ...]
    hold_url: str | None


class HotelCard(NamedTuple):
    pk: int
    url: str
    name: str
    stars: int
    city: str
    address: str
    currency: str


class SearchResultCard(NamedTuple):
    """One hotel on the search page with its options (inventory_tags: search_result)."""

    hotel: HotelCard
    cheapest: Decimal | None
    amenities: tuple[tuple[str, str], ...]
    bookable: tuple[OptionCard, ...]
    not_bookable: tuple[OptionCard, ...]


class DayCard(NamedTuple):
    date: date
    exists: bool
    stop_sell: bool
    free: int
    price: Decimal | None
    min_stay: int


@lru_cache(maxsize=4096)
def _room_type_url(prefix: str, hotel_slug: str, room_type_slug: str) -> str:
    # reverse() costs tens of microseconds; a search page asks for forty.
    # The script prefix is part of the key because reverse() includes it.
    return reverse("hotel:room_type", kwargs={"slug": hotel_slug, "room_type_slug": room_type_slug})


@lru_cache(maxsize=1024)
def _hotel_url(prefix: str, hotel_slug: str) -> str:
    return reverse("hotel:detail", kwargs={"slug": hotel_slug})


@lru_cache(maxsize=8)
def _hold_url(prefix: str) -> str | None:
    # None where the booking pages are not installed: no Book button then.
    try:
        return reverse("bookings:hold")
    except NoReverseMatch:
        return None


def room_type_card(room_type: RoomType, *, prefix: str | None = None) -> RoomTypeCard:
    """``prefix`` is the script prefix, when the caller has it (asking costs a context lookup)."""
    return RoomTypeCard(
        pk=room_type.pk,
        url=_room_type_url(
            get_script_prefix() if prefix is None else prefix, room_type.hotel.slug, room_type.slug
        ),
        name=room_type.name,
        beds=room_type.beds,
        max_occupancy=room_type.max_occupancy,
    )


def option_card(option: RoomTypeAvailability, *, prefix: str | None = None) -> OptionCard:
    if prefix is None:
        prefix = get_script_prefix()
    return OptionCard(
        room_type=room_type_card(option.room_type, prefix=prefix),
        check_in=option.check_in,
        check_out=option.check_out,
        adults=option.adults,
        children=option.children,
        currency=option.currency,
        bookable=option.bookable,
        rooms_left=option.rooms_free if option.rooms_free <= FEW_ROOMS_LEFT else None,
        total=option.total,
        nights=tuple(NightCard(n.date, n.price) for n in option.nights),
        reasons=tuple(option.reasons),
        hold_url=_hold_url(prefix),
    )


def hotel_card(hotel: Hotel, *, prefix: str | None = None) -> HotelCard:
    return HotelCard(
        pk=hotel.pk,
        url=_hotel_url(get_script_prefix() if prefix is None else prefix, hotel.slug),
        name=hotel.name,
        stars=hotel.stars,
        city=hotel.city,
        address=hotel.address,
        currency=hotel.currency,
    )


def search_result_card(result: HotelAvailability, *, prefix: str | None = None) -> SearchResultCard:
    if prefix is None:
        prefix = get_script_prefix()
    return SearchResultCard(
        hotel=hotel_card(result.hotel, prefix=prefix),
        cheapest=result.cheapest,
        amenities=tuple(result.amenities),
        bookable=tuple(option_card(o, prefix=prefix) for o in result.bookable),
        not_bookable=tuple(option_card(o, prefix=prefix) for o in result.not_bookable),
    )


def calendar_weeks(days: list[CalendarDay]) -> tuple[tuple[DayCard | None, ...], ...]:
    """Calendar days in Monday-first weeks, padded with None before the first and after the last."""
    if not days:
        return ()
    cells: list[DayCard | None] = [None] * days[0].date.weekday()
    cells += [
        DayCard(
            date=d.date,
            exists=d.exists,
            stop_sell=d.stop_sell,
            # As guests are told them: "3 left", or only that there is one.
            free=shown_free(d.free),
            price=d.price,
            min_stay=d.min_stay,
        )
        for d in days
    ]
    cells += [None] * (-len(cells) % 7)
    return tuple(tuple(cells[i : i + 7]) for i in range(0, len(cells), 7))
