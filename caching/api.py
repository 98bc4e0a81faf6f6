"""Read-through caching with versioned namespaces.

A key lives in a namespace such as ``availability:hotel:42``. Invalidation
bumps the namespace's version (one INCR) so every key under it is orphaned at
once, without scanning keys; orphans age out by their TTL. Invalidation runs
after the writing transaction commits, never before, so a reader cannot load
the old rows and store them under the new version.
"""

from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from django.core.cache import cache
from django.db import transaction

T = TypeVar("T")

_VERSION_PREFIX = "nsv:"
_MISSING = object()


def _version_key(namespace: str) -> str:
    return f"{_VERSION_PREFIX}{namespace}"


def namespace_version(namespace: str) -> int:
    """The current version of a namespace, starting it at 1 if it has none."""
    version = cache.get(_version_key(namespace))
    if version is None:
        cache.add(_version_key(namespace), 1, timeout=None)
        version = cache.get(_version_key(namespace)) or 1
    return int(version)


def make_key(namespace: str, version: int, key_parts: Iterable[Any]) -> str:
    parts = ":".join(str(p) for p in key_parts)
    return f"c:{namespace}:v{version}:{parts}"


def cached(namespace: str, key_parts: Iterable[Any], loader: Callable[[], T], ttl: int = 60) -> T:
    """Return the cached value for ``key_parts`` in ``namespace``, loading it on a miss."""
    version = namespace_version(namespace)
    key = make_key(namespace, version, key_parts)
    value = cache.get(key, _MISSING)
    if value is not _MISSING:
        return value
    value = loader()
    # A write that committed while the loader ran has bumped the version; the
    # value may predate it, so it is returned but not stored.
    if namespace_version(namespace) == version:
        cache.set(key, value, timeout=ttl)
    return value


def invalidate(*namespaces: str) -> None:
    """Bump each namespace's version now. Prefer invalidate_on_commit inside a write."""
    for namespace in namespaces:
        key = _version_key(namespace)
        try:
            cache.incr(key)
        except ValueError:
            cache.add(key, 2, timeout=None)


def invalidate_on_commit(*namespaces: str) -> None:
    """Bump the namespaces once the current transaction commits (at once outside one)."""
    names = tuple(namespaces)
    transaction.on_commit(lambda: invalidate(*names))
