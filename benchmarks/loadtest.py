"""HTTP load: gunicorn with the production settings, driven by locust from a second process.

1. Make sure the benchmark database has a dataset (builds one at --scale if not),
   collect the static files into a temporary directory.
2. Start gunicorn on 127.0.0.1 only, wait for /health/.
3. Warm up (--warmup seconds at --warmup-rate): a server process lives for
   hours, and its caches and memoised fragments are empty when it starts.
4. Run locust headless at the target rate for --duration, then step the rate
   up (--step-factor) for --step-duration each until a step is not sustained
   (achieved under 95% of offered, any error, or p95 over --slo-ms), or
   --max-steps is reached.
5. Stop locust and gunicorn (also on Ctrl-C or failure) and write
   benchmarks/results/loadtest.{json,md}, with the CPU each request cost the
   server, PostgreSQL, Redis and locust itself (all share the machine), and
   the application's CPU by endpoint (gunicorn serves the project's WSGI app
   through benchmarks/cpu_wsgi.py, which counts it).

Everything it starts runs in its own process group and is ended in a
``finally`` block, so nothing outlives the command.
"""

from __future__ import annotations

import csv
import json
import math
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from datetime import date, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
BIN = Path(sys.executable).parent

# Requests per task on average: reads are one request, a booking three
# (hold, details, confirm), a cancel one; weights 80 / 6 / 2 (locustfile).
REQUESTS_PER_TASK = (80 * 1 + 6 * 3 + 2 * 1) / 88
# A rate is sustained when locust achieved this share of it (less where the
# arrivals' own randomness is larger: _shortfall_allowed).
SUSTAINED_SHARE = 0.95
# The step search goes no lower than this many requests a second.
MIN_RATE = 2.0


def add_arguments(p) -> None:
    p.add_argument("--rate", type=float, default=500, help="target requests/s of the fixed run")
    p.add_argument("--duration", type=int, default=60, help="seconds at the target rate")
    p.add_argument("--step-duration", type=int, default=20, help="seconds per step-up run")
    p.add_argument("--step-factor", type=float, default=1.25)
    p.add_argument("--step-start", type=float, default=50, help="first step rate")
    p.add_argument("--max-steps", type=int, default=10)
    p.add_argument("--warmup", type=int, default=30, help="seconds of warm-up before the runs")
    p.add_argument("--warmup-rate", type=float, default=100, help="requests/s of the warm-up")
    # The documents' bar; the project's own target (p95 < 50 ms at 500 req/s)
    # is judged on the fixed run.
    p.add_argument("--slo-ms", type=float, default=200, help="p95 a sustained step must stay under")
    p.add_argument("--target-p95-ms", type=float, default=50, help="the fixed run's p95 target")
    # Three processes of two threads kept p95 lowest on 2 cores shared with
    # PostgreSQL, Redis and locust: five left each process's caches colder,
    # two of four threads each queued on the GIL.
    p.add_argument("--workers", type=int, default=3, help="gunicorn worker processes")
    p.add_argument("--threads", type=int, default=2, help="gunicorn threads per worker")
    p.add_argument("--port", type=int, default=8765)
    p.add_argument("--scale", type=float, default=1.0, help="dataset scale if none is built yet")
    p.add_argument("--name", default="loadtest", help="results file name (no extension)")
    p.add_argument("--no-write", action="store_true")


class Processes:
    """The processes this run started, each in its own group, all ended on exit."""

    def __init__(self) -> None:
        self.running: list[subprocess.Popen] = []

    def start(self, argv: list[str], **kwargs) -> subprocess.Popen:
        proc = subprocess.Popen(argv, start_new_session=True, **kwargs)  # noqa: S603
        self.running.append(proc)
        return proc

    def stop(self, proc: subprocess.Popen, *, grace: float = 10) -> None:
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(timeout=grace)
            except ProcessLookupError:
                pass
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=grace)
        if proc in self.running:
            self.running.remove(proc)

    def stop_all(self) -> None:
        for proc in reversed(list(self.running)):
            self.stop(proc)


