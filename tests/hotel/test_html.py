from datetime import date
from decimal import Decimal

import pytest
from django.utils.functional import lazy
from django.utils.html import conditional_escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext_lazy

from hotel.html import escape


class _Html:
    def __html__(self) -> str:
        return "<em>kept</em>"


@pytest.mark.parametrize(
    "value",
    [
        'Casa "Azul" <script>x()</script> & Co\'s',
        "plain",
        "",
        mark_safe("<b>safe</b>"),
        SafeString("<i>safe</i>"),
        gettext_lazy("Sold out <now>"),
        lazy(lambda: "<i>lazy</i>", str, SafeString)(),
        lazy(lambda: mark_safe("<i>lazy safe</i>"), SafeString)(),
        _Html(),
        None,
        1234,
        Decimal("12.50"),
        date(2027, 3, 5),
    ],
)
def test_escape_gives_what_djangos_conditional_escape_gives(value):
    assert escape(value) == conditional_escape(value)
