import re
from typing import NamedTuple

import pytest
from django.conf import settings
from django.middleware.csrf import _unmask_cipher_token
from django.template import Context, RequestContext, Template
from django.test import RequestFactory, override_settings
from django.utils import translation

from caching import fragments, stats
from hotel.forms import StayForm
from tests.factories import HotelFactory
from tests.processes import become_another_process

TEMPLATES = {
    "t/card.html": "{{ card.name }}|{{ outer }}",
    "t/form.html": (
        "{% load booking_tags %}<form>{% csrf_token %}{% idempotency_field %}{{ n }}</form>"
    ),
    "t/two_forms.html": (
        '{% load fragments %}{% fragment "t/form.html" n=1 %}{% fragment "t/form.html" n=2 %}'
    ),
    "t/language.html": "{% load i18n %}{% get_current_language as lang %}{{ lang }}",
    "t/stay_form.html": "{{ form.check_in }}",
}


@pytest.fixture(autouse=True)
def _templates():
    engine = settings.TEMPLATES[0]
    options = {k: v for k, v in engine["OPTIONS"].items() if k != "loaders"}
    loaders = [
        ("django.template.loaders.locmem.Loader", TEMPLATES),
        "django.template.loaders.filesystem.Loader",
        "django.template.loaders.app_directories.Loader",
    ]
    with override_settings(
        TEMPLATES=[{**engine, "APP_DIRS": False, "OPTIONS": {**options, "loaders": loaders}}]
    ):
        yield


class Card(NamedTuple):
    name: str


def _render(source: str, context=None, **values) -> str:
    return Template("{% load fragments %}" + source).render(context or Context(values))


def _page(request, n: int = 0) -> str:
    return Template('{% load fragments %}{% fragment "t/form.html" n=n %}').render(
        RequestContext(request, {"n": n})
    )


def _field(html: str, name: str) -> list[str]:
    return re.findall(rf'name="{name}" value="([^"]*)"', html)


def test_a_fragment_sees_its_values_and_nothing_else_of_the_page():
    html = _render('{% fragment "t/card.html" card=card %}', card=Card("Sea view"), outer="x")

    assert html == "Sea view|"


def test_a_fragment_is_kept_from_its_second_render_then_served_from_memory():
    source = '{% fragment "t/card.html" card=card %}'

    first = _render(source, card=Card("A"))
    assert len(fragments.memo) == 0
    second = _render(source, card=Card("A"))
    assert len(fragments.memo) == 1
    third = _render(source, card=Card("A"))

    assert first == second == third == "A|"
    assert stats.process_counts()["fragments"]["local"] == {"hits": 1, "misses": 2, "ratio": 0.3333}


def test_other_values_are_another_fragment():
    source = '{% fragment "t/card.html" card=card %}'
    for _ in range(2):
        _render(source, card=Card("A"))

    assert _render(source, card=Card("B")) == "B|"


def test_each_render_carries_its_own_requests_csrf_token_and_fresh_idempotency_keys():
    factory = RequestFactory()
    pages = []
    for _ in range(4):
        request = factory.get("/")
        pages.append((request, _page(request)))

    tokens = [_field(html, "csrfmiddlewaretoken")[0] for _request, html in pages]
    keys = [_field(html, "idempotency_key")[0] for _request, html in pages]
    # every page shows a token of its own request's secret (tests/inventory/test_views.py
    # posts one back through the CSRF check) ...
    secrets = [request.META["CSRF_COOKIE"] for request, _html in pages]
    assert [_unmask_cipher_token(token) for token in tokens] == secrets
    assert len(set(secrets)) == 4
    # ... and a key of its own, also on the renders served from memory
    assert len(set(keys)) == 4 and all(re.fullmatch(r"[0-9a-f]{32}", k) for k in keys)
    assert stats.process_counts()["fragments"]["local"]["hits"] == 2
    # what memory keeps has neither
    [kept] = fragments.memo._entries.values()
    assert not any(token in "".join(kept) for token in tokens + keys)


def test_rendered_html_is_cut_at_every_marker_in_order_and_at_its_ends():
    csrf, key = fragments._CSRF_FIELD, fragments.IDEMPOTENCY_MARK

    pieces = fragments._split_marks(f"{csrf}a{key}{key}b{csrf}{csrf}<c>{key}")

    assert pieces == (
        "", "csrf", "a", "idempotency", "", "idempotency", "b",
        "csrf", "", "csrf", "<c>", "idempotency", "",
    )  # fmt: skip
    # the pieces between the markers are the HTML, which a page without forms is whole
    assert "".join(pieces[::2]) == "ab<c>"
    assert fragments._split_marks("<p>no form</p>") == ("<p>no form</p>",)
    # a marker's own text elsewhere (a CSRF_MARK with no field around it) is HTML
    assert fragments._split_marks(fragments.CSRF_MARK) == (fragments.CSRF_MARK,)


