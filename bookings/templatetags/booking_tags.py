from django import template
from django.utils.html import format_html

from caching.fragments import idempotency_key

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
