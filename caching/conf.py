"""The caching app's settings, read on every use so that override_settings works."""

from django.conf import settings

DEFAULTS = {
    # Entries the per-process tier holds before it evicts the least recently used.
    "CACHE_LOCAL_MAX_ENTRIES": 2000,
    # Bytes (pickled) the per-process tier holds at most; a search result
    # can weigh hundreds of kilobytes, so a count alone does not bound memory.
    "CACHE_LOCAL_MAX_BYTES": 64 * 1024 * 1024,
    # Longest a value lives in the per-process tier, in seconds, whatever its TTL.
    "CACHE_LOCAL_TTL": 30.0,
    # TTL of a cached value when the caller gives none, in seconds.
    "CACHE_DEFAULT_TTL": 60,
    # How long the per-process tier trusts a namespace version it read from
    # Redis. This is the staleness bound across processes, so it must not
    # exceed one second (checked by caching.checks).
    "CACHE_VERSION_CHECK_INTERVAL": 0.5,
    # Serialise misses on one key across processes with a short Redis lock.
    "CACHE_STAMPEDE_LOCK": True,
    # Lifetime of that lock, and the longest another process waits on it
    # before it loads the value itself.
    "CACHE_STAMPEDE_LOCK_TIMEOUT": 5.0,
    # After a Redis error, read from the database for this long before trying
    # Redis again, so an outage costs one socket timeout per interval, not one
    # per read.
    "CACHE_RETRY_INTERVAL": 5.0,
    # The same Redis error is logged at most once per this many seconds.
    "CACHE_ERROR_LOG_INTERVAL": 60.0,
    # Per-process hit and miss counts are added to the shared counters in
    # Redis at most this often.
    "CACHE_STATS_FLUSH_INTERVAL": 10.0,
    # Rendered fragments (caching.fragments) this process keeps, and their
    # total size in characters. A room option is about 1 KB; a search page
    # shows 40 of them.
    "CACHE_FRAGMENT_MAX_ENTRIES": 20000,
    "CACHE_FRAGMENT_MAX_BYTES": 32 * 1024 * 1024,
    # Whole pages (caching.pages) this process keeps for guests who are not
    # signed in, and their total size in characters. A results page is about
    # 42,000 characters, a hotel page with a stay's options 8,000, a room
    # type page 7,000: the benchmark's popular pages (50 hotels, 20 stays)
    # take about 20 million. The blocks in their keys (the results, the
    # options) are not counted: as much again.
    "CACHE_PAGE_MAX_ENTRIES": 5000,
    "CACHE_PAGE_MAX_BYTES": 32 * 1024 * 1024,
    # Seconds a shared fragment ({% fragment ... shared %}) lives in Redis.
    # Keyed by its values, it never goes stale; this only bounds memory.
    "CACHE_FRAGMENT_SHARED_TTL": 120,
    # Longest a session's copy lives in the cache (caching.sessions), in
    # seconds: how long a logout or session write that Redis missed can be
    # served stale.
    "CACHE_SESSION_TTL": 300,
}


def get(name: str):
    return getattr(settings, name, DEFAULTS[name])
