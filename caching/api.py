"""Read-through caching in two tiers, with versioned namespaces.

    value = cached("availability:hotel:42", ["search", check_in, nights], load, ttl=60)

A key lives in a namespace such as ``availability:hotel:42``. Invalidation
bumps the namespace's version in Redis (an INCR; a write's several
namespaces in one round trip), which orphans every key under it at once
without scanning keys; orphans age out by their TTL. A value
that depends on several things names several namespaces (the hotel, and each
week of the nights it shows) and is keyed on all their versions, so a bump
of any one of them orphans it and a bump of none leaves it current.

Reads go through two tiers: a bounded LRU in this process (caching.local),
then the Django cache (Redis through django-redis). The process trusts a
namespace version it read from Redis for at most CACHE_VERSION_CHECK_INTERVAL
(0.5 s by default), so once a write's invalidation has run, every process
serves the new value within that interval. A miss in both tiers costs two
round trips to Redis, each a Lua script: one reads the value or takes the
stampede lock, the other stores the value if the versions are unchanged and
releases the lock.

Correctness rests on three rules:

* Invalidation runs after the writing transaction commits
  (``invalidate_on_commit``), so no reader can load the old rows after the
  version moved.
* A loader stores its result under the version read *before* it started, and
  only if that is still the current version after it finished; a value loaded
  before an invalidation therefore never lands under the new version.
* Inside a write transaction the cache is bypassed: the loader's result may
  hold uncommitted rows that a rollback would make false, and a write path
  must read the database anyway (DESIGN.md, invariant 5).

Redis failures fail open: reads go to the database for CACHE_RETRY_INTERVAL,
the error is logged at most once per CACHE_ERROR_LOG_INTERVAL, and
invalidations that could not be sent are retried by this process once Redis
answers again. An invalidation lost for good (the process died meanwhile) is
bounded by the values' TTL.
"""

import functools
import inspect
import itertools
import pickle
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from hashlib import sha256
from typing import Any, TypeVar
from urllib.parse import quote

from django.core.cache import cache
from django.core.signals import setting_changed
from django.db import transaction
from django.dispatch import receiver
from redis.commands.core import Script
from redis.exceptions import RedisError, ResponseError

from . import conf, local, log, stats
from .local import MISSING, LocalTier, VersionTable

T = TypeVar("T")

_VERSION_PREFIX = "nsv:"
_LOCK_PREFIX = "lock:"
_MAX_SUFFIX = 200

local_tier = LocalTier()
versions = VersionTable()

_state_lock = threading.Lock()
_down_until = 0.0
_pending_invalidations: set[str] = set()


# --- Keys -------------------------------------------------------------------


@functools.lru_cache(maxsize=16384)
def _ns(namespace: str) -> str:
    # City names bring spaces and accents; keys stay valid for every backend.
    # Memoised: a week's namespace has an "@", which sends quote() down its
    # character-by-character path (3.5 µs), and a page names some fifteen.
    return quote(namespace, safe=":-_.")


def _version_key(namespace: str) -> str:
    return f"{_VERSION_PREFIX}{_ns(namespace)}"


def _key_part(part: Any) -> str:
    meta = getattr(part, "_meta", None)
    if meta is not None and getattr(part, "pk", None) is not None:
        part = f"{meta.label_lower}#{part.pk}"
    elif part is None:
        part = ""
    return quote(str(part), safe="-_.#=,")


def key_suffix(key_parts: Iterable[Any]) -> str:
    """Join the parts into a key that is unambiguous, printable and short.

    Each part is percent-encoded, so ``["a:b"]`` and ``["a", "b"]`` differ;
    a model instance stands for its label and primary key. Long keys are
    hashed, which keeps them valid for every cache backend.
    """
    if isinstance(key_parts, str | bytes):
        key_parts = [key_parts]
    suffix = ":".join(_key_part(p) for p in key_parts)
    if len(suffix) > _MAX_SUFFIX:
        suffix = "h" + sha256(suffix.encode()).hexdigest()
    return suffix


def make_key(namespace: str | Sequence[str], version, key_parts: Iterable[Any]) -> str:
    """The shared tier's key: ``version`` is an int, or a tuple of ints for several namespaces."""
    return _value_key(namespace, version, key_suffix(key_parts))


