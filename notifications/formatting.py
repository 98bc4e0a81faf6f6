"""Money, dates and times as a guest reads them, in the site's language (babel)."""

from datetime import date, time
from decimal import Decimal

from babel.dates import format_date, format_time
from babel.numbers import format_currency
from django.conf import settings
from django.utils.translation import get_language, to_locale


def _locale() -> str:
    return to_locale(get_language() or settings.LANGUAGE_CODE)


def format_money(amount: Decimal, currency: str) -> str:
    """``Decimal("1234.5"), "EUR"`` -> ``€1,234.50`` (in en-gb)."""
    return format_currency(amount, currency, locale=_locale())


def format_day(day: date) -> str:
    """``date(2026, 12, 7)`` -> ``Monday, 7 December 2026`` (in en-gb)."""
    return format_date(day, format="full", locale=_locale())


def format_time_of_day(value: time | str) -> str:
    """``time(15, 0)`` -> ``15:00`` (in en-gb); a model default not yet reloaded is a string."""
    if isinstance(value, str):
        value = time.fromisoformat(value)
    return format_time(value, format="short", locale=_locale())
