from datetime import date, time, timedelta

import pytest
from django.test import Client
from django.urls import reverse

from hotel.forms import SearchForm
from tests.factories import AmenityFactory, HotelFactory, RoomFactory, RoomTypeFactory
from tests.processes import become_another_process

pytestmark = pytest.mark.django_db


def _hotel_with_rooms(n_room_types: int, **hotel_kwargs):
    hotel = HotelFactory(**hotel_kwargs)
    amenity = AmenityFactory()
    hotel.amenities.add(amenity)
    for _ in range(n_room_types):
        room_type = RoomTypeFactory(hotel=hotel)
        room_type.amenities.add(amenity)
        RoomFactory(room_type=room_type)
    return hotel


def test_home_shows_the_search_form_and_the_cities(client):
    _hotel_with_rooms(1, city="Porto")
    response = client.get(reverse("hotel:home"))
    body = response.content.decode()
    assert response.status_code == 200
    assert 'name="check_in"' in body and 'name="adults"' in body
    assert "Porto" in body


def test_home_costs_one_query_then_none_once_cached(client, django_assert_num_queries):
    _hotel_with_rooms(1)
    with django_assert_num_queries(1):
        client.get(reverse("hotel:home"))
    with django_assert_num_queries(0):
        client.get(reverse("hotel:home"))


@pytest.mark.parametrize("hotels", [1, 15])
def test_hotel_list_costs_the_same_queries_for_1_and_15_hotels(
    client, django_assert_num_queries, hotels
):
    for _ in range(hotels):
        _hotel_with_rooms(2)
    client.get(reverse("hotel:home"))  # warms the cached city list
    # count, page of hotels, their amenities
    with django_assert_num_queries(3):
        response = client.get(reverse("hotel:list"))
    assert response.status_code == 200


def test_hotel_list_filters_by_city_and_stars_and_sorts_by_price(client):
    cheap = _hotel_with_rooms(1, city="Lisbon", stars=3)
    dear = _hotel_with_rooms(1, city="Lisbon", stars=5)
    dear.room_types.update(base_price="300.00")
    _hotel_with_rooms(1, city="Porto", stars=5)
    response = client.get(reverse("hotel:list"), {"city": "lisbon", "sort": "-price"})
    hotels = list(response.context["page"])
    assert hotels == [dear, cheap]
    response = client.get(reverse("hotel:list"), {"city": "Lisbon", "stars": "4"})
    assert list(response.context["page"]) == [dear]


def test_hotel_list_paginates(client):
    for _ in range(13):
        HotelFactory()
    first = client.get(reverse("hotel:list"))
    second = client.get(reverse("hotel:list"), {"page": 2})
    assert len(first.context["page"]) == 12
    assert len(second.context["page"]) == 1


def test_hotel_list_ignores_filters_it_cannot_parse(client):
    HotelFactory()
    response = client.get(reverse("hotel:list"), {"stars": "lots", "sort": "x", "page": "zz"})
    assert response.status_code == 200
    assert len(response.context["page"]) == 1


@pytest.mark.parametrize("room_types", [1, 10])
def test_hotel_page_costs_the_same_queries_for_1_and_10_room_types(
    client, django_assert_num_queries, room_types
):
    hotel = _hotel_with_rooms(room_types)
    # the hotel, its amenities and the room types with theirs, in one statement
    with django_assert_num_queries(1):
        response = client.get(hotel.get_absolute_url())
    assert response.status_code == 200
    assert len(response.context["room_types"]) == room_types
    with django_assert_num_queries(0):
        client.get(hotel.get_absolute_url())


def test_hotel_page_shows_room_types_and_amenities(client):
    hotel = _hotel_with_rooms(2)
    body = client.get(hotel.get_absolute_url()).content.decode()
    for room_type in hotel.room_types.all():
        assert room_type.name in body
    assert hotel.amenities.get().name in body


