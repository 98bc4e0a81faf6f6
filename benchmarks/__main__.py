"""python -m benchmarks {build,run,all,delivery,backups,outage,loadtest,calibration,instructions}.

Runs on its own database (hotel_bench) and Redis dbs (6 for the cache, 7 for
the broker) unless DATABASE_URL, REDIS_URL and CELERY_BROKER_URL say
otherwise, with the production settings, so the figures are those of the
deployed code path (no DEBUG, no query log).
"""

from __future__ import annotations

import argparse
import os
import sys
from datetime import date
from pathlib import Path
from urllib.parse import urlparse

BENCH_ENV = {
    "DJANGO_SETTINGS_MODULE": "config.settings.production",
    "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/hotel_bench",
    "REDIS_URL": "redis://127.0.0.1:6379/6",
    "CELERY_BROKER_URL": "redis://127.0.0.1:6379/7",
    "CACHE_KEY_PREFIX": "bench",
    "SECRET_KEY": "benchmark-only-secret-key-never-used-in-production",
    "ALLOWED_HOSTS": "127.0.0.1,localhost",
    "SECURE_SSL_REDIRECT": "false",
    "SESSION_COOKIE_SECURE": "false",
    "CSRF_COOKIE_SECURE": "false",
    "SECURE_HSTS_SECONDS": "0",
    # The contention run opens one connection per client process (up to 64).
    "DB_POOL_MAX_SIZE": "80",
    "DB_POOL_TIMEOUT": "30",
}


def configure_environment() -> dict:
    for key, value in BENCH_ENV.items():
        os.environ.setdefault(key, value)
    return {key: os.environ[key] for key in BENCH_ENV}


def ensure_database(url: str) -> None:
    """Create the benchmark database if it does not exist yet (PostgreSQL only)."""
    import psycopg
    from psycopg import sql

    parsed = urlparse(url)
    name = parsed.path.lstrip("/")
    admin = parsed._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True, connect_timeout=5) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            print(f"Created database {name}", file=sys.stderr)


def _setup(*, migrate: bool) -> None:
    env = configure_environment()
    if not env["DATABASE_URL"].startswith(("postgres://", "postgresql://")):
        sys.exit("The benchmark runs on PostgreSQL: set DATABASE_URL to a postgres:// URL.")
    ensure_database(env["DATABASE_URL"])
    import django

    django.setup()
    if migrate:
        from django.core.management import call_command

        call_command("migrate", "--noinput", verbosity=0)


def _guard_database(force: bool) -> None:
    from django.db import connection

    name = connection.settings_dict["NAME"]
    if "bench" not in name and not force:
        sys.exit(
            f"Refusing to replace the data of database {name!r}: the benchmark empties the "
            "hotel, booking and user tables. Use a database whose name contains 'bench', "
            "or pass --force."
        )


def _today(value: str | None) -> date:
    from django.utils import timezone

    return date.fromisoformat(value) if value else timezone.now().date()


def cmd_build(args) -> dict:
    from .dataset import Progress, Scale, build

    _guard_database(args.force)
    print(f"Building the dataset at scale {args.scale}", file=sys.stderr)
    report = build(
        scale=Scale.scaled(args.scale),
        seed=args.seed,
        today=_today(args.today),
        progress=Progress(enabled=not args.quiet),
    )
    from dataclasses import asdict

    return asdict(report)