def _value_key(namespace: str | Sequence[str], version, suffix: str) -> str:
    if isinstance(namespace, str):
        return f"c:{_ns(namespace)}:v{version}:{suffix}"
    head = "|".join(f"{_ns(ns)}:v{v}" for ns, v in zip(namespace, version, strict=True))
    if len(head) > _MAX_SUFFIX:
        head = "h" + sha256(head.encode()).hexdigest()
    return f"c:{head}:{suffix}"


# --- Backend health ---------------------------------------------------------


def backend_available() -> bool:
    """False while reads skip Redis after an error (see CACHE_RETRY_INTERVAL)."""
    return local.clock() >= _down_until


def _mark_down(what: str) -> None:
    global _down_until
    retry = conf.get("CACHE_RETRY_INTERVAL")
    with _state_lock:
        _down_until = local.clock() + retry
    # Versions read before the outage cannot be trusted after it: an
    # invalidation may have been missed meanwhile.
    versions.clear()
    log.warning(
        "Cache backend unavailable (%s); reading from the database, retrying in %.1f s",
        what,
        retry,
    )


def _version_seed() -> int:
    """The first version of a namespace: microseconds since the epoch.

    If Redis loses a version key (eviction, restart, FLUSHDB) it is seeded
    again with a larger number than any version handed out before, so values
    cached under an old version can never become current again. A bump adds
    one and takes a round trip to Redis, far longer than a microsecond, so
    this holds even for a key lost moments after it was first seeded; with
    milliseconds, a key seeded, read, lost and seeded again within one
    millisecond came back with its old version.
    """
    return time.time_ns() // 1_000


def _in_write_transaction() -> bool:
    connection = transaction.get_connection()
    # The atomic blocks a test case wraps each test in are not writes of the
    # code under test; without this, nothing would be cached under pytest.
    return any(not getattr(block, "_from_testcase", False) for block in connection.atomic_blocks)


_test_scopes = itertools.count(1)


def _local_scope() -> str:
    """What the process's values and versions are scoped to: the process, or the running test.

    A test case's data is rolled back without any commit, so no invalidation
    ever says that what this process holds from one test is gone in the
    next. Scoping the local tier and the trusted versions to the test's
    outermost atomic block starts every test with nothing, as the suite's
    fixture starts it with an empty Redis. Outside tests this is always the
    empty string.
    """
    blocks = transaction.get_connection().atomic_blocks
    if not blocks or not getattr(blocks[0], "_from_testcase", False):
        return ""
    scope = getattr(blocks[0], "_caching_scope", None)
    if scope is None:
        scope = blocks[0]._caching_scope = f"t{next(_test_scopes)}|"
    return scope


# --- Versions ---------------------------------------------------------------


def _read_version(namespace: str) -> int | None:
    """The namespace's version as Redis has it now; None when Redis failed."""
    started = local.clock()
    key = _version_key(namespace)
    value = cache.get(key)
    if value is None:
        seed = _version_seed()
        added = cache.add(key, seed, timeout=None)
        # django-redis answers None (not False) when it swallowed an error.
        if added is None:
            _mark_down(f"cannot read the version of {namespace}")
            return None
        # Another process seeded it first, unless it vanished again at once
        # (a flush): then the seed is as good a version as any, since a value
        # is stored only under the version Redis holds.
        value = seed if added else (cache.get(key) or seed)
    return versions.record(_local_scope() + namespace, int(value), started)


def namespace_version(namespace: str) -> int | None:
    """The version this process serves ``namespace`` under; None when Redis failed."""
    version = versions.fresh(_local_scope() + namespace)
    if version is not None:
        return version
    return _read_version(namespace)


def _read_versions(namespaces: Sequence[str]) -> tuple[int, ...] | None:
    """The namespaces' versions as Redis has them now, in one round trip; None when Redis failed."""
    started = local.clock()
    scope = _local_scope()
    found = cache.get_many([_version_key(ns) for ns in namespaces])
    # Never seeded, evicted, or Redis failed (django-redis then answers {}):
    # seeding them all at once seeds them or marks Redis down.
    missing = [ns for ns in namespaces if found.get(_version_key(ns)) is None]
    seeded = _seed_versions(missing, scope=scope, started=started) if missing else {}
    if seeded is None:
        return None
    return tuple(
        seeded[namespace]
        if namespace in seeded
        else versions.record(scope + namespace, int(found[_version_key(namespace)]), started)
        for namespace in namespaces
    )


