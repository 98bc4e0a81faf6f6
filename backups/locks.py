"""One lock between every backup operation, across processes and hosts.

Backups and verifications share it; a restore or a prune needs it alone, so a
prune never deletes the file a verification is reading, and a restore never
replaces the database under a running backup. On PostgreSQL it is a
session-level advisory lock (held by a connection of its own, so it survives
the restore's schema replacement); the embedded SQLite default is one machine
by nature, so a file lock in BACKUP_DIR does.
"""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings

from .engines import PostgresEngine, engine_for
from .exceptions import BackupBusy

# pg advisory lock key: "hotelbak" as an int64, unlikely to collide.
ADVISORY_KEY = int.from_bytes(b"hotelbak", "big") & 0x7FFF_FFFF_FFFF_FFFF


@contextmanager
def backup_lock(*, exclusive: bool, what: str, alias: str = "default") -> Iterator[None]:
    """Hold the backups lock (shared or exclusive) or raise BackupBusy at once."""
    engine = engine_for(alias=alias)
    if isinstance(engine, PostgresEngine):
        with _advisory_lock(engine, exclusive=exclusive, what=what):
            yield
    else:
        with _file_lock(exclusive=exclusive, what=what):
            yield


def _busy(what: str, exclusive: bool) -> BackupBusy:
    other = "a backup or verification" if exclusive else "a restore or prune"
    return BackupBusy(f"Cannot {what} now: {other} is running. Try again when it has finished.")


@contextmanager
def _advisory_lock(engine: PostgresEngine, *, exclusive: bool, what: str) -> Iterator[None]:
    function = "pg_try_advisory_lock" if exclusive else "pg_try_advisory_lock_shared"
    conn = engine._connect(autocommit=True)
    try:
        acquired = conn.execute(f"SELECT {function}(%s)", [ADVISORY_KEY]).fetchone()[0]
        if not acquired:
            raise _busy(what, exclusive)
        yield
    finally:
        # Closing the session releases the lock, even after a failure.
        conn.close()


@contextmanager
def _file_lock(*, exclusive: bool, what: str) -> Iterator[None]:
    directory = Path(settings.BACKUP_DIR)
    # Made here first on the embedded default: owner only, like _backup_dir.
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    with (directory / ".lock").open("a") as handle:
        mode = fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH
        try:
            fcntl.flock(handle, mode | fcntl.LOCK_NB)
        except BlockingIOError:
            raise _busy(what, exclusive) from None
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
