"""A miss in both tiers costs Redis as few round trips as its guarantees allow.

Each test warms the namespace's version with one read of another key first,
so that only the miss itself talks to Redis (and the statistics have just
been flushed), then counts the commands the django-redis client sends.
"""

import threading
import time

import pytest
import redis
from django.core.cache import cache

from caching import api, stats
from caching.api import backend_available, cached, make_key, namespace_version, namespace_versions


@pytest.fixture
def redis_client():
    """The raw client every django-redis call of this thread goes through."""
    return api._redis_client()


@pytest.fixture
def round_trips(monkeypatch, redis_client):
    """The commands sent to Redis from here on, each one round trip."""
    client = redis_client
    sent = []
    real = client.execute_command

    def execute_command(*args, **kwargs):
        sent.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(client, "execute_command", execute_command)
    return sent


def _names(sent) -> list[str]:
    return [str(command[0]).upper() for command in sent]


def _warm(namespace) -> None:
    cached(namespace, ["warm-up"], lambda: "warm")


def _lock_key(namespace, parts) -> str:
    if isinstance(namespace, str):
        return "lock:" + make_key(namespace, namespace_version(namespace), parts)
    return "lock:" + make_key(namespace, namespace_versions(namespace), parts)


def test_a_miss_under_the_stampede_lock_takes_two_round_trips(round_trips, loader):
    _warm("hotel:1")
    round_trips.clear()

    value = cached("hotel:1", ["page"], loader)

    assert value == {"call": 1}
    assert len(round_trips) == 2, _names(round_trips)
    assert cache.get(make_key("hotel:1", namespace_version("hotel:1"), ["page"])) == value
    assert cache.get(_lock_key("hotel:1", ["page"])) is None


def test_a_miss_under_several_namespaces_takes_two_round_trips(round_trips, loader):
    namespaces = ["hotel:1", "hotel:1:week:1", "hotel:1:week:2"]
    _warm(namespaces)
    round_trips.clear()

    value = cached(namespaces, ["page"], loader)

    assert len(round_trips) == 2, _names(round_trips)
    assert cache.get(make_key(namespaces, namespace_versions(namespaces), ["page"])) == value


def test_a_miss_without_the_lock_takes_two_round_trips(round_trips, loader):
    _warm("availability:hotel:1")
    round_trips.clear()

    cached("availability:hotel:1", ["nights"], loader, lock=False)

    assert len(round_trips) == 2, _names(round_trips)


def test_a_miss_without_the_lock_loads_holding_none():
    _warm("availability:hotel:1")
    lock_key = _lock_key("availability:hotel:1", ["nights"])
    held = []

    cached(
        "availability:hotel:1",
        ["nights"],
        lambda: held.append(cache.get(lock_key, "free")),
        lock=False,
    )

    assert held == ["free"]


def test_a_shared_hit_takes_one_round_trip(round_trips, loader):
    _warm("hotel:1")
    cached("hotel:1", ["page"], loader)
    api.local_tier.clear()
    round_trips.clear()

    assert cached("hotel:1", ["page"], loader) == {"call": 1}
    assert len(round_trips) == 1, _names(round_trips)
    assert stats.process_counts()["hotel:*"]["shared"]["hits"] == 1


def _unseeded(name: str, count: int) -> list[str]:
    return [f"room-type-offers:{name}@2027-W{week:02d}" for week in range(1, count + 1)]


def test_versions_nobody_seeded_are_seeded_together_in_one_more_round_trip(round_trips):
    # The script is sent in full once per Redis; from then on by its SHA1.
    namespace_versions(_unseeded("warm-up", 2))
    namespaces = _unseeded("calendar", 10)
    round_trips.clear()

    read = namespace_versions(namespaces)

    assert _names(round_trips) == ["MGET", "EVALSHA"]
    # Seeded as django-redis stores an int, so that it reads them and bumps them.
    assert list(read) == [cache.get(api._version_key(namespace)) for namespace in namespaces]
    assert api._bump(namespaces[0]) == read[0] + 1


