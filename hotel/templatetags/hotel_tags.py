from collections.abc import Iterable
from datetime import date
from decimal import Decimal
from functools import lru_cache

from babel.numbers import format_currency
from django import template
from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.templatetags.static import static
from django.urls import get_script_prefix, get_urlconf, reverse
from django.utils import dateformat
from django.utils.translation import get_language, to_locale

register = template.Library()


@lru_cache(maxsize=256)
def _fixed_url(script_prefix: str, urlconf, name: str) -> str:
    # Keyed by what reverse() reads besides the name: the script prefix the
    # server is mounted under and the URLconf it resolves with.
    return reverse(name, urlconf=urlconf)


@register.simple_tag
def nav_url(name: str) -> str:
    """``{% url name %}`` for a page that takes no arguments, reversed once per process.

    Every page's header links five of them; ``reverse`` costs about 30 µs a call.
    """
    return _fixed_url(get_script_prefix(), get_urlconf() or settings.ROOT_URLCONF, name)


@lru_cache(maxsize=64)
def _static_url(path: str) -> str:
    return static(path)


@register.simple_tag
def static_url(path: str) -> str:
    """``{% static path %}``, looked up once per process.

    The manifest storage reads its manifest once, when it starts, so a
    path's URL does not change while the process runs; looking it up again
    on every page the template engine renders cost about 10 µs a page.
    """
    return _static_url(path)


@receiver(setting_changed, dispatch_uid="hotel.static_url")
def _forget_static_urls(*, setting: str, **kwargs) -> None:
    # The storage itself starts again when these change (django.test.signals).
    if setting in {"STATIC_URL", "STATIC_ROOT", "STORAGES"}:
        _static_url.cache_clear()


@lru_cache(maxsize=8192)
def format_money(amount: Decimal, currency: str, locale: str) -> str:
    # Babel re-applies the locale's pattern on every call (~70 µs); a results
    # page shows the same few prices hundreds of times, so they are memoised.
    return format_currency(amount, currency, locale=locale)


@register.filter
def money(amount: Decimal | None, currency: str) -> str:
    """Format an amount in a currency for people: `{{ price|money:hotel.currency }}`."""
    return format_amount(amount, currency, to_locale(get_language() or "en-gb"))


def format_amount(amount: Decimal | None, currency: str, locale: str) -> str:
    """The ``money`` filter in a locale looked up once for many amounts."""
    if amount is None or amount == "":
        return ""
    return format_money(Decimal(amount), currency, locale)


@lru_cache(maxsize=8192)
def format_day(day: date, format_string: str, language: str) -> str:
    # Names of days and months follow the active language, hence the key.
    return dateformat.format(day, format_string)


@register.filter
def day(value: date | None, format_string: str) -> str:
    """Django's ``date`` filter for a plain date, memoised: `{{ night|day:"D j" }}`.

    A calendar shows sixty dates and a results page hundreds; formatting one
    costs more than the rest of its cell.
    """
    if value is None or value == "":
        return ""
    return format_day(value, format_string, get_language() or "en-gb")


@register.filter
def nightly_prices(nights: Iterable, currency: str) -> str:
    """Each night's day and price, for people: `Fri 4: €120.00 · Sat 5: €130.00`.

    One filter for the whole line: a results page shows hundreds of nights,
    and the template engine spends more per tag than this spends per night.
    """
    return format_nightly_prices(nights, currency, get_language() or "en-gb")


def format_nightly_prices(nights: Iterable, currency: str, language: str) -> str:
    """``nightly_prices`` in a language looked up once for many lines."""
    locale = to_locale(language)
    return " · ".join(
        f"{format_day(night.date, 'D j', language)}: "
        f"{format_money(Decimal(night.price), currency, locale)}"
        for night in nights
    )


@register.filter
def star_rating(stars: int) -> str:
    return "★" * int(stars or 0)