def test_forms_of_a_fragment_inside_a_fragment_get_keys_of_their_own_on_every_render():
    request = RequestFactory().get("/")
    renders = [
        Template('{% load fragments %}{% fragment "t/two_forms.html" n=0 %}').render(
            RequestContext(request)
        )
        for _ in range(3)
    ]

    keys = [key for html in renders for key in _field(html, "idempotency_key")]
    assert len(keys) == 6 and len(set(keys)) == 6
    tokens = [token for html in renders for token in _field(html, "csrfmiddlewaretoken")]
    assert len(tokens) == 6
    assert {_unmask_cipher_token(token) for token in tokens} == {request.META["CSRF_COOKIE"]}


def test_the_active_language_is_part_of_the_key():
    source = '{% fragment "t/language.html" card=card %}'
    rendered = {}
    for language in ("en-gb", "de", "en-gb", "de"):
        with translation.override(language):
            rendered.setdefault(language, set()).add(_render(source, card=Card("A")))

    assert rendered == {"en-gb": {"en-gb"}, "de": {"de"}}


def test_a_model_instance_or_an_unhashable_value_is_refused_with_a_clear_error(db):
    with pytest.raises(TypeError, match="model instance"):
        _render('{% fragment "t/card.html" card=card %}', card=HotelFactory())
    with pytest.raises(TypeError, match="hashable"):
        _render('{% fragment "t/card.html" card=card %}', card=["a list"])


def test_key_none_renders_every_time_without_the_memo():
    for _ in range(3):
        assert (
            _render('{% fragment "t/card.html" key=None card=card %}', card={"name": "x"}) == "x|"
        )

    assert len(fragments.memo) == 0


def test_the_memo_keeps_at_most_its_entries(settings):
    settings.CACHE_FRAGMENT_MAX_ENTRIES = 2
    for name in ("A", "B", "C"):
        for _ in range(2):
            _render('{% fragment "t/card.html" card=card %}', card=Card(name))

    assert len(fragments.memo) == 2
    assert _render('{% fragment "t/card.html" card=card %}', card=Card("C")) == "C|"


def test_a_form_key_follows_the_data_the_fields_and_the_dependencies():
    data = {"check_in": "2030-01-10", "check_out": "2030-01-12", "adults": "2"}

    same = [fragments.form_key(StayForm(data), "2030-01-01") for _ in range(2)]
    other_data = fragments.form_key(StayForm({**data, "adults": "3"}), "2030-01-01")
    other_day = fragments.form_key(StayForm(data), "2030-01-02")
    dates_only = fragments.form_key(
        StayForm({**data, "adults": "3"}), "2030-01-01", fields=("check_in", "check_out")
    )

    assert same[0] == same[1]
    assert len({same[0], other_data, other_day}) == 3
    assert dates_only == fragments.form_key(
        StayForm(data), "2030-01-01", fields=("check_in", "check_out")
    )
    assert fragments.form_key(StayForm(data), None) is None
    unbound = StayForm(initial={"check_in": "2030-01-10"})
    assert fragments.form_key(unbound) == fragments.form_key(
        StayForm(initial={"check_in": "2030-01-10"})
    )


def test_a_field_key_follows_the_fields_data_and_its_errors():
    data = {"check_in": "2030-01-10", "check_out": "2030-01-12", "adults": "2"}

    def key(form, name):
        form.is_valid()
        return fragments.field_key(form[name])

    same = [key(StayForm(data), "check_in") for _ in range(2)]
    other_field_changed = key(StayForm({**data, "adults": "3"}), "check_in")
    other_value = key(StayForm({**data, "check_in": "2030-01-11"}), "check_in")
    # the same check-out is an error once the check-in is after it
    refused = key(StayForm({**data, "check_in": "2030-01-13"}), "check_out")

    assert same[0] == same[1] == other_field_changed
    assert other_value != same[0]
    assert refused != key(StayForm(data), "check_out")
    assert "Check-out must be after check-in." in refused[-1]


