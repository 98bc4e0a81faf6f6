from decimal import Decimal

from babel.numbers import format_currency
from django import template
from django.utils.translation import to_locale

register = template.Library()


@register.filter
def money(amount: Decimal | None, currency: str) -> str:
    """Format an amount in a currency for people: `{{ price|money:hotel.currency }}`."""
    if amount is None or amount == "":
        return ""
    from django.utils.translation import get_language

    return format_currency(Decimal(amount), currency, locale=to_locale(get_language() or "en-gb"))


@register.filter
def star_rating(stars: int) -> str:
    return "★" * int(stars or 0)