# Seeds each version key (KEYS) that does not exist with ARGV[1] and answers
# every key's version, the seed or what another caller seeded first: what
# _read_version does per key with GET and ADD, for all of them atomically.
_SEED_SCRIPT = Script(
    None,
    b"""
local versions = {}
for i, key in ipairs(KEYS) do
  redis.call('SET', key, ARGV[1], 'NX')
  versions[i] = redis.call('GET', key)
end
return versions
""",
)


def _seed_versions(
    namespaces: Sequence[str], *, scope: str, started: float
) -> dict[str, int] | None:
    """The versions of namespaces that had none in Redis, seeded; None when Redis failed.

    On Redis, one round trip for all of them: after Redis restarts or is
    flushed, none is seeded, and the room type page's calendar alone reads
    ten namespaces, which one at a time cost two round trips each.
    Elsewhere, or for a key holding something other than a number,
    ``_read_version`` each.
    """

    def portable() -> dict[str, int] | None:
        read = {}
        for namespace in namespaces:
            version = _read_version(namespace)
            if version is None:
                return None
            read[namespace] = version
        return read

    def scripted(client) -> dict[str, int] | None:
        keys = [cache.make_key(_version_key(namespace)) for namespace in namespaces]
        replies = _SEED_SCRIPT(keys=keys, args=[_version_seed()], client=client)
        try:
            values = [int(reply) for reply in replies]
        except (TypeError, ValueError):
            return portable()
        return {
            namespace: versions.record(scope + namespace, value, started)
            for namespace, value in zip(namespaces, values, strict=True)
        }

    if len(namespaces) < 2:
        return portable()
    return _on_redis(scripted, portable, failed=None, what="cannot seed namespace versions")


def namespace_versions(namespaces: Sequence[str]) -> tuple[int, ...] | None:
    """The versions this process serves ``namespaces`` under; None when Redis failed.

    The versions checked within the interval are trusted; the others are read
    from Redis together.
    """
    scope = _local_scope()
    known = [versions.fresh(scope + ns) for ns in namespaces]
    if None not in known:
        return tuple(known)
    stale = [ns for ns, version in zip(namespaces, known, strict=True) if version is None]
    read = _read_versions(stale)
    if read is None:
        return None
    fresh = iter(read)
    return tuple(next(fresh) if version is None else version for version in known)


# Bumps every key it is given: INCR where the version exists, else the seed
# (ARGV[1]) as a fresh one, all in one round trip and atomically, which is
# what _bump does per key with INCR and ADD.
_BUMP_SCRIPT = """
local versions = {}
for i, key in ipairs(KEYS) do
  if redis.call('EXISTS', key) == 1 then
    versions[i] = redis.call('INCR', key)
  else
    redis.call('SET', key, ARGV[1])
    versions[i] = tonumber(ARGV[1])
  end
end
return versions
"""


def _redis_client():
    """The django-redis client behind the default cache, or None for another backend."""
    client = getattr(cache, "client", None)
    get_client = getattr(client, "get_client", None)
    return get_client(write=True) if get_client is not None else None


def _bump_all(namespaces: Sequence[str]) -> list[int | None]:
    """Bump each namespace's version; None for a namespace that could not be bumped.

    On Redis, one script bumps them all in one round trip (a hold bumps its
    hotel's and city's weeks: four namespaces or more); elsewhere, one
    ``_bump`` each.
    """
    if len(namespaces) < 2:
        return [_bump(namespace) for namespace in namespaces]
    client = _redis_client()
    if client is None:
        return [_bump(namespace) for namespace in namespaces]
    keys = [cache.make_key(_version_key(namespace)) for namespace in namespaces]
    try:
        return [int(v) for v in client.eval(_BUMP_SCRIPT, len(keys), *keys, _version_seed())]
    except ResponseError:
        # A version key that holds something other than a number: one at a
        # time, django-redis reads and rewrites it.
        return [_bump(namespace) for namespace in namespaces]
    except (RedisError, OSError):
        # Redis is down: the caller keeps them to send again and marks it
        # down, as it does when django-redis ignores the error for _bump.
        return [None] * len(namespaces)


