"""Run the project in a child process, as `make run` and production would."""

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SERVICE_VARIABLES = (
    "DATABASE_URL",
    "REDIS_URL",
    "CELERY_BROKER_URL",
    "EMAIL_URL",
    "DJANGO_ALLOW_ASYNC_UNSAFE",
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def require(unavailable: str | None) -> None:
    """Skip a test whose tool this machine lacks (``unavailable`` says why); on CI, which has
    every tool .ci/run installs, fail it instead: a skipped test there would hide the loss."""
    if unavailable:
        if os.environ.get("CI"):
            pytest.fail(unavailable)
        pytest.skip(unavailable)


def require_packet_drop() -> None:
    """Skip a test that drops packets where this machine cannot; on CI, which can, fail it."""
    from benchmarks.switch import drop_unavailable

    require(drop_unavailable())


def require_callgrind() -> None:
    """Skip a test that counts instructions where valgrind is missing; on CI, fail it."""
    from benchmarks.instructions import callgrind_unavailable

    require(callgrind_unavailable())


def embedded_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """The environment of a fresh machine: no service URLs, a scratch SQLite file."""
    env = {k: v for k, v in os.environ.items() if k not in SERVICE_VARIABLES}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    env["SQLITE_PATH"] = str(tmp_path / "db.sqlite3")
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


def manage(*args: str, env: dict[str, str], timeout: int = 180) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def shell(code: str, *, env: dict[str, str]) -> str:
    """What ``manage.py shell -c code`` prints under ``env``; fails the test if it fails."""
    done = manage("shell", "--no-imports", "-c", code, env=env)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def python(code: str, **env: str | None) -> subprocess.CompletedProcess:
    """Run ``code`` in a new interpreter with the test settings and ``env`` (None unsets)."""
    environ = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.test"}
    for name, value in env.items():
        if value is None:
            environ.pop(name, None)
        else:
            environ[name] = value
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=environ,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def runserver(env: dict[str, str]):
    """Serve the project with `runserver`, as `make run` does; yield its base URL."""
    port = free_port()
    return _serve(
        [sys.executable, "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"], port, env
    )


def gunicorn(env: dict[str, str]):
    """Serve the project with gunicorn and the production settings; yield its base URL."""
    port = free_port()
    command = [
        str(Path(sys.executable).parent / "gunicorn"),
        "config.wsgi",
        "-b",
        f"127.0.0.1:{port}",
    ]
    return _serve([*command, "--workers", "1", "--timeout", "30"], port, env)


@contextmanager
def _serve(command: list[str], port: int, env: dict[str, str]):
    proc = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"server did not start:\n{proc.stdout.read()}") from None
                time.sleep(0.2)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def fetch(url: str, timeout: float = 30) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()
