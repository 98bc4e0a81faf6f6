"""Rendered blocks of availability, kept in the two-tier cache with the data they show.

A block is rendered once by caching.fragments.render_pieces (per-request
values left as markers) and cached under the namespaces of everything it was
rendered from, so every process serves it until a write to those nights or
to the catalogue; the page fills it in per request with ``{% filled %}``.
"""

from datetime import date

from caching.api import cached
from caching.fragments import conditions, render_pieces
from hotel.models import Hotel

from .cards import option_card
from .selectors import AVAILABILITY_TTL, hotel_availability
from .services import hotel_availability_namespaces


def hotel_options(
    *, hotel: Hotel, check_in: date, check_out: date, adults: int, children: int = 0
) -> tuple[str, ...]:
    """The hotel page's room options for a stay and party (hotel/_hotel_options.html)."""

    def render() -> tuple[str, ...]:
        options = hotel_availability(
            hotel=hotel, check_in=check_in, check_out=check_out, adults=adults, children=children
        )
        return render_pieces(
            "hotel/_hotel_options.html", {"options": [option_card(o) for o in options]}
        )

    return cached(
        [
            *hotel_availability_namespaces(hotel_id=hotel.pk, first=check_in, last=check_out),
            "catalogue",
        ],
        ["hotel-options", hotel.pk, check_in, check_out, adults, children, *conditions()],
        render,
        ttl=AVAILABILITY_TTL,
        # Two guests rarely miss on one hotel and stay at once; the stampede
        # lock's round trips would cost on every miss.
        lock=False,
    )
