import time
from types import SimpleNamespace

import pytest
from django.core.cache import cache
from django.db import transaction

from caching import api, stats
from caching.api import cached, cached_read, invalidate, make_key, namespace_version
from caching.local import MISSING, LocalTier

from .conftest import CountingLoader


def test_miss_loads_once_then_serves_from_the_local_tier(loader):
    first = cached("hotel:1", ["page"], loader)
    second = cached("hotel:1", ["page"], loader)

    assert first == second == {"call": 1}
    assert loader.calls == 1
    counts = stats.process_counts()["hotel:*"]
    assert counts["local"] == {"hits": 1, "misses": 1, "ratio": 0.5}
    assert counts["shared"]["misses"] == 1


def test_another_process_with_an_empty_local_tier_reads_the_shared_tier(loader):
    cached("hotel:1", ["page"], loader)
    api.local_tier.clear()

    assert cached("hotel:1", ["page"], loader) == {"call": 1}
    assert loader.calls == 1
    assert stats.process_counts()["hotel:*"]["shared"]["hits"] == 1


def test_invalidate_makes_the_next_read_in_this_process_fresh_at_once(loader):
    cached("hotel:1", ["page"], loader)

    invalidate("hotel:1")

    assert cached("hotel:1", ["page"], loader) == {"call": 2}


def test_invalidating_one_namespace_leaves_the_others_cached(loader):
    cached("hotel:1", ["page"], loader)
    cached("hotel:2", ["page"], loader)

    invalidate("hotel:1")

    assert cached("hotel:2", ["page"], loader) == {"call": 2}
    assert loader.calls == 2


def test_key_parts_cannot_collide_through_the_separator():
    assert cached("catalogue", ["a:b"], lambda: "joined") == "joined"
    assert cached("catalogue", ["a", "b"], lambda: "split") == "split"


def test_long_or_unusual_key_parts_become_a_valid_hashed_key():
    parts = ["search", "São Paulo & co", "x" * 500]
    key = make_key("availability:city:são paulo", 1, parts)

    assert " " not in key and len(key) < 300
    assert cached("availability:city:são paulo", parts, lambda: 42) == 42
    assert cached("availability:city:são paulo", parts, lambda: 43) == 42


def test_a_caller_that_mutates_its_value_does_not_change_the_cached_one():
    value = cached("catalogue", ["cities"], lambda: ["Lisbon"])
    value.append("Porto")

    assert cached("catalogue", ["cities"], lambda: []) == ["Lisbon"]


def test_none_is_cached_like_any_other_value(loader):
    nothing = CountingLoader()
    nothing.value = None

    def load_none():
        nothing.calls += 1

    cached("catalogue", ["missing"], load_none)
    cached("catalogue", ["missing"], load_none)

    assert nothing.calls == 1


def test_local_tier_evicts_the_least_recently_used_entry(settings):
    settings.CACHE_LOCAL_MAX_ENTRIES = 2
    tier = LocalTier()
    tier.set("ns", "a", 1, "A", ttl=60)
    tier.set("ns", "b", 1, "B", ttl=60)
    tier.get("ns", "a", 1)

    tier.set("ns", "c", 1, "C", ttl=60)

    assert len(tier) == 2
    assert tier.get("ns", "b", 1) is MISSING
    assert tier.get("ns", "a", 1) == "A"
    assert tier.get("ns", "c", 1) == "C"


def test_local_tier_never_grows_past_its_bound(settings):
    settings.CACHE_LOCAL_MAX_ENTRIES = 5

    for n in range(50):
        cached("catalogue", ["page", n], lambda n=n: n)

    assert len(api.local_tier) == 5


def test_local_entry_expires_after_the_local_ttl(settings, clock, loader):
    settings.CACHE_LOCAL_TTL = 30
    cached("catalogue", ["cities"], loader, ttl=300)

    clock.advance(31)
    cached("catalogue", ["cities"], loader, ttl=300)

    local_counts = stats.process_counts()["catalogue"]["local"]
    assert local_counts["misses"] == 2
    assert loader.calls == 1  # the shared tier still had it


