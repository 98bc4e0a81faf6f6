"""Connections to Redis that fail at once for a while after Redis did not answer.

The cache fails open: a Redis error costs a logged warning and a database
read. A Redis that refuses costs each call a millisecond. One whose host or
network went silent refuses nothing: each call waits its whole timeout
(REDIS_CONNECT_TIMEOUT or REDIS_SOCKET_TIMEOUT, 0.25 s), and a page makes
several, the session's read among them. At 50 pages a second, that keeps a
web process's threads waiting on Redis and the pages queue behind them.

So after a connection to a Redis server cannot be made, or a reply does not
come in time, this process stops trying that server for
CACHE_RETRY_INTERVAL seconds: a new connection fails at once with
ConnectionError, which django-redis swallows like any other Redis error.
Then the next call tries again. The cache's reads already skip Redis for as
long after an error (caching.api); this covers every caller of the cache,
sessions included. Set as the cache's CONNECTION_POOL_CLASS; a rediss:// or
unix:// server keeps redis-py's own connection, without the pause.
"""

import threading

from redis.connection import Connection, ConnectionPool
from redis.exceptions import ConnectionError, TimeoutError

from . import conf, local


class _Pause:
    """Until when (local.clock) this process leaves one Redis server alone, and why."""

    __slots__ = ("error", "until")

    def __init__(self) -> None:
        self.until = 0.0
        self.error = ""


_pauses: dict[tuple[str, int], _Pause] = {}
_pauses_lock = threading.Lock()


def _pause_for(address: tuple[str, int]) -> _Pause:
    # Every new connection asks, so the common case takes no lock.
    pause = _pauses.get(address)
    if pause is None:
        with _pauses_lock:
            pause = _pauses.setdefault(address, _Pause())
    return pause


def reset_pauses() -> None:
    """Try every server again at the next call (caching.api.reset_process_state)."""
    with _pauses_lock:
        _pauses.clear()


class PausingConnection(Connection):
    """redis-py's TCP connection, failing at once while its server is paused."""

    def connect_check_health(self, check_health: bool = True, retry_socket_connect: bool = True):
        if self._sock:
            return
        pause = _pause_for((self.host, self.port))
        if (left := pause.until - local.clock()) > 0:
            raise ConnectionError(
                f"Redis at {self.host}:{self.port} did not answer; not trying again for "
                f"{left:.1f} s. Last error: {pause.error}"
            )
        try:
            super().connect_check_health(
                check_health=check_health, retry_socket_connect=retry_socket_connect
            )
        except (ConnectionError, TimeoutError) as exc:
            self._pause(exc)
            raise

    def read_response(self, *args, **kwargs):
        try:
            return super().read_response(*args, **kwargs)
        except TimeoutError as exc:
            # No reply in time: the server's host may be gone. A reset alone
            # (a restart, CLIENT KILL) is not paused; the reconnection that
            # follows is, if it fails.
            self._pause(exc)
            raise

    def _pause(self, exc: Exception) -> None:
        pause = _pause_for((self.host, self.port))
        pause.error = str(exc)
        pause.until = local.clock() + conf.get("CACHE_RETRY_INTERVAL")


class PausingConnectionPool(ConnectionPool):
    """redis-py's pool, making PausingConnections (django-redis's CONNECTION_POOL_CLASS)."""

    def __init__(self, connection_class=PausingConnection, **kwargs) -> None:
        super().__init__(connection_class=connection_class, **kwargs)
