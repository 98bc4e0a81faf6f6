"""PostgreSQL going away under the guests' reads, and coming back.

gunicorn with the production settings reaches PostgreSQL through a switch, a
TCP relay on 127.0.0.1 (benchmarks/switch.py). Guests arrive as a Poisson
stream at a fixed rate and ask for the read mix of the load test (home,
search, a hotel's page for a stay, a room type's page), each request timed
from the moment it was due, so a server that stalls is charged for the
queue behind it. For ``up`` seconds the switch relays; for ``down`` seconds
it hangs up every connection and each new one, as a server that is
restarting or gone does, or with ``drop`` lets the kernel drop every packet
to and from it, as when the server's host or the network fails; then it
relays again for ``back`` seconds.

The answers are grouped by phase. A run fails on any answer but 200 and
503 (a 500, a dropped connection, a timeout), on a request left unanswered,
when the switch refused no connection or dropped no packet while down
(another server on the port), or when nothing was served after the
database came back.
"""

import http.client
import json
import os
import queue
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from datetime import date, timedelta
from pathlib import Path
from urllib.parse import urlencode

from .loadtest import ROOT, Processes, _dataset_summary, _tail, _wait_healthy, gunicorn_argv
from .measure import percentile
from .switch import DatabaseSwitch, drop_unavailable

REQUEST_TIMEOUT_S = 30


def read_paths(data: dict, *, count: int, seed: int) -> list[str]:
    """``count`` pages of the load test's read mix, a quarter of each kind.

    Each search and hotel page is for a stay drawn afresh, so most are not
    in the read cache, as in the load test; the home page and the room type
    pages soon are.
    """
    rnd = random.Random(seed)
    today = date.fromisoformat(data["today"])
    paths = []
    for i in range(count):
        hotel = rnd.choice(data["hotels"])
        check_in = today + timedelta(days=rnd.randint(7, max(8, data["max_days_ahead"] - 4)))
        stay = {
            "check_in": check_in.isoformat(),
            "check_out": (check_in + timedelta(days=rnd.randint(1, 4))).isoformat(),
            "adults": 2,
            "children": 0,
        }
        kind = i % 4
        if kind == 0:
            paths.append("/")
        elif kind == 1:
            query = {"q": hotel["city"], "city": hotel["city"], **stay}
            paths.append(f"{data['search_path']}?{urlencode(query)}")
        elif kind == 2:
            paths.append(f"/hotels/{hotel['slug']}/?{urlencode(stay)}")
        else:
            room_type = rnd.choice(hotel["room_types"])
            paths.append(f"/hotels/{hotel['slug']}/rooms/{room_type['slug']}/")
    return paths


class Guests:
    """Requests due at Poisson times, sent over ``clients`` keep-alive connections."""

    def __init__(self, *, port: int, paths: list[str], rate: float, clients: int, seed: int):
        self.port = port
        self.paths = paths
        self.rate = rate
        self.clients = clients
        self.rnd = random.Random(seed)
        self.due: queue.Queue = queue.Queue()
        self.offered: list[float] = []  # when each request was due
        self.answers: list[tuple[float, float, str]] = []  # (due, seconds, status)
        self._lock = threading.Lock()

    def run(self, *, start: float, seconds: float) -> None:
        """Offer requests from ``start`` (monotonic) for ``seconds``; wait for their answers.

        A request still unanswered REQUEST_TIMEOUT_S after the last was due
        is left out of the answers, and counted by phase_figures.
        """
        threads = [threading.Thread(target=self._client, daemon=True) for _ in range(self.clients)]
        for thread in threads:
            thread.start()
        due = start
        while (due := due + self.rnd.expovariate(self.rate)) < start + seconds:
            if (wait := due - time.monotonic()) > 0:
                time.sleep(wait)
            self.due.put((due, self.paths[len(self.offered) % len(self.paths)]))
            self.offered.append(due)
        for _ in threads:
            self.due.put(None)
        deadline = time.monotonic() + REQUEST_TIMEOUT_S + 5
        for thread in threads:
            thread.join(timeout=max(0.0, deadline - time.monotonic()))

    def _client(self) -> None:
        conn = None
        while (item := self.due.get()) is not None:
            due, path = item
            try:
                if conn is None:
                    conn = http.client.HTTPConnection(
                        "127.0.0.1", self.port, timeout=REQUEST_TIMEOUT_S
                    )
                conn.request("GET", path)
                response = conn.getresponse()
                response.read()
                status = str(response.status)
                if response.will_close:
                    conn.close()
                    conn = None
            except (OSError, http.client.HTTPException) as exc:
                status = type(exc).__name__
                if conn is not None:
                    conn.close()
                conn = None
            with self._lock:
                self.answers.append((due, time.monotonic() - due, status))
        if conn is not None:
            conn.close()


