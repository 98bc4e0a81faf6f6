"""Backups at the dataset's scale: how long the nightly chain takes, and what guests feel meanwhile.

The services the operators' commands and the nightly task call, on the
benchmark's database, into a backup directory of the run's own:

- ``backup``: ``backup_create`` (pg_dump of one snapshot, the row counts, the
  SHA-256 and the manifest).
- ``verify``: ``backup_verify`` (the archive restored in full into a scratch
  database, its rows counted and compared with the manifest).
- ``restore``: ``backup_restore`` in place (a safety backup first, then the
  schema dropped and the archive restored in one transaction). Every table's
  rows are then counted by SQL and compared with the backup's manifest (the
  catalogue of backups aside: a restore keeps it as it was). A restore that
  cannot be done (another session on the database) is reported, and what was
  measured before it kept.

A guest process books as guests do while the site stays open: it holds a
stay and cancels it, ``rate`` times a second, through the booking services,
with its own connection. Its latencies are grouped by phase: ``idle`` (before
the backup, the baseline), ``backup`` and ``verify``. A restore needs the
database alone, so the guest stops before it, as the web and worker
processes must, and the run waits for the sessions of stopped processes to
end. Its bookings are cancelled as it goes; those made before the
backup's snapshot stay in the database, cancelled, as the other scenarios'
do.
"""

from __future__ import annotations

import json
import logging
import os
import select
import signal
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from urllib.parse import quote

from django.db import connection
from django.test.utils import override_settings

from backups.models import BackupRecord

from .contention import consistency
from .measure import percentile

PHASES = ("idle", "backup", "verify")
# The catalogue of backups is put back as it was after a restore, not restored.
CATALOGUE_TABLE = BackupRecord._meta.db_table
READY_TIMEOUT_S = 60
ROOT = Path(__file__).resolve().parent.parent


