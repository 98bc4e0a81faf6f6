from collections.abc import Iterable
from decimal import Decimal

from django import template
from django.utils.html import format_html
from django.utils.safestring import mark_safe
from django.utils.translation import get_language, to_locale

from caching.fragments import idempotency_key
from hotel.html import escape
from hotel.templatetags.hotel_tags import format_day, format_money

register = template.Library()


@register.simple_tag(takes_context=True)
def idempotency_field(context) -> str:
    """A hidden field with a fresh key: the same form posted twice makes one booking.

    Put it inside any form that posts to ``bookings:hold``:
    ``{% load booking_tags %}{% idempotency_field %}``. Inside a memoised
    fragment (caching.fragments) the key is filled in per render, never kept.
    """
    return format_html(
        '<input type="hidden" name="idempotency_key" value="{}">', idempotency_key(context)
    )


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