def test_local_entry_never_outlives_the_values_own_ttl(settings, clock, loader):
    settings.CACHE_LOCAL_TTL = 30
    cached("catalogue", ["cities"], loader, ttl=5)

    clock.advance(5)

    assert api.local_tier.get("catalogue", "cities", namespace_version("catalogue")) is MISSING


def test_shared_entry_is_stored_with_the_ttl(loader):
    cached("catalogue", ["cities"], loader, ttl=7)

    key = make_key("catalogue", namespace_version("catalogue"), ["cities"])
    assert 0 < cache.ttl(key) <= 7


def test_version_is_trusted_for_the_check_interval_then_read_again(settings, clock, loader):
    settings.CACHE_VERSION_CHECK_INTERVAL = 0.5
    cached("hotel:1", ["page"], loader)
    # Another process invalidates: only Redis knows.
    cache.incr("nsv:hotel:1")

    clock.advance(0.4)
    within_interval = cached("hotel:1", ["page"], loader)
    clock.advance(0.1)
    after_interval = cached("hotel:1", ["page"], loader)

    assert within_interval == {"call": 1}
    assert after_interval == {"call": 2}


def test_a_loader_overtaken_by_an_invalidation_stores_nothing():
    calls = []

    def load_while_a_write_commits():
        calls.append(1)
        value = f"old-{len(calls)}"
        if len(calls) == 1:
            invalidate("hotel:1")
        return value

    first = cached("hotel:1", ["page"], load_while_a_write_commits)
    new_version = namespace_version("hotel:1")

    assert first == "old-1"
    assert cache.get(make_key("hotel:1", new_version, ["page"])) is None
    assert cached("hotel:1", ["page"], load_while_a_write_commits) == "old-2"


def test_a_lost_version_key_never_brings_old_values_back(clock, loader):
    cached("hotel:1", ["page"], loader)
    old_version = namespace_version("hotel:1")
    cache.delete("nsv:hotel:1")  # evicted, or Redis restarted without its data

    clock.advance(1)
    value = cached("hotel:1", ["page"], loader)

    assert namespace_version("hotel:1") > old_version
    assert value == {"call": 2}


def test_a_version_key_lost_within_a_millisecond_of_its_seed_is_seeded_above_it(
    monkeypatch, loader
):
    now = [1_800_000_000_000_000_000]
    monkeypatch.setattr(api, "time", SimpleNamespace(time_ns=lambda: now[0], sleep=time.sleep))
    cached("hotel:1", ["page"], loader)
    old_version = api._read_version("hotel:1")
    cache.delete("nsv:hotel:1")

    now[0] += 500_000  # half a millisecond later

    assert api._read_version("hotel:1") > old_version


@pytest.mark.django_db
def test_inside_a_write_transaction_the_cache_is_bypassed(loader):
    with transaction.atomic():
        inside = cached("hotel:1", ["page"], loader)
    outside = cached("hotel:1", ["page"], loader)

    assert inside == {"call": 1}
    assert outside == {"call": 2}
    assert stats.process_counts()["hotel:*"]["bypass"]["misses"] == 1


def test_decorator_caches_by_arguments_in_a_formatted_namespace():
    calls = []

    @cached_read("availability:hotel:{hotel_id}", ttl=30)
    def free_rooms(*, hotel_id: int, nights: int = 1) -> int:
        calls.append((hotel_id, nights))
        return hotel_id * 10 + nights

    assert free_rooms(hotel_id=1) == 11
    assert free_rooms(hotel_id=1, nights=1) == 11
    assert free_rooms(hotel_id=1, nights=2) == 12
    invalidate("availability:hotel:1")
    assert free_rooms(hotel_id=1) == 11

    assert calls == [(1, 1), (1, 2), (1, 1)]
    assert free_rooms.uncached(hotel_id=2) == 21


@pytest.mark.django_db
def test_decorator_keys_a_model_argument_by_its_primary_key():
    from tests.factories import HotelFactory

    first, second = HotelFactory(), HotelFactory()

    @cached_read(lambda hotel: f"hotel:{hotel.pk}")
    def title(hotel) -> str:
        return hotel.name

    assert title(first) == first.name
    assert title(second) == second.name