def _bump(namespace: str) -> int | None:
    key = _version_key(namespace)
    try:
        version = cache.incr(key)
    except ValueError:
        seed = _version_seed()
        added = cache.add(key, seed, timeout=None)
        if added:
            return seed
        if added is None:
            return None
        try:
            version = cache.incr(key)
        except ValueError:
            return None
    return None if version is None else int(version)


# --- Invalidation -----------------------------------------------------------


def invalidate(*namespaces: str) -> None:
    """Bump each namespace's version now. Prefer invalidate_on_commit inside a write.

    This process sees the new version at once; others within the version
    check interval. A bump Redis refused is kept and sent again later.
    """
    if backend_available() and _pending_invalidations:
        # A process that only writes (a worker) sends its earlier failures here.
        namespaces = (*_take_pending_invalidations(), *namespaces)
    failed = []
    unique = list(dict.fromkeys(namespaces))
    bumped = _bump_all(unique) if backend_available() else [None] * len(unique)
    for namespace, version in zip(unique, bumped, strict=True):
        if version is None:
            failed.append(namespace)
            versions.forget(_local_scope() + namespace)
        else:
            versions.record(_local_scope() + namespace, version, local.clock())
    if failed:
        with _state_lock:
            _pending_invalidations.update(failed)
        if backend_available():
            _mark_down("cannot bump " + ", ".join(failed))


def invalidate_on_commit(*namespaces: str, using: str | None = None) -> None:
    """Bump the namespaces once the current transaction commits (at once outside one).

    A rolled-back transaction bumps nothing: it changed nothing.
    """
    names = tuple(namespaces)
    transaction.on_commit(lambda: invalidate(*names), using=using)


def _take_pending_invalidations() -> list[str]:
    with _state_lock:
        pending = sorted(_pending_invalidations)
        _pending_invalidations.clear()
    return pending


def _send_pending_invalidations() -> None:
    if _pending_invalidations:
        invalidate()


# --- Reads ------------------------------------------------------------------


class _SingleFlight:
    """Concurrent misses on one key in this process run the loader once."""

    class _Call:
        __slots__ = ("done", "error", "value")

        def __init__(self) -> None:
            self.done = threading.Event()
            self.value: Any = None
            self.error: BaseException | None = None

    def __init__(self) -> None:
        self._calls: dict[str, _SingleFlight._Call] = {}
        self._lock = threading.Lock()

    def run(self, key: str, fn: Callable[[], T]) -> T:
        with self._lock:
            call = self._calls.get(key)
            leader = call is None
            if leader:
                call = self._calls[key] = self._Call()
        if leader:
            try:
                call.value = fn()
                return call.value
            except BaseException as exc:
                call.error = exc
                raise
            finally:
                with self._lock:
                    del self._calls[key]
                call.done.set()
        call.done.wait()
        if call.error is not None:
            raise call.error
        # A copy, so that the waiters and the leader do not share one object.
        return pickle.loads(pickle.dumps(call.value, protocol=pickle.HIGHEST_PROTOCOL))  # noqa: S301


_flights = _SingleFlight()


def cached(
    namespace: str | Sequence[str],
    key_parts: Iterable[Any],
    loader: Callable[[], T],
    ttl=None,
    *,
    lock: bool = True,
) -> T:
    """Return the cached value for ``key_parts`` in ``namespace``, loading it on a miss.

    ``namespace`` may be a sequence of namespaces: the value is then current
    only while none of them has been bumped since it was loaded, and it is
    counted in the statistics under the first. ``ttl`` (seconds) defaults to
    CACHE_DEFAULT_TTL. The value must pickle.
    ``lock=False`` skips the stampede lock across processes: for a loader as
    cheap as one poll of the lock (one indexed query), letting concurrent
    misses each run it costs less than making them wait.
    Never call this on a booking path: those read the database.
    """
    if ttl is None:
        ttl = conf.get("CACHE_DEFAULT_TTL")
    if not isinstance(namespace, str):
        namespace = tuple(namespace)
        if len(namespace) == 1:
            namespace = namespace[0]
    counted = namespace if isinstance(namespace, str) else namespace[0]
    if _in_write_transaction() or not backend_available():
        stats.record(counted, "bypass", "miss")
        return loader()
    _send_pending_invalidations()
    version = (
        namespace_version(namespace)
        if isinstance(namespace, str)
        else namespace_versions(namespace)
    )
    if version is None:
        stats.record(counted, "bypass", "miss")
        return loader()
    suffix = key_suffix(key_parts)
    slot = _local_scope() + suffix
    value = local_tier.get(_local_namespace(namespace), slot, version)
    if value is not MISSING:
        stats.record(counted, "local", "hit")
        stats.maybe_flush()
        return value
    stats.record(counted, "local", "miss")
    key = _value_key(namespace, version, suffix)
    value = _flights.run(
        key, lambda: _read_shared(namespace, version, slot, key, loader, ttl, lock=lock)
    )
    stats.maybe_flush()
    return value


