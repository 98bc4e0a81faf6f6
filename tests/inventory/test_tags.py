"""The search results and room options the pages show, built in Python."""

import re
from datetime import date
from decimal import Decimal
from importlib import import_module
from pathlib import Path

import pytest
from django.template import Context, Template
from django.utils import translation

from caching import fragments
from inventory.cards import (
    DayCard,
    HotelCard,
    NightCard,
    OptionCard,
    RoomTypeCard,
    SearchResultCard,
)

pytestmark = pytest.mark.django_db

TAGS = ("room_option", "hotel_option")


def _option(**changes) -> OptionCard:
    values = {
        "room_type": RoomTypeCard(
            pk=1234, url="/hotels/h/rooms/r/", name="Double", beds="1 king bed", max_occupancy=2
        ),
        "check_in": date(2027, 3, 5),
        "check_out": date(2027, 3, 7),
        "adults": 2,
        "children": 1,
        "currency": "EUR",
        "bookable": True,
        "rooms_left": None,
        "total": Decimal("1234.50"),
        "nights": (
            NightCard(date(2027, 3, 5), Decimal("600.00")),
            NightCard(date(2027, 3, 6), Decimal("634.50")),
        ),
        "reasons": (),
        "hold_url": "/book/hold/",
    }
    return OptionCard(**{**values, **changes})


def _render(tag: str, option: OptionCard, **context) -> str:
    template = Template(f"{{% load inventory_tags %}}{{% {tag} option %}}")
    return template.render(Context({"option": option, "csrf_token": "tok3n", **context}))


@pytest.mark.parametrize("tag", TAGS)
def test_an_option_escapes_what_staff_typed(tag):
    room_type = RoomTypeCard(
        pk=1, url="/r/?a=1&b=2", name='Suite <i>"deluxe"</i>', beds="1 <b>king</b>", max_occupancy=2
    )
    closed = _option(room_type=room_type, bookable=False, reasons=("Sold out <script>x()",))

    for option in (_option(room_type=room_type), closed):
        html = _render(tag, option)
        assert "Suite &lt;i&gt;&quot;deluxe&quot;&lt;/i&gt;" in html
        assert "1 &lt;b&gt;king&lt;/b&gt;" in html
        assert 'href="/r/?a=1&amp;b=2"' in html
        assert "<i>" not in html and "<b>" not in html
    assert "Sold out &lt;script&gt;x()" in _render(tag, closed)
    assert "<form" not in _render(tag, closed)


def test_a_room_option_shows_the_total_each_night_and_the_rooms_left():
    html = _render("room_option", _option(rooms_left=2))
    assert '<span class="price">€1,234.50</span>' in html
    assert "for 2 nights" in html
    assert "Fri 5: €600.00 · Sat 6: €634.50" in html
    assert '<span class="tag bad">2 left</span>' in html

    one_night = _option(nights=(NightCard(date(2027, 3, 5), Decimal("90.00")),))
    html = _render("room_option", one_night)
    assert "for 1 night<" in html
    assert "left<" not in html


def test_a_hotel_option_shows_the_total_for_the_stay_and_the_rooms_left():
    html = _render("hotel_option", _option(rooms_left=1))
    assert '<span class="price">€1,234.50</span> for the stay' in html
    assert '<span class="tag bad">1 left</span>' in html
    assert "left<" not in _render("hotel_option", _option())


@pytest.mark.parametrize("tag", TAGS)
def test_the_book_form_posts_the_stay_unlocalized_with_this_requests_csrf_and_a_fresh_key(
    tag, settings
):
    settings.USE_THOUSAND_SEPARATOR = True
    with translation.override("pt"):
        first, second = _render(tag, _option()), _render(tag, _option())

    for html in (first, second):
        assert '<form method="post" action="/book/hold/">' in html
        assert '<input type="hidden" name="csrfmiddlewaretoken" value="tok3n">' in html
        for name, value in [
            ("room_type", "1234"),
            ("check_in", "2027-03-05"),
            ("check_out", "2027-03-07"),
            ("adults", "2"),
            ("children", "1"),
        ]:
            assert f'<input type="hidden" name="{name}" value="{value}">' in html
    keys = [
        re.search(r'name="idempotency_key" value="([0-9a-f]{32})"', html).group(1)
        for html in (first, second)
    ]
    assert keys[0] != keys[1]


@pytest.mark.parametrize("tag", TAGS)
def test_an_option_without_the_booking_pages_has_no_book_button(tag):
    assert "<form" not in _render(tag, _option(hold_url=None))


def test_an_option_in_a_cached_block_is_filled_with_each_requests_csrf_and_key():
    pieces = fragments.render_pieces("hotel/_hotel_options.html", {"options": [_option()]})
    assert "tok3n" not in "".join(pieces)

    filled = [
        str(fragments.fill(pieces, Context({"csrf_token": token}))) for token in ("one", "two")
    ]

    assert 'name="csrfmiddlewaretoken" value="one"' in filled[0]
    assert 'name="csrfmiddlewaretoken" value="two"' in filled[1]
    keys = [re.search(r'name="idempotency_key" value="(\w+)"', html).group(1) for html in filled]
    assert keys[0] != keys[1] and all(len(key) == 32 for key in keys)


def _result(**changes) -> SearchResultCard:
    values = {
        "hotel": HotelCard(
            pk=7,
            url="/hotels/casa/?x=1&y=2",
            name='Casa "Azul" <script>x()</script>',
            stars=4,
            city="Lisbon & <b>co</b>",
            address="Rua <i>1</i>",
            currency="EUR",
        ),
        "cheapest": Decimal("1234.50"),
        "amenities": (("wifi", "Wi-Fi <b>free</b>"), ("bar", "Bar")),
        "bookable": (_option(),),
        "not_bookable": (),
    }
    return SearchResultCard(**{**values, **changes})


