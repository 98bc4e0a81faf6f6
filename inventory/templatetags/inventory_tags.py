"""A hotel's search result, a room option over a stay and a room type's calendar.

Built in Python, as Django's admin builds its change list rows: a page of
search results shows up to a hundred options, and through the template
engine each cost about 0.2 ms, most of a long-tail search's time; a
calendar's nine weeks cost 4 ms. Every value is escaped; money and nights
are formatted as the ``money`` and ``nightly_prices`` filters format them,
and the Book form carries what ``{% csrf_token %}`` and
``{% idempotency_field %}`` render, so inside a memoised fragment its CSRF
field and key come out as caching.fragments' markers. The language and the
CSRF field are looked up once per hotel's result, not per option.
"""

from decimal import Decimal
from typing import NamedTuple

from django import template
from django.template.defaulttags import CsrfTokenNode
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language, to_locale

from bookings.templatetags.booking_tags import idempotency_input
from hotel.html import escape
from hotel.templatetags.hotel_tags import (
    format_amount,
    format_day,
    format_nightly_prices,
    star_rating,
)

from ..cards import DayCard, OptionCard, SearchResultCard
from ..services import FEW_ROOMS_LEFT

register = template.Library()


class _Render(NamedTuple):
    """What every option of one render shares, looked up once: a hotel's result has dozens."""

    language: str
    locale: str
    csrf_field: str

    @classmethod
    def of(cls, context) -> "_Render":
        language = get_language() or "en-gb"
        return cls(language, to_locale(language), CsrfTokenNode().render(context))

    def money(self, amount: Decimal | None, currency: str) -> str:
        """The ``money`` filter's text."""
        return format_amount(amount, currency, self.locale)


def _hold_form(context, option: OptionCard, render: _Render) -> str:
    # The hold view reads these values: never grouped or localized.
    return (
        f'<form method="post" action="{escape(option.hold_url)}">'
        f"{render.csrf_field}{idempotency_input(context)}\n"
        f'<input type="hidden" name="room_type" value="{int(option.room_type.pk)}">\n'
        f'<input type="hidden" name="check_in" value="{option.check_in.isoformat()}">\n'
        f'<input type="hidden" name="check_out" value="{option.check_out.isoformat()}">\n'
        f'<input type="hidden" name="adults" value="{int(option.adults)}">\n'
        f'<input type="hidden" name="children" value="{int(option.children)}">\n'
        '<button type="submit">Book</button>\n'
        "</form>"
    )


def _reasons(option: OptionCard) -> str:
    return "".join(f'<span class="tag bad">{escape(reason)}</span>' for reason in option.reasons)


def _rooms_left(option: OptionCard) -> str:
    if option.rooms_left is None:
        return ""
    return f'<span class="tag bad">{int(option.rooms_left)} left</span>'


@register.simple_tag(takes_context=True)
def room_option(context, option: OptionCard) -> SafeString:
    """One room type's line in a search result or on its own page: price, nights, Book."""
    return _room_option(context, option, _Render.of(context))


def _room_option(context, option: OptionCard, render: _Render) -> SafeString:
    room_type = option.room_type
    head = (
        '<div class="spread">\n<div>\n'
        f'<strong><a href="{escape(room_type.url)}">{escape(room_type.name)}</a></strong>\n'
        f'<span class="muted">· {escape(room_type.beds)} · up to '
        f"{int(room_type.max_occupancy)} guests</span>\n</div>\n"
    )
    if not option.bookable:
        return mark_safe(f"{head}<div>{_reasons(option)}</div>\n</div>")  # noqa: S308
    nights = len(option.nights)
    prices = format_nightly_prices(option.nights, option.currency, render.language)
    hold = _hold_form(context, option, render) if option.hold_url else ""
    return mark_safe(  # noqa: S308 - every value is escaped or a number
        f'{head}<div class="row">\n<div>\n'
        f'<span class="price">{escape(render.money(option.total, option.currency))}</span>\n'
        f'<span class="muted">for {nights} night{"" if nights == 1 else "s"}</span>\n'
        f"{_rooms_left(option)}\n"
        f'<div class="muted" title="Price of each night">{escape(prices)}</div>\n'
        f"</div>\n{hold}\n</div>\n</div>"
    )


