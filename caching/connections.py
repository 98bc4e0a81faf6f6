"""Connections to Redis that fail at once for a while after Redis did not answer.

The cache fails open: a Redis error costs a logged warning and a database
read. A Redis that refuses costs each call a millisecond. One whose host or
network went silent refuses nothing: each call waits its whole timeout
(REDIS_CONNECT_TIMEOUT or REDIS_SOCKET_TIMEOUT, 0.25 s), and a page makes
several, the session's read among them. At 50 pages a second, that keeps a
web process's threads waiting on Redis and the pages queue behind them.

So once a connection to a Redis server cannot be made, or two replies in a
row do not come in time, this process stops asking that server for
CACHE_RETRY_INTERVAL seconds: every call fails at once with ConnectionError
before it takes a connection from the pool, and django-redis swallows it
like any other Redis error. Then one call tries the server again while the
process's other threads keep failing at once: its answer ends the pause,
and its failure, or a single late reply, starts the next one (a reply
to a command sent before the pause began ends nothing). One late reply
alone starts no pause: a healthy server can be slow once (a fork, a slow
command), and shutting the cache off for the whole process would also
shut off what it does for every other process (session writes, rate
limits, invalidations). A hung server that still takes connections times
out again at once and is paused then.

The pool is the cache's (django-redis's CONNECTION_POOL_CLASS), which sends
no blocking command (BLPOP, XREAD BLOCK) and subscribes to nothing: a
blocking command's wait would count as a late reply. A rediss:// or
unix:// server keeps redis-py's own connection, without the pause.
"""

import threading

from redis.connection import Connection, ConnectionPool
from redis.exceptions import ConnectionError, ResponseError, TimeoutError

from . import conf, local


class _Pause:
    """Until when (local.clock) this process leaves one Redis server alone, and why.

    ``until`` is 0 while the server answers. Once a pause is over, the first
    call to check it is the trial: ``until`` moves on by another interval
    for the other threads while the trial waits for its answer. Only an
    answer during a trial ends a pause early: a reply to a command sent
    before the pause began says little about a server that is failing.
    Changes of state are made under one lock; the checks on every command
    read without it.
    """

    __slots__ = ("error", "late_replies", "trying", "until")

    _lock = threading.Lock()

    def __init__(self) -> None:
        self.clear()

    def clear(self) -> None:
        self.until = 0.0
        self.error = ""
        self.late_replies = 0
        self.trying = False

    def check(self, address: tuple[str, int]) -> None:
        until = self.until
        if not until:
            return
        now = local.clock()
        if until <= now:
            with self._lock:
                if self.until == until:
                    # This call is the trial; the others wait for its answer.
                    self.trying = True
                    self.until = now + conf.get("CACHE_RETRY_INTERVAL")
                    return
            until = self.until
            if not until:
                return  # another thread's trial was answered meanwhile
        raise ConnectionError(
            f"Redis at {address[0]}:{address[1]} did not answer; not asking it again for "
            f"{max(until - now, 0):.1f} s. Last error: {self.error}"
        )

    def start(self, exc: Exception) -> None:
        with self._lock:
            self.error = str(exc)
            self.late_replies = 0
            self.trying = False
            self.until = local.clock() + conf.get("CACHE_RETRY_INTERVAL")

    def late_reply(self, exc: Exception) -> None:
        # Unlocked: two threads counting one late reply each may start the pause a reply early.
        self.late_replies += 1
        if self.late_replies >= 2 or self.trying:
            self.start(exc)

    def answered(self) -> None:
        # A reply in time ends a run of late ones, and the pause whose trial it answers.
        self.late_replies = 0
        if self.trying:
            with self._lock:
                if self.trying:
                    self.clear()


_pauses: dict[tuple[str, int], _Pause] = {}
_pauses_lock = threading.Lock()


def _pause_for(address: tuple[str, int]) -> _Pause:
    pause = _pauses.get(address)
    if pause is None:
        with _pauses_lock:
            pause = _pauses.setdefault(address, _Pause())
    return pause


def reset_pauses() -> None:
    """Ask every server again at the next call (caching.api.reset_process_state)."""
    with _pauses_lock, _Pause._lock:
        for pause in _pauses.values():
            pause.clear()


class PausingConnection(Connection):
    """redis-py's TCP connection, starting its server's pause when it does not answer."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._server_pause = _pause_for((self.host, self.port))

    def connect_check_health(self, check_health: bool = True, retry_socket_connect: bool = True):
        # The pool checks the pause before it hands out a connection.
        if self._sock:
            return
        try:
            super().connect_check_health(
                check_health=check_health, retry_socket_connect=retry_socket_connect
            )
        except (ConnectionError, TimeoutError) as exc:
            self._server_pause.start(exc)
            raise

    def send_packed_command(self, command, check_health: bool = True) -> None:
        try:
            super().send_packed_command(command, check_health=check_health)
        except TimeoutError as exc:
            self._server_pause.late_reply(exc)
            raise

    def read_response(self, *args, **kwargs):
        try:
            response = super().read_response(*args, **kwargs)
        except TimeoutError as exc:
            self._server_pause.late_reply(exc)
            raise
        except ResponseError:
            # An error reply is an answer all the same.
            self._server_pause.answered()
            raise
        # A reset alone (a restart, CLIENT KILL) starts no pause; the
        # reconnection after it does if it fails.
        self._server_pause.answered()
        return response


class PausingConnectionPool(ConnectionPool):
    """redis-py's pool of PausingConnections, refusing every call while its server is paused."""

    def __init__(self, connection_class=PausingConnection, **kwargs) -> None:
        super().__init__(connection_class=connection_class, **kwargs)
        self._address = (
            self.connection_kwargs.get("host", "localhost"),
            int(self.connection_kwargs.get("port", 6379)),
        )
        self._server_pause = _pause_for(self._address)

    def get_connection(self, *args, **kwargs):
        # Before an open connection is handed out too: it would wait its timeout.
        self._server_pause.check(self._address)
        return super().get_connection(*args, **kwargs)