def cmd_run(args, dataset: dict | None = None) -> dict:
    from django.core.cache import cache

    from . import report
    from .calibration import calibrate
    from .contention import consistency, run_contention
    from .operations import NOT_YET_BUILT, run_operations

    _guard_database(args.force)
    today = _today(args.today)
    calibration = calibrate()
    data: dict = {"started_at": report.now_iso(), "iterations": args.iterations}
    if dataset:
        data["dataset"] = dataset
    if not args.only or "guest_bookings" in args.only:
        # The bookings page is rendered with the production settings, whose
        # manifest storage needs the collected files (STATIC_ROOT, git-ignored).
        from django.core.management import call_command

        call_command("collectstatic", "--noinput", verbosity=0)
    print(f"Timing operations, {args.iterations} iterations per mode", file=sys.stderr)
    data["operations"] = run_operations(
        iterations=args.iterations, seed=args.seed, today=today, only=args.only
    )
    data["not_measured"] = NOT_YET_BUILT
    if args.clients:
        print(f"Contention: {args.clients} clients", file=sys.stderr)
        data["contention"] = run_contention(
            clients=args.clients,
            holds_per_client=args.holds_per_client,
            free_rooms=args.free_rooms,
            nights=3,
            today=today,
            log=lambda m: print(m, file=sys.stderr, flush=True),
        )
    if args.emails and (not args.only or "delivery" in args.only):
        try:
            data["delivery"] = _run_delivery(args, today)
        except Exception as exc:  # what was measured before is still written
            data["delivery"] = {"error": f"{type(exc).__name__}: {exc}"}
            print(f"Notification delivery failed: {exc}", file=sys.stderr)
    if not args.no_backups and (not args.only or "backups" in args.only):
        # Last: its restore puts the database back as it was at its backup.
        try:
            data["backups"] = _run_backups(args, today)
        except Exception as exc:  # what was measured before is still written
            data["backups"] = {"error": f"{type(exc).__name__}: {exc}"}
            print(f"Backups failed: {exc}", file=sys.stderr)
    data["consistency"] = consistency()
    data["machine"] = report.machine(calibration=calibration)
    data["finished_at"] = report.now_iso()
    if args.no_write:
        print(report.bench_markdown(data))
    else:
        paths = report.write(args.name, data, report.bench_markdown(data))
        print("Wrote " + ", ".join(str(p) for p in paths), file=sys.stderr)
    # The broker queue (Redis db 7) holds the notification tasks of the
    # bookings made above; nothing consumes it, so it is emptied.
    _flush_broker()
    cache.close()
    failed = data["consistency"]["oversold_nights"] or any(
        r["oversold_nights"] or r["drift_nights"] or r["errors"]
        for r in data.get("contention", {}).get("rounds", [])
    )
    if failed or _lost(data) or _backups_failed(data):
        print(
            "FAILED: oversold nights, drift, errors, emails lost or sent twice, or a backup "
            "not verified or not restored whole, see the results.",
            file=sys.stderr,
        )
        sys.exit(1)
    return data


def _alone(args, *, key: str, what: str, measure, render, errors, failed) -> dict:
    """One part of the benchmark alone, with its own results file named ``args.name``.

    ``errors`` are the exceptions that stop it with their message alone;
    ``failed(data)`` says whether what it measured is a failure.
    """
    from . import report
    from .calibration import calibrate

    _guard_database(args.force)
    calibration = calibrate()
    data: dict = {"started_at": report.now_iso()}
    try:
        data[key] = measure(args, _today(args.today))
    except errors as exc:
        sys.exit(f"{what} failed: {exc}")
    data["machine"] = report.machine(calibration=calibration)
    data["finished_at"] = report.now_iso()
    if args.no_write:
        print(render(data))
    else:
        paths = report.write(args.name, data, render(data))
        print("Wrote " + ", ".join(str(p) for p in paths), file=sys.stderr)
    if failed(data):
        sys.exit(1)
    return data


def cmd_delivery(args) -> dict:
    """The notification delivery scenarios alone."""
    from . import report

    def lost(data: dict) -> bool:
        if _lost(data):
            print("FAILED: emails lost or sent twice, see the results.", file=sys.stderr)
            return True
        return False

    return _alone(
        args,
        key="delivery",
        what="Notification delivery",
        measure=_run_delivery,
        render=report.delivery_results_markdown,
        errors=RuntimeError,
        failed=lost,
    )


def cmd_backups(args) -> dict:
    """The backup, verification and restore alone."""
    from backups.exceptions import BackupError

    from . import report

    return _alone(
        args,
        key="backups",
        what="Backups",
        measure=_run_backups,
        render=report.backups_results_markdown,
        errors=(RuntimeError, BackupError),
        failed=_backups_failed,
    )


def cmd_outage(args) -> dict:
    """PostgreSQL taken away under the guests' reads, then given back."""
    from . import report
    from .outage import failed, run_outage

    return _alone(
        args,
        key="outage",
        what="The outage run",
        measure=lambda args, today: run_outage(
            args, log=lambda m: print(m, file=sys.stderr, flush=True)
        ),
        render=report.outage_results_markdown,
        errors=RuntimeError,
        failed=lambda data: _problems_told(failed(data["outage"])),
    )