# The application's routes behind the locustfile's request names
# (benchmarks/cpu_wsgi.py counts CPU by method and route).
ENDPOINTS = {
    "GET hotel:home": "GET home",
    "GET inventory:search": "GET search",
    "GET hotel:detail": "GET hotel page (stay)",
    "GET hotel:room_type": "GET room type page",
    "POST bookings:hold": "POST hold",
    "POST bookings:details": "POST details",
    "POST bookings:review": "POST confirm",
    "POST bookings:cancel": "POST cancel",
}


class CpuMeter:
    """CPU seconds of the server, its PostgreSQL backends and Redis, read from /proc (Linux).

    The server is every process in gunicorn's process group; PostgreSQL is
    the backends connected to the benchmark's database (a backend that exits
    mid-run takes its time with it, so this is a lower bound). Redis is the
    whole server, which other work on the machine may share. Locust's time
    is its own, from the rusage of the reaped child. Elsewhere than Linux
    every figure is None.
    """

    def __init__(self, *, server_pgid: int, database: str, endpoint_dir: Path) -> None:
        self.server_pgid = server_pgid
        self.database = database
        self.endpoint_dir = endpoint_dir
        self.ticks = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100

    def endpoints(self) -> dict[str, dict[str, float]]:
        """Each worker's application CPU and requests by endpoint (benchmarks/cpu_wsgi.py)."""
        totals: dict[str, dict[str, float]] = {}
        for path in self.endpoint_dir.glob("*.json"):
            try:
                totals[path.stem] = json.loads(path.read_text())
            except (OSError, ValueError):
                continue
        return totals

    @staticmethod
    def endpoint_cpu_ms(before: dict, after: dict) -> dict[str, float]:
        """Application CPU milliseconds per request over a run, by locust request name."""
        cpu: dict[str, float] = {}
        count: dict[str, int] = {}
        for worker, totals in after.items():
            earlier = before.get(worker, {"cpu": {}, "requests": {}})
            for endpoint, seconds in totals["cpu"].items():
                name = ENDPOINTS.get(endpoint, "other")
                cpu[name] = cpu.get(name, 0.0) + seconds - earlier["cpu"].get(endpoint, 0.0)
                count[name] = (
                    count.get(name, 0)
                    + totals["requests"][endpoint]
                    - earlier["requests"].get(endpoint, 0)
                )
        return {name: round(1000 * cpu[name] / n, 2) for name, n in count.items() if n}

    def snapshot(self) -> dict[str, dict[int, float]] | None:
        if not os.path.isdir("/proc/self"):
            return None
        found: dict[str, dict[int, float]] = {"server": {}, "postgres": {}, "redis": {}}
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit():
                continue
            try:
                with open(f"/proc/{entry.name}/stat") as fh:
                    head, _, rest = fh.read().rpartition(")")
                fields = rest.split()
                comm = head.partition("(")[2]
                cpu = (int(fields[11]) + int(fields[12])) / self.ticks
                if int(fields[2]) == self.server_pgid:
                    found["server"][int(entry.name)] = cpu
                elif comm == "redis-server":
                    found["redis"][int(entry.name)] = cpu
                elif comm == "postgres":
                    with open(f"/proc/{entry.name}/cmdline", "rb") as fh:
                        title = fh.read().decode(errors="replace")
                    if f" {self.database} " in title:
                        found["postgres"][int(entry.name)] = cpu
            except (OSError, ValueError, IndexError):
                continue
        return found

    @staticmethod
    def children_seconds() -> float:
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        return usage.ru_utime + usage.ru_stime

    @staticmethod
    def spent(before, after) -> dict[str, float] | None:
        if before is None or after is None:
            return None
        return {
            part: sum(cpu - before[part].get(pid, 0.0) for pid, cpu in after[part].items())
            for part in after
        }