@pytest.mark.django_db(transaction=True)
def test_the_local_tier_carries_nothing_from_one_test_case_into_the_next(loader):
    from django.test import TestCase

    # Two test cases in a row, as TestCase (and pytest-django) run them.
    seen = []
    for _test in range(2):
        atomics = TestCase._enter_atomics()
        try:
            seen.append(cached("catalogue", ["cities"], loader))
            seen.append(cached("catalogue", ["cities"], loader))
        finally:
            TestCase._rollback_atomics(atomics)
        cache.clear()  # what tests/conftest.py does between tests

    assert seen == [{"call": 1}, {"call": 1}, {"call": 2}, {"call": 2}]


def test_a_namespace_is_quoted_once_per_process_and_keyed_as_before(monkeypatch):
    namespace = "availability:city-offers:são paulo@2026-W50"
    quoted = []
    real_quote = api.quote
    monkeypatch.setattr(
        api, "quote", lambda text, safe: quoted.append(text) or real_quote(text, safe=safe)
    )
    api._ns.cache_clear()

    keys = {make_key([namespace, "catalogue"], (3, 4), ["search"]) for _ in range(3)}

    # Each namespace's name went through quote() once (key parts are quoted
    # apart, on every call); the keys are unchanged.
    assert (quoted.count(namespace), quoted.count("catalogue"), quoted.count("search")) == (1, 1, 3)
    assert keys == {"c:availability:city-offers:s%C3%A3o%20paulo%402026-W50:v3|catalogue:v4:search"}


def test_a_local_hit_makes_no_call_to_the_shared_tier(monkeypatch, loader):
    from django.core.cache import caches

    cached("hotel:1", ["page"], loader)
    backend, calls = caches["default"], []
    for name in ("get", "get_many", "add", "set", "incr"):
        real = getattr(backend, name)
        monkeypatch.setattr(
            backend,
            name,
            lambda *a, _real=real, _name=name, **kw: calls.append(_name) or _real(*a, **kw),
        )

    cached("hotel:1", ["page"], loader)

    assert calls == []


def test_a_version_check_interval_over_one_second_is_refused(settings):
    from caching.checks import check_cache_settings

    settings.CACHE_VERSION_CHECK_INTERVAL = 1.5

    assert [error.id for error in check_cache_settings(None)] == ["caching.E001"]


def test_local_tier_is_bounded_in_bytes_too(settings):
    settings.CACHE_LOCAL_MAX_BYTES = 10_000
    tier = LocalTier()

    for n in range(20):
        tier.set("ns", str(n), 1, "x" * 900, ttl=60)
    tier.set("ns", "huge", 1, "x" * 5_000, ttl=60)

    assert tier.size_bytes <= 10_000
    assert tier.get("ns", "19", 1) == "x" * 900
    assert tier.get("ns", "0", 1) is MISSING
    assert tier.get("ns", "huge", 1) is MISSING


def test_replacing_an_entry_does_not_count_its_bytes_twice():
    tier = LocalTier()

    tier.set("ns", "a", 1, "x" * 100, ttl=60)
    size = tier.size_bytes
    tier.set("ns", "a", 2, "x" * 100, ttl=60)

    assert tier.size_bytes == size
    tier.clear()
    assert tier.size_bytes == 0


def test_a_value_under_several_namespaces_is_loaded_again_when_any_of_them_is_bumped(loader):
    namespaces = ["hotel:1", "hotel:1:week:1", "hotel:1:week:2"]
    cached(namespaces, ["page"], loader)

    invalidate("hotel:1:week:2")

    assert cached(namespaces, ["page"], loader) == {"call": 2}
    invalidate("hotel:1")
    assert cached(namespaces, ["page"], loader) == {"call": 3}