def test_a_version_another_process_seeds_first_is_the_one_served(monkeypatch):
    namespaces = _unseeded("race", 3)
    real_get_many = cache.get_many

    def another_process_seeds_after_the_read(keys, *args, **kwargs):
        found = real_get_many(keys, *args, **kwargs)
        cache.add(api._version_key(namespaces[1]), 42, timeout=None)
        return found

    monkeypatch.setattr(cache, "get_many", another_process_seeds_after_the_read)

    read = namespace_versions(namespaces)

    assert read[1] == 42
    assert read[0] == read[2] == cache.get(api._version_key(namespaces[0])) != 42


def test_a_version_key_of_another_type_falls_back_to_one_read_each_and_is_no_outage(redis_client):
    namespaces = _unseeded("odd", 3)
    redis_client.rpush(cache.make_key(api._version_key(namespaces[1])), "not a version")

    read = namespace_versions(namespaces)

    assert read is not None and len(read) == 3
    assert backend_available()
    assert read[0] == cache.get(api._version_key(namespaces[0]))


def test_a_bump_by_another_process_during_the_load_stores_nothing_and_releases_the_lock():
    _warm("hotel:1")
    version = namespace_version("hotel:1")

    def load_while_another_process_invalidates():
        # Only Redis learns of it: this process still trusts the old version.
        cache.incr("nsv:hotel:1")
        return "loaded before the write"

    value = cached("hotel:1", ["page"], load_while_another_process_invalidates)

    assert value == "loaded before the write"
    assert cache.get(make_key("hotel:1", version, ["page"])) is None
    assert api.local_tier.get("hotel:1", "page", version) is api.MISSING
    assert cache.get(_lock_key("hotel:1", ["page"])) is None


def test_a_version_key_lost_during_the_load_stores_nothing():
    _warm("hotel:1")
    version = namespace_version("hotel:1")

    def load_while_redis_loses_the_version():
        cache.delete("nsv:hotel:1")
        return "loaded"

    assert cached("hotel:1", ["page"], load_while_redis_loses_the_version) == "loaded"
    assert cache.get(make_key("hotel:1", version, ["page"])) is None


def test_a_lock_taken_over_by_another_process_during_the_load_is_left_to_it(settings):
    _warm("hotel:1")
    lock_key = _lock_key("hotel:1", ["page"])

    def load_past_the_locks_lifetime():
        # Our lock expired and another process took it with its own token.
        cache.set(lock_key, "other-process", timeout=5)
        return "loaded"

    value = cached("hotel:1", ["page"], load_past_the_locks_lifetime)

    assert value == "loaded"
    assert cache.get(lock_key) == "other-process"
    assert cache.get(make_key("hotel:1", namespace_version("hotel:1"), ["page"])) == "loaded"


def test_the_lock_has_a_lifetime(settings):
    settings.CACHE_STAMPEDE_LOCK_TIMEOUT = 3
    _warm("hotel:1")
    lock_key = _lock_key("hotel:1", ["page"])
    seen = []

    cached("hotel:1", ["page"], lambda: seen.append(cache.ttl(lock_key)))

    assert 0 < seen[0] <= 3


def test_a_loader_that_fails_releases_the_lock():
    _warm("hotel:1")

    def failing_load():
        raise RuntimeError("database went away")

    with pytest.raises(RuntimeError):
        cached("hotel:1", ["page"], failing_load)

    assert cache.get(_lock_key("hotel:1", ["page"])) is None


def test_a_value_stored_by_django_redis_is_read_by_a_miss(loader):
    _warm("hotel:1")
    cache.set(make_key("hotel:1", namespace_version("hotel:1"), ["page"]), {"from": "elsewhere"})

    assert cached("hotel:1", ["page"], loader) == {"from": "elsewhere"}
    assert loader.calls == 0


@pytest.mark.parametrize("value", [7, True, "text", {"nested": [1, 2.5]}, None])
def test_a_value_stored_by_a_miss_is_read_by_django_redis(value):
    _warm("hotel:1")

    cached("hotel:1", ["page"], lambda: value)

    key = make_key("hotel:1", namespace_version("hotel:1"), ["page"])
    assert cache.get(key, "absent") == value
    assert type(cache.get(key, "absent")) is type(value)