def test_hotel_page_header_is_rendered_once_then_again_after_a_staff_edit(
    client, django_capture_on_commit_callbacks
):
    hotel = _hotel_with_rooms(1, description="Sea view\nand <b>garden</b>")
    first = client.get(hotel.get_absolute_url())
    assert "hotel/_hotel_header.html" in [t.name for t in first.templates]
    assert "Sea view<br>and &lt;b&gt;garden&lt;/b&gt;" in first.content.decode()

    # kept from its second rendering on, as every fragment is
    client.get(hotel.get_absolute_url())
    kept = client.get(hotel.get_absolute_url())
    assert "hotel/_hotel_header.html" not in [t.name for t in kept.templates]
    assert kept.content == first.content

    hotel.name, hotel.check_in_time = "Casa Nova", time(16, 30)
    with django_capture_on_commit_callbacks(execute=True):
        hotel.save()
    edited = client.get(hotel.get_absolute_url()).content.decode()
    assert "<h1>Casa Nova</h1>" in edited and "from 16:30" in edited


def test_unknown_and_inactive_hotels_give_the_404_page(client):
    inactive = HotelFactory(is_active=False)
    for slug in ("no-such-hotel", inactive.slug):
        response = client.get(reverse("hotel:detail", args=[slug]))
        assert response.status_code == 404
        assert "We could not find that page" in response.content.decode()


def test_hotel_page_reports_bad_stay_dates_without_failing(client):
    hotel = _hotel_with_rooms(1)
    response = client.get(hotel.get_absolute_url(), {"check_in": "soon", "check_out": "later"})
    assert response.status_code == 200
    assert "Enter the check-in date as YYYY-MM-DD." in response.content.decode()


def _search(**data):
    base = {
        "check_in": (date.today() + timedelta(days=10)).isoformat(),
        "check_out": (date.today() + timedelta(days=12)).isoformat(),
        "adults": "2",
        "children": "0",
    }
    base.update(data)
    return SearchForm(base)


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"check_in": "31/02/2027"}, "check_in", "Enter the check-in date as YYYY-MM-DD."),
        ({"check_out": "tomorrow"}, "check_out", "Enter the check-out date as YYYY-MM-DD."),
        (
            {"check_out": (date.today() + timedelta(days=10)).isoformat()},
            "check_out",
            "Check-out must be after check-in.",
        ),
        (
            {"check_in": (date.today() - timedelta(days=5)).isoformat()},
            "check_in",
            "Check-in cannot be in the past.",
        ),
        (
            {"check_out": (date.today() + timedelta(days=41)).isoformat()},
            "check_out",
            "A stay can be at most 30 nights.",
        ),
        ({"adults": "0"}, "adults", "At least one adult must stay."),
        ({"adults": "two"}, "adults", "Enter the number of adults as a whole number."),
        ({"children": "-1"}, "children", "The number of children cannot be negative."),
    ],
)
def test_search_form_refuses_bad_stays_with_a_clear_message(data, field, message):
    form = _search(**data)
    assert not form.is_valid()
    assert message in form.errors[field]


def test_search_form_accepts_a_good_stay_and_defaults_children_to_zero():
    form = _search(children="")
    assert form.is_valid(), form.errors
    assert form.cleaned_data["children"] == 0
    assert form.nights == 2


def _stay(days_ahead=10, nights=2):
    check_in = date.today() + timedelta(days=days_ahead)
    return check_in, check_in + timedelta(days=nights)


def _hotel_on_sale_for_a_stay():
    """A hotel of one room type with 3 rooms at 120.00 on both nights of ``_stay()``."""
    from tests.factories import RoomInventoryFactory

    hotel = _hotel_with_rooms(1)
    room_type = hotel.room_types.get()
    check_in, check_out = _stay()
    for night in (check_in, check_in + timedelta(days=1)):
        RoomInventoryFactory(room_type=room_type, date=night, total=3, price="120.00")
    stay = {"check_in": check_in.isoformat(), "check_out": check_out.isoformat(), "adults": 2}
    return hotel, room_type, (check_in, check_out), stay


