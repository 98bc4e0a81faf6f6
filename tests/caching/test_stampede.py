"""Concurrent misses on one key run the loader once."""

import threading
import time

from django.core.cache import cache

from caching.api import cached, make_key, namespace_version


def test_concurrent_misses_in_one_process_run_the_loader_once():
    release = threading.Event()
    calls = []

    def slow_load():
        calls.append(1)
        assert release.wait(10)
        return {"rooms": 3}

    results = []
    threads = [
        threading.Thread(target=lambda: results.append(cached("catalogue", ["x"], slow_load)))
        for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    # Let every thread reach the miss before the loader may finish.
    deadline = time.monotonic() + 5
    while not calls and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.1)
    release.set()
    for thread in threads:
        thread.join(10)

    assert len(calls) == 1
    assert results == [{"rooms": 3}] * 8
    assert len({id(r) for r in results}) == 8  # each caller got its own copy


def _keys(namespace: str, parts: list) -> tuple[str, str]:
    key = make_key(namespace, namespace_version(namespace), parts)
    return key, "lock:" + key


def test_a_miss_waits_for_another_process_that_holds_the_lock(loader):
    key, lock_key = _keys("catalogue", ["cities"])
    assert cache.add(lock_key, "other-process", timeout=5)

    def other_process_finishes():
        time.sleep(0.05)
        cache.set(key, ["Lisbon", "Porto"], timeout=60)
        cache.delete(lock_key)

    other = threading.Thread(target=other_process_finishes)
    other.start()
    value = cached("catalogue", ["cities"], loader)
    other.join(5)

    assert value == ["Lisbon", "Porto"]
    assert loader.calls == 0


def test_a_miss_loads_itself_when_the_lock_holder_gives_up(loader):
    key, lock_key = _keys("catalogue", ["cities"])
    assert cache.add(lock_key, "other-process", timeout=5)
    threading.Timer(0.05, lambda: cache.delete(lock_key)).start()

    value = cached("catalogue", ["cities"], loader)

    assert value == {"call": 1}
    assert cache.get(key) == {"call": 1}


def test_a_lock_never_released_delays_a_miss_only_for_its_lifetime(settings, loader):
    settings.CACHE_STAMPEDE_LOCK_TIMEOUT = 0.2
    _, lock_key = _keys("catalogue", ["cities"])
    assert cache.add(lock_key, "stuck-process", timeout=60)

    assert cached("catalogue", ["cities"], loader) == {"call": 1}
    assert cache.get(lock_key) == "stuck-process"  # not ours to delete


def test_the_lock_is_released_after_loading(loader):
    key, lock_key = _keys("catalogue", ["cities"])

    cached("catalogue", ["cities"], loader)

    assert cache.get(lock_key) is None
    assert cache.get(key) == {"call": 1}


def test_without_the_lock_a_miss_takes_none(settings):
    settings.CACHE_STAMPEDE_LOCK = False
    _key, lock_key = _keys("catalogue", ["cities"])
    held = []

    cached("catalogue", ["cities"], lambda: held.append(cache.get(lock_key, "free")) or 1)

    assert held == ["free"]


def test_a_cheap_read_asks_for_no_lock_and_is_still_stored(loader):
    key, lock_key = _keys("availability:hotel:1", ["nights"])
    held = []

    def load():
        held.append(cache.get(lock_key, "free"))
        return loader()

    cached("availability:hotel:1", ["nights"], load, lock=False)

    assert held == ["free"]
    assert cache.get(key) == {"call": 1}
    assert cached("availability:hotel:1", ["nights"], loader, lock=False) == {"call": 1}
    assert loader.calls == 1
