"""Sessions kept in the database and read through the cache, the cached copy short-lived.

Django's ``cached_db`` backend, with one change: a session's copy in the
cache lives at most CACHE_SESSION_TTL seconds, not the session's whole age.
The cache fails open (django-redis logs and swallows a Redis error), so a
write or a delete that Redis missed leaves its old copy there: kept for the
session's age, a logout during a Redis blip would leave the old cookie signed
in for weeks. The TTL is the bound on that staleness, as every other value's
TTL is for an invalidation lost for good (caching.api). A guest browsing
still reads their session from the cache on every page but one per TTL.
"""

from django.contrib.sessions.backends import cached_db

from . import conf


class _ShortLived:
    """The session cache, with every timeout it is given capped at CACHE_SESSION_TTL."""

    def __init__(self, cache) -> None:
        self._cache = cache

    def _timeout(self, timeout):
        ttl = conf.get("CACHE_SESSION_TTL")
        return ttl if timeout is None else min(timeout, ttl)

    def set(self, key, value, timeout=None):
        return self._cache.set(key, value, self._timeout(timeout))

    async def aset(self, key, value, timeout=None):
        return await self._cache.aset(key, value, self._timeout(timeout))

    def __contains__(self, key) -> bool:
        return key in self._cache

    def __getattr__(self, name):
        return getattr(self._cache, name)


class SessionStore(cached_db.SessionStore):
    def __init__(self, session_key=None) -> None:
        super().__init__(session_key)
        self._cache = _ShortLived(self._cache)