def test_hotel_page_with_dates_prices_the_stay_and_offers_to_book(client):
    from tests.factories import RoomInventoryFactory

    hotel = _hotel_with_rooms(1)
    room_type = hotel.room_types.get()
    check_in, check_out = _stay()
    for night in (check_in, check_in + timedelta(days=1)):
        RoomInventoryFactory(room_type=room_type, date=night, total=3, price="120.00")
    response = client.get(
        hotel.get_absolute_url(),
        {"check_in": check_in.isoformat(), "check_out": check_out.isoformat(), "adults": 2},
    )
    body = response.content.decode()
    assert response.status_code == 200
    assert "€240.00" in body
    assert f'action="{reverse("bookings:hold")}"' in body
    assert f'name="room_type" value="{room_type.pk}"' in body


def test_hotel_page_with_dates_says_why_a_room_type_cannot_be_booked(client):
    from tests.factories import RoomInventoryFactory

    hotel = _hotel_with_rooms(1)
    room_type = hotel.room_types.get()
    check_in, check_out = _stay()
    RoomInventoryFactory(room_type=room_type, date=check_in, total=2, sold=2)
    RoomInventoryFactory(room_type=room_type, date=check_in + timedelta(days=1), total=2)
    response = client.get(
        hotel.get_absolute_url(),
        {"check_in": check_in.isoformat(), "check_out": check_out.isoformat(), "adults": 2},
    )
    body = response.content.decode()
    assert "Sold out" in body
    assert f'name="room_type" value="{room_type.pk}"' not in body


def test_money_is_formatted_in_the_hotels_currency():
    from decimal import Decimal

    from hotel.templatetags.hotel_tags import money

    assert money(Decimal("1234.5"), "EUR") == "€1,234.50"
    assert money(Decimal("99"), "GBP") == "£99.00"
    assert money(Decimal("1500"), "JPY") == "JP¥1,500"
    assert money(None, "EUR") == ""


def test_nights_and_days_are_formatted_in_the_active_language():
    from decimal import Decimal

    from django.utils import translation

    from hotel.templatetags.hotel_tags import day, nightly_prices
    from inventory.cards import NightCard

    nights = [
        NightCard(date(2030, 1, 4), Decimal("120")),
        NightCard(date(2030, 1, 5), Decimal("99.5")),
    ]

    assert nightly_prices(nights, "EUR") == "Fri 4: €120.00 · Sat 5: €99.50"
    assert day(date(2030, 1, 4), "j M") == "4 Jan"
    with translation.override("de"):
        assert day(date(2030, 1, 4), "D j M") == "Fr 4 Jan"
    assert day(date(2030, 1, 4), "D j M") == "Fri 4 Jan"
    assert day(None, "j M") == ""


def test_hotel_page_with_dates_gives_every_form_a_fresh_key_and_shows_a_hold_once_committed(
    client, django_assert_num_queries, django_capture_on_commit_callbacks
):
    import re

    from bookings.services import booking_hold

    hotel, room_type, (check_in, check_out), stay = _hotel_on_sale_for_a_stay()
    pages = [client.get(hotel.get_absolute_url(), stay).content.decode() for _ in range(2)]

    # the third page is served from memory and costs no query
    with django_assert_num_queries(0):
        pages.append(client.get(hotel.get_absolute_url(), stay).content.decode())
    keys = [k for body in pages for k in re.findall(r'name="idempotency_key" value="(\w+)"', body)]
    assert len(keys) == 3 and len(set(keys)) == 3
    assert all("3 left" in body for body in pages)

    with django_capture_on_commit_callbacks(execute=True):
        booking_hold(room_type=room_type, check_in=check_in, check_out=check_out, adults=2)

    # the hotel's nights are read again, its room types stay cached
    with django_assert_num_queries(1):
        body = client.get(hotel.get_absolute_url(), stay).content.decode()
    assert "2 left" in body and "3 left" not in body


