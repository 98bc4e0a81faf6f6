import re
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.urls import reverse

from inventory.services import inventory_generate
from tests.factories import (
    AmenityFactory,
    HotelFactory,
    RoomFactory,
    RoomInventoryFactory,
    RoomTypeFactory,
)

pytestmark = pytest.mark.django_db


def _search(client, **params):
    return client.get(reverse("inventory:search"), params)


def _stay(future, nights=2, **extra):
    return {
        "check_in": future.isoformat(),
        "check_out": (future + timedelta(days=nights)).isoformat(),
        "adults": 2,
        "children": 0,
        **extra,
    }


def _stocked(hotel, future, nights=5, **kwargs):
    room_type = RoomTypeFactory(hotel=hotel, **kwargs)
    RoomFactory.create_batch(2, room_type=room_type)
    inventory_generate(room_type=room_type, start=future, end=future + timedelta(days=nights))
    return room_type


def test_search_lists_bookable_rooms_with_price_and_a_book_form(client, future):
    room_type = _stocked(HotelFactory(city="Lisbon", name="Casa Azul"), future)

    response = _search(client, q="lisbon", **_stay(future))

    assert response.status_code == 200
    body = response.content.decode()
    assert "Casa Azul" in body
    assert "€200.00" in body
    assert f'action="{reverse("bookings:hold")}"' in body
    assert f'name="room_type" value="{room_type.pk}"' in body
    assert 'name="csrfmiddlewaretoken"' in body


def test_search_book_form_sends_the_room_type_unlocalized(client, future, settings):
    # given a site that groups thousands, and a room type whose id has four digits
    settings.USE_THOUSAND_SEPARATOR = True
    _stocked(HotelFactory(city="Lisbon"), future, id=1234)

    response = _search(client, q="Lisbon", **_stay(future))

    # then the hold view gets the id it can read, not "1,234"
    assert 'name="room_type" value="1234"' in response.content.decode()


def test_search_shows_sold_out_rooms_with_their_reason(client, future):
    room_type = _stocked(HotelFactory(city="Porto"), future)
    room_type.inventory.filter(date=future + timedelta(days=1)).update(sold=2)

    response = _search(client, q="Porto", **_stay(future))

    night = future + timedelta(days=1)
    assert f"Sold out on {night:%a} {night.day} {night:%b}" in response.content.decode()
    assert 'name="room_type"' not in response.content.decode()


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"check_in": "2020-01-01", "check_out": "2020-01-03"}, "Check-in cannot be in the past."),
        ({"check_out": "SAME"}, "Check-out must be after check-in."),
        ({"check_out": "FAR"}, "A stay can be at most 30 nights."),
        ({"check_in": "tomorrow"}, "Enter the check-in date as YYYY-MM-DD."),
        ({"q": ""}, "Enter a city or a hotel name."),
        ({"adults": 9}, "No room takes 9 adults"),
        ({"stars": 7}, "Choose stars between 1 and 5."),
        ({"amenities": "jacuzzi"}, "jacuzzi is not an amenity we know."),
    ],
)
def test_search_bad_input_re_renders_with_a_message(client, future, params, message):
    _stocked(HotelFactory(city="Lisbon"), future)
    query = {"q": "Lisbon", **_stay(future), **params}
    if query["check_out"] == "SAME":
        query["check_out"] = query["check_in"]
    if query["check_out"] == "FAR":
        query["check_out"] = (future + timedelta(days=31)).isoformat()

    response = _search(client, **query)

    assert response.status_code == 400
    assert message in response.content.decode()


def test_search_without_parameters_shows_the_empty_form(client):
    response = client.get(reverse("inventory:search"))

    assert response.status_code == 200
    assert "errorlist" not in response.content.decode()


def test_search_filters_by_stars_and_amenities_and_sorts_by_price(client, future):
    pool = AmenityFactory(slug="pool", name="Pool")
    cheap = HotelFactory(city="Faro", name="Cheap", stars=3)
    dear = HotelFactory(city="Faro", name="Dear", stars=5)
    dear.amenities.add(pool)
    _stocked(cheap, future, base_price=Decimal("50.00"))
    _stocked(dear, future, base_price=Decimal("300.00"))

    by_price = _search(client, q="Faro", **_stay(future)).context["page"].object_list
    by_stars = _search(client, q="Faro", sort="-stars", **_stay(future)).context["page"].object_list
    with_pool = _search(client, q="Faro", amenities="pool", **_stay(future)).context["page"]
    three = _search(client, q="Faro", stars=3, **_stay(future)).context["page"]

    assert [h.hotel.name for h in by_price] == ["Cheap", "Dear"]
    assert [h.hotel.name for h in by_stars] == ["Dear", "Cheap"]
    assert [h.hotel.name for h in with_pool] == ["Dear"]
    assert [h.hotel.name for h in three] == ["Cheap"]