def _redis_versions(namespace: str | tuple[str, ...]):
    return _read_version(namespace) if isinstance(namespace, str) else _read_versions(namespace)


def _local_namespace(namespace: str | tuple[str, ...]) -> str:
    return namespace if isinstance(namespace, str) else "|".join(namespace)


def _read_shared(namespace, version, slot, key, loader, ttl, *, lock=True):
    """Serve the value from Redis, or load it and store it there.

    With the stampede lock, one process loads a missing value while the
    others wait for it (``_wait_for_holder``). On Redis a miss costs two
    round trips: reading the value takes the lock when there is none, and
    storing it releases the lock.
    """
    counted = namespace if isinstance(namespace, str) else namespace[0]
    token = uuid.uuid4().hex if lock and conf.get("CACHE_STAMPEDE_LOCK") else None
    value, held_by_another = _get_or_lock(key, token)
    if value is not MISSING:
        stats.record(counted, "shared", "hit")
        local_tier.set(_local_namespace(namespace), slot, version, value, ttl)
        return value
    stats.record(counted, "shared", "miss")
    if held_by_another:
        return _wait_for_holder(namespace, version, slot, key, loader, ttl)
    try:
        value = loader()
        _store(namespace, version, slot, key, value, ttl, token=token)
    except BaseException:
        if token is not None:
            _release(key, token)
        raise
    return value


def _wait_for_holder(namespace, version, slot, key, loader, ttl):
    """Wait, briefly, for the process that holds the lock to store the value.

    Fails open: if the holder takes longer than the lock's lifetime, or gives
    up without storing a value, or Redis does not answer, the waiter loads the
    value itself.
    """
    lock_key = _lock_key(key)
    deadline = local.clock() + conf.get("CACHE_STAMPEDE_LOCK_TIMEOUT")
    pause = 0.005
    while local.clock() < deadline:
        time.sleep(pause)
        pause = min(pause * 2, 0.05)
        try:
            found = cache.get_many([key, lock_key])
        except Exception as exc:  # unpickling raises whatever the pickle names
            _unreadable(key, exc)
            break
        if key in found:
            value = found[key]
            local_tier.set(_local_namespace(namespace), slot, version, value, ttl)
            return value
        if lock_key not in found:
            break
    value = loader()
    _store(namespace, version, slot, key, value, ttl)
    return value


def _lock_key(key: str) -> str:
    return _LOCK_PREFIX + key


def _get_or_lock(key: str, token: str | None) -> tuple[Any, bool]:
    """The shared value (MISSING if none), and whether another caller holds the lock to load it.

    On a miss the lock is taken with ``token`` if it is free; without a token
    the value is only read. A Redis that does not answer reads as a miss that
    nobody holds: the caller loads the value itself.
    """
    return _on_redis(
        lambda client: _get_or_lock_scripted(client, key, token),
        lambda: _get_or_lock_portable(key, token),
        failed=(MISSING, False),
        what="cannot read a cached value",
    )


def _store(namespace, version, slot, key, value, ttl, *, token: str | None = None) -> None:
    """Store a loaded value if its namespaces are still at ``version``; release the lock.

    The version is compared with Redis's, not this process's table: if an
    invalidation ran while the loader did, the value may predate the write,
    so it is returned to its caller but stored nowhere. The lock is deleted
    only while it still holds ``token``: once it expired, another process
    may have taken it.
    """
    if not backend_available():
        # Redis failed during this read: store nothing; the lock expires.
        return
    stored = _on_redis(
        lambda client: _store_scripted(client, namespace, version, key, value, ttl, token),
        lambda: _store_portable(namespace, version, key, value, ttl, token),
        failed=False,
        what="cannot store a cached value",
    )
    if stored:
        local_tier.set(_local_namespace(namespace), slot, version, value, ttl)