def _dataset_summary(scale: float) -> dict:
    """Build the dataset if the database has none; return what the locustfile needs."""
    from django.core.management import call_command
    from django.db.models import Max
    from django.urls import NoReverseMatch, reverse
    from django.utils import timezone

    from hotel.models import Hotel, RoomType
    from inventory.models import RoomInventory

    call_command("migrate", "--noinput", verbosity=0)
    if not Hotel.objects.exists():
        from .dataset import Progress, Scale, build

        print(f"No dataset yet: building one at scale {scale}", file=sys.stderr)
        build(scale=Scale.scaled(scale), progress=Progress())
    today = timezone.now().date()
    last = RoomInventory.objects.aggregate(last=Max("date"))["last"]
    hotels = []
    for hotel in Hotel.objects.filter(is_active=True).order_by("pk"):
        room_types = list(
            RoomType.objects.filter(hotel=hotel, is_active=True)
            .order_by("sort_order")
            .values("id", "slug")
        )
        hotels.append({"slug": hotel.slug, "city": hotel.city, "room_types": room_types})
    try:
        search_path = reverse("inventory:search")
    except NoReverseMatch:
        search_path = reverse("hotel:list")
    return {
        "today": today.isoformat(),
        "max_days_ahead": min(120, (last - today).days),
        "cities": sorted({h["city"] for h in hotels}),
        "hotels": hotels,
        "search_path": search_path,
        "hold_path": reverse("bookings:hold"),
    }


def gunicorn_argv(app: str, args) -> list[str]:
    """gunicorn serving ``app`` on 127.0.0.1:``args.port``, ``args.workers`` x ``args.threads``."""
    return [
        str(BIN / "gunicorn"),
        app,
        "--bind",
        f"127.0.0.1:{args.port}",
        "--workers",
        str(args.workers),
        "--threads",
        str(args.threads),
        "--worker-class",
        "gthread" if args.threads > 1 else "sync",
        "--log-level",
        "warning",
        "--graceful-timeout",
        "5",
        # Guests wait seconds between requests; a connection the server
        # closes just as the client reuses it fails a POST.
        "--keep-alive",
        "10",
    ]


def _wait_healthy(url: str, proc: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"gunicorn exited with code {proc.returncode} before it answered")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.5)
    raise RuntimeError(f"{url} did not answer 200 within {timeout:.0f}s")


def _probe_reads(host: str, data: dict) -> dict[str, str]:
    """Each read page once before the run; one that fails is left out of the mix, and said so.

    A page another part of the project has not built yet would otherwise turn
    the whole run into errors and hide what the rest of the mix sustains.
    """
    hotel = data["hotels"][0]
    today = date.fromisoformat(data["today"])
    stay = f"check_in={today + timedelta(days=10)}&check_out={today + timedelta(days=12)}&adults=2"
    pages = {
        "search": f"{data['search_path']}?q={data['cities'][0]}&city={data['cities'][0]}&{stay}",
        "room_type_page": f"/hotels/{hotel['slug']}/rooms/{hotel['room_types'][0]['slug']}/",
        "hotel_page": f"/hotels/{hotel['slug']}/?{stay}",
    }
    unavailable = {}
    for name, path in pages.items():
        try:
            with urllib.request.urlopen(host + path, timeout=10) as response:  # noqa: S310
                status = response.status
        except urllib.error.HTTPError as exc:
            status = exc.code
        except (urllib.error.URLError, TimeoutError) as exc:
            unavailable[name] = f"{path}: {exc}"
            continue
        if status >= 500:
            unavailable[name] = f"{path}: HTTP {status}"
    return unavailable