def phase_figures(guests: Guests, *, start: float, end: float) -> dict:
    """What the guests got for the requests due from ``start`` to ``end`` (monotonic)."""
    chosen = [a for a in guests.answers if start <= a[0] < end]
    ms = sorted(a[1] * 1000 for a in chosen)
    statuses = Counter(a[2] for a in chosen)
    offered = sum(1 for due in guests.offered if start <= due < end)
    return {
        "seconds": round(end - start, 1),
        "requests": offered,
        "unanswered": offered - len(chosen),
        "served_rps": round(statuses.get("200", 0) / (end - start), 1) if end > start else 0,
        "statuses": dict(sorted(statuses.items())),
        "p50_ms": round(percentile(ms, 50), 1) if ms else None,
        "p95_ms": round(percentile(ms, 95), 1) if ms else None,
        "p99_ms": round(percentile(ms, 99), 1) if ms else None,
        "max_ms": round(ms[-1], 1) if ms else None,
    }


def run_outage(args, *, log) -> dict:
    """Start gunicorn behind the switch, take the database away and back; the figures."""
    from django.core.cache import cache
    from django.core.management import call_command
    from django.db import connection, connections

    _port_free(args.port)
    drop = getattr(args, "drop", False)
    if drop and (why := drop_unavailable()):
        raise RuntimeError(f"--drop cannot run here: {why}.")
    data = _dataset_summary(args.scale)
    paths = read_paths(
        data, count=int(args.rate * (args.up + args.down + args.back)) + 1, seed=args.seed
    )
    settings_dict = connection.settings_dict
    call_command("collectstatic", "--noinput", verbosity=0)
    # Every run starts from the same cache: empty, so that the up phase fills
    # it as guests ask, not an earlier run with the same pages.
    cache.clear()
    connections.close_all()
    switch = DatabaseSwitch(
        (settings_dict["HOST"] or "127.0.0.1", int(settings_dict["PORT"] or 5432))
    )
    user = settings_dict["USER"]
    server_env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{user}@127.0.0.1:{switch.port}/{settings_dict['NAME']}",
        "DB_POOL_MAX_SIZE": str(args.threads + 2),
    }
    # The benchmark's environment waits 30 s for a pooled connection (its
    # contention clients queue for them); the site's default is measured here.
    server_env.pop("DB_POOL_TIMEOUT", None)
    if settings_dict.get("PASSWORD"):
        server_env["PGPASSWORD"] = settings_dict["PASSWORD"]
    procs = Processes()
    timers: list[threading.Timer] = []
    events: dict[str, float] = {}
    switch_errors: list[str] = []
    with tempfile.TemporaryDirectory(prefix="bench-outage-") as tmp:
        log_path = Path(tmp) / "gunicorn.log"
        try:
            with open(log_path, "w") as server_log:
                gunicorn = procs.start(
                    gunicorn_argv("config.wsgi:application", args),
                    cwd=ROOT,
                    env=server_env,
                    stdout=subprocess.DEVNULL,
                    stderr=server_log,
                )
            try:
                _wait_healthy(f"http://127.0.0.1:{args.port}/health/", gunicorn)
            except RuntimeError as exc:
                raise RuntimeError("\n".join([str(exc), *_tail(log_path)])) from exc
            server = _server_settings(server_env)
            guests = Guests(
                port=args.port,
                paths=paths,
                rate=args.rate,
                clients=args.clients,
                seed=args.seed + 1,
            )

            def flip(event: str, action) -> None:
                try:
                    action()
                except Exception as exc:  # nft refused: the run would not measure an outage
                    switch_errors.append(f"{event}: {exc}")
                    return
                events[event] = time.monotonic()
                log(f"  database {event} at {events[event] - start:.1f} s")

            log(
                f"Database outage: {args.rate:g} req/s for {args.up:g} s up, "
                f"{args.down:g} s {'silent' if drop else 'down'}, {args.back:g} s back"
            )
            start = time.monotonic() + 0.1
            for event, action, at in (
                ("gone", lambda: switch.down(drop=drop), args.up),
                ("back", switch.back, args.up + args.down),
            ):
                timer = threading.Timer(start + at - time.monotonic(), flip, (event, action))
                timers.append(timer)
                timer.start()
            guests.run(start=start, seconds=args.up + args.down + args.back)
        finally:
            for timer in timers:
                timer.cancel()
            procs.stop_all()
            switch.close()
    if switch_errors:
        raise RuntimeError(f"The switch failed: {'; '.join(switch_errors)}")
    down, back = events["gone"], events["back"]
    end = start + args.up + args.down + args.back
    failures_after = [a[0] for a in guests.answers if a[0] >= back and a[2] != "200"]
    return {
        "mode": "drop" if drop else "hang up",
        "rate": args.rate,
        "workers": args.workers,
        "threads": args.threads,
        "pool_timeout_seconds": server["pool_timeout"],
        "pause_seconds": server["pause"],
        "network_timeout_seconds": server["network_timeout"],
        "phases": {
            "up": phase_figures(guests, start=start, end=down),
            "down": phase_figures(guests, start=down, end=back),
            "back, first 5 s": phase_figures(guests, start=back, end=min(end, back + 5)),
            "back, after 5 s": phase_figures(guests, start=min(end, back + 5), end=end),
        },
        "refused_connections": switch.refused,
        "dropped_packets": switch.dropped,
        "last_failure_after_back_s": round(max(failures_after) - back, 2)
        if failures_after
        else None,
    }