def _release(key: str, token: str) -> None:
    """Delete the lock on ``key`` if ``token`` still holds it."""
    if not backend_available():
        return
    _on_redis(
        lambda client: _release_scripted(client, key, token),
        lambda: _release_portable(key, token),
        failed=None,
        what="cannot release a stampede lock",
    )


def _on_redis(scripted, portable, *, failed, what: str):
    """Run ``scripted(client)`` on Redis, or ``portable()`` on another cache backend.

    As in ``_bump_all``, a ResponseError (a key holding something unexpected)
    falls back to ``portable``, through django-redis; any other Redis error
    marks Redis down and answers ``failed``, so that the read fails open.
    """
    client = _redis_client()
    if client is None:
        return portable()
    try:
        return scripted(client)
    except ResponseError:
        return portable()
    except (RedisError, OSError) as exc:
        _mark_down(f"{what}: {exc.__class__.__name__}")
        return failed


# --- The miss path on Redis: one round trip each ----------------------------
#
# Keys are the cache's own (``cache.make_key``) and values are encoded by the
# django-redis client itself, so a value stored here is read by ``cache.get``
# and the other way round. The scripts are sent by their SHA1 (EVALSHA), and
# once in full to a Redis that does not know them yet.

# The value (KEYS[1]) if there is one: {1, value}. Else the lock (KEYS[2])
# with the token ARGV[1] for ARGV[2] ms if it is free: {0, 1}; {0, 0} if
# another caller holds it.
_GET_OR_LOCK_SCRIPT = Script(
    None,
    b"""
local value = redis.call('GET', KEYS[1])
if value then
  return {1, value}
end
if redis.call('SET', KEYS[2], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return {0, 1}
end
return {0, 0}
""",
)

# Sets the value KEYS[1] to ARGV[1] for ARGV[2] ms if every version key
# KEYS[3..] still holds the version ARGV[4..] read before loading; then
# deletes the lock KEYS[2] if it holds the token ARGV[3] ('' for none).
# Answers 1 if the versions were unchanged.
_STORE_SCRIPT = Script(
    None,
    b"""
local current = true
for i = 3, #KEYS do
  if redis.call('GET', KEYS[i]) ~= ARGV[i + 1] then
    current = false
    break
  end
end
if current and tonumber(ARGV[2]) > 0 then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
end
if ARGV[3] ~= '' and redis.call('GET', KEYS[2]) == ARGV[3] then
  redis.call('DEL', KEYS[2])
end
if current then
  return 1
end
return 0
""",
)

# Deletes the lock KEYS[1] if it holds the token ARGV[1].
_RELEASE_SCRIPT = Script(
    None,
    b"""
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
""",
)


def _get_or_lock_scripted(client, key: str, token: str | None) -> tuple[Any, bool]:
    if token is None:
        raw = client.get(cache.make_key(key))
        return (MISSING if raw is None else _decode(key, raw)), False
    lifetime_ms = max(1, int(conf.get("CACHE_STAMPEDE_LOCK_TIMEOUT") * 1000))
    hit, reply = _GET_OR_LOCK_SCRIPT(
        keys=[cache.make_key(key), cache.make_key(_lock_key(key))],
        args=[cache.client.encode(token), lifetime_ms],
        client=client,
    )
    if hit:
        # Unreadable, it is loaded again without the lock (the script took
        # none, having found a value) and overwritten.
        return _decode(key, reply), False
    return MISSING, not reply


def _decode(key: str, raw: bytes) -> Any:
    """The value django-redis encoded as ``raw``, or MISSING if this release cannot read it."""
    try:
        return cache.client.decode(raw)
    except Exception as exc:  # unpickling raises whatever the pickle names
        _unreadable(key, exc)
        return MISSING