def test_a_field_with_choices_from_the_database_has_no_field_key():
    from inventory.forms import InventorySearchForm

    form = InventorySearchForm({"q": "Lisbon"})

    assert fragments.field_key(form["amenities"]) is None
    assert fragments.field_key(form["stars"]) is not None


def test_a_shared_fragment_rendered_by_one_process_is_served_to_another(monkeypatch):
    source = '{% fragment "t/card.html" shared card=card %}'
    assert _render(source, card=Card("A")) == "A|"
    become_another_process(monkeypatch)
    renders = []
    real = fragments._render
    monkeypatch.setattr(fragments, "_render", lambda *a: renders.append(a) or real(*a))

    assert _render(source, card=Card("A")) == "A|"
    assert renders == []
    assert stats.process_counts()["fragments"]["shared"]["hits"] == 1


def test_a_shared_fragment_with_other_values_is_rendered_again(monkeypatch):
    source = '{% fragment "t/card.html" shared card=card %}'
    _render(source, card=Card("A"))
    become_another_process(monkeypatch)

    assert _render(source, card=Card("B")) == "B|"


def _redis_calls(monkeypatch) -> list[str]:
    """The cache methods called from now on, by name."""
    from django.core.cache import cache

    calls = []
    for name in ("get", "get_many", "set", "set_many"):
        real = getattr(cache, name)
        monkeypatch.setattr(
            cache, name, lambda *a, _r=real, _n=name, **k: calls.append(_n) or _r(*a, **k)
        )
    return calls


def test_a_list_of_shared_fragments_is_looked_up_and_kept_in_one_round_trip_each(monkeypatch):
    source = '{% for card in cards %}{% fragment "t/card.html" shared card=card %}{% endfor %}'
    cards = [Card("A"), Card("B"), Card("C")]
    calls = _redis_calls(monkeypatch)

    with fragments.shared_fragments("t/card.html", [{"card": card} for card in cards]):
        assert _render(source, cards=cards) == "A|B|C|"

    assert calls == ["get_many", "set_many"]


def test_a_list_of_shared_fragments_rendered_by_one_process_is_served_to_another(monkeypatch):
    # given a list rendered by one process, and another whose memory holds one of them
    source = '{% for card in cards %}{% fragment "t/card.html" shared card=card %}{% endfor %}'
    cards = [Card("A"), Card("B")]
    with fragments.shared_fragments("t/card.html", [{"card": card} for card in cards]):
        _render(source, cards=cards)
    become_another_process(monkeypatch)
    for _ in range(2):
        _render('{% fragment "t/card.html" shared card=card %}', card=Card("A"))
    renders = []
    real = fragments._render
    monkeypatch.setattr(fragments, "_render", lambda *a: renders.append(a) or real(*a))
    calls = _redis_calls(monkeypatch)

    # when it renders the list with a card the first one did not render
    cards.append(Card("C"))
    with fragments.shared_fragments("t/card.html", [{"card": card} for card in cards]):
        html = _render(source, cards=cards)

    # then the others come from Redis, and only the new one is rendered and kept
    assert html == "A|B|C|"
    assert [values for _name, values in renders] == [{"card": Card("C")}]
    assert calls == ["get_many", "set_many"]


def test_a_fragment_not_marked_shared_is_not_kept_in_redis(monkeypatch):
    _render('{% fragment "t/card.html" card=card %}', card=Card("A"))
    become_another_process(monkeypatch)

    _render('{% fragment "t/card.html" card=card %}', card=Card("A"))

    assert "shared" not in stats.process_counts().get("fragments", {})


def test_a_shared_fragment_from_another_process_carries_this_requests_csrf_token_and_keys(
    monkeypatch,
):
    factory = RequestFactory()
    source = '{% fragment "t/form.html" shared n=n %}'
    pages = []
    for _ in range(2):
        request = factory.get("/")
        context = RequestContext(request, {"n": 1})
        pages.append((request, _render(source, context)))
        become_another_process(monkeypatch)

    [first, second] = [html for _request, html in pages]
    assert _field(first, "idempotency_key") != _field(second, "idempotency_key")
    for request, html in pages:
        [token] = _field(html, "csrfmiddlewaretoken")
        assert _unmask_cipher_token(token) == request.META["CSRF_COOKIE"]


def test_a_shared_fragment_renders_when_redis_is_down(settings):
    from tests.caching.test_failopen import point_cache_at

    point_cache_at(settings, "redis://127.0.0.1:1/0")
    source = '{% fragment "t/card.html" shared card=card %}'

    assert [_render(source, card=Card("A")) for _ in range(2)] == ["A|", "A|"]
