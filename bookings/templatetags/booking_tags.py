import uuid

from django import template
from django.utils.html import format_html

register = template.Library()


@register.simple_tag
def idempotency_field() -> str:
    """A hidden field with a fresh key: the same form posted twice makes one booking.

    Put it inside any form that posts to ``bookings:hold``:
    ``{% load booking_tags %}{% idempotency_field %}``.
    """
    return format_html('<input type="hidden" name="idempotency_key" value="{}">', uuid.uuid4().hex)