def test_a_value_under_several_namespaces_stays_cached_when_another_is_bumped(loader):
    cached(["hotel:1", "hotel:1:week:1"], ["page"], loader)
    cached(["hotel:1", "hotel:1:week:2"], ["page"], loader)

    invalidate("hotel:1:week:2")

    assert cached(["hotel:1", "hotel:1:week:1"], ["page"], loader) == {"call": 1}
    assert cached(["hotel:1", "hotel:1:week:2"], ["page"], loader) == {"call": 3}
    assert stats.process_counts()["hotel:*"]["local"]["hits"] == 1


def test_a_value_under_several_namespaces_is_shared_with_other_processes(loader):
    cached(["hotel:1", "hotel:1:week:1"], ["page"], loader)
    api.local_tier.clear()
    api.versions.clear()

    assert cached(["hotel:1", "hotel:1:week:1"], ["page"], loader) == {"call": 1}
    assert stats.process_counts()["hotel:*"]["shared"]["hits"] == 1


def test_another_processs_bump_of_one_of_several_namespaces_shows_within_the_interval(
    settings, clock, loader
):
    settings.CACHE_VERSION_CHECK_INTERVAL = 0.5
    cached(["hotel:1", "hotel:1:week:1"], ["page"], loader)
    cache.incr("nsv:hotel:1:week:1")

    clock.advance(0.4)
    within_interval = cached(["hotel:1", "hotel:1:week:1"], ["page"], loader)
    clock.advance(0.1)
    after_interval = cached(["hotel:1", "hotel:1:week:1"], ["page"], loader)

    assert within_interval == {"call": 1}
    assert after_interval == {"call": 2}


def test_a_loader_overtaken_by_a_bump_of_one_of_several_namespaces_stores_nothing():
    namespaces = ["hotel:1", "hotel:1:week:1"]
    calls = []

    def load_while_a_write_commits():
        calls.append(1)
        if len(calls) == 1:
            invalidate("hotel:1:week:1")
        return f"old-{len(calls)}"

    first = cached(namespaces, ["page"], load_while_a_write_commits)

    assert first == "old-1"
    assert cache.get(make_key(namespaces, api.namespace_versions(namespaces), ["page"])) is None
    assert cached(namespaces, ["page"], load_while_a_write_commits) == "old-2"


def test_the_stale_versions_of_several_namespaces_are_read_in_one_round_trip(
    monkeypatch, settings, clock, loader
):
    from django.core.cache import caches

    namespaces = ["hotel:1", "hotel:1:week:1", "hotel:1:week:2"]
    cached(namespaces, ["page"], loader)
    clock.advance(settings.CACHE_VERSION_CHECK_INTERVAL)
    backend, calls = caches["default"], []
    for name in ("get", "get_many"):
        real = getattr(backend, name)
        monkeypatch.setattr(
            backend,
            name,
            lambda *a, _real=real, _name=name, **kw: calls.append(_name) or _real(*a, **kw),
        )

    assert cached(namespaces, ["page"], loader) == {"call": 1}
    assert calls == ["get_many"]


def test_several_namespaces_are_bumped_in_one_round_trip(monkeypatch):
    from django.core.cache import caches

    cached("hotel:1", ["page"], lambda: "seeded")
    seeded_before = api._read_version("hotel:1")
    never_seen = "hotel:1:week:2099-W01"
    floor = api._version_seed()
    backend, calls = caches["default"], []
    for name in ("incr", "add", "set", "get"):
        real = getattr(backend, name)
        monkeypatch.setattr(
            backend,
            name,
            lambda *a, _real=real, _name=name, **kw: calls.append(_name) or _real(*a, **kw),
        )
    client = api._redis_client()
    real_eval = client.eval
    evals = []
    monkeypatch.setattr(api, "_redis_client", lambda: client)
    monkeypatch.setattr(client, "eval", lambda *a: evals.append(a[1]) or real_eval(*a))

    invalidate("hotel:1", never_seen, "hotel:1")

    assert evals == [2]  # one script for both namespaces, the repeat dropped
    assert calls == []
    monkeypatch.undo()
    assert api._read_version("hotel:1") == seeded_before + 1
    # a namespace no one had read is seeded like _bump seeds it, above every old version
    assert api._read_version(never_seen) >= floor
