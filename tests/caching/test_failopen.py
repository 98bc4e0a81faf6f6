"""With Redis down or slow, reads go to the database and pages keep working."""

import contextlib
import copy
import logging
import socket
import threading

import pytest
from django.core.cache import cache, caches

from caching import api, stats
from caching.api import (
    _read_version,
    backend_available,
    cached,
    invalidate,
    make_key,
    namespace_version,
)


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def point_cache_at(settings, location: str) -> None:
    caches_setting = copy.deepcopy(settings.CACHES)
    caches_setting["default"]["LOCATION"] = location
    settings.CACHES = caches_setting


@pytest.fixture
def redis_down(settings):
    point_cache_at(settings, f"redis://127.0.0.1:{_closed_port()}/0")


@pytest.fixture
def redis_silent(settings):
    """A server that accepts connections and never answers: a hung Redis."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(16)
        point_cache_at(settings, f"redis://127.0.0.1:{server.getsockname()[1]}/0")
        yield


def test_reads_go_to_the_database_when_redis_is_down(redis_down, loader):
    values = [cached("hotel:1", ["page"], loader) for _ in range(3)]

    assert values == [{"call": 1}, {"call": 2}, {"call": 3}]
    assert not backend_available()
    assert stats.process_counts()["hotel:*"]["bypass"]["misses"] == 3


class SilentRedis:
    """A server that accepts connections and never answers, counting the connections."""

    def __init__(self) -> None:
        self.accepted = 0
        self._held: list[socket.socket] = []
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"redis://127.0.0.1:{self._listener.getsockname()[1]}/0"
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            self.accepted += 1
            self._held.append(conn)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)
        self._listener.close()
        for conn in self._held:
            conn.close()


@pytest.fixture
def counting_silent_redis(settings):
    server = SilentRedis()
    point_cache_at(settings, server.url)
    yield server
    server.close()


def _connections_made(server: SilentRedis, expected: int) -> int:
    # The listener's thread counts each connection a moment after the kernel took it.
    for _ in range(100):
        if server.accepted >= expected:
            break
        threading.Event().wait(0.01)
    return server.accepted


def test_after_redis_did_not_answer_the_process_leaves_it_alone_for_the_retry_interval(
    counting_silent_redis, settings, clock
):
    settings.CACHE_RETRY_INTERVAL = 5
    # given a call that waited out its timeout on a Redis that never answers
    assert cache.get("first") is None
    assert _connections_made(counting_silent_redis, 1) == 1

    # when the cache is used again within the interval, by anyone (sessions too)
    assert cache.get("second") is None
    cache.set("third", 1)

    # then no connection is tried: each call fails at once
    assert _connections_made(counting_silent_redis, 2) == 1
    # and once the interval has passed, the next call tries Redis again
    clock.advance(5)
    assert cache.get("fourth") is None
    assert _connections_made(counting_silent_redis, 2) == 2


def test_when_a_pause_ends_one_call_tries_redis_and_the_others_still_fail_at_once(
    counting_silent_redis, settings, clock
):
    settings.CACHE_RETRY_INTERVAL = 5
    # given a process that paused a Redis that never answers
    assert cache.get("first") is None
    assert _connections_made(counting_silent_redis, 1) == 1

    # when the interval has passed and both of a web process's threads ask at once
    clock.advance(5)
    start = threading.Barrier(2)
    answers = []

    def ask(key: str) -> None:
        start.wait()
        answers.append(cache.get(key))

    threads = [threading.Thread(target=ask, args=(key,)) for key in ("second", "third")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # then one of them tried Redis, and the other was refused at once
    assert answers == [None, None]
    assert _connections_made(counting_silent_redis, 3) == 2
    # and the trial that went unanswered started the next pause
    assert cache.get("fourth") is None
    assert _connections_made(counting_silent_redis, 3) == 2


def test_a_trial_that_is_answered_ends_the_pause_for_every_thread(settings, clock):
    from caching.connections import _pause_for

    settings.CACHE_RETRY_INTERVAL = 5
    # given a pause over a Redis that answers, and its interval passed
    cache.set("kept", 1)
    pause = _pause_for(_cache_address())
    pause.start(TimeoutError("Timeout reading from socket"))
    clock.advance(5)

    # when the trial is answered
    assert cache.get("kept") == 1

    # then the pause is over: the next calls go to Redis with no trial to wait for
    assert pause.until == 0
    assert cache.get("kept") == 1


def test_only_the_trials_answer_ends_a_pause_early(settings, clock):
    from redis.exceptions import ConnectionError as RedisConnectionError

    from caching.connections import _Pause

    settings.CACHE_RETRY_INTERVAL = 5
    address = ("127.0.0.1", 1)
    pause = _Pause()
    # given a pause started while another thread's command was on its way
    pause.start(TimeoutError("Timeout reading from socket"))

    # when that command's reply comes, in time
    pause.answered()

    # then the pause holds: a reply to a command sent before says little
    with pytest.raises(RedisConnectionError):
        pause.check(address)
    # and once it is over, the trial's answer ends it
    clock.advance(5)
    pause.check(address)
    pause.answered()
    assert pause.until == 0 and not pause.trying
    pause.check(address)


def _cache_address() -> tuple[str, int]:
    kwargs = cache.client.get_client().connection_pool.connection_kwargs
    return kwargs["host"], kwargs["port"]


def test_during_a_pause_even_an_open_connection_is_not_used(settings, clock):
    from caching.connections import _pause_for

    settings.CACHE_RETRY_INTERVAL = 5
    # given an open connection to a Redis that answers, and a pause started
    cache.set("kept", 1)
    _pause_for(_cache_address()).start(TimeoutError("Timeout reading from socket"))

    # then no call asks Redis until the interval is over
    assert cache.get("kept") is None
    clock.advance(5)
    assert cache.get("kept") == 1


def test_one_late_reply_from_a_healthy_redis_starts_no_pause(settings):
    import redis

    # given a connection open to Redis
    cache.set("kept", 1)
    busy = redis.Redis.from_url(settings.REDIS_URL)
    # a script that keeps the single-threaded server busy for 0.6 s
    stall = threading.Thread(
        target=busy.eval,
        args=(
            "local t = redis.call('TIME') local start = t[1] * 1000000 + t[2] "
            "repeat t = redis.call('TIME') until t[1] * 1000000 + t[2] - start > 600000",
            0,
        ),
    )
    stall.start()
    threading.Event().wait(0.1)

    # when one reply comes too late (the socket timeout is 0.25 s)
    assert cache.get("kept") is None
    stall.join()
    busy.close()

    # then the next call is answered: the cache stays on
    assert cache.get("kept") == 1


@pytest.mark.django_db
def test_a_signed_in_guests_pages_wait_on_a_silent_redis_once_per_interval(
    client, settings, django_user_model
):
    from django.urls import reverse

    client.force_login(django_user_model.objects.create_user("ana", "ana@example.com", "pw"))
    server = SilentRedis()
    try:
        # given Redis gone silent under a guest who is signed in (the session
        # is read through the cache on every page)
        point_cache_at(settings, server.url)

        # when the guest opens pages
        pages = [client.get(reverse("bookings:mine")) for _ in range(3)]

        # then every page is served, from the database, and only the first
        # one waited for Redis
        assert [page.status_code for page in pages] == [200, 200, 200]
        assert all(page.context["user"].username == "ana" for page in pages)
        assert _connections_made(server, 2) == 1
    finally:
        server.close()


def test_reads_go_to_the_database_when_redis_hangs(redis_silent, loader):
    first = cached("hotel:1", ["page"], loader)
    # The circuit is open now: the next read does not wait on Redis again.
    second = cached("hotel:1", ["page"], loader)

    assert (first, second) == ({"call": 1}, {"call": 2})
    assert not backend_available()


def test_an_outage_is_logged_once_per_interval(redis_down, settings, clock, caplog, loader):
    settings.CACHE_RETRY_INTERVAL = 5
    settings.CACHE_ERROR_LOG_INTERVAL = 60
    caplog.set_level(logging.WARNING)

    for _ in range(6):
        cached("hotel:1", ["page"], loader)
        clock.advance(5)  # each read tries Redis again, and fails again
    clock.advance(60)
    cached("hotel:1", ["page"], loader)

    ours = [r for r in caplog.records if r.name == "caching"]
    theirs = [r for r in caplog.records if r.name == "caching.redis"]
    assert len(ours) == 2
    assert "similar messages suppressed" in ours[1].getMessage()
    assert len(theirs) <= 2
    assert loader.calls == 7


def test_invalidation_with_redis_down_does_not_raise(redis_down):
    invalidate("hotel:1", "catalogue")

    assert not backend_available()


def test_invalidations_redis_refused_are_sent_once_it_answers(monkeypatch, clock, loader):
    cached("hotel:1", ["page"], loader)
    before = _read_version("hotel:1")
    backend = caches["default"]
    # django-redis answers None when it swallowed a connection error. Only
    # this patch is undone below, never the fake clock: undoing that would
    # compare the real monotonic clock with the fake one.
    with monkeypatch.context() as outage:
        outage.setattr(backend, "incr", lambda *args, **kwargs: None)
        invalidate("hotel:1")
        during = cached("hotel:1", ["page"], loader)
    clock.advance(api.conf.get("CACHE_RETRY_INTERVAL"))
    after = cached("hotel:1", ["page"], loader)

    assert during == {"call": 2}  # straight from the database, not the stale tier
    assert _read_version("hotel:1") > before
    assert after == {"call": 3}


def test_the_local_tier_is_not_trusted_while_versions_cannot_be_checked(
    redis_down, settings, clock, loader
):
    # A value cached before the outage could be stale by now: an
    # invalidation may have been lost. Without a version check it is skipped.
    api.local_tier.set("hotel:1", "page", 1, {"call": "stale"}, ttl=60)
    api.versions.record("hotel:1", 1, clock())
    clock.advance(1)

    assert cached("hotel:1", ["page"], loader) == {"call": 1}


def test_stats_summary_works_with_redis_down(redis_down, loader):
    cached("hotel:1", ["page"], loader)

    summary = stats.summary()

    assert summary["backend_available"] is False
    assert summary["shared"] is None
    assert summary["process"]["hotel:*"]["bypass"]["misses"] == 1


@pytest.mark.django_db
def test_pages_keep_working_with_redis_down(redis_down, client):
    from tests.factories import HotelFactory

    hotel = HotelFactory(name="Open during the outage")

    page = client.get(hotel.get_absolute_url())
    again = client.get(hotel.get_absolute_url())
    health = client.get("/health/")

    assert page.status_code == again.status_code == 200
    assert "Open during the outage" in again.content.decode()
    assert health.status_code == 200
    assert cache.get("anything") is None


def test_a_version_key_flushed_while_it_is_read_is_not_an_outage(monkeypatch, loader):
    backend = caches["default"]
    real_get, real_add = backend.get, backend.add

    def get(key, default=None, **kwargs):
        return None if key.startswith("nsv:") else real_get(key, default, **kwargs)

    def add(key, value, **kwargs):
        # Another process seeded the version, and a FLUSHDB removed it again.
        return False if key.startswith("nsv:") else real_add(key, value, **kwargs)

    monkeypatch.setattr(backend, "get", get)
    monkeypatch.setattr(backend, "add", add)

    assert cached("hotel:1", ["page"], loader) == {"call": 1}
    assert backend_available()


def test_a_process_that_only_writes_sends_its_refused_invalidations_on_the_next_one(
    monkeypatch, clock
):
    before = _read_version("hotel:1")
    with monkeypatch.context() as outage:
        outage.setattr(caches["default"], "incr", lambda *args, **kwargs: None)
        invalidate("hotel:1")
    clock.advance(api.conf.get("CACHE_RETRY_INTERVAL"))

    invalidate("hotel:2")

    assert _read_version("hotel:1") > before


def test_a_read_under_several_namespaces_goes_to_the_database_when_redis_is_down(
    redis_down, loader
):
    values = [cached(["hotel:1", "hotel:1:week:1"], ["page"], loader) for _ in range(2)]

    assert values == [{"call": 1}, {"call": 2}]
    assert not backend_available()


def test_several_invalidations_redis_refused_are_sent_once_it_answers(monkeypatch, clock):
    import redis

    before = {ns: _read_version(ns) for ns in ("hotel:1", "hotel:2")}
    down = redis.Redis.from_url(
        f"redis://127.0.0.1:{_closed_port()}/0", socket_connect_timeout=0.25
    )
    with monkeypatch.context() as outage:
        # Only the batched bump meets the outage: the reads before and after work.
        outage.setattr(api, "_redis_client", lambda: down)
        invalidate("hotel:1", "hotel:2")
        assert not backend_available()
        assert {ns: _read_version(ns) for ns in before} == before
    clock.advance(api.conf.get("CACHE_RETRY_INTERVAL"))

    invalidate("hotel:3")

    assert all(_read_version(ns) > version for ns, version in before.items())


# What a release that renamed or moved a cached value's class leaves in Redis
# for the processes still on the other release: a pickle naming a global that
# is not there.
UNREADABLE = b"cno_such_module_of_this_release\nGone\n."


def test_a_shared_value_this_release_cannot_unpickle_is_loaded_again(loader):
    cached("hotel:1", ["warm-up"], lambda: "warm")
    key = make_key("hotel:1", namespace_version("hotel:1"), ["page"])
    api._redis_client().set(cache.make_key(key), UNREADABLE)

    assert cached("hotel:1", ["page"], loader) == {"call": 1}
    assert cache.get(key) == {"call": 1}
    assert backend_available()


def test_a_shared_value_this_release_cannot_unpickle_is_loaded_again_without_the_lock(loader):
    cached("hotel:1", ["warm-up"], lambda: "warm")
    key = make_key("hotel:1", namespace_version("hotel:1"), ["nights"])
    api._redis_client().set(cache.make_key(key), UNREADABLE)

    assert cached("hotel:1", ["nights"], loader, lock=False) == {"call": 1}
    assert cache.get(key) == {"call": 1}
