"""Rate-limited logging for cache outages.

A Redis outage would otherwise log one error per cache call, burying
everything else; these log each distinct message at most once per
CACHE_ERROR_LOG_INTERVAL and say how many were held back.
"""

import logging
import threading

from . import conf, local

logger = logging.getLogger("caching")

_lock = threading.Lock()
_last: dict[tuple[str, str], float] = {}
_suppressed: dict[tuple[str, str], int] = {}


def _admit(key: tuple[str, str]) -> int | None:
    """None if the message must be held back, else how many were held back before it."""
    now = local.clock()
    with _lock:
        last = _last.get(key)
        if last is not None and now - last < conf.get("CACHE_ERROR_LOG_INTERVAL"):
            _suppressed[key] = _suppressed.get(key, 0) + 1
            return None
        _last[key] = now
        return _suppressed.pop(key, 0)


def warning(message: str, *args, exc_info=None) -> None:
    """Log a warning on the ``caching`` logger unless the same one was logged lately."""
    held_back = _admit((logger.name, message))
    if held_back is None:
        return
    if held_back:
        message = f"{message} (%d similar messages suppressed)"
        args = (*args, held_back)
    logger.warning(message, *args, exc_info=exc_info)


def reset() -> None:
    with _lock:
        _last.clear()
        _suppressed.clear()


class RateLimitFilter(logging.Filter):
    """A logging filter that lets each logger's message through once per interval.

    Attached to django-redis's logger (DJANGO_REDIS_LOGGER), which logs every
    exception it ignores.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        held_back = _admit((record.name, str(record.msg)))
        if held_back is None:
            return False
        if held_back:
            record.msg = f"{record.msg} ({held_back} similar messages suppressed)"
        return True