def _wait_drained(url: str, timeout: float = 60) -> None:
    """Let the server finish the backlog an overloaded run left before the next run starts."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        started = time.monotonic()
        try:
            with urllib.request.urlopen(url, timeout=10):  # noqa: S310
                pass
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        if time.monotonic() - started < 0.2:
            return
        time.sleep(1)


def _read_stats(prefix: Path, seconds: int) -> dict:
    """The per-endpoint and aggregated rows of locust's _stats.csv."""
    rows = {}
    with open(f"{prefix}_stats.csv") as fh:
        for row in csv.DictReader(fh):
            name = row["Name"] if row["Name"] != "Aggregated" else "all"
            count = int(row["Request Count"])
            rows[name] = {
                "requests": count,
                "failures": int(row["Failure Count"]),
                "rps": round(count / seconds, 1),
                "p50_ms": float(row["50%"]) if count else None,
                "p95_ms": float(row["95%"]) if count else None,
                "p99_ms": float(row["99%"]) if count else None,
                "max_ms": float(row["Max Response Time"]) if count else None,
            }
    failures = []
    failures_csv = Path(f"{prefix}_failures.csv")
    if failures_csv.exists():
        with open(failures_csv) as fh:
            failures = [
                {"name": r["Name"], "error": r["Error"][:200], "count": int(r["Occurrences"])}
                for r in csv.DictReader(fh)
            ]
    return {"endpoints": rows, "failures": failures[:10]}