def test_search_paginates_and_keeps_the_query(client, future):
    for i in range(12):
        _stocked(HotelFactory(city="Braga", name=f"Braga {i:02}"), future)

    first = _search(client, q="Braga", **_stay(future))
    second = _search(client, q="Braga", page=2, **_stay(future))

    assert len(first.context["page"].object_list) == 10
    assert len(second.context["page"].object_list) == 2
    assert "q=Braga" in first.content.decode() and "page=2" in first.content.decode()


@pytest.mark.parametrize("hotels", [1, 8])
def test_search_query_count_does_not_grow_with_hotels(
    client, future, hotels, django_assert_max_num_queries
):
    for _ in range(hotels):
        _stocked(HotelFactory(city="Evora"), future)
    # Warm the session, amenity choices and largest-room caches alike for both sizes.
    _search(client, q="Evora", **_stay(future, nights=1))

    with django_assert_max_num_queries(8):
        response = _search(client, q="Evora", **_stay(future))

    assert len(response.context["page"].object_list) == hotels


def test_room_type_page_shows_a_60_day_calendar(client):
    today = date.today()
    room_type = _stocked(HotelFactory(timezone="UTC"), today, nights=60)
    room_type.inventory.filter(date=today + timedelta(days=3)).update(sold=2)

    response = client.get(room_type.get_absolute_url())

    assert response.status_code == 200
    body = response.content.decode()
    assert "Next 60 days" in body
    cells = re.findall(r'<td class="(\w+)">\s*<div class="day">([^<]+)</div>\s*([^<]+)', body)
    assert len(cells) == 60
    assert cells[3][0] == "none" and cells[3][2].strip() == "Sold out"
    assert cells[4][0] == "few" and cells[4][2].strip() == "2 left"
    assert "€100.00" in body


def test_room_type_page_quotes_a_stay_with_a_book_form(client, future):
    room_type = _stocked(HotelFactory(), future)

    response = client.get(room_type.get_absolute_url(), _stay(future, nights=3))

    assert response.status_code == 200
    assert response.context["option"].total == Decimal("300.00")
    assert f'action="{reverse("bookings:hold")}"' in response.content.decode()


def test_room_type_page_refuses_bad_dates_with_a_message(client, future):
    room_type = _stocked(HotelFactory(), future)

    response = client.get(room_type.get_absolute_url(), _stay(future, nights=0))

    assert response.status_code == 400
    assert "Check-out must be after check-in." in response.content.decode()


def test_unknown_or_inactive_room_type_is_404(client):
    room_type = RoomInventoryFactory(room_type__is_active=False).room_type

    assert client.get(room_type.get_absolute_url()).status_code == 404


# --- pages served from memoised fragments (caching.fragments) ----------------------


def _fields(body: str, name: str) -> list[str]:
    import re

    return re.findall(rf'name="{name}" value="([^"]*)"', body)


def test_search_pages_from_memory_carry_each_visitors_csrf_token_and_fresh_idempotency_keys(
    future,
):
    from django.test import Client

    from bookings.models import Booking

    _stocked(HotelFactory(city="Faro"), future)
    query = {"q": "Faro", **_stay(future)}
    visitors = [Client(enforce_csrf_checks=True) for _ in range(2)]
    # the second render of a fragment is kept, the third is served from memory
    pages = [_search(visitor, **query).content.decode() for _ in range(3) for visitor in visitors]

    keys = [key for body in pages for key in _fields(body, "idempotency_key")]
    assert len(keys) == 6 and len(set(keys)) == 6
    # the last page, served from memory, books with its own visitor's token and key
    token, key = _fields(pages[-1], "csrfmiddlewaretoken")[0], keys[-1]
    [room_type_id] = _fields(pages[-1], "room_type")
    hold = {
        "csrfmiddlewaretoken": token,
        "idempotency_key": key,
        "room_type": room_type_id,
        **_stay(future),
    }
    response = visitors[1].post(reverse("bookings:hold"), hold)
    assert response.status_code == 302
    # the key is the one its page carried: posting it again gives the same hold
    again = visitors[1].post(reverse("bookings:hold"), hold)
    assert (again.status_code, again["Location"]) == (302, response["Location"])
    assert Booking.objects.count() == 1
    # and the other visitor's session cannot post it
    refused = visitors[0].post(reverse("bookings:hold"), {"csrfmiddlewaretoken": token})
    assert refused.status_code == 403