def cmd_instructions(args) -> dict:
    """The instructions each guest request costs, counted by callgrind."""
    from .instructions import (
        callgrind_unavailable,
        failed,
        markdown,
        read_baseline,
        run_under_callgrind,
    )

    if why := callgrind_unavailable():
        sys.exit(why)
    baseline = None
    if args.baseline:
        try:
            baseline = read_baseline(Path(args.baseline))
        except ValueError as exc:
            sys.exit(f"--baseline {args.baseline}: {exc}")

    def measure(args, today: date) -> dict:
        from django.core.management import call_command

        # The production settings' manifest storage needs the collected files.
        call_command("collectstatic", "--noinput", verbosity=0)
        print(
            f"Counting {args.requests} requests of each scenario under callgrind",
            file=sys.stderr,
        )
        return run_under_callgrind(
            requests=args.requests, warmup=args.warmup, seed=args.seed, baseline=baseline
        )

    return _alone(
        args,
        key="instructions",
        what="The instruction count",
        measure=measure,
        render=markdown,
        errors=RuntimeError,
        failed=lambda data: _problems_told(failed(data["instructions"])),
    )


def _problems_told(problems: list[str]) -> bool:
    """Print each problem a run found; whether there was any."""
    for problem in problems:
        print(f"FAILED: {problem}", file=sys.stderr)
    return bool(problems)


def _backups_failed(data: dict) -> bool:
    from .backups import failed

    return _problems_told(failed(data["backups"]) if "backups" in data else [])


def _run_backups(args, today: date) -> dict:
    import tempfile
    from pathlib import Path

    from .backups import run_backups

    print(
        f"Backups: backup, verify{'' if args.no_restore else ', restore'}, while a guest "
        f"holds and cancels {args.write_rate:g} stays a second",
        file=sys.stderr,
    )
    with tempfile.TemporaryDirectory(prefix="bench-backups-") as tmp:
        return run_backups(
            rate=args.write_rate,
            idle_seconds=args.idle_seconds,
            today=today,
            backup_dir=Path(tmp),
            restore=not args.no_restore,
            seed=args.seed,
            log=lambda m: print(m, file=sys.stderr, flush=True),
        )


def _lost(data: dict) -> bool:
    """Whether the delivery run failed, or any email was lost, failed or sent twice."""
    delivery = data.get("delivery", {})
    return "error" in delivery or any(
        r["duplicates"] or r["missing"] or r["failed"] or r["sent"] < r["confirmed"]
        for r in delivery.get("rounds", [])
    )


def _run_delivery(args, today: date) -> dict:
    import tempfile
    from pathlib import Path

    from .delivery import run_delivery

    print(
        f"Notification delivery: {args.emails} emails, a worker of {args.concurrency}",
        file=sys.stderr,
    )
    with tempfile.TemporaryDirectory(prefix="bench-delivery-") as tmp:
        return run_delivery(
            emails=args.emails,
            concurrency=args.concurrency,
            today=today,
            worker_env=dict(os.environ),
            log_dir=Path(tmp),
            rate=args.email_rate,
            seed=args.seed,
            log=lambda m: print(m, file=sys.stderr, flush=True),
        )


def _flush_broker() -> None:
    url = os.environ.get("CELERY_BROKER_URL", "")
    if not url.startswith("redis://"):
        return
    import redis

    redis.Redis.from_url(url).flushdb()


def cmd_report(args) -> None:
    """Render the Markdown again from the JSON of the last run (after a template change)."""
    import json

    from . import instructions, loadtest, report

    for name, render in (
        ("bench", report.bench_markdown),
        ("instructions", instructions.markdown),
        ("delivery", report.delivery_results_markdown),
        ("backups", report.backups_results_markdown),
        ("loadtest", loadtest.loadtest_markdown),
        ("outage-database", report.outage_results_markdown),
    ):
        path = report.RESULTS_DIR / f"{name}.json"
        if path.exists():
            (report.RESULTS_DIR / f"{name}.md").write_text(render(json.loads(path.read_text())))
            print(f"Rendered {name}.md from {path}", file=sys.stderr)


def cmd_calibration(args) -> dict:
    """How closely each calibration follows the guests' pages' CPU time as the machine drifts."""
    from django.core.management import call_command
    from django.test import Client

    from .calibration import compare

    browser = Client(HTTP_HOST="127.0.0.1", raise_request_exception=False)
    paths = args.path or _read_pages()
    # The production settings' manifest storage needs the collected files to render a page.
    call_command("collectstatic", "--noinput", verbosity=0)

    def page() -> None:
        for path in paths:
            response = browser.get(path)
            if response.status_code != 200:
                raise SystemExit(
                    f"{path} answered {response.status_code}: give pages that answer 200."
                )

    print(
        f"{args.rounds} rounds {args.pause:g} s apart; each takes both calibrations, then"
        f" {args.samples} samples of the page: {' + '.join(paths)}",
        file=sys.stderr,
    )
    result = compare(rounds=args.rounds, samples=args.samples, pause=args.pause, page=page)
    print(f"{'calibration':<22} {'median ms':>9}  {'correlation':>11}  {'page/it cv':>10}")
    for name, figures in result.items():
        if name != "page":
            correlation, spread = figures["correlation_with_page"], figures["page_ratio_cv"]
            print(f"{name:<22} {figures['median_ms']:>9.3f}  {correlation:>11.2f}  {spread:>10.3f}")
    print(f"{'page (CPU ms, median)':<22} {result['page']['median_ms']:>9.3f}")
    return result