def _run_locust(
    procs: Processes,
    *,
    host: str,
    rate: float,
    seconds: int,
    data_file: Path,
    workdir: Path,
    label: str,
    meter: CpuMeter | None = None,
) -> dict:
    # About one task a second per user: a booking task is three POSTs, so a
    # user asked for more would wait on its own responses and offer less
    # than the rate (closed loop). Hundreds of users are cheap in gevent.
    users = max(10, int(rate))
    task_rate = rate / REQUESTS_PER_TASK / users
    prefix = workdir / label
    env = {
        **os.environ,
        "LOADTEST_DATA": str(data_file),
        "LOADTEST_TASK_RATE": f"{task_rate:.6f}",
    }
    argv = [
        str(BIN / "locust"),
        "-f",
        str(HERE / "locustfile.py"),
        "--headless",
        "--host",
        host,
        "--users",
        str(users),
        "--spawn-rate",
        str(max(users, 1)),
        "--run-time",
        f"{seconds}s",
        "--stop-timeout",
        "5",
        "--reset-stats",
        "--csv",
        str(prefix),
        "--only-summary",
        "--loglevel",
        "WARNING",
        "--exit-code-on-error",
        "0",
    ]
    cpu_before = meter.snapshot() if meter else None
    endpoints_before = meter.endpoints() if meter else {}
    locust_before = CpuMeter.children_seconds()
    proc = procs.start(argv, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        _out, err = proc.communicate(timeout=seconds + 60)
    except subprocess.TimeoutExpired:
        procs.stop(proc)
        raise RuntimeError(f"locust did not finish the {label} run in time") from None
    procs.stop(proc)
    locust_cpu = CpuMeter.children_seconds() - locust_before
    cpu = CpuMeter.spent(cpu_before, meter.snapshot() if meter else None)
    if meter:
        # The workers write their endpoint totals four times a second.
        time.sleep(0.6)
    endpoint_cpu = CpuMeter.endpoint_cpu_ms(endpoints_before, meter.endpoints()) if meter else {}
    _wait_drained(f"{host}/health/")
    if proc.returncode not in (0, 1):
        raise RuntimeError(f"locust failed ({proc.returncode}): {err.decode()[-2000:]}")
    stats = _read_stats(prefix, seconds)
    for name, row in stats["endpoints"].items():
        row["server_cpu_ms"] = endpoint_cpu.get(name)
    if requests_all := stats["endpoints"].get("all", {}).get("requests"):
        counted = {n: v for n, v in endpoint_cpu.items() if n in stats["endpoints"]}
        if counted:
            stats["endpoints"]["all"]["server_cpu_ms"] = round(
                sum(v * stats["endpoints"][n]["requests"] for n, v in counted.items())
                / requests_all,
                2,
            )
    agg = stats["endpoints"].get("all", {})
    requests = agg.get("requests", 0)
    writes = sum(e["requests"] for n, e in stats["endpoints"].items() if n.startswith("POST"))
    result = {
        "label": label,
        "offered_rps": round(rate, 1),
        "users": users,
        "seconds": seconds,
        # Counted over the run time: locust's own Requests/s column divides by
        # a window that also covers start-up and the stop timeout.
        "achieved_rps": round(requests / seconds, 1),
        "requests": requests,
        "errors": agg.get("failures", 0),
        "error_rate": round(agg.get("failures", 0) / requests, 4) if requests else None,
        "write_share": round(writes / requests, 3) if requests else None,
        "p50_ms": agg.get("p50_ms"),
        "p95_ms": agg.get("p95_ms"),
        "p99_ms": agg.get("p99_ms"),
        "max_ms": agg.get("max_ms"),
        # CPU milliseconds per request answered, over the whole locust run
        # (start-up and the stop timeout included), and cores used on average.
        "cpu_ms_per_request": _per_request({**(cpu or {}), "locust": locust_cpu}, requests),
        "cores_used": {
            part: round(value / seconds, 2)
            for part, value in {**(cpu or {}), "locust": locust_cpu}.items()
        },
        **stats,
    }
    return result


def _per_request(cpu: dict[str, float], requests: int) -> dict[str, float | None]:
    return {
        part: round(1000 * value / requests, 2) if requests else None for part, value in cpu.items()
    }


def _shortfall_allowed(result: dict) -> float:
    """The share of the offered rate a step may fall short by and still count as sustained.

    Guests arrive as a Poisson stream, so the requests a step asks for vary by
    about the square root of their number: at 62.5 req/s for 20 s, by 35 of
    1,250. Three times that is allowed where it is more than 5%, so that an
    idle server is not judged by the load generator's own randomness.
    """
    seconds = result["requests"] / result["achieved_rps"] if result["achieved_rps"] else 0
    expected = result["offered_rps"] * seconds
    chance = 3 / math.sqrt(expected) if expected else 0
    return max(1 - SUSTAINED_SHARE, chance)


def _sustained(result: dict, slo_ms: float) -> bool:
    return bool(
        result["requests"]
        and result["achieved_rps"] >= (1 - _shortfall_allowed(result)) * result["offered_rps"]
        and result["errors"] == 0
        and result["p95_ms"] is not None
        and result["p95_ms"] <= slo_ms
    )


def main(args) -> int:
    from . import __main__ as cli

    if shutil.which("locust", path=str(BIN)) is None:
        sys.exit(
            "locust is not installed in this virtualenv: run `make install` "
            "(it is in the dev extra) or `.venv/bin/pip install -e '.[dev]'`."
        )
    env = cli.configure_environment()
    cli.ensure_database(env["DATABASE_URL"])
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connections

    from . import report
    from .calibration import calibrate

    procs = Processes()
    previous = signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    # Also when started in the background, where a shell ignores SIGINT.
    previous_int = signal.signal(signal.SIGINT, signal.default_int_handler)
    results: dict = {"started_at": report.now_iso()}
    calibration = calibrate()
    with tempfile.TemporaryDirectory(prefix="hotel-loadtest-") as tmp:
        workdir = Path(tmp)
        try:
            data = _dataset_summary(args.scale)
            data_file = workdir / "data.json"
            data_file.write_text(json.dumps(data))
            connections.close_all()
            # The manifest storage of the production settings needs the
            # collected files (STATIC_ROOT, git-ignored) to render a page.
            server_env = dict(os.environ)
            call_command("collectstatic", "--noinput", verbosity=0)
            host = f"http://127.0.0.1:{args.port}"
            cpu_dir = workdir / "cpu"
            cpu_dir.mkdir()
            gunicorn = procs.start(
                gunicorn_argv("benchmarks.cpu_wsgi:application", args),
                cwd=ROOT,
                env={
                    **server_env,
                    "DB_POOL_MAX_SIZE": str(args.threads + 2),
                    "LOADTEST_CPU_DIR": str(cpu_dir),
                },
                stdout=subprocess.DEVNULL,
                stderr=open(workdir / "gunicorn.log", "w"),  # noqa: SIM115
            )
            _wait_healthy(f"{host}/health/", gunicorn)
            meter = CpuMeter(
                server_pgid=gunicorn.pid,
                database=connections["default"].settings_dict["NAME"],
                endpoint_dir=cpu_dir,
            )
            data["unavailable"] = _probe_reads(host, data)
            data_file.write_text(json.dumps(data))
            results["unavailable_pages"] = data["unavailable"]
            results["server"] = {
                "gunicorn_workers": args.workers,
                "keep_alive_s": 10,
                "threads": args.threads,
                "settings": os.environ["DJANGO_SETTINGS_MODULE"],
            }
            # The fixed run should not time process start-up and empty caches.
            print(f"Warm-up: {args.warmup_rate:g} req/s for {args.warmup}s", file=sys.stderr)
            if args.warmup > 0:
                warmup = _run_locust(
                    procs,
                    host=host,
                    rate=args.warmup_rate,
                    seconds=args.warmup,
                    data_file=data_file,
                    workdir=workdir,
                    label="warmup",
                    meter=meter,
                )
                _log(warmup)
                results["warmup"] = {
                    k: warmup[k] for k in ("offered_rps", "seconds", "achieved_rps", "errors")
                }
            print(f"Fixed run: {args.rate:g} req/s for {args.duration}s", file=sys.stderr)
            fixed = _run_locust(
                procs,
                host=host,
                rate=args.rate,
                seconds=args.duration,
                data_file=data_file,
                workdir=workdir,
                label="fixed",
                meter=meter,
            )
            _log(fixed)
            results["fixed"] = fixed
            steps = []
            rate = args.step_start
            best = None
            # Up by the factor while a step holds; if the first one already
            # fails, down by it instead until one holds (or MIN_RATE).
            direction = 0
            for i in range(args.max_steps):
                step = _run_locust(
                    procs,
                    host=host,
                    rate=rate,
                    seconds=args.step_duration,
                    data_file=data_file,
                    workdir=workdir,
                    label=f"step{i + 1}",
                    meter=meter,
                )
                step["sustained"] = _sustained(step, args.slo_ms)
                _log(step)
                steps.append(step)
                if step["sustained"]:
                    best = step
                    if direction < 0:
                        break
                    direction = 1
                    rate *= args.step_factor
                else:
                    if direction > 0 or rate / args.step_factor < MIN_RATE:
                        break
                    direction = -1
                    rate /= args.step_factor
            results["steps"] = steps
            results["highest_sustained"] = best
            results["highest_within_target"] = max(
                (step for step in steps if _sustained(step, args.target_p95_ms)),
                key=lambda step: step["achieved_rps"],
                default=None,
            )
            results["slo_ms"] = args.slo_ms
            results["target"] = {
                "rps": args.rate,
                "p95_ms": args.target_p95_ms,
                "met": bool(
                    fixed["achieved_rps"] >= SUSTAINED_SHARE * args.rate
                    and fixed["errors"] == 0
                    and fixed["p95_ms"] is not None
                    and fixed["p95_ms"] <= args.target_p95_ms
                ),
            }
            results["gunicorn_errors"] = _tail(workdir / "gunicorn.log")
            # Taken at the end, so that the load average says how busy the
            # machine was around the runs.
            results["machine"] = report.machine(calibration=calibration)
        except KeyboardInterrupt:
            print("Interrupted: stopping locust and gunicorn", file=sys.stderr)
            return 130
        finally:
            procs.stop_all()
            signal.signal(signal.SIGTERM, previous)
            signal.signal(signal.SIGINT, previous_int)
    results["finished_at"] = report.now_iso()
    if args.no_write:
        print(loadtest_markdown(results))
    else:
        paths = report.write(args.name, results, loadtest_markdown(results))
        print("Wrote " + ", ".join(str(p) for p in paths), file=sys.stderr)
    return 0


def _tail(path: Path, lines: int = 20) -> list[str]:
    try:
        return [line for line in path.read_text().splitlines() if line.strip()][-lines:]
    except OSError:
        return []


def _log(r: dict) -> None:
    cpu = r.get("cpu_ms_per_request") or {}
    print(
        f"  {r['label']:<7} offered {r['offered_rps']:>7} req/s, achieved {r['achieved_rps']}, "
        f"p50 {r['p50_ms']} p95 {r['p95_ms']} p99 {r['p99_ms']} ms, errors {r['errors']}"
        + (f", sustained {r['sustained']}" if "sustained" in r else "")
        + ("; CPU ms/request " + ", ".join(f"{k} {v}" for k, v in cpu.items()) if cpu else ""),
        file=sys.stderr,
        flush=True,
    )


def loadtest_markdown(data: dict) -> str:
    from .report import machine_line

    server = data.get("server", {})
    lines = [
        "# HTTP load test",
        "",
        f"Run {data['finished_at']} on {machine_line(data['machine'])}.",
        "",
        f"gunicorn ({server.get('gunicorn_workers')} workers x {server.get('threads')} threads, "
        f"{server.get('settings')}, the app wrapped by benchmarks/cpu_wsgi.py) on 127.0.0.1, "
        "PostgreSQL and Redis on the same machine; "
        "locust (headless, one process) on the same 2 cores. Mix by requests: 80% reads "
        "(home, search, hotel page for a stay, room type page) and 20% writes (hold + "
        "details + confirm, cancel) as anonymous guests with a session and CSRF. "
        "A sold-out stay (409) counts as a correct answer. 70% of the stays asked for are "
        "one of 20 popular ones (coming weekends, a few weeks), the rest any stay. "
        "Guests arrive as a Poisson stream (exponential gaps between each user's tasks).",
        "",
        *(
            [
                f"Warm-up before the runs: {w['seconds']} s at {w['offered_rps']:g} req/s "
                f"(achieved {w['achieved_rps']}, {w['errors']} errors).",
                "",
            ]
            if (w := data.get("warmup"))
            else []
        ),
        *(
            [
                "Left out of the mix because they answered 5xx before the run (not built yet): "
                + "; ".join(f"{k} ({v})" for k, v in data["unavailable_pages"].items())
                + ". Their share went to the hotel page.",
                "",
            ]
            if data.get("unavailable_pages")
            else []
        ),
        "| run | offered req/s | achieved req/s | p50 ms | p95 ms | p99 ms | requests | errors |",
        "|---|--:|--:|--:|--:|--:|--:|--:|",
    ]
    runs = [data["fixed"], *data.get("steps", [])] if "fixed" in data else []
    for r in runs:
        label = (
            "fixed"
            if r["label"] == "fixed"
            else f"{r['label']} ({'ok' if r.get('sustained') else 'not sustained'})"
        )
        lines.append(
            f"| {label} | {r['offered_rps']} | {r['achieved_rps']} | {r['p50_ms']} | "
            f"{r['p95_ms']} | {r['p99_ms']} | {r['requests']} | {r['errors']} |"
        )
    best = data.get("highest_sustained")
    target = data.get("target")
    lines += [
        "",
        *(
            [
                f"Target ({target['rps']:g} req/s, p95 under {target['p95_ms']:g} ms, no "
                f"errors): **{'met' if target['met'] else 'not met'}**. Writes were "
                f"{data['fixed'].get('write_share') or 0:.0%} of the requests at the fixed rate.",
                "",
            ]
            if target
            else []
        ),
        (
            f"Highest sustained rate: **{best['achieved_rps']} req/s** (p95 {best['p95_ms']} ms, "
            f"no errors; sustained = at least {SUSTAINED_SHARE:.0%} of the offered rate, less "
            "three times the arrivals' own spread where that is larger, no "
            f"errors, p95 ≤ {data['slo_ms']:g} ms)."
            if best
            else f"No step was sustained (≥ {SUSTAINED_SHARE:.0%} of the offered rate, no errors, "
            f"p95 ≤ {data.get('slo_ms', 0):g} ms)."
        ),
        "",
        *(
            [
                f"Highest rate sustained within the target's p95 ({target['p95_ms']:g} ms): "
                + (
                    f"**{within['achieved_rps']} req/s** (p95 {within['p95_ms']} ms)."
                    if (within := data.get("highest_within_target"))
                    else "none of the steps."
                ),
                "",
            ]
            if target
            else []
        ),
        *_cpu_table(runs),
    ]
    if "fixed" in data:
        lines += [
            "*app CPU ms* is the application's CPU per request of the endpoint, from the "
            "first middleware to the last (gunicorn's parsing and writing, PostgreSQL and "
            "Redis are not in it).",
            "",
        ]
        lines += _endpoint_table("Per endpoint at the fixed rate:", data["fixed"])
    if best:
        lines += _endpoint_table(
            f"Per endpoint at the highest sustained rate ({best['label']}):", best
        )
    within = data.get("highest_within_target")
    if within and within is not best and within.get("label") != (best or {}).get("label"):
        lines += _endpoint_table(
            f"Per endpoint at the highest rate within the target's p95 ({within['label']}):",
            within,
        )
    return "\n".join(lines)


def _cpu_table(runs: list[dict]) -> list[str]:
    """CPU milliseconds per request answered, by process, and the cores they kept busy."""
    if not any(r.get("cpu_ms_per_request") for r in runs):
        return []
    parts = ("server", "postgres", "redis", "locust")
    lines = [
        "CPU per request answered, in ms, and cores busy on average (2 in all); Redis is "
        "the whole server, PostgreSQL the backends of the benchmark database:",
        "",
        "| run | " + " | ".join(parts) + " | total | cores busy |",
        "|---|" + "--:|" * (len(parts) + 2),
    ]
    for r in runs:
        cpu = r.get("cpu_ms_per_request") or {}
        cores = r.get("cores_used") or {}
        known = [cpu[p] for p in parts if cpu.get(p) is not None]
        lines.append(
            f"| {r['label']} | "
            + " | ".join(f"{cpu[p]}" if cpu.get(p) is not None else "—" for p in parts)
            + f" | {round(sum(known), 2)} | {round(sum(cores.values()), 2)} |"
        )
    lines.append("")
    return lines


def _endpoint_table(title: str, run: dict) -> list[str]:
    lines = [
        title,
        "",
        "| endpoint | requests | req/s | p50 ms | p95 ms | p99 ms | errors | app CPU ms |",
        "|---|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for name, e in sorted(run["endpoints"].items()):
        if name == "all":
            continue
        cpu = e.get("server_cpu_ms")
        lines.append(
            f"| {name} | {e['requests']} | {e['rps']} | {e['p50_ms']} | {e['p95_ms']} | "
            f"{e['p99_ms']} | {e['failures']} | {'—' if cpu is None else cpu} |"
        )
    if (cpu := run["endpoints"].get("all", {}).get("server_cpu_ms")) is not None:
        lines.append(f"| all | {run['requests']} | | | | | | {cpu} |")
    if run["failures"]:
        lines += ["", "Errors:", ""]
        lines += [f"- {f['count']} x {f['name']}: {f['error']}" for f in run["failures"]]
    lines.append("")
    return lines