def test_a_hold_shows_on_the_search_page_once_it_commits(
    client, future, django_capture_on_commit_callbacks
):
    from bookings.services import booking_hold

    room_type = _stocked(HotelFactory(city="Tavira"), future)
    query = {"q": "Tavira", **_stay(future)}
    for _ in range(3):
        assert "2 left" in _search(client, **query).content.decode()

    with django_capture_on_commit_callbacks(execute=True):
        booking_hold(
            room_type=room_type, check_in=future, check_out=future + timedelta(days=2), adults=2
        )

    body = _search(client, **query).content.decode()
    assert "1 left" in body and "2 left" not in body


def test_an_inventory_edit_shows_on_the_room_type_calendar_once_it_commits(
    client, future, django_capture_on_commit_callbacks
):
    from inventory.services import inventory_set

    room_type = _stocked(HotelFactory(timezone="UTC"), date.today(), nights=60)
    url = room_type.get_absolute_url()
    for _ in range(3):
        assert client.get(url).content.decode().count("2 left") == 60

    with django_capture_on_commit_callbacks(execute=True):
        inventory_set(
            room_type=room_type,
            start=date.today() + timedelta(days=5),
            end=date.today() + timedelta(days=6),
            stop_sell=True,
        )

    body = client.get(url).content.decode()
    assert body.count("2 left") == 59 and "Closed" in body


def test_search_page_costs_no_query_once_cached_and_one_after_a_hold(
    client, future, django_assert_num_queries, django_capture_on_commit_callbacks
):
    from bookings.services import booking_hold

    room_type = _stocked(HotelFactory(city="Lagos"), future)
    query = {"q": "Lagos", **_stay(future)}
    # the second render of a fragment is the one kept (the amenity checkboxes read the table)
    for _ in range(2):
        _search(client, **query)

    with django_assert_num_queries(0):
        _search(client, **query)
    with django_capture_on_commit_callbacks(execute=True):
        booking_hold(
            room_type=room_type,
            check_in=future,
            check_out=future + timedelta(days=1),
            adults=1,
        )
    # the hotel's nights are read again; its catalogue stays cached
    with django_assert_num_queries(1):
        response = _search(client, **query)
    assert "1 left" in response.content.decode()


def test_parameters_the_search_ignores_share_its_cached_results(client, future, monkeypatch):
    from inventory import views

    for i in range(11):
        _stocked(HotelFactory(city="Tavira", name=f"Tavira {i:02}"), future)
    query = {"q": "Tavira", **_stay(future)}
    _search(client, **query)
    renders = []
    render_pieces = views.render_pieces
    monkeypatch.setattr(
        views, "render_pieces", lambda *a, **k: renders.append(a) or render_pieces(*a, **k)
    )

    # an unknown parameter is neither a new entry to render and keep nor part of the links
    response = _search(client, utm_source="mail", junk="x" * 40, **query)

    assert response.status_code == 200
    assert renders == []
    body = response.content.decode()
    assert "page=2" in body
    assert "utm_source" not in body and "junk" not in body


def test_room_type_page_costs_no_query_once_cached(client, django_assert_num_queries):
    room_type = _stocked(HotelFactory(timezone="UTC"), date.today(), nights=60)
    client.get(room_type.get_absolute_url())

    with django_assert_num_queries(0):
        response = client.get(room_type.get_absolute_url())

    assert response.status_code == 200 and "2 left" in response.content.decode()