def _port_free(port: int) -> None:
    with socket.socket() as probe:
        # As gunicorn binds: a port whose last connections linger in TIME_WAIT is free.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError as exc:
            raise RuntimeError(
                f"Port {port} on 127.0.0.1 is taken: stop what listens there, or give --port."
            ) from exc


def _server_settings(env: dict[str, str]) -> dict:
    """The pool timeout and the pause the server runs with, read by its own settings."""
    code = (
        "import json, django; django.setup(); from django.conf import settings as s; "
        "pool = s.DATABASES['default']['OPTIONS'].get('pool') or {}; "
        "print(json.dumps({'pool_timeout': pool.get('timeout'), "
        "'pause': s.DB_UNREACHABLE_PAUSE_SECONDS, "
        "'network_timeout': s.DB_NETWORK_TIMEOUT_SECONDS}))"
    )
    done = subprocess.run(  # noqa: S603
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"Could not read the server's settings: {done.stderr.strip()[-500:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def failed(result: dict) -> list[str]:
    """What makes the run a failure: an answer but 200 or 503, a request left unanswered,
    a server that never reached the switch while it was down, nothing served once back."""
    problems = []
    for name, phase in result["phases"].items():
        wrong = {s: n for s, n in phase["statuses"].items() if s not in ("200", "503")}
        if wrong:
            problems.append(f"{name}: answers other than 200 and 503: {wrong}")
        if phase["unanswered"]:
            problems.append(
                f"{name}: {phase['unanswered']} requests unanswered after {REQUEST_TIMEOUT_S} s"
            )
    if not (result["refused_connections"] or result.get("dropped_packets")):
        problems.append(
            "the server never tried the database while it was down: is another server "
            "answering on the port?"
        )
    back = [p for n, p in result["phases"].items() if n.startswith("back")]
    if not any(p["statuses"].get("200") for p in back):
        problems.append("nothing was served after the database came back")
    return problems
