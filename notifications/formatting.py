"""Money, dates and times as a guest reads them, in the site's language (babel)."""

from datetime import date, time
from decimal import Decimal
from functools import lru_cache

from babel.dates import format_date, format_time
from babel.numbers import format_currency
from django.conf import settings
from django.utils.translation import get_language, to_locale


def _locale() -> str:
    return to_locale(get_language() or settings.LANGUAGE_CODE)


def format_money(amount: Decimal, currency: str) -> str:
    """``Decimal("1234.5"), "EUR"`` -> ``€1,234.50`` (in en-gb)."""
    return _money(amount, currency, _locale())


def format_day(day: date) -> str:
    """``date(2026, 12, 7)`` -> ``Monday, 7 December 2026`` (in en-gb)."""
    return _day(day, _locale())


# Every confirmation formats each night's date and price; babel parses its
# patterns on every call, and the same nights and prices recur from booking
# to booking. Both are pure functions of their arguments.
@lru_cache(maxsize=4096)
def _money(amount: Decimal, currency: str, locale: str) -> str:
    return format_currency(amount, currency, locale=locale)


@lru_cache(maxsize=4096)
def _day(day: date, locale: str) -> str:
    return format_date(day, format="full", locale=locale)


def format_time_of_day(value: time | str) -> str:
    """``time(15, 0)`` -> ``15:00`` (in en-gb); a model default not yet reloaded is a string."""
    if isinstance(value, str):
        value = time.fromisoformat(value)
    return format_time(value, format="short", locale=_locale())