@register.simple_tag(takes_context=True)
def hotel_option(context, option: OptionCard) -> SafeString:
    """One room type's card on the hotel page for a stay: price for the stay, Book."""
    room_type = option.room_type
    head = (
        '<article class="card">\n'
        f'<h3 style="margin-top:0"><a href="{escape(room_type.url)}">{escape(room_type.name)}</a>'
        f'</h3>\n<p class="muted">{escape(room_type.beds)} · up to '
        f"{int(room_type.max_occupancy)} guests</p>\n"
    )
    if not option.bookable:
        return mark_safe(f"{head}<p>{_reasons(option)}</p>\n</article>")  # noqa: S308
    render = _Render.of(context)
    hold = _hold_form(context, option, render) if option.hold_url else ""
    total = escape(render.money(option.total, option.currency))
    return mark_safe(  # noqa: S308 - every value is escaped or a number
        f'{head}<p><span class="price">{total}</span> for the stay\n'
        f"{_rooms_left(option)}</p>\n{hold}\n</article>"
    )


@register.simple_tag(takes_context=True)
def search_result(context, result: SearchResultCard) -> SafeString:
    """One hotel on the search page: name, stars, the cheapest stay, amenities, its options."""
    hotel = result.hotel
    render = _Render.of(context)
    if result.cheapest is None:
        cheapest = '<span class="tag bad">Nothing free for these dates</span>'
    else:
        price = escape(render.money(result.cheapest, hotel.currency))
        cheapest = f'<span>from <span class="price">{price}</span></span>'
    amenities = "".join(
        f'<span class="tag">{escape(name)}</span>' for _slug, name in result.amenities
    )
    parts = [
        '<article class="card">\n<div class="spread">\n'
        f'<h2 style="margin-top:0"><a href="{escape(hotel.url)}">{escape(hotel.name)}</a>\n'
        f'<span class="stars" aria-label="{int(hotel.stars)} stars">{star_rating(hotel.stars)}'
        f"</span></h2>\n{cheapest}\n</div>\n"
        f'<p class="muted">{escape(hotel.city)} · {escape(hotel.address)}</p>\n',
        f"<p>{amenities}</p>\n" if amenities else "",
        *(_room_option(context, option, render) for option in result.bookable),
    ]
    if result.not_bookable:
        n = len(result.not_bookable)
        room_types = "room type" if n == 1 else "room types"
        parts += [
            f"\n<details{'' if result.bookable else ' open'}>\n"
            f'<summary class="muted">{n} {room_types} not available</summary>\n',
            *(_room_option(context, option, render) for option in result.not_bookable),
            "\n</details>",
        ]
    parts.append("\n</article>")
    return mark_safe("".join(parts))  # noqa: S308 - every value is escaped or a number


def _calendar_cell(day: DayCard, currency: str, language: str, locale: str) -> str:
    if day.free == 0:
        css = "none"
    elif day.free <= FEW_ROOMS_LEFT:
        css = "few"
    else:
        css = "free"
    if not day.exists:
        text = "Not on sale"
    elif day.stop_sell:
        text = "Closed"
    elif day.free == 0:
        text = "Sold out"
    else:
        price = format_amount(day.price, currency, locale)
        # The rooms left only when few, as on the search and the hotel page.
        left = f"{int(day.free)} left" if day.free <= FEW_ROOMS_LEFT else "Available"
        text = f"{left}<br>{escape(price)}"
    if day.exists and day.min_stay > 1:
        text += f'<br><span class="muted">min {int(day.min_stay)} nights</span>'
    return (
        f'<td class="{css}">\n'
        f'<div class="day">{escape(format_day(day.date, "j M", language))}</div>\n{text}\n</td>'
    )


@register.simple_tag
def calendar_rows(weeks: tuple[tuple[DayCard | None, ...], ...], currency: str) -> SafeString:
    """A room type's calendar, a row a week (inventory.cards.calendar_weeks): rooms left, price."""
    language = get_language() or "en-gb"
    locale = to_locale(language)
    rows = (
        "<tr>\n"
        + "\n".join(
            _calendar_cell(day, currency, language, locale) if day else "<td></td>" for day in week
        )
        + "\n</tr>"
        for week in weeks
    )
    return mark_safe("\n".join(rows))  # noqa: S308 - every value is escaped or a number
