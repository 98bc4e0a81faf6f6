from datetime import date
from decimal import Decimal

from django.utils import translation

from notifications.formatting import format_day, format_money


def test_money_and_days_read_as_in_the_active_language():
    with translation.override("en-gb"):
        assert format_money(Decimal("1234.5"), "EUR") == "€1,234.50"
        assert format_day(date(2026, 12, 7)) == "Monday, 7 December 2026"
    # the same values again, in another language: the memo is per language
    with translation.override("pt"):
        assert format_money(Decimal("1234.5"), "EUR") == "€\xa01.234,50"
        assert format_day(date(2026, 12, 7)) == "segunda-feira, 7 de dezembro de 2026"
    with translation.override("en-gb"):
        assert format_money(Decimal("1234.50"), "EUR") == "€1,234.50"
        assert format_money(Decimal("1234.5"), "GBP") == "£1,234.50"
