"""Django's PostgreSQL backend, failing at once while the server cannot be reached.

With the connection pool, a request that needs a connection while PostgreSQL
is down waits the pool's whole timeout (DB_POOL_TIMEOUT) and then fails, and
so does every request after it: with two threads a process, each held ten
seconds, a site that answered a hundred pages a second answers a few, the
pages the read cache could serve without the database included.

So after a connection fails, the process stops asking for one for
DB_UNREACHABLE_PAUSE_SECONDS: a request that needs a new connection fails at
once with DatabaseUnreachable (a driver error, which Django raises as its
OperationalError), and the site answers it with its 503 page
(hotel.middleware). When the pause is over, one request tries again while the
others keep failing at once. Its try is a direct connection with a short
timeout, not the pool's: the pool retries on a back-off that grows with the
outage, up to minutes, so it would connect long after the server is back.
Once that connection succeeds, the old pool is closed and a new one connects
at once.
"""

import logging
import threading
import time

from django.conf import settings
from django.db.backends.postgresql import base
from psycopg_pool import PoolClosed

logger = logging.getLogger(__name__)

Database = base.Database

# libpq counts whole seconds and treats anything under 2 as 2.
PROBE_CONNECT_TIMEOUT_S = 2


class DatabaseUnreachable(Database.OperationalError):
    """No connection to the database could be had; no statement of the request ran."""


class Outage:
    """Whether one database alias is reachable from this process, and when to try it again."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.since: float | None = None  # monotonic time of the first failure
        self.error = ""
        self._retry_at = 0.0
        self._retry_started: float | None = None

    def admit(self, *, hold: float) -> bool:
        """Raise DatabaseUnreachable during the pause; return whether this caller is the retry.

        While the retry runs, the others keep failing at once; ``hold``, as
        long as its attempt may take, only bounds how long a retry that never
        reported back keeps them out.
        """
        if self.since is None:
            return False
        with self._lock:
            if self.since is None:
                return False
            now = time.monotonic()
            started = self._retry_started
            if (started is not None and now < started + hold) or now < self._retry_at:
                wait = max(0.0, self._retry_at - now)
                raise DatabaseUnreachable(
                    f"The database has not answered for {now - self.since:.0f} s; the next "
                    f"try is in {wait:.1f} s. Last error: {self.error}"
                )
            self._retry_started = now
            return True

    def failed(self, exc: BaseException, *, retry: bool = False) -> None:
        """Start or extend the pause; ``retry`` if the failure is the retry's own."""
        pause = settings.DB_UNREACHABLE_PAUSE_SECONDS
        with self._lock:
            first = self.since is None
            now = time.monotonic()
            if first:
                self.since = now
            self.error = _first_line(exc)
            self._retry_at = now + pause
            if retry:
                self._retry_started = None
        if first:
            logger.error(
                "The database cannot be reached: %s. Requests that need it fail at once; "
                "trying again every %g s.",
                self.error,
                pause,
            )

    def recovered(self) -> None:
        if self.since is None:
            return
        with self._lock:
            since, self.since = self.since, None
            self._retry_at, self._retry_started = 0.0, None
        if since is not None:
            logger.warning("The database answers again, after %.1f s.", time.monotonic() - since)

    def end_pause(self) -> None:
        """Let the next request try again now (tests)."""
        with self._lock:
            self._retry_at = 0.0


_outages: dict[str, Outage] = {}
_outages_lock = threading.Lock()


def outage_for(alias: str) -> Outage:
    # Every new connection asks, so the common case takes no lock and builds nothing.
    outage = _outages.get(alias)
    if outage is None:
        with _outages_lock:
            outage = _outages.setdefault(alias, Outage())
    return outage


def reset_outages() -> None:
    """Forget every failure: the next request connects (tests; a process that starts over)."""
    with _outages_lock:
        _outages.clear()


class DatabaseWrapper(base.DatabaseWrapper):
    # Set when a connection is closed after it broke (an atomic block closes
    # it at once, and may open another): the request may have committed
    # before the answer was lost. hotel.middleware reads and resets it.
    lost_connection = False

    def get_new_connection(self, conn_params):
        if settings.DB_UNREACHABLE_PAUSE_SECONDS <= 0:
            return super().get_new_connection(conn_params)
        outage = outage_for(self.alias)
        retrying = outage.admit(hold=PROBE_CONNECT_TIMEOUT_S + self._pool_timeout() + 1)
        try:
            if retrying and self.pool:
                # Ask the server directly: the pool's next try may be minutes away.
                probe = {**conn_params, "connect_timeout": PROBE_CONNECT_TIMEOUT_S}
                Database.connect(**probe).close()
                self._replace_pool()
            elif retrying:
                # The probe's timeout, not the connection's own (DB_NETWORK_TIMEOUT_SECONDS):
                # ``hold`` keeps a second retry out only for this long.
                conn_params = {**conn_params, "connect_timeout": PROBE_CONNECT_TIMEOUT_S}
            connection = self._connect(conn_params)
        except Database.OperationalError as exc:  # a refusal, a timeout, the pool's PoolTimeout
            outage.failed(exc, retry=retrying)
            message = f"Could not connect to the database: {_first_line(exc)}"
            raise DatabaseUnreachable(message) from exc
        except BaseException as exc:
            if retrying:
                outage.failed(exc, retry=True)
            raise
        outage.recovered()
        return connection

    def _connect(self, conn_params):
        try:
            return super().get_new_connection(conn_params)
        except PoolClosed:
            # Another thread's retry replaced the pool this one waited on:
            # the server answers again, so ask the new pool.
            return super().get_new_connection(conn_params)

    def _replace_pool(self) -> None:
        """Put a new pool in the old one's place; the old one ends in the background."""
        old = self._connection_pools.pop(self.alias, None)
        if old is not None:
            old.close(timeout=0)

    def _close(self):
        if self.connection is not None and getattr(self.connection, "broken", False):
            self.lost_connection = True
        return super()._close()

    def _pool_timeout(self) -> float:
        options = self.settings_dict["OPTIONS"].get("pool")
        if not options:
            return 0.0
        return float(options.get("timeout", 30.0)) if isinstance(options, dict) else 30.0


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]
