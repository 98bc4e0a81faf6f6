"""Rendered blocks of availability, kept in the two-tier cache with the data they show.

A block is rendered once by caching.fragments.render_pieces (per-request
values left as markers) and cached under the namespaces of everything it was
rendered from, so every process serves it until a write to those nights or
to the catalogue; the page fills it in per request with ``{% filled %}``.
"""

from datetime import date, timedelta

from django.urls import get_script_prefix

from caching.api import cached
from caching.fragments import conditions, render_pieces
from hotel.models import Hotel, RoomType

from .cards import calendar_weeks, option_card
from .selectors import AVAILABILITY_TTL, GUEST_CALENDAR_DAYS, hotel_availability, room_type_calendar
from .services import hotel_offer_namespaces, room_type_offer_namespaces


def hotel_options(
    *, hotel: Hotel, check_in: date, check_out: date, adults: int, children: int = 0
) -> tuple[str, ...]:
    """The hotel page's room options for a stay and party (hotel/_hotel_options.html)."""

    def render() -> tuple[str, ...]:
        options = hotel_availability(
            hotel=hotel, check_in=check_in, check_out=check_out, adults=adults, children=children
        )
        prefix = get_script_prefix()
        return render_pieces(
            "hotel/_hotel_options.html",
            {"options": [option_card(o, prefix=prefix) for o in options]},
        )

    return cached(
        [
            *hotel_offer_namespaces(hotel_id=hotel.pk, first=check_in, last=check_out),
            "catalogue",
        ],
        ["hotel-options", hotel.pk, check_in, check_out, adults, children, *conditions()],
        render,
        ttl=AVAILABILITY_TTL,
        # Two guests rarely miss on one hotel and stay at once; the stampede
        # lock's round trips would cost on every miss.
        lock=False,
    )


def room_type_calendar_block(
    *, room_type: RoomType, start: date, days: int = GUEST_CALENDAR_DAYS
) -> tuple[str, ...]:
    """The room type page's calendar from ``start`` (inventory/_calendar.html).

    Cached rendered, not as the days it shows: a page served from the cache
    neither unpickles 60 days nor hashes them into a fragment key. A hold
    refreshes the calendars of its own room type and weeks only, and only
    when it changes the rooms left they show (services.shown_free); an edit
    of the hotel (its currency) all of the hotel's.
    """

    def render() -> tuple[str, ...]:
        days_shown = room_type_calendar(room_type=room_type, start=start, days=days)
        return render_pieces(
            "inventory/_calendar.html",
            {"weeks": calendar_weeks(days_shown), "currency": room_type.hotel.currency},
        )

    return cached(
        room_type_offer_namespaces(
            hotel_id=room_type.hotel_id,
            room_type_id=room_type.pk,
            first=start,
            last=start + timedelta(days=days - 1),
        ),
        # The currency comes with the room type from the catalogue cache,
        # which may be read under an older version than these namespaces.
        ["room-calendar", room_type.pk, start, days, room_type.hotel.currency, *conditions()],
        render,
        ttl=AVAILABILITY_TTL,
        lock=False,
    )