def test_hotel_page_room_options_are_rendered_again_after_a_hold_in_their_week_only(
    django_assert_num_queries, django_capture_on_commit_callbacks
):
    from django.test import Client

    from bookings.services import booking_hold
    from tests.factories import RoomInventoryFactory

    # given a hotel's pages for stays in two weeks, each rendered once by some visitor
    hotel = _hotel_with_rooms(1)
    room_type = hotel.room_types.get()
    monday = date.today() + timedelta(days=14 - date.today().weekday())
    for n in range(14):
        RoomInventoryFactory(room_type=room_type, date=monday + timedelta(days=n), total=3)
    stays = [
        {
            "check_in": start.isoformat(),
            "check_out": (start + timedelta(days=2)).isoformat(),
            "adults": 2,
        }
        for start in (monday, monday + timedelta(days=7))
    ]
    for stay in stays:
        Client().get(hotel.get_absolute_url(), stay)

    # when a guest holds a night of the first week
    with django_capture_on_commit_callbacks(execute=True):
        booking_hold(
            room_type=room_type, check_in=monday, check_out=monday + timedelta(days=1), adults=1
        )

    # then the first week's options are rendered again with the room taken
    again = Client().get(hotel.get_absolute_url(), stays[0])
    assert "hotel/_hotel_options.html" in [t.name for t in again.templates]
    assert "2 left" in again.content.decode()
    # and the other week's are served as rendered, with no query
    with django_assert_num_queries(0):
        kept = Client().get(hotel.get_absolute_url(), stays[1])
    assert "hotel/_hotel_options.html" not in [t.name for t in kept.templates]
    assert "3 left" in kept.content.decode()


def test_a_release_renders_the_hotel_pages_options_again_rather_than_serve_the_last_ones(
    monkeypatch,
):
    from caching import fragments
    from inventory import blocks
    from tests.factories import RoomInventoryFactory

    # given a hotel page for a stay, rendered once and then served from the cache
    hotel = _hotel_with_rooms(1)
    start = date.today() + timedelta(days=10)
    RoomInventoryFactory(room_type=hotel.room_types.get(), date=start, total=3)
    stay = {"check_in": str(start), "check_out": str(start + timedelta(days=1)), "adults": 2}
    renders = []
    render_pieces = blocks.render_pieces
    monkeypatch.setattr(
        blocks, "render_pieces", lambda *args: renders.append(args) or render_pieces(*args)
    )
    for _ in range(2):
        assert "3 left" in Client().get(hotel.get_absolute_url(), stay).content.decode()
    assert len(renders) == 1

    # when the next release starts (new templates or code that builds HTML)
    monkeypatch.setattr(fragments, "release_digest", lambda: "the-next-release")

    # then its first visitor gets the options rendered by the new release
    assert "3 left" in Client().get(hotel.get_absolute_url(), stay).content.decode()
    assert len(renders) == 2


def test_hotel_page_options_rendered_by_another_process_carry_an_idempotency_key(
    client, monkeypatch
):
    import re

    # given a hotel page whose room options one process rendered and shared through Redis
    hotel, _room_type, _dates, stay = _hotel_on_sale_for_a_stay()
    client.get(hotel.get_absolute_url(), stay)

    # when another process serves the same page from Redis
    become_another_process(monkeypatch)
    response = client.get(hotel.get_absolute_url(), stay)

    # then its Book form has a fresh idempotency key and one CSRF field, as a fresh render has
    assert "hotel/_hotel_options.html" not in [t.name for t in response.templates]
    body = response.content.decode()
    assert re.findall(r'name="idempotency_key" value="([0-9a-f]{32})"', body)
    assert body.count('name="csrfmiddlewaretoken"') == 1