def _unreadable(key: str, exc: Exception) -> None:
    # A value pickled by another release (a class renamed or moved) or
    # damaged: served as a miss it is loaded and stored again; raised, it
    # would fail every page that reads it until its TTL ran out.
    log.warning(
        "Cached value %s cannot be read (%s: %s); loading it again",
        key,
        exc.__class__.__name__,
        exc,
    )


def _store_scripted(client, namespace, version, key, value, ttl, token) -> bool:
    if isinstance(namespace, str):
        namespace, version = (namespace,), (version,)
    keys = [cache.make_key(key), cache.make_key(_lock_key(key))]
    keys += [cache.make_key(_version_key(ns)) for ns in namespace]
    args = [
        cache.client.encode(value),
        int(ttl * 1000),
        b"" if token is None else cache.client.encode(token),
        *version,
    ]
    return bool(_STORE_SCRIPT(keys=keys, args=args, client=client))


def _release_scripted(client, key: str, token: str) -> None:
    keys = [cache.make_key(_lock_key(key))]
    _RELEASE_SCRIPT(keys=keys, args=[cache.client.encode(token)], client=client)


# --- The miss path on another backend, or after a ResponseError -------------


def _get_or_lock_portable(key: str, token: str | None) -> tuple[Any, bool]:
    try:
        value = cache.get(key, MISSING)
    except Exception as exc:  # unpickling raises whatever the pickle names
        _unreadable(key, exc)
        return MISSING, False
    if value is not MISSING or token is None:
        return value, False
    lifetime = conf.get("CACHE_STAMPEDE_LOCK_TIMEOUT")
    # django-redis answers None, not False, when it swallowed an error: then
    # nobody is known to hold the lock and the caller loads.
    return MISSING, cache.add(_lock_key(key), token, timeout=lifetime) is False


def _store_portable(namespace, version, key, value, ttl, token) -> bool:
    try:
        if _redis_versions(namespace) != version:
            return False
        cache.set(key, value, timeout=ttl)
        return True
    finally:
        if token is not None:
            _release_portable(key, token)


def _release_portable(key: str, token: str) -> None:
    if cache.get(_lock_key(key)) == token:
        cache.delete(_lock_key(key))


def _call_key_part(value: Any) -> Any:
    meta = getattr(value, "_meta", None)
    if meta is not None:
        return f"{meta.label_lower}#{value.pk}"
    return value


def cached_read(
    namespace: str | Callable[..., str],
    *,
    ttl: int | None = None,
    key: Callable[..., Iterable[Any]] | None = None,
):
    """Decorate a read so that its result goes through ``cached()``.

    ``namespace`` is a string, formatted with the call's arguments
    (``"availability:hotel:{hotel.pk}"``), or a callable taking the same
    arguments. The key is the function's dotted name plus every argument
    (model instances by primary key) unless ``key`` returns other parts.
    The undecorated function stays available as ``.uncached``.
    """

    def decorate(func: Callable[..., T]) -> Callable[..., T]:
        signature = inspect.signature(func)
        name = f"{func.__module__}.{func.__qualname__}"

        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            bound = signature.bind(*args, **kwargs)
            bound.apply_defaults()
            arguments = bound.arguments
            if callable(namespace):
                ns = namespace(*args, **kwargs)
            else:
                ns = namespace.format(**arguments)
            if key is not None:
                parts = list(key(*args, **kwargs))
            else:
                parts = [f"{k}={_call_key_part(v)}" for k, v in arguments.items()]
            return cached(ns, [name, *parts], lambda: func(*args, **kwargs), ttl=ttl)

        wrapper.uncached = func
        return wrapper

    return decorate


# --- Process state ----------------------------------------------------------


def reset_process_state() -> None:
    """Forget everything this process holds: local values, fragments, pages, versions, outage,
    counts.

    For tests (call it wherever the Django cache is cleared) and for a
    settings change.
    """
    global _down_until
    from . import pages
    from .connections import reset_pauses
    from .fragments import memo

    reset_pauses()
    local_tier.clear()
    memo.clear()
    pages.memo.clear()
    versions.clear()
    with _state_lock:
        _down_until = 0.0
        _pending_invalidations.clear()
    stats.reset()
    log.reset()


@receiver(setting_changed)
def _reset_on_settings_change(*, setting: str, **kwargs) -> None:
    if setting == "CACHES" or setting.startswith("CACHE_"):
        reset_process_state()