def _break(monkeypatch, client) -> None:
    def refuse(*args, **kwargs):
        raise redis.ConnectionError("Connection refused")

    monkeypatch.setattr(client, "execute_command", refuse)


def test_a_redis_that_stops_answering_before_the_miss_returns_the_loaded_value(
    monkeypatch, redis_client, loader
):
    _warm("hotel:1")
    misses = stats.process_counts()["hotel:*"]["shared"]["misses"]
    _break(monkeypatch, redis_client)

    value = cached("hotel:1", ["page"], loader)

    assert value == {"call": 1}
    assert not backend_available()
    assert stats.process_counts()["hotel:*"]["shared"]["misses"] == misses + 1


def test_a_redis_that_stops_answering_during_the_load_returns_the_loaded_value(
    monkeypatch, redis_client
):
    _warm("hotel:1")
    version = namespace_version("hotel:1")

    def load_as_redis_goes_down():
        _break(monkeypatch, redis_client)
        return "loaded"

    value = cached("hotel:1", ["page"], load_as_redis_goes_down)

    assert value == "loaded"
    assert not backend_available()
    assert api.local_tier.get("hotel:1", "page", version) is api.MISSING


def test_a_miss_in_another_process_waits_for_the_lock_holder_and_is_served_its_value(loader):
    _warm("hotel:1")
    version = namespace_version("hotel:1")
    key = make_key("hotel:1", version, ["page"])
    loading, release = threading.Event(), threading.Event()

    def slow_load():
        loading.set()
        assert release.wait(10)
        return "from the holder"

    holder = threading.Thread(target=lambda: cached("hotel:1", ["page"], slow_load))
    holder.start()
    assert loading.wait(10)
    waited = []

    def miss_as_another_process():
        # Past this process's tiers and single flight, straight to Redis.
        waited.append(api._read_shared("hotel:1", version, "page", key, loader, 60))

    waiter = threading.Thread(target=miss_as_another_process)
    waiter.start()
    time.sleep(0.05)  # let it find the lock taken
    release.set()
    holder.join(10)
    waiter.join(10)

    assert waited == ["from the holder"]
    assert loader.calls == 0


def test_a_key_of_another_type_falls_back_to_django_redis_and_is_no_outage(redis_client, loader):
    _warm("hotel:1")
    key = make_key("hotel:1", namespace_version("hotel:1"), ["page"])
    redis_client.rpush(cache.make_key(key), "not a cached value")

    assert cached("hotel:1", ["page"], loader) == {"call": 1}
    assert backend_available()
    assert cache.get(key) == {"call": 1}


@pytest.fixture
def another_backend(settings):
    """The local-memory cache of the embedded default: no Redis client, no scripts."""
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "t"}
    }
    assert api._redis_client() is None
    yield
    cache.clear()


def test_on_another_cache_backend_a_miss_is_stored_and_its_lock_released(another_backend, loader):
    _warm("hotel:1")

    value = cached("hotel:1", ["page"], loader)

    assert cache.get(make_key("hotel:1", namespace_version("hotel:1"), ["page"])) == value
    assert cache.get(_lock_key("hotel:1", ["page"])) is None
    api.local_tier.clear()
    assert cached("hotel:1", ["page"], loader) == {"call": 1}


def test_on_another_cache_backend_versions_nobody_seeded_are_seeded(another_backend):
    namespaces = _unseeded("locmem", 3)

    read = namespace_versions(namespaces)

    assert list(read) == [cache.get(api._version_key(namespace)) for namespace in namespaces]


def test_on_another_cache_backend_a_bump_during_the_load_stores_nothing(another_backend):
    _warm("hotel:1")
    version = namespace_version("hotel:1")

    def load_while_another_process_invalidates():
        cache.incr("nsv:hotel:1")
        return "loaded before the write"

    assert cached("hotel:1", ["page"], load_while_another_process_invalidates) == (
        "loaded before the write"
    )
    assert cache.get(make_key("hotel:1", version, ["page"])) is None