def test_a_room_type_turned_inactive_is_404_once_the_change_commits(
    client, django_capture_on_commit_callbacks
):
    room_type = _stocked(HotelFactory(), date.today())
    assert client.get(room_type.get_absolute_url()).status_code == 200

    with django_capture_on_commit_callbacks(execute=True):
        room_type.is_active = False
        room_type.save()

    assert client.get(room_type.get_absolute_url()).status_code == 404


def _rendered(response, template_name: str) -> bool:
    return template_name in [t.name for t in response.templates]


def test_search_results_are_rendered_again_after_a_hold_in_their_week_only(
    future, django_assert_num_queries, django_capture_on_commit_callbacks
):
    from django.test import Client

    from bookings.services import booking_hold

    # given two weeks of a city's searches, each rendered once by some visitor
    monday = future + timedelta(days=7 - future.weekday())
    room_type = _stocked(HotelFactory(city="Olhao"), monday, nights=14)
    this_week = {"q": "Olhao", **_stay(monday)}
    next_week = {"q": "Olhao", **_stay(monday + timedelta(days=7))}
    first = [_search(Client(), **query) for query in (this_week, next_week)]
    assert all(_rendered(r, "inventory/_search_results.html") for r in first)

    # when a guest holds a night of the first week
    with django_capture_on_commit_callbacks(execute=True):
        booking_hold(
            room_type=room_type, check_in=monday, check_out=monday + timedelta(days=1), adults=1
        )

    # then another visitor's search of that week is rendered again, with the room taken
    again = _search(Client(), **this_week)
    assert _rendered(again, "inventory/_search_results.html")
    assert "1 left" in again.content.decode()
    # and the other week's results are served as rendered, with no query
    visitor = Client()
    _search(visitor, q="Olhao")  # the session and the form's choices
    with django_assert_num_queries(0):
        kept = _search(visitor, **next_week)
    assert not _rendered(kept, "inventory/_search_results.html")
    assert "2 left" in kept.content.decode()


def test_a_hold_that_changes_nothing_shown_keeps_the_search_results_cached(
    future, django_assert_num_queries, django_capture_on_commit_callbacks
):
    from django.test import Client

    from bookings.services import booking_hold

    # given two hotels of five rooms a night in a city, whose results were rendered once
    for name in ("Sagres Bay", "Sagres Cliff"):
        room_type = RoomTypeFactory(hotel=HotelFactory(city="Sagres", name=name))
        RoomFactory.create_batch(5, room_type=room_type)
        inventory_generate(room_type=room_type, start=future, end=future + timedelta(days=5))
    query = {"q": "Sagres", **_stay(future)}
    first = _search(Client(), **query)

    # when a guest holds one of them: four left is not worth telling
    with django_capture_on_commit_callbacks(execute=True):
        booking_hold(
            room_type=room_type, check_in=future, check_out=future + timedelta(days=2), adults=2
        )

    # then another visitor gets the same results from the cache, with no query
    visitor = Client()
    _search(visitor, q="Sagres")  # the session and the form's choices
    with django_assert_num_queries(0):
        again = _search(visitor, **query)
    assert not _rendered(again, "inventory/_search_results.html")
    assert "left" not in first.content.decode() and "left" not in again.content.decode()

    # and when another guest holds one more, three left is worth telling: the
    # page is rendered again, with only the held hotel's result rendered anew
    with django_capture_on_commit_callbacks(execute=True):
        booking_hold(
            room_type=room_type, check_in=future, check_out=future + timedelta(days=2), adults=2
        )
    after = _search(Client(), **query)
    assert _rendered(after, "inventory/_search_results.html")
    results = [t for t in after.templates if t.name == "inventory/_search_result.html"]
    assert len(results) == 1
    assert after.content.decode().count("3 left") == 1


def test_a_new_stay_renders_only_the_search_fields_whose_values_changed(client, future):
    # given a search rendered twice: its form's fields are then kept in memory
    _stocked(HotelFactory(city="Tavira"), future, nights=10)
    first = {"q": "Tavira", **_stay(future)}
    for _ in range(2):
        _search(client, **first)

    # when the same guest searches other dates
    response = _search(client, **_stay(future + timedelta(days=3), q="Tavira"))

    # then only the two date fields are rendered again, and show the new dates
    fields = [t for t in response.templates if t.name == "inventory/_search_field.html"]
    assert len(fields) == 2
    body = response.content.decode()
    assert f'name="check_in" value="{(future + timedelta(days=3)).isoformat()}"' in body
