"""The per-process tier: a bounded LRU of values, and the namespace versions it trusts.

Values are kept pickled, as Redis keeps them, so that a caller that mutates
what it got back cannot change what the next request gets. Each value carries
the namespace version it was loaded under; it is served only while that is
still the version this process believes current, and that belief is
refreshed from Redis at least every CACHE_VERSION_CHECK_INTERVAL.
"""

import pickle
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from . import conf

MISSING = object()

# A module attribute rather than a direct call so that tests can move time.
clock = time.monotonic


# A namespace's version, or the versions of the several namespaces a value depends on.
Version = int | tuple[int, ...]


@dataclass(slots=True)
class _Entry:
    version: Version
    expires_at: float
    payload: bytes


class LocalTier:
    """A thread-safe LRU with a per-entry expiry, bounded in entries and in bytes."""

    def __init__(self) -> None:
        self._entries: OrderedDict[tuple[str, str], _Entry] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, namespace: str, suffix: str, version: Version) -> Any:
        key = (namespace, suffix)
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return MISSING
            if entry.version != version or entry.expires_at <= clock():
                self._remove(key)
                return MISSING
            self._entries.move_to_end(key)
            payload = entry.payload
        return pickle.loads(payload)  # noqa: S301 - bytes this process pickled itself

    def set(self, namespace: str, suffix: str, version: Version, value: Any, ttl: float) -> None:
        max_entries = conf.get("CACHE_LOCAL_MAX_ENTRIES")
        if max_entries <= 0:
            return
        lifetime = min(float(ttl), conf.get("CACHE_LOCAL_TTL"))
        if lifetime <= 0:
            return
        payload = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
        max_bytes = conf.get("CACHE_LOCAL_MAX_BYTES")
        key = (namespace, suffix)
        with self._lock:
            self._remove(key)
            # One value bigger than a tenth of the budget would push out many
            # others; it stays in the shared tier only.
            if len(payload) * 10 > max_bytes:
                return
            self._entries[key] = _Entry(
                version=version, expires_at=clock() + lifetime, payload=payload
            )
            self._bytes += len(payload)
            while len(self._entries) > max_entries or self._bytes > max_bytes:
                _, evicted = self._entries.popitem(last=False)
                self._bytes -= len(evicted.payload)

    def _remove(self, key: tuple[str, str]) -> None:
        entry = self._entries.pop(key, None)
        if entry is not None:
            self._bytes -= len(entry.payload)

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def size_bytes(self) -> int:
        return self._bytes

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._bytes = 0


class VersionTable:
    """The namespace versions this process last read from Redis, and when it read them."""

    def __init__(self) -> None:
        self._versions: dict[str, tuple[int, float]] = {}
        self._lock = threading.Lock()

    def fresh(self, namespace: str) -> int | None:
        """The version if it was checked within CACHE_VERSION_CHECK_INTERVAL, else None."""
        known = self._versions.get(namespace)
        if known is None:
            return None
        version, checked_at = known
        if clock() - checked_at >= conf.get("CACHE_VERSION_CHECK_INTERVAL"):
            return None
        return version

    def record(self, namespace: str, version: int, checked_at: float) -> int:
        """Remember a version read from Redis (the request started at ``checked_at``).

        Versions only grow, so a slow reply that arrives after a newer one
        must not take the process back to an older version.
        """
        with self._lock:
            known = self._versions.get(namespace)
            if known is not None and (
                known[0] > version or (known[0] == version and known[1] >= checked_at)
            ):
                return known[0]
            self._versions[namespace] = (version, checked_at)
            return version

    def forget(self, namespace: str) -> None:
        with self._lock:
            self._versions.pop(namespace, None)

    def clear(self) -> None:
        with self._lock:
            self._versions.clear()