def _result_html(result: SearchResultCard) -> str:
    return Template("{% load inventory_tags %}{% search_result result %}").render(
        Context({"result": result, "csrf_token": "tok3n"})
    )


def test_a_search_result_escapes_what_staff_typed():
    html = _result_html(_result())
    assert 'href="/hotels/casa/?x=1&amp;y=2">Casa &quot;Azul&quot; &lt;script&gt;' in html
    assert "Lisbon &amp; &lt;b&gt;co&lt;/b&gt; · Rua &lt;i&gt;1&lt;/i&gt;" in html
    assert '<span class="tag">Wi-Fi &lt;b&gt;free&lt;/b&gt;</span>' in html
    assert "<script>" not in html and "<b>" not in html
    assert '<span class="stars" aria-label="4 stars">★★★★</span>' in html
    assert 'from <span class="price">€1,234.50</span>' in html


def test_a_search_result_lists_the_options_it_cannot_sell_folded_unless_none_can_be_sold():
    closed = _option(bookable=False, reasons=("Sold out",))
    some = _result_html(_result(not_bookable=(closed,)))
    none = _result_html(
        _result(cheapest=None, bookable=(), not_bookable=(closed, closed), amenities=())
    )

    assert "<details>" in some and "1 room type not available" in some
    assert some.count('name="idempotency_key"') == 1
    assert "<details open>" in none and "2 room types not available" in none
    assert '<span class="tag bad">Nothing free for these dates</span>' in none
    assert "<form" not in none and 'class="tag">' not in none


def test_each_option_of_a_result_has_this_requests_csrf_a_key_of_its_own_and_its_prices():
    cheaper = _option(total=Decimal("99.00"), nights=(NightCard(date(2027, 3, 5), Decimal("99")),))
    with translation.override("pt"):
        html = _result_html(_result(bookable=(_option(), cheaper)))

    assert html.count('<input type="hidden" name="csrfmiddlewaretoken" value="tok3n">') == 2
    keys = re.findall(r'name="idempotency_key" value="([0-9a-f]{32})"', html)
    assert len(keys) == 2 and keys[0] != keys[1]
    # the header's cheapest price and both options in the active language
    assert html.count('<span class="price">€\xa01.234,50</span>') == 2
    assert '<span class="price">€\xa099,00</span>' in html
    assert "Sex 5: €\xa0600,00 · Sáb 6: €\xa0634,50" in html and "Sex 5: €\xa099,00" in html


def test_a_calendar_shows_each_day_as_it_stands_a_row_a_week():
    def day(n, **changes):
        values = {
            "date": date(2027, 3, n),
            "exists": True,
            "stop_sell": False,
            "free": 4,
            "price": Decimal("1200.00"),
            "min_stay": 1,
        }
        return DayCard(**{**values, **changes})

    weeks = (
        (None, None, day(3), day(4, free=3), day(5, free=0), day(6, stop_sell=True), day(7)),
        (day(8, exists=False, free=0, price=None), day(9, min_stay=3), *([None] * 5)),
    )
    html = Template("{% load inventory_tags %}{% calendar_rows weeks 'EUR' %}").render(
        Context({"weeks": weeks})
    )
    rows = [re.findall(r"<td[^>]*>.*?</td>", row, re.S) for row in html.split("</tr>")[:-1]]
    cells = [[" ".join(cell.split()) for cell in row] for row in rows]

    assert [len(row) for row in cells] == [7, 7]
    assert cells[0][:2] == ["<td></td>", "<td></td>"]
    # more rooms than FEW_ROOMS_LEFT: only that there is one; from there down, how many
    assert cells[0][2] == (
        '<td class="free"> <div class="day">3 Mar</div> Available<br>€1,200.00 </td>'
    )
    assert cells[0][3].startswith('<td class="few">') and "3 left<br>€1,200.00" in cells[0][3]
    assert cells[0][4].startswith('<td class="none">') and "Sold out" in cells[0][4]
    assert "Closed" in cells[0][5] and "<br>€" not in cells[0][5]
    assert cells[1][0] == '<td class="none"> <div class="day">8 Mar</div> Not on sale </td>'
    assert 'Available<br>€1,200.00<br><span class="muted">min 3 nights</span>' in cells[1][1]
    assert cells[1][2:] == ["<td></td>"] * 5


@pytest.fixture
def _digest_read_again():
    fragments.release_digest.cache_clear()
    yield
    fragments.release_digest.cache_clear()


@pytest.mark.parametrize("module", ["inventory.templatetags.inventory_tags", "hotel.html"])
def test_a_release_that_changes_only_the_python_of_a_tag_does_not_share_the_previous_html(
    module, monkeypatch, _digest_read_again
):
    # given a search result kept in Redis by a release, whose template now
    # only calls {% search_result %}: its HTML is built in Python
    key = fragments._memo_key("inventory/_search_result.html", {"result": _result()})
    kept_by_previous_release = fragments._shared_key(key)

    # when the next release changes that Python (an escaping fix) and no template
    changed = Path(import_module(module).__file__)
    read_bytes = Path.read_bytes
    monkeypatch.setattr(
        Path,
        "read_bytes",
        lambda path: (
            read_bytes(path) + (b"\n# escape one more value\n" if path == changed else b"")
        ),
    )
    fragments.release_digest.cache_clear()

    # then it neither serves nor keeps in memory the previous release's HTML
    assert fragments._shared_key(key) != kept_by_previous_release
