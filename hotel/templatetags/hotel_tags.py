from decimal import Decimal
from functools import lru_cache

from babel.numbers import format_currency
from django import template
from django.utils.translation import get_language, to_locale

register = template.Library()


@lru_cache(maxsize=8192)
def _format_money(amount: Decimal, currency: str, locale: str) -> str:
    # Babel re-applies the locale's pattern on every call (~70 µs); a results
    # page shows the same few prices hundreds of times, so they are memoised.
    return format_currency(amount, currency, locale=locale)


@register.filter
def money(amount: Decimal | None, currency: str) -> str:
    """Format an amount in a currency for people: `{{ price|money:hotel.currency }}`."""
    if amount is None or amount == "":
        return ""
    return _format_money(Decimal(amount), currency, to_locale(get_language() or "en-gb"))


@register.filter
def star_rating(stars: int) -> str:
    return "★" * int(stars or 0)
