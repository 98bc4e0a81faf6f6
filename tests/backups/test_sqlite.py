"""The embedded default: SQLite through the online backup API.

The engine is tested directly on a scratch file, and the commands end to end
in child processes configured like a fresh machine (no DATABASE_URL, a
SQLITE_PATH of their own), since the suite itself always runs on PostgreSQL.
"""

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from backups.engines import SqliteEngine
from backups.exceptions import VerificationFailed

from .conftest import truncate

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def live_db(tmp_path) -> Path:
    path = tmp_path / "live.sqlite3"
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("CREATE TABLE django_migrations (id INTEGER PRIMARY KEY, app TEXT, name TEXT)")
    conn.executemany(
        "INSERT INTO django_migrations (app, name) VALUES (?, ?)",
        [("hotel", "0001_initial"), ("hotel", "0002_more"), ("auth", "0001_initial")],
    )
    conn.execute('CREATE TABLE "odd ""name""" (x TEXT)')
    conn.executemany('INSERT INTO "odd ""name""" VALUES (?)', [("a" * 500,)] * 2000)
    conn.commit()
    conn.close()
    return path


def test_sqlite_dump_copies_a_consistent_snapshot_with_counts(live_db, tmp_path):
    engine = SqliteEngine({"NAME": live_db})
    target = tmp_path / "copy.sqlite3"
    messages = []

    snapshot = engine.dump(target=target, progress=messages.append)

    assert snapshot.table_counts == {"django_migrations": 3, 'odd "name"': 2000}
    assert snapshot.migrations == {"auth": "0001_initial", "hotel": "0002_more"}
    assert target.read_bytes().startswith(SqliteEngine.magic)
    assert any(m.startswith("Copied ") for m in messages)
    assert engine.inspect_archive(path=target) == snapshot


def flip_page_header(path: Path) -> None:
    # SQLite has no page checksums: bytes flipped inside row data are caught by
    # the file's SHA-256 (check_file); the restore catches broken structure.
    data = bytearray(path.read_bytes())
    page_size = int.from_bytes(data[16:18], "big")
    for i in range(page_size, page_size + 12):
        data[i] ^= 0xFF
    path.write_bytes(bytes(data))


@pytest.mark.parametrize(
    "damage", [truncate, flip_page_header], ids=["truncated", "flipped-page-header"]
)
def test_sqlite_inspect_rejects_a_damaged_copy(live_db, tmp_path, damage):
    engine = SqliteEngine({"NAME": live_db})
    target = tmp_path / "copy.sqlite3"
    engine.dump(target=target)
    damage(target)

    with pytest.raises(VerificationFailed, match="SQLite file"):
        engine.inspect_archive(path=target)


def test_sqlite_restore_replaces_the_live_database(live_db, tmp_path):
    engine = SqliteEngine({"NAME": live_db})
    target = tmp_path / "copy.sqlite3"
    engine.dump(target=target)
    with sqlite3.connect(live_db) as conn:
        conn.execute("DELETE FROM django_migrations")

    engine.restore(path=target)

    with sqlite3.connect(live_db) as conn:
        assert conn.execute("SELECT count(*) FROM django_migrations").fetchone()[0] == 3


# --- the commands, end to end, on the embedded default ---------------------------


@pytest.fixture
def embedded(tmp_path):
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "DJANGO_SETTINGS_MODULE"}
    }
    env.update(
        SQLITE_PATH=str(tmp_path / "db.sqlite3"),
        BACKUP_DIR=str(tmp_path / "backups"),
        DEBUG_TOOLBAR="False",
    )

    def manage(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    result = manage("migrate", "--noinput", "-v0")
    assert result.returncode == 0, result.stderr
    return manage, tmp_path


def test_embedded_backup_verify_detect_and_restore(embedded):
    manage, tmp_path = embedded

    # backup and verify by restoring
    result = manage("backup", "--verify")
    assert result.returncode == 0, result.stderr
    assert "Verified backup #1" in result.stdout
    backup = next((tmp_path / "backups").glob("*.sqlite3"))
    manifest = json.loads(backup.with_name(backup.name + ".json").read_text())
    assert manifest["vendor"] == "sqlite"
    assert manifest["table_counts"]["django_migrations"] > 0

    # a change after the backup, undone by restore (with its safety backup)
    with sqlite3.connect(tmp_path / "db.sqlite3") as conn:
        conn.execute("INSERT INTO auth_group (name) VALUES ('after')")
    assert manage("restore_backup", "1").returncode != 0
    result = manage("restore_backup", "1", "--yes")
    assert result.returncode == 0, result.stderr
    with sqlite3.connect(tmp_path / "db.sqlite3") as conn:
        assert conn.execute("SELECT count(*) FROM auth_group").fetchone()[0] == 0
        statuses = dict(conn.execute("SELECT reason, status FROM backups_backuprecord"))
    assert statuses == {"manual": "verified", "pre_restore": "created"}

    # damage is detected: non-zero exit, clear message, failed record
    truncate(backup)
    result = manage("verify_backup", "1")
    assert result.returncode == 1
    assert "is truncated" in result.stderr
    result = manage("list_backups")
    assert "failed" in result.stdout


def test_embedded_backup_directory_is_owner_only(embedded):
    manage, tmp_path = embedded

    result = manage("backup")

    assert result.returncode == 0, result.stderr
    # the backups hold every guest's name, email and phone
    assert (tmp_path / "backups").stat().st_mode & 0o777 == 0o700
    backup = next((tmp_path / "backups").glob("*.sqlite3"))
    assert backup.stat().st_mode & 0o777 == 0o600


def test_embedded_backup_before_migrate_backs_up_only_when_migrations_are_pending(embedded):
    manage, tmp_path = embedded

    result = manage("backup_before_migrate", "--no-verify")
    assert "No unapplied migrations" in result.stdout, result.stdout + result.stderr
    result = manage("migrate", "sessions", "zero", "-v0")
    assert result.returncode == 0, result.stderr

    result = manage("backup_before_migrate")
    assert result.returncode == 0, result.stderr
    assert "unapplied migrations (" in result.stdout
    assert "sessions.0001_initial" in result.stdout
    with sqlite3.connect(tmp_path / "db.sqlite3") as conn:
        rows = conn.execute("SELECT reason, status FROM backups_backuprecord").fetchall()
    assert rows == [("pre_migrate", "verified")], result.stdout + result.stderr

    # rolling the migration back by restoring: the operator is told what to do
    assert manage("migrate", "--noinput", "-v0").returncode == 0
    result = manage("restore_backup", "1", "--yes")
    assert result.returncode == 0, result.stderr
    assert "lacks 1 migrations of this code (sessions.0001_initial)" in result.stdout
