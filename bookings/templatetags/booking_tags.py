from collections.abc import Iterable
from decimal import Decimal

from django import template
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language, to_locale

from caching.fragments import idempotency_key
from hotel.html import escape
from hotel.templatetags.hotel_tags import format_day, format_money

register = template.Library()


@register.simple_tag(takes_context=True)
def idempotency_field(context) -> SafeString:
    """A hidden field with a fresh key: the same form posted twice makes one booking.

    Put it inside any form that posts to ``bookings:hold``:
    ``{% load booking_tags %}{% idempotency_field %}``. Inside a memoised
    fragment (caching.fragments) the key is filled in per render, never kept.
    """
    return mark_safe(idempotency_input(context))  # noqa: S308 - the key is escaped


def idempotency_input(context) -> str:
    """``{% idempotency_field %}``'s HTML, for the tags that build forms in Python.

    A results page has a Book button for each of some forty room options:
    through format_html the field cost three times what it does here.
    """
    key = escape(idempotency_key(context))
    return f'<input type="hidden" name="idempotency_key" value="{key}">'


_GUEST_ROW = (
    '<tr><td><a href="{}">{}</a></td><td>{}<br><span class="muted">{}</span></td>'
    '<td>{}</td><td>{} → {}</td><td>{}</td><td><span class="tag">{}</span></td></tr>'
)


@register.simple_tag
def guest_booking_rows(bookings: Iterable) -> str:
    """The rows of My bookings' table: reference, hotel, room, dates, total, status.

    Built in Python, as Django's admin builds its change list rows: through
    the template engine each row resolved nine variables and three filters.
    Every value is escaped; dates and money are formatted as the ``day`` and
    ``money`` filters do, in the active language looked up once, and each
    status label is translated once per table.
    """
    language = get_language() or "en-gb"
    locale = to_locale(language)
    labels: dict[str, str] = {}
    rows = []
    for booking in bookings:
        label = labels.get(booking.status)
        if label is None:
            label = labels[booking.status] = escape(booking.get_status_display())
        rows.append(
            _GUEST_ROW.format(
                escape(booking.get_absolute_url()),
                escape(booking.reference),
                escape(booking.hotel_name),
                escape(booking.hotel_city),
                escape(booking.room_type_name),
                escape(format_day(booking.check_in, "j M Y", language)),
                escape(format_day(booking.check_out, "j M Y", language)),
                escape(format_money(Decimal(booking.total_price), booking.currency, locale)),
                label,
            )
        )
    return mark_safe("\n".join(rows))  # noqa: S308 - every value above is escaped
