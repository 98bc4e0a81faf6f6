"""Amounts in a hotel's currency."""

from decimal import Decimal

from babel.numbers import get_currency_precision

CENT = Decimal("0.01")


def minor_unit(currency: str) -> Decimal:
    """The smallest amount of ``currency`` that can be charged: 0.01 EUR, 1 JPY.

    ISO 4217's exponent (through Babel), but never finer than the cent that
    the money columns keep.
    """
    return max(Decimal(1).scaleb(-get_currency_precision(currency)), CENT)


def is_payable(amount: Decimal, currency: str) -> bool:
    """Whether ``amount`` is a whole number of ``currency``'s smallest unit (no half yen)."""
    return not Decimal(amount) % minor_unit(currency)