def _read_pages() -> list[str]:
    """The home page, a hotel's page for a stay and its city's search, as the load test asks."""
    from datetime import timedelta

    from django.urls import reverse
    from django.utils import timezone

    from hotel.models import Hotel

    hotel = Hotel.objects.order_by("pk").first()
    if hotel is None:
        raise SystemExit(
            "The database has no hotels: build the dataset first (python -m benchmarks build)."
        )
    check_in = timezone.localdate() + timedelta(days=30)
    stay = f"check_in={check_in}&check_out={check_in + timedelta(days=2)}&adults=2&children=0"
    return [
        "/",
        f"{hotel.get_absolute_url()}?{stay}",
        f"{reverse('inventory:search')}?q={hotel.city}&{stay}",
    ]


def cmd_all(args) -> dict:
    dataset = None if args.skip_build else cmd_build(args)
    return cmd_run(args, dataset=dataset)


def _clients(value: str) -> list[int]:
    try:
        counts = [int(v) for v in value.split(",") if v.strip()]
    except ValueError as exc:
        raise argparse.ArgumentTypeError("Give client counts like 1,8,32,64.") from exc
    if any(n < 1 or n > 64 for n in counts):
        raise argparse.ArgumentTypeError("Client counts are between 1 and 64.")
    return counts


def _count(low: int, high: int):
    def parse(value: str) -> int:
        try:
            count = int(value)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(f"Give a whole number from {low} to {high}.") from exc
        if not low <= count <= high:
            raise argparse.ArgumentTypeError(f"Give a whole number from {low} to {high}.")
        return count

    return parse


def _number(low: float, high: float, message: str):
    """An argument parser for a number from ``low`` to ``high``; ``message`` if it is not one."""

    def parse(value: str) -> float:
        try:
            number = float(value)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(message) from exc
        if not low <= number <= high:
            raise argparse.ArgumentTypeError(message)
        return number

    return parse


