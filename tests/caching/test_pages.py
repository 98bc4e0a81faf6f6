import re
from datetime import date, timedelta

import pytest
from django.contrib.messages import constants
from django.contrib.messages.storage.cookie import CookieStorage
from django.http import HttpResponse
from django.middleware.csrf import _unmask_cipher_token
from django.test import Client, RequestFactory
from django.urls import reverse

from caching import pages, stats
from tests.factories import (
    HotelFactory,
    RoomFactory,
    RoomInventoryFactory,
    RoomTypeFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

TOKEN = re.compile(r'name="csrfmiddlewaretoken" value="(\w+)"')
IDEMPOTENCY = re.compile(r'name="idempotency_key" value="(\w+)"')


def _on_sale():
    """A hotel of one room type with 3 rooms on the two nights of a stay a month ahead."""
    hotel = HotelFactory(city="Porto")
    room_type = RoomTypeFactory(hotel=hotel)
    RoomFactory(room_type=room_type)
    check_in = date.today() + timedelta(days=30)
    for night in (check_in, check_in + timedelta(days=1)):
        RoomInventoryFactory(room_type=room_type, date=night, total=3, price="120.00")
    stay = {
        "check_in": check_in.isoformat(),
        "check_out": (check_in + timedelta(days=2)).isoformat(),
        "adults": 2,
    }
    return hotel, room_type, stay


def _pages(hotel, room_type, stay):
    return {
        "home": (reverse("hotel:home"), {}),
        "search": (reverse("inventory:search"), {"q": "Porto", **stay}),
        "hotel page": (hotel.get_absolute_url(), stay),
        "room type page": (_room_type_path(hotel, room_type), {}),
    }


def _hold_a_room(room_type, stay) -> None:
    """A guest of one adult holds one room of ``room_type`` for ``stay``."""
    from bookings.services import booking_hold

    booking_hold(
        room_type=room_type,
        check_in=date.fromisoformat(stay["check_in"]),
        check_out=date.fromisoformat(stay["check_out"]),
        adults=1,
    )


def _without_per_request_values(body: str) -> str:
    return IDEMPOTENCY.sub("", TOKEN.sub("", body))


@pytest.mark.parametrize("page", ["home", "search", "hotel page", "room type page"])
def test_a_guest_page_is_kept_from_its_second_render_with_each_requests_token(page):
    hotel, room_type, stay = _on_sale()
    path, query = _pages(hotel, room_type, stay)[page]
    guests = [Client() for _ in range(3)]

    responses = [guest.get(path, query) for guest in guests]

    assert [r.status_code for r in responses] == [200, 200, 200]
    assert len(pages.memo) == 1
    assert stats.process_counts()["pages"]["local"]["hits"] == 1
    # the page served from memory is the page rendered, but for the per-request values ...
    bodies = [r.content.decode() for r in responses]
    assert len({_without_per_request_values(body) for body in bodies}) == 1
    assert "Log in" in bodies[2]
    # ... each its own request's: a token of its guest's CSRF secret, fresh form keys
    for guest, body in zip(guests, bodies, strict=True):
        secret = guest.cookies["csrftoken"].value if "csrftoken" in guest.cookies else None
        tokens = TOKEN.findall(body)
        assert all(_unmask_cipher_token(token) == secret for token in tokens)
    keys = [key for body in bodies for key in IDEMPOTENCY.findall(body)]
    assert len(keys) == len(set(keys))
    [kept] = pages.memo._entries.values()
    assert not any(token in "".join(kept) for body in bodies for token in TOKEN.findall(body))


def _variants(hotel, room_type, stay):
    search, room_type_path = reverse("inventory:search"), _room_type_path(hotel, room_type)
    return [
        (reverse("hotel:home"), {}),
        (search, {}),
        (search, {"q": "Porto", **stay}),
        (search, {"q": "Porto", **stay, "adults": 40}),
        (search, {"q": "", **stay}),
        (hotel.get_absolute_url(), {}),
        (hotel.get_absolute_url(), stay),
        (hotel.get_absolute_url(), {"check_out": "x", "adults": "3"}),
        (hotel.get_absolute_url(), {**stay, "check_out": stay["check_in"]}),
        (room_type_path, {}),
        (room_type_path, {**stay, "adults": 1}),
        (room_type_path, {**stay, "check_out": stay["check_in"]}),
    ]


def _room_type_path(hotel, room_type) -> str:
    return f"{hotel.get_absolute_url()}rooms/{room_type.slug}/"


def _seen(response) -> tuple:
    return (
        response.status_code,
        _without_per_request_values(response.content.decode()),
        response.get("Vary"),
        response.get("Content-Type"),
        response.get("Cache-Control"),
        sorted(response.cookies),
    )


def test_a_page_from_the_memo_is_the_page_djangos_render_gives(monkeypatch):
    hotel, room_type, stay = _on_sale()
    for path, query in _variants(hotel, room_type, stay):
        with monkeypatch.context() as patched:
            patched.setattr(pages, "_as_for_everyone", lambda request: False)
            rendered = _seen(Client().get(path, query))
        kept = [_seen(Client().get(path, query)) for _ in range(3)]

        assert kept == [rendered] * 3, (path, query)
    # pages with errors are kept too (the search's and the room type page's
    # 400s), but for the hotel page's stay with errors, rendered every time
    assert len(pages.memo) == len(_variants(hotel, room_type, stay)) - 1


def test_a_home_page_from_the_memo_builds_no_form_and_reads_no_cities(monkeypatch):
    from hotel import views

    _on_sale()
    built, read = [], []
    form_class, cached = views.SearchForm, views.cached
    monkeypatch.setattr(views, "SearchForm", lambda **kw: built.append(1) or form_class(**kw))
    monkeypatch.setattr(views, "cached", lambda *a, **kw: read.append(a[1]) or cached(*a, **kw))

    bodies = [Client().get(reverse("hotel:home")).content.decode() for _ in range(3)]

    assert len(built) == 2 and read == [["cities"], ["cities"]]
    assert bodies[2] == bodies[0] and 'name="check_in"' in bodies[2] and "Porto" in bodies[2]


def test_a_room_type_page_from_the_memo_builds_no_stay_form(monkeypatch):
    from inventory import views

    hotel, room_type, _stay = _on_sale()
    built = []
    form_class = views.StayForm
    monkeypatch.setattr(views, "StayForm", lambda *a, **kw: built.append(1) or form_class(*a, **kw))

    bodies = [Client().get(_room_type_path(hotel, room_type)).content.decode() for _ in range(3)]

    assert len(built) == 2
    assert _without_per_request_values(bodies[2]) == _without_per_request_values(bodies[0])
    assert 'name="check_in"' in bodies[2]


def test_a_token_from_a_kept_page_passes_the_csrf_check_of_a_hold():
    hotel, room_type, stay = _on_sale()
    for _ in range(2):
        Client().get(hotel.get_absolute_url(), stay)
    guest = Client(enforce_csrf_checks=True)

    body = guest.get(hotel.get_absolute_url(), stay).content.decode()
    assert stats.process_counts()["pages"]["local"]["hits"] == 1
    response = guest.post(
        reverse("bookings:hold"),
        {
            "room_type": room_type.pk,
            **stay,
            "children": 0,
            "csrfmiddlewaretoken": TOKEN.findall(body)[0],
            "idempotency_key": IDEMPOTENCY.findall(body)[0],
        },
    )

    assert response.status_code == 302


def test_a_signed_in_guest_sees_their_own_header_and_nobody_else_does():
    hotel, _room_type, stay = _on_sale()
    user = UserFactory(username="marta")
    signed_in = Client()
    signed_in.force_login(user)

    mine = [signed_in.get(hotel.get_absolute_url(), stay).content.decode() for _ in range(3)]
    theirs = [Client().get(hotel.get_absolute_url(), stay).content.decode() for _ in range(3)]

    assert all("marta" in body and "Log out" in body for body in mine)
    assert not any("marta" in body or "Log out" in body for body in theirs)
    # only the pages of the guests who are not signed in were kept
    assert stats.process_counts()["pages"]["local"] == {"hits": 1, "misses": 2, "ratio": 0.3333}


def test_a_message_waiting_is_shown_once_on_the_page_not_kept():
    hotel, _room_type, stay = _on_sale()
    for _ in range(2):
        Client().get(hotel.get_absolute_url(), stay)
    guest = Client()
    request = RequestFactory().get("/")
    waiting = CookieStorage(request)
    waiting.add(constants.SUCCESS, "Your booking is cancelled.")
    response = HttpResponse()
    waiting.update(response)
    guest.cookies["messages"] = response.cookies["messages"].value

    shown = guest.get(hotel.get_absolute_url(), stay).content.decode()
    after = guest.get(hotel.get_absolute_url(), stay).content.decode()

    assert "Your booking is cancelled." in shown
    assert "Your booking is cancelled." not in after
    assert stats.process_counts()["pages"]["local"]["hits"] == 1
    assert not any("cancelled" in "".join(kept) for kept in pages.memo._entries.values())


def test_the_stay_is_shown_as_the_guest_typed_it_not_as_a_kept_page_of_the_same_options():
    hotel, _room_type, stay = _on_sale()
    for _ in range(2):
        Client().get(hotel.get_absolute_url(), stay)

    # the same stay, hence the same options, typed another way
    body = Client().get(hotel.get_absolute_url(), {**stay, "adults": "02"}).content.decode()

    assert 'id="id_adults" value="02"' in body
    assert stats.process_counts()["pages"]["local"]["hits"] == 0


@pytest.mark.parametrize(
    "page", ["search", "hotel page", "room type page", "room type page for the stay"]
)
def test_a_sale_is_shown_on_the_next_page(page, django_capture_on_commit_callbacks):
    hotel, room_type, stay = _on_sale()
    path, query = {
        **_pages(hotel, room_type, stay),
        # the calendar alone, then with the stay's option (for one adult: the
        # calendar's rooms left are those of the stay's nights)
        "room type page": (_room_type_path(hotel, room_type), {}),
        "room type page for the stay": (_room_type_path(hotel, room_type), {**stay, "adults": 1}),
    }[page]
    for _ in range(3):
        assert "3 left" in Client().get(path, query).content.decode()

    with django_capture_on_commit_callbacks(execute=True):
        _hold_a_room(room_type, stay)
    body = Client().get(path, query).content.decode()

    assert "2 left" in body and "3 left" not in body


@pytest.mark.parametrize("page", ["home", "search", "hotel page", "room type page"])
def test_a_staff_edit_is_shown_on_the_next_page(page, django_capture_on_commit_callbacks):
    hotel, room_type, stay = _on_sale()
    path, query = _pages(hotel, room_type, stay)[page]
    for _ in range(3):
        Client().get(path, query)

    with django_capture_on_commit_callbacks(execute=True):
        if page == "home":
            hotel.city = "Braga"
            hotel.save()
        elif page == "room type page":
            room_type.name = "Garden Suite"
            room_type.save()
        else:
            hotel.name = "Casa Nova"
            hotel.save()
    body = Client().get(path, query).content.decode()

    assert {"home": "Braga", "room type page": "Garden Suite"}.get(page, "Casa Nova") in body


def test_a_page_is_kept_per_language():
    from django.utils import translation

    _on_sale()
    for _ in range(3):
        Client().get(reverse("hotel:home"))
    with translation.override("de"):
        Client().get(reverse("hotel:home"))

    assert stats.process_counts()["pages"]["local"] == {"hits": 1, "misses": 3, "ratio": 0.25}


def test_a_page_is_kept_no_longer_than_the_catalogue_it_shows(clock):
    from hotel.views import CATALOGUE_TTL

    hotel, _room_type, stay = _on_sale()
    for _ in range(3):
        Client().get(hotel.get_absolute_url(), stay)
    assert stats.process_counts()["pages"]["local"]["hits"] == 1

    clock.advance(CATALOGUE_TTL)
    Client().get(hotel.get_absolute_url(), stay)

    assert stats.process_counts()["pages"]["local"]["hits"] == 1


def test_a_stay_with_errors_is_rendered_every_time(client):
    hotel, _room_type, stay = _on_sale()
    bad = {**stay, "check_out": stay["check_in"]}

    for _ in range(3):
        response = client.get(hotel.get_absolute_url(), bad)

    assert response.status_code == 200
    assert "errorlist" in response.content.decode()
    assert len(pages.memo) == 0


def test_a_page_over_a_tenth_of_the_memos_characters_is_not_kept(settings):
    settings.CACHE_PAGE_MAX_BYTES = 20_000
    hotel, _room_type, stay = _on_sale()
    for _ in range(3):
        body = Client().get(hotel.get_absolute_url(), stay).content.decode()

    assert len(body) > 2_000
    assert len(pages.memo) == 0


def test_the_memo_keeps_at_most_its_entries(settings):
    settings.CACHE_PAGE_MAX_ENTRIES = 1
    hotel, _room_type, stay = _on_sale()
    for query in (stay, {**stay, "adults": 1}):
        for _ in range(2):
            Client().get(hotel.get_absolute_url(), query)

    assert len(pages.memo) == 1


def test_a_negative_page_memo_size_is_refused(settings):
    from caching.checks import check_cache_settings

    settings.CACHE_PAGE_MAX_ENTRIES = -1

    assert [error.id for error in check_cache_settings(None)] == ["caching.E005"]


def test_with_redis_down_the_hotel_page_is_rendered_every_time_and_shows_a_sale(
    settings, django_capture_on_commit_callbacks
):
    from tests.caching.test_failopen import _closed_port, point_cache_at

    hotel, room_type, stay = _on_sale()
    point_cache_at(settings, f"redis://127.0.0.1:{_closed_port()}/0")
    for _ in range(3):
        assert "3 left" in Client().get(hotel.get_absolute_url(), stay).content.decode()

    with django_capture_on_commit_callbacks(execute=True):
        _hold_a_room(room_type, stay)
    body = Client().get(hotel.get_absolute_url(), stay).content.decode()

    # the catalogue's version is unknown, so no page is kept under it
    assert "2 left" in body and "3 left" not in body
    assert len(pages.memo) == 0