class Guest:
    """The guest's process (``benchmarks.guest``): started before the backup, stopped before
    the restore. A process started afresh, not forked: a fork would inherit this process's
    broker connections, and kombu's clean-up of them in the child can wait for ever."""

    def __init__(self, *, rate: float, today: date, seed: int) -> None:
        self.argv = [
            sys.executable,
            "-m",
            "benchmarks.guest",
            f"--rate={rate}",
            f"--today={today.isoformat()}",
            f"--seed={seed}",
        ]
        self.proc: subprocess.Popen | None = None
        self.stderr = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115 - closed in stop()

    @staticmethod
    def _env() -> dict[str, str]:
        """This process's environment and settings, on its database (the test one too)."""
        db = connection.settings_dict
        url = (
            f"postgres://{quote(db['USER'] or '')}:{quote(db['PASSWORD'] or '')}"
            f"@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{quote(db['NAME'])}"
        )
        # DJANGO_SETTINGS_MODULE is inherited: inside override_settings,
        # settings.SETTINGS_MODULE is None.
        return {**os.environ, "DATABASE_URL": url}

    def start(self) -> None:
        """Start it and wait until it books; raise RuntimeError, saying why, if it cannot."""
        self.proc = subprocess.Popen(  # noqa: S603 - our own argv
            self.argv,
            cwd=ROOT,
            env=self._env(),
            stdout=subprocess.PIPE,
            stderr=self.stderr,
            text=True,
        )
        readable, _, _ = select.select([self.proc.stdout], [], [], READY_TIMEOUT_S)
        line = self.proc.stdout.readline() if readable else ""
        if line.startswith("ready "):
            return
        report = self.stop()
        why = report["errors"][0][1] if report["errors"] else "it did not answer"
        raise RuntimeError(f"The guest process could not start: {why}")

    def stop(self) -> dict:
        """Stop it and return its report; its connection is closed once it has exited.

        A guest that does not report (it failed, or was killed) reports that as its error.
        """
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            out, _ = self.proc.communicate(timeout=READY_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            out, _ = self.proc.communicate()
        self.stderr.seek(0)
        log = self.stderr.read().strip().splitlines()
        self.stderr.close()
        lines = out.strip().splitlines()
        try:
            report = json.loads(lines[-1])
        except (IndexError, ValueError):
            why = log[-1] if log else f"it exited with code {self.proc.returncode}"
            return {"samples": [], "sold_out": [], "busy": [], "errors": [(time.monotonic(), why)]}
        return report


def _phase_figures(name: str, start: float, end: float, report: dict) -> dict:
    def within(t: float) -> bool:
        return start <= t < end

    samples = [s for s in report["samples"] if within(s[0])]
    holds = sorted(s[1] for s in samples)
    cancels = sorted(s[2] for s in samples)
    errors = [message for t, message in report["errors"] if within(t)]
    return {
        "phase": name,
        "seconds": round(end - start, 2),
        "held": len(samples),
        "sold_out": sum(1 for t in report["sold_out"] if within(t)),
        "busy": sum(1 for t in report["busy"] if within(t)),
        "errors": len(errors),
        "error_samples": errors[:3],
        "hold_p50_ms": round(percentile(holds, 50), 2) if holds else None,
        "hold_p95_ms": round(percentile(holds, 95), 2) if holds else None,
        "hold_max_ms": round(holds[-1], 2) if holds else None,
        "cancel_p50_ms": round(percentile(cancels, 50), 2) if cancels else None,
        "cancel_p95_ms": round(percentile(cancels, 95), 2) if cancels else None,
    }


def count_mismatches(expected: dict[str, int]) -> dict[str, dict[str, int | None]]:
    """Tables whose rows, counted by SQL now, differ from ``expected``; None for no table.

    The backups catalogue is left out: a restore puts it back as it was
    before, so that the files on disk stay listed. A table the backup does
    not know is reported with ``backup`` None.
    """
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT CASE WHEN n.nspname = 'public' THEN c.relname
                        ELSE n.nspname || '.' || c.relname END
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE c.relkind IN ('r', 'p')
              AND n.nspname NOT IN ('pg_catalog', 'information_schema')
              AND n.nspname NOT LIKE 'pg\\_%'
              AND NOT EXISTS (
                  SELECT 1 FROM pg_depend d WHERE d.objid = c.oid AND d.deptype = 'e'
              )
            """
        )
        present = {row[0] for row in cursor.fetchall()}
        mismatched: dict[str, dict[str, int | None]] = {}
        for table in sorted(present | set(expected)):
            if table == CATALOGUE_TABLE:
                continue
            found = None
            if table in present:
                name = ".".join(connection.ops.quote_name(part) for part in table.split("."))
                cursor.execute(f"SELECT count(*) FROM {name}")  # noqa: S608 - names from pg_class
                found = cursor.fetchone()[0]
            if found != expected.get(table):
                mismatched[table] = {"backup": expected.get(table), "restored": found}
    return mismatched


def _database_bytes() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_database_size(current_database())")
        return cursor.fetchone()[0]


def run_backups(
    *,
    rate: float,
    idle_seconds: float,
    today: date,
    backup_dir: Path,
    restore: bool = True,
    seed: int = 1,
    settle_seconds: float = 10,
    log=print,
) -> dict:
    """Back up, verify and (with ``restore``) restore the database while a guest books.

    Before the restore it waits up to ``settle_seconds`` for the other
    sessions on the database to end. Returns what was measured. The backup
    records made here, failed ones included, are deleted afterwards; their
    files are in ``backup_dir``, the caller's to remove.
    """
    from backups.services import backup_create, backup_restore, backup_verify

    # pg_dump and pg_restore report every table at INFO; the phases are logged here.
    quiet = logging.getLogger("backups.services")
    level = quiet.level
    quiet.setLevel(logging.WARNING)
    result: dict = {"rate": rate, "database_bytes": _database_bytes()}
    try:
        with override_settings(BACKUP_DIR=backup_dir):
            guest = Guest(rate=rate, today=today, seed=seed)
            guest.start()
            marks = [time.monotonic()]
            try:
                time.sleep(idle_seconds)
                marks.append(time.monotonic())
                record = backup_create(reason=BackupRecord.Reason.MANUAL)
                marks.append(time.monotonic())
                record = backup_verify(backup=record)
                marks.append(time.monotonic())
            finally:
                report = guest.stop()
            result["phases"] = [
                _phase_figures(name, start, end, report)
                for name, start, end in zip(PHASES, marks, marks[1:], strict=False)
            ]
            result["guest"] = {
                "attempts": len(report["samples"]) + len(report["sold_out"]) + len(report["busy"]),
                "errors": len(report["errors"]),
                "error_samples": [message for _t, message in report["errors"][:3]],
            }
            result["backup"] = {
                "tables": len(record.table_counts),
                "rows": sum(record.table_counts.values()),
                "size_bytes": record.size_bytes,
                "seconds": round(record.duration.total_seconds(), 2),
                "status": record.status,
                "verify_seconds": round(record.verify_duration.total_seconds(), 2),
                "error": record.error,
            }
            log(
                f"  backup: {record.size_bytes / 1e6:.1f} MB, {len(record.table_counts)} tables, "
                f"{result['backup']['rows']} rows in {result['backup']['seconds']} s; "
                f"verify {result['backup']['verify_seconds']} s: {record.status}"
            )
            for phase in result["phases"]:
                log(
                    f"  {phase['phase']:>8}: {phase['held']} holds, p50 {phase['hold_p50_ms']} "
                    f"p95 {phase['hold_p95_ms']} max {phase['hold_max_ms']} ms, "
                    f"errors {phase['errors']}"
                )
            if restore and record.status == BackupRecord.Status.VERIFIED:
                result["restore"] = _restore(
                    record, backup_restore, settle_seconds=settle_seconds, log=log
                )
                log(
                    f"  restore: {result['restore']['error']}"
                    if "error" in result["restore"]
                    else f"  restore: {result['restore']['seconds']} s (its safety backup "
                    f"{result['restore']['safety_backup_seconds']} s); tables that differ from "
                    f"the backup: {len(result['restore']['mismatched'])}"
                )
    finally:
        # Every record of this run names a file in its directory, a failed
        # backup's and a failed restore's safety backup included.
        BackupRecord.objects.filter(path__startswith=f"{backup_dir}/").delete()
        quiet.setLevel(level)
    result["consistency"] = consistency()
    return result


def _wait_alone(*, timeout: float, log) -> None:
    """Until this process is alone on the database, for at most ``timeout`` seconds.

    The guest's server process, and those of processes that have just
    stopped, end a moment after their clients. A session still there after
    ``timeout`` is left for the restore to refuse, naming it, and a database
    it cannot reach for the restore to report.
    """
    from backups.engines import engine_for
    from backups.exceptions import BackupError, BackupUnavailable
    from backups.services import close_connections

    engine = engine_for(alias=connection.alias)
    deadline = time.monotonic() + timeout
    waited = False
    while True:
        # This process's own sessions, its pool's too, would count as others.
        close_connections(connection)
        try:
            engine.check_no_other_sessions()
        except BackupUnavailable:
            return  # no waiting brings the database back: the restore says so
        except BackupError:
            if time.monotonic() >= deadline:
                return
            if not waited:
                waited = True
                log(f"  restore: waiting up to {timeout:g} s for the other sessions to end")
            time.sleep(0.1)
        else:
            if waited:
                log("  restore: alone on the database")
            return


def _restore(record: BackupRecord, backup_restore, *, settle_seconds: float, log) -> dict:
    """Restore ``record`` in place; a restore that cannot be done is reported, not raised."""
    from backups.exceptions import BackupError

    try:
        _wait_alone(timeout=settle_seconds, log=log)
        started = time.monotonic()
        safety = backup_restore(backup=record)
    except BackupError as exc:
        return {"error": f"the restore was not done: {exc}"}
    seconds = time.monotonic() - started
    return {
        "seconds": round(seconds, 2),
        "safety_backup_seconds": round(safety.duration.total_seconds(), 2),
        "mismatched": count_mismatches(record.table_counts),
    }


def failed(result: dict) -> list[str]:
    """What went wrong in a run, in words; empty when nothing did."""
    problems = []
    if "error" in result:
        return [result["error"]]
    backup = result.get("backup", {})
    if backup.get("status") != BackupRecord.Status.VERIFIED:
        problems.append(f"the backup was not verified: {backup.get('error') or 'no backup'}")
    guest = result.get("guest", {})
    if guest.get("errors"):
        problems.append(
            f"{guest['errors']} of the guest's bookings failed: {'; '.join(guest['error_samples'])}"
        )
    elif "guest" in result and not guest.get("attempts"):
        problems.append("the guest did not book at all")
    restore = result.get("restore", {})
    if "error" in restore:
        problems.append(restore["error"])
    mismatched = restore.get("mismatched")
    if mismatched:
        problems.append(f"the restored rows differ from the backup in {', '.join(mismatched)}")
    if result.get("consistency", {}).get("oversold_nights"):
        problems.append("oversold nights")
    return problems