_rate = _number(0.1, 1000, "Give a rate a second, from 0.1 to 1000.")
_seconds = _number(0, 600, "Give seconds from 0 to 600, like 6 or 0.5.")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)

    def common(sp):
        sp.add_argument("--seed", type=int, default=20260101)
        sp.add_argument("--today", help="ISO date the dataset and stays are relative to")
        sp.add_argument("--force", action="store_true", help="allow a database not named *bench*")

    def build_args(sp):
        sp.add_argument("--scale", type=float, default=1.0, help="1.0 = 50 hotels, 200k bookings")
        sp.add_argument("--quiet", action="store_true", help="no progress bars")

    def run_args(sp):
        sp.add_argument("--iterations", type=int, default=300)
        sp.add_argument(
            "--only",
            nargs="*",
            help="operation names to time, and 'delivery' or 'backups' to time them too",
        )
        sp.add_argument("--clients", type=_clients, default=[1, 8, 32, 64])
        sp.add_argument("--holds-per-client", type=int, default=10)
        sp.add_argument("--free-rooms", type=int, default=5)
        delivery_args(sp, least=0)
        backups_args(sp)
        sp.add_argument("--no-backups", action="store_true", help="leave the backups out")
        sp.add_argument("--name", default="bench", help="results file name (no extension)")
        sp.add_argument("--no-write", action="store_true", help="print only, write no results")

    def delivery_args(sp, *, least: int):
        sp.add_argument(
            "--emails",
            type=_count(least, 10_000),
            default=300,
            help="confirmations per notification delivery scenario"
            + (" (0: none)" if least == 0 else ""),
        )
        sp.add_argument(
            "--email-rate",
            type=_rate,
            default=10.0,
            help="confirmations a second while the worker runs (the live scenario)",
        )
        sp.add_argument(
            "--concurrency",
            type=_count(1, 16),
            default=2,
            help="processes of the Celery worker that delivers them",
        )

    def backups_args(sp):
        sp.add_argument(
            "--write-rate",
            type=_rate,
            default=10.0,
            help="stays a guest holds and cancels a second while the backup runs",
        )
        sp.add_argument(
            "--idle-seconds",
            type=_seconds,
            default=10.0,
            help="how long the guest books before the backup starts (the baseline)",
        )
        sp.add_argument(
            "--no-restore",
            action="store_true",
            help="back up and verify only, without replacing the database with the backup",
        )

    b = sub.add_parser("build", help="build the dataset")
    common(b)
    build_args(b)
    r = sub.add_parser("run", help="time the operations and the contention on the dataset")
    common(r)
    run_args(r)
    a = sub.add_parser("all", help="build, then run")
    common(a)
    build_args(a)
    run_args(a)
    a.add_argument("--skip-build", action="store_true")
    d = sub.add_parser("delivery", help="how fast a Celery worker sends the confirmations' emails")
    common(d)
    delivery_args(d, least=1)
    d.add_argument("--name", default="delivery", help="results file name (no extension)")
    d.add_argument("--no-write", action="store_true", help="print only, write no results")
    k = sub.add_parser(
        "backups", help="back up, verify and restore the dataset while a guest books"
    )
    common(k)
    backups_args(k)
    k.add_argument("--name", default="backups", help="results file name (no extension)")
    k.add_argument("--no-write", action="store_true", help="print only, write no results")
    sub.add_parser("report", help="render the Markdown results again from their JSON")
    c = sub.add_parser(
        "calibration", help="how closely each calibration follows a page's CPU time here"
    )
    c.add_argument("--rounds", type=_count(3, 1000), default=16)
    c.add_argument("--samples", type=_count(1, 1000), default=25, help="of each, per round")
    c.add_argument("--pause", type=_seconds, default=6.0, help="seconds between rounds")
    c.add_argument(
        "--path",
        action="append",
        help="a page sampled with them, repeatable (default: home, a hotel page, a search)",
    )
    o = sub.add_parser(
        "outage", help="PostgreSQL taken away under the guests' reads, then given back"
    )
    o.add_argument("--seed", type=int, default=20260101)
    o.add_argument("--force", action="store_true", help="allow a database not named *bench*")
    o.set_defaults(today=None)
    phase = _number(1, 600, "Give seconds from 1 to 600, like 20 or 2.5.")
    o.add_argument("--rate", type=_rate, default=50.0, help="requests a second, offered")
    o.add_argument("--up", type=phase, default=10.0, help="seconds before the database goes")
    o.add_argument("--down", type=phase, default=20.0, help="seconds without the database")
    o.add_argument("--back", type=phase, default=20.0, help="seconds after it is back")
    o.add_argument(
        "--drop",
        action="store_true",
        help="drop every packet while down instead of hanging up (root, nftables)",
    )
    o.add_argument("--clients", type=_count(1, 256), default=64, help="connections guests share")
    o.add_argument("--workers", type=_count(1, 16), default=3, help="gunicorn processes")
    o.add_argument("--threads", type=_count(1, 16), default=2, help="gunicorn threads each")
    o.add_argument("--port", type=_count(1024, 65535), default=8767)
    o.add_argument("--scale", type=float, default=1.0, help="dataset scale if none is built yet")
    o.add_argument("--name", default="outage-database", help="results file name (no extension)")
    o.add_argument("--no-write", action="store_true", help="print only, write no results")
    n = sub.add_parser("instructions", help="the instructions each guest request costs (callgrind)")
    n.add_argument("--seed", type=int, default=20260101)
    n.add_argument("--force", action="store_true", help="allow a database not named *bench*")
    n.set_defaults(today=None)
    n.add_argument("--requests", type=_count(1, 70), default=20, help="counted, of each scenario")
    n.add_argument("--warmup", type=_count(0, 10), default=3, help="uncounted, before them")
    n.add_argument("--baseline", help="an earlier run's JSON, to show each median beside its own")
    n.add_argument("--name", default="instructions", help="results file name (no extension)")
    n.add_argument("--no-write", action="store_true", help="print only, write no results")
    lt = sub.add_parser("loadtest", help="HTTP load with gunicorn and locust")
    from .loadtest import add_arguments

    add_arguments(lt)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.command == "report":
        cmd_report(args)
        return 0
    if args.command == "loadtest":
        from .loadtest import main as loadtest_main

        configure_environment()
        return loadtest_main(args)
    _setup(migrate=True)
    commands = {
        "build": cmd_build,
        "run": cmd_run,
        "all": cmd_all,
        "calibration": cmd_calibration,
        "delivery": cmd_delivery,
        "backups": cmd_backups,
        "outage": cmd_outage,
        "instructions": cmd_instructions,
    }
    commands[args.command](args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
