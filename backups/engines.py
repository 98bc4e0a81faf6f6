"""What a backup means for each database vendor: dump, inspect a copy, restore.

PostgreSQL is dumped with ``pg_dump --format=custom`` from a snapshot that a
REPEATABLE READ transaction of ours exported, so the row counts we record and
the rows in the archive are the same instant. SQLite (the embedded default) is
copied with the online backup API, which also yields one consistent instant,
and the counts are read from the copy.

Inspecting an archive restores it in full (into a scratch PostgreSQL database,
or a scratch copy of the SQLite file) and counts the rows there: a listing of
the archive's table of contents would not notice truncated or corrupted data.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import secrets
import shutil
import sqlite3
import subprocess
import tempfile
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db.backends.sqlite3._functions import register as register_django_functions
from django.db.utils import load_backend
from psycopg import sql

from .exceptions import BackupError, BackupUnavailable, VerificationFailed

logger = logging.getLogger(__name__)

Progress = Callable[[str], None]

MIGRATIONS_TABLE = "django_migrations"


def _no_progress(message: str) -> None:
    logger.debug(message)


@dataclass
class Snapshot:
    """The state a backup holds: rows per table and the latest migration per app."""

    table_counts: dict[str, int] = field(default_factory=dict)
    migrations: dict[str, str] = field(default_factory=dict)


class Engine:
    vendor: str
    extension: str
    magic: bytes
    description: str

    def __init__(self, settings_dict: dict[str, Any]):
        self.settings_dict = settings_dict

    @property
    def database_name(self) -> str:
        return str(self.settings_dict.get("NAME") or "")

    def dump(self, *, target: Path, progress: Progress = _no_progress) -> Snapshot:
        raise NotImplementedError

    def inspect_archive(self, *, path: Path, progress: Progress = _no_progress) -> Snapshot:
        raise NotImplementedError

    def restore(self, *, path: Path, progress: Progress = _no_progress) -> None:
        raise NotImplementedError

    def check_restore_tools(self) -> None:
        """Raise BackupError now if a restore could not even start."""

    def check_no_other_sessions(self) -> None:
        """Raise BackupError if other processes are using the database to be replaced."""


def engine_for(*, vendor: str | None = None, alias: str = "default") -> Engine:
    """The engine for ``vendor`` (by default the vendor of the configured database)."""
    settings_dict = settings.DATABASES[alias]
    configured = _vendor_of(settings_dict)
    vendor = vendor or configured
    if vendor == PostgresEngine.vendor:
        if configured != PostgresEngine.vendor:
            raise BackupError(
                "This is a PostgreSQL backup, but the configured database is not PostgreSQL: "
                "set DATABASE_URL to a postgres:// URL to verify or restore it."
            )
        return PostgresEngine(settings_dict)
    if vendor == SqliteEngine.vendor:
        return SqliteEngine(settings_dict)
    raise BackupError(f"Backups are not supported for the {vendor!r} database engine.")


def _vendor_of(settings_dict: dict[str, Any]) -> str:
    # The backend's own vendor: a backend that wraps Django's (a pool, metrics,
    # PostGIS) is named after itself, not after the database it speaks to.
    try:
        return load_backend(settings_dict["ENGINE"]).DatabaseWrapper.vendor
    except (ImproperlyConfigured, ImportError, AttributeError) as exc:
        raise BackupError(
            f"Backups are not supported for the {settings_dict['ENGINE']!r} database engine: {exc}"
        ) from exc


# --- PostgreSQL -----------------------------------------------------------------

# libpq variables pg_dump, pg_restore and psql read instead of command-line
# arguments, so no password ever appears in a process listing.
_LIBPQ_OPTIONS = {
    "sslmode": "PGSSLMODE",
    "sslrootcert": "PGSSLROOTCERT",
    "sslcert": "PGSSLCERT",
    "sslkey": "PGSSLKEY",
    "service": "PGSERVICE",
    "passfile": "PGPASSFILE",
}

_DUMPING_TABLE = re.compile(r'dumping contents of table "(?P<table>[^"]+)"')
_PROCESSING_DATA = re.compile(r'processing data for table "(?P<table>[^"]+)"')


class PostgresEngine(Engine):
    vendor = "postgresql"
    extension = ".dump"
    # Every custom-format archive starts with these five bytes.
    magic = b"PGDMP"
    description = "PostgreSQL custom-format archive"

    # -- connections

    def _conninfo(self, dbname: str | None = None) -> dict[str, Any]:
        s = self.settings_dict
        params: dict[str, Any] = {"dbname": dbname or s.get("NAME") or "postgres"}
        for key, name in (("USER", "user"), ("PASSWORD", "password"), ("HOST", "host")):
            if s.get(key):
                params[name] = s[key]
        if s.get("PORT"):
            params["port"] = str(s["PORT"])
        for option in _LIBPQ_OPTIONS:
            if s.get("OPTIONS", {}).get(option):
                params[option] = s["OPTIONS"][option]
        params["application_name"] = "hotel-backups"
        params["connect_timeout"] = 10
        return params

    def _connect(self, dbname: str | None = None, **kwargs: Any) -> psycopg.Connection:
        params = self._conninfo(dbname)
        try:
            return psycopg.connect(**params, **kwargs)
        except psycopg.OperationalError as exc:
            raise BackupUnavailable(
                f"Cannot connect to PostgreSQL database {params['dbname']!r} "
                f"on {params.get('host', 'the local socket')}: {_first_line(exc)}"
            ) from exc

    def _env(self, dbname: str | None = None) -> dict[str, str]:
        params = self._conninfo(dbname)
        env = dict(os.environ)
        env.update(
            {
                "PGDATABASE": params["dbname"],
                "PGAPPNAME": params["application_name"],
                "PGCONNECT_TIMEOUT": str(params["connect_timeout"]),
            }
        )
        for name, variable in (
            ("user", "PGUSER"),
            ("password", "PGPASSWORD"),
            ("host", "PGHOST"),
            ("port", "PGPORT"),
        ):
            if name in params:
                env[variable] = str(params[name])
        for option, variable in _LIBPQ_OPTIONS.items():
            if option in params:
                env[variable] = str(params[option])
        return env

    @staticmethod
    def _tool(setting: str) -> str:
        configured = getattr(settings, setting)
        found = shutil.which(configured)
        if not found:
            raise BackupError(
                f"{configured} was not found. Install the PostgreSQL client tools "
                f"(the same major version as the server) or set {setting} to its path."
            )
        return found

    # -- inspecting a live or scratch database

    @staticmethod
    def _snapshot(conn: psycopg.Connection) -> Snapshot:
        tables = conn.execute(
            """
            SELECT n.nspname, c.relname
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE c.relkind IN ('r', 'p')
              AND n.nspname NOT IN ('pg_catalog', 'information_schema')
              AND n.nspname NOT LIKE 'pg\\_%'
              AND NOT EXISTS (
                  SELECT 1 FROM pg_depend d
                  WHERE d.objid = c.oid AND d.deptype = 'e'
              )
            ORDER BY 1, 2
            """
        ).fetchall()
        counts: dict[str, int] = {}
        has_migrations = False
        for schema, table in tables:
            key = table if schema == "public" else f"{schema}.{table}"
            query = sql.SQL("SELECT count(*) FROM {}.{}").format(
                sql.Identifier(schema), sql.Identifier(table)
            )
            counts[key] = conn.execute(query).fetchone()[0]
            has_migrations = has_migrations or key == MIGRATIONS_TABLE
        migrations: dict[str, str] = {}
        if has_migrations:
            rows = conn.execute(
                "SELECT app, max(name) FROM public.django_migrations GROUP BY app ORDER BY app"
            ).fetchall()
            migrations = dict(rows)
        return Snapshot(table_counts=counts, migrations=migrations)

    # -- dump

    def dump(self, *, target: Path, progress: Progress = _no_progress) -> Snapshot:
        pg_dump = self._tool("BACKUP_PG_DUMP")
        lock_timeout_ms = int(settings.BACKUP_LOCK_TIMEOUT_SECONDS * 1000)
        conn = self._connect()
        try:
            conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
            conn.read_only = True
            with conn.transaction():
                # Counting takes the same ACCESS SHARE locks pg_dump takes: give
                # up rather than queue behind a migration's exclusive lock, which
                # would make every request queue behind us in turn.
                conn.execute(
                    sql.SQL("SET LOCAL lock_timeout = {}").format(
                        sql.Literal(f"{lock_timeout_ms}ms")
                    )
                )
                snapshot_id = conn.execute("SELECT pg_export_snapshot()").fetchone()[0]
                progress("Counting rows in every table")
                try:
                    snapshot = self._snapshot(conn)
                except psycopg.errors.LockNotAvailable as exc:
                    raise BackupUnavailable(
                        "A table stayed locked (a migration or maintenance?) for more than "
                        f"{settings.BACKUP_LOCK_TIMEOUT_SECONDS}s; try again later."
                    ) from exc
                progress(f"Dumping {len(snapshot.table_counts)} tables with pg_dump")
                # The exported snapshot lives only while this transaction is
                # open, so pg_dump runs inside it.
                self._run(
                    [
                        pg_dump,
                        "--format=custom",
                        f"--file={target}",
                        f"--snapshot={snapshot_id}",
                        f"--lock-wait-timeout={lock_timeout_ms}",
                        "--no-password",
                        "--verbose",
                    ],
                    env=self._env(),
                    what="pg_dump",
                    progress=progress,
                    total=len(snapshot.table_counts),
                    pattern=_DUMPING_TABLE,
                    verb="Dumped",
                )
        except psycopg.OperationalError as exc:
            raise BackupUnavailable(f"The database connection failed: {_first_line(exc)}") from exc
        finally:
            conn.close()
        return snapshot

    # -- verify

    def inspect_archive(self, *, path: Path, progress: Progress = _no_progress) -> Snapshot:
        pg_restore = self._tool("BACKUP_PG_RESTORE")
        scratch = f"{self.database_name[:30]}_verify_{secrets.token_hex(6)}"
        admin = self._connect(settings.BACKUP_PG_MAINTENANCE_DB, autocommit=True)
        try:
            try:
                admin.execute(
                    sql.SQL("CREATE DATABASE {} TEMPLATE template0").format(sql.Identifier(scratch))
                )
            except psycopg.Error as exc:
                raise BackupError(
                    f"Cannot create the scratch database {scratch!r} to restore into: "
                    f"{_first_line(exc)}. The database user needs the CREATEDB privilege."
                ) from exc
            progress(f"Restoring into scratch database {scratch}")
            try:
                self._run(
                    [
                        pg_restore,
                        f"--dbname={scratch}",
                        "--exit-on-error",
                        "--single-transaction",
                        "--no-owner",
                        "--no-privileges",
                        "--no-password",
                        "--verbose",
                        str(path),
                    ],
                    env=self._env(scratch),
                    what="pg_restore",
                    progress=progress,
                    pattern=_PROCESSING_DATA,
                    verb="Restored",
                )
            except BackupError as exc:
                raise VerificationFailed(
                    f"The archive cannot be restored (truncated or corrupted?): {exc.message}"
                ) from exc
            progress("Counting rows in the restored copy")
            with self._connect(scratch) as conn:
                return self._snapshot(conn)
        finally:
            try:
                admin.execute(
                    sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                        sql.Identifier(scratch)
                    )
                )
            except psycopg.Error:
                logger.exception("Could not drop scratch database %s", scratch)
            admin.close()

    # -- restore in place

    def check_restore_tools(self) -> None:
        self._tool("BACKUP_PG_RESTORE")
        self._tool("BACKUP_PSQL")

    def check_no_other_sessions(self) -> None:
        # An idle session holds no lock for the restore's lock_timeout to trip
        # on: what its process writes after the safety backup would be in
        # neither that backup nor the restored database.
        with self._connect() as conn:
            rows = conn.execute(
                """
                SELECT coalesce(nullif(application_name, ''), usename, '?'),
                       coalesce(host(client_addr), 'local socket'),
                       pid
                FROM pg_stat_activity
                WHERE datname = current_database()
                  AND backend_type = 'client backend'
                  AND pid <> pg_backend_pid()
                  AND application_name <> %s
                ORDER BY 1, 2, 3
                """,
                [self._conninfo()["application_name"]],
            ).fetchall()
        if rows:
            # The server's process ids, for pg_stat_activity or pg_terminate_backend.
            sessions: dict[str, list[str]] = {}
            for name, addr, pid in rows:
                sessions.setdefault(f"{name} from {addr}", []).append(str(pid))
            who = "; ".join(f"{key}: pid {', '.join(pids)}" for key, pids in sessions.items())
            raise BackupError(
                f"Refusing to restore: {len(rows)} other session(s) connected to "
                f"{self.database_name} ({who}). Stop the web, worker and beat processes "
                "first; nothing was changed."
            )

    def restore(self, *, path: Path, progress: Progress = _no_progress) -> None:
        pg_restore = self._tool("BACKUP_PG_RESTORE")
        psql = self._tool("BACKUP_PSQL")
        with self._connect() as conn:
            schemas = [
                row[0]
                for row in conn.execute(
                    """
                    SELECT nspname FROM pg_namespace
                    WHERE nspname NOT IN ('pg_catalog', 'information_schema')
                      AND nspname NOT LIKE 'pg\\_%'
                    """
                )
            ]
        # Dropping the schemas first removes tables that newer migrations
        # added, which `pg_restore --clean` would leave behind. psql runs the
        # drop and the whole restore as ONE transaction: a failure part-way
        # leaves the database exactly as it was.
        drop = "; ".join(
            sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(s)).as_string(None)
            for s in schemas
        )
        env = self._env()
        # A process still using the database would make the drop wait, and
        # everyone else queue behind it: fail instead and say so.
        lock_timeout_ms = int(settings.BACKUP_LOCK_TIMEOUT_SECONDS * 1000)
        progress(f"Replacing schemas {', '.join(schemas) or '(none)'} in {self.database_name}")
        psql_args = [
            psql,
            "--no-psqlrc",
            "--quiet",
            "--no-password",
            "--single-transaction",
            "--set=ON_ERROR_STOP=1",
            f"--command=SET LOCAL lock_timeout = '{lock_timeout_ms}ms'; {drop}; "
            "CREATE SCHEMA IF NOT EXISTS public",
            "--file=-",
        ]
        pg_restore_args = [pg_restore, "--no-owner", "--no-privileges", "--file=-", str(path)]
        killed_writer = False
        with tempfile.TemporaryFile() as reader_err, tempfile.TemporaryFile() as writer_err:
            writer = subprocess.Popen(  # noqa: S603
                psql_args,
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                stderr=writer_err,
                env=env,
            )
            reader = subprocess.Popen(  # noqa: S603
                pg_restore_args, stdout=subprocess.PIPE, stderr=reader_err, env=env
            )
            try:
                # The SQL is relayed rather than piped straight through:
                # psql COMMITs at the end of its input, so an archive that
                # breaks off half-way must never let psql see that end.
                try:
                    while chunk := reader.stdout.read(1 << 16):
                        writer.stdin.write(chunk)
                except BrokenPipeError:
                    reader.kill()
                reader.wait()
                if reader.returncode != 0 and writer.poll() is None:
                    # The server rolls back a transaction whose client vanished.
                    writer.kill()
                    killed_writer = True
                else:
                    with contextlib.suppress(BrokenPipeError):
                        writer.stdin.close()
                writer.wait()
            finally:
                for process in (reader, writer):
                    if process.poll() is None:
                        process.kill()
                        process.wait()
            writer_err.seek(0)
            reader_err.seek(0)
            writer_message = _tail(writer_err.read().decode(errors="replace"))
            reader_message = _tail(reader_err.read().decode(errors="replace"))
        # psql first: when it stops on an error, pg_restore dies of a broken
        # pipe, which says nothing about the archive. Killed by anyone but us
        # (the OOM killer), psql never committed, though pg_restore succeeded.
        if writer.returncode != 0 and not killed_writer:
            raise BackupError(
                "The restore failed and was rolled back; the database is unchanged: "
                f"{writer_message}"
            )
        if reader.returncode != 0:
            raise BackupError(
                "pg_restore could not read the archive to its end; the restore was rolled back "
                f"and the database is unchanged: {reader_message}"
            )

    # -- running the tools

    @staticmethod
    def _run(
        args: list[str],
        *,
        env: dict[str, str],
        what: str,
        progress: Progress,
        pattern: re.Pattern,
        verb: str,
        total: int | None = None,
    ) -> None:
        """Run a pg tool in verbose mode, turning its per-table lines into progress."""
        errors: deque[str] = deque(maxlen=8)
        done = 0
        with subprocess.Popen(  # noqa: S603
            args,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env=env,
            text=True,
            errors="replace",
        ) as process:
            for line in process.stderr:
                line = line.rstrip()
                match = pattern.search(line)
                if match:
                    done += 1
                    of = f"/{total}" if total else ""
                    progress(f"{verb} {match['table']} ({done}{of})")
                elif "error" in line.lower() or "fatal" in line.lower() or "detail" in line.lower():
                    errors.append(line)
            returncode = process.wait()
        if returncode != 0:
            detail = " ".join(errors) or f"exit status {returncode}"
            raise BackupError(f"{what} failed: {detail}")


# --- SQLite -----------------------------------------------------------------------


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


class SqliteEngine(Engine):
    vendor = "sqlite"
    extension = ".sqlite3"
    magic = b"SQLite format 3\x00"
    description = "SQLite database file"

    PAGES_PER_STEP = 1024

    @property
    def database_path(self) -> Path:
        return Path(self.settings_dict["NAME"])

    @staticmethod
    def _snapshot(conn: sqlite3.Connection) -> Snapshot:
        tables = [
            row[0]
            for row in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' "
                "AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name"
            )
        ]
        counts = {
            table: conn.execute(f"SELECT count(*) FROM {_quote(table)}").fetchone()[0]  # noqa: S608
            for table in tables
        }
        migrations: dict[str, str] = {}
        if MIGRATIONS_TABLE in counts:
            migrations = dict(
                conn.execute(
                    "SELECT app, max(name) FROM django_migrations GROUP BY app ORDER BY app"
                ).fetchall()
            )
        return Snapshot(table_counts=counts, migrations=migrations)

    def _copy(self, source: sqlite3.Connection, target: sqlite3.Connection, progress: Progress):
        def report(status: int, remaining: int, total: int) -> None:
            if total:
                progress(f"Copied {total - remaining}/{total} pages")

        source.backup(target, pages=self.PAGES_PER_STEP, progress=report)

    def dump(self, *, target: Path, progress: Progress = _no_progress) -> Snapshot:
        if not self.database_path.exists():
            raise BackupUnavailable(f"The SQLite database {self.database_path} does not exist.")
        try:
            source = sqlite3.connect(f"{self.database_path.as_uri()}?mode=ro", uri=True, timeout=20)
            copy = sqlite3.connect(target)
            try:
                self._copy(source, copy, progress)
                # The copy inherits WAL mode from the live file; DELETE mode
                # makes it one self-contained file.
                copy.execute("PRAGMA journal_mode=DELETE")
                progress("Counting rows in the copy")
                return self._snapshot(copy)
            finally:
                copy.close()
                source.close()
        except sqlite3.Error as exc:
            raise BackupError(f"The SQLite backup failed: {exc}") from exc

    def inspect_archive(self, *, path: Path, progress: Progress = _no_progress) -> Snapshot:
        with tempfile.TemporaryDirectory(prefix="hotel-verify-") as scratch_dir:
            scratch = Path(scratch_dir) / "scratch.sqlite3"
            progress(f"Restoring into scratch database {scratch}")
            try:
                source = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)
                target = sqlite3.connect(scratch)
                try:
                    self._copy(source, target, progress)
                finally:
                    source.close()
                # integrity_check also evaluates CHECK constraints, and
                # Django's use SQL functions it registers on its connections.
                register_django_functions(target)
                progress("Checking the integrity of every page")
                try:
                    problems = [row[0] for row in target.execute("PRAGMA integrity_check")]
                    if problems != ["ok"]:
                        raise VerificationFailed(
                            "The SQLite file is corrupted: " + "; ".join(problems[:5])
                        )
                    progress("Counting rows in the restored copy")
                    return self._snapshot(target)
                finally:
                    target.close()
            except sqlite3.Error as exc:
                raise VerificationFailed(
                    f"The SQLite file cannot be read (truncated or corrupted?): {exc}"
                ) from exc

    def restore(self, *, path: Path, progress: Progress = _no_progress) -> None:
        try:
            source = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)
            target = sqlite3.connect(self.database_path, timeout=20)
            try:
                # The backup API replaces every page of the live file while
                # holding its write lock, so readers see the old or the new
                # database, never a mix.
                self._copy(source, target, progress)
            finally:
                target.close()
                source.close()
        except sqlite3.Error as exc:
            raise BackupError(f"The SQLite restore failed: {exc}") from exc


ENGINES: dict[str, type[Engine]] = {
    PostgresEngine.vendor: PostgresEngine,
    SqliteEngine.vendor: SqliteEngine,
}


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def _tail(text: str, lines: int = 5) -> str:
    kept = [line for line in text.strip().splitlines() if line.strip()][-lines:]
    return " ".join(kept) or "no output"
