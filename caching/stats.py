"""Hit and miss counters per namespace group and tier.

Counts are kept per process (exact, free) and added to shared counters in
the Django cache at most every CACHE_STATS_FLUSH_INTERVAL, so that
``manage.py cache_stats`` and /health/ see every process. A namespace is
counted under its group, its last segment replaced by ``*``
(``availability:hotel:42`` is counted as ``availability:hotel:*``), so that
the number of counters does not grow with the number of hotels.

Tiers: ``local`` (this process's LRU), ``shared`` (Redis) and ``bypass``
(reads that went straight to the database because Redis was unavailable or
the read ran inside a write transaction).
"""

import threading
from collections import Counter
from typing import Any

from django.core.cache import cache

from . import conf, local

TIERS = ("local", "shared", "bypass")
_SHARED_PREFIX = "cstats:"
_INDEX_KEY = "cstats:index"

_lock = threading.Lock()
_process: Counter[tuple[str, str, str]] = Counter()
_pending: Counter[tuple[str, str, str]] = Counter()
_last_flush = 0.0


def group_of(namespace: str) -> str:
    head, sep, _ = namespace.rpartition(":")
    return f"{head}:*" if sep else namespace


def record(namespace: str, tier: str, outcome: str) -> None:
    """Count one ``hit`` or ``miss`` of ``namespace`` in ``tier``."""
    key = (group_of(namespace), tier, outcome)
    with _lock:
        _process[key] += 1
        _pending[key] += 1


def maybe_flush() -> None:
    """Flush the pending counts if the last flush is older than the interval."""
    if local.clock() - _last_flush >= conf.get("CACHE_STATS_FLUSH_INTERVAL"):
        flush()


def _counter_key(key: tuple[str, str, str]) -> str:
    return _SHARED_PREFIX + "|".join(key)


def flush() -> bool:
    """Add this process's pending counts to the shared counters; False if the cache failed.

    Counts that could not be written stay pending for the next flush.
    """
    global _last_flush
    with _lock:
        batch = dict(_pending)
        _pending.clear()
        _last_flush = local.clock()
    if not batch:
        return True
    failed: dict[tuple[str, str, str], int] = {}
    for key, delta in batch.items():
        if not _incr(_counter_key(key), delta):
            failed[key] = delta
    if len(failed) < len(batch):
        _register(batch.keys() - failed.keys())
    if failed:
        with _lock:
            _pending.update(failed)
        return False
    return True


def _incr(key: str, delta: int) -> bool:
    try:
        return cache.incr(key, delta) is not None
    except ValueError:
        # The first count of this key anywhere; add() loses to a concurrent
        # first count, which the incr() after it then adds to.
        added = cache.add(key, delta, timeout=None)
        if added:
            return True
        if added is None:
            return False
        try:
            return cache.incr(key, delta) is not None
        except ValueError:
            return False


def _register(keys) -> None:
    """Keep the list of counters that exist, so a reader can fetch them in one call."""
    names = {_counter_key(k) for k in keys}
    index = cache.get(_INDEX_KEY) or []
    if not names.issubset(index):
        # Two processes adding different names at once may lose one; each
        # process adds its names again on its next flush.
        cache.set(_INDEX_KEY, sorted(set(index) | names), timeout=None)


def _table(counts: dict[tuple[str, str, str], int]) -> dict[str, dict[str, Any]]:
    table: dict[str, dict[str, Any]] = {}
    for (group, tier, outcome), count in counts.items():
        tiers = table.setdefault(group, {})
        row = tiers.setdefault(tier, {"hits": 0, "misses": 0})
        row["hits" if outcome == "hit" else "misses"] += count
    for tiers in table.values():
        for row in tiers.values():
            total = row["hits"] + row["misses"]
            row["ratio"] = round(row["hits"] / total, 4) if total else None
        tiers["overall"] = _overall(tiers)
    return dict(sorted(table.items()))


def _overall(tiers: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Reads served from either tier, over all reads of the group."""
    local_row = tiers.get("local", {"hits": 0, "misses": 0})
    shared_row = tiers.get("shared", {"hits": 0, "misses": 0})
    bypass_row = tiers.get("bypass", {"hits": 0, "misses": 0})
    reads = local_row["hits"] + local_row["misses"] + bypass_row["misses"]
    served = local_row["hits"] + shared_row["hits"]
    return {"reads": reads, "served": served, "ratio": round(served / reads, 4) if reads else None}


def process_counts() -> dict[str, dict[str, Any]]:
    """This process's counts since it started (or since reset())."""
    with _lock:
        counts = dict(_process)
    return _table(counts)


def shared_counts() -> dict[str, dict[str, Any]] | None:
    """Every process's flushed counts, or None when the cache cannot be read."""
    index = cache.get(_INDEX_KEY)
    if not index:
        return {}
    values = cache.get_many(index)
    if not values:
        return None
    counts = {}
    for name, value in values.items():
        group, tier, outcome = name[len(_SHARED_PREFIX) :].split("|")
        counts[(group, tier, outcome)] = int(value)
    return _table(counts)


def reset_shared() -> None:
    """Zero the shared counters (``manage.py cache_stats --reset``)."""
    index = cache.get(_INDEX_KEY) or []
    cache.delete_many([*index, _INDEX_KEY])


def reset() -> None:
    """Forget this process's counts, flushed or not."""
    global _last_flush
    with _lock:
        _process.clear()
        _pending.clear()
        _last_flush = 0.0


def summary() -> dict[str, Any]:
    """A JSON-serialisable picture of the cache for /health/ and cache_stats.

    ``process`` is exact for this process; ``shared`` is every process's
    counts as of their last flush (None when Redis cannot be read).
    """
    from .api import backend_available, local_tier

    available = backend_available()
    # While reads bypass Redis after an error, so does the summary: /health/
    # must not wait on socket timeouts either.
    if available:
        flush()
    return {
        "backend_available": available,
        "local": {
            "size": len(local_tier),
            "max_entries": conf.get("CACHE_LOCAL_MAX_ENTRIES"),
            "bytes": local_tier.size_bytes,
            "max_bytes": conf.get("CACHE_LOCAL_MAX_BYTES"),
            "ttl_seconds": conf.get("CACHE_LOCAL_TTL"),
            "version_check_interval_seconds": conf.get("CACHE_VERSION_CHECK_INTERVAL"),
        },
        "process": process_counts(),
        "shared": shared_counts() if available else None,
    }
