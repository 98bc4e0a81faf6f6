"""Write the results as JSON and Markdown under benchmarks/results/, with the machine."""

from __future__ import annotations

import json
import os
import platform
import subprocess
from datetime import UTC, datetime
from pathlib import Path

from .calibration import CPU_CALIBRATION_RUNS, DJANGO_CALIBRATION_RUNS, calibrate

RESULTS_DIR = Path(__file__).resolve().parent / "results"


def machine(*, calibration: dict[str, float] | None = None) -> dict:
    """The machine, the database server and the versions the figures were taken on.

    ``calibration`` is ``calibration.calibrate()`` taken before the run
    started: taken at its end it would also measure the run's own stragglers.
    """
    import django
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        pg = cursor.fetchone()[0]
    memory_gb = None
    try:
        with open("/proc/meminfo") as fh:
            kb = int(fh.readline().split()[1])
        memory_gb = round(kb / 1024 / 1024, 1)
    except (OSError, ValueError, IndexError):
        pass
    cpu = platform.processor() or ""
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {
        "cpus": os.cpu_count(),
        "cpu_model": cpu,
        "memory_gb": memory_gb,
        "os": platform.platform(),
        "python": platform.python_version(),
        "django": django.get_version(),
        "postgresql": pg,
        "git_commit": _git_commit(),
        # The machine is shared: a load average well above the CPU count
        # means other work competed with the run for the cores.
        "load_average_1m": round(os.getloadavg()[0], 2),
        **(calibration if calibration is not None else calibrate()),
    }


def _git_commit() -> str:
    try:
        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],  # noqa: S607
            capture_output=True,
            text=True,
            check=True,
            cwd=Path(__file__).resolve().parent,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return ""


def now_iso() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat()


def write(name: str, data: dict, markdown: str, *, directory: Path | None = None) -> list[Path]:
    directory = directory or RESULTS_DIR
    directory.mkdir(parents=True, exist_ok=True)
    json_path = directory / f"{name}.json"
    md_path = directory / f"{name}.md"
    json_path.write_text(json.dumps(data, indent=2, default=str) + "\n")
    md_path.write_text(markdown)
    return [json_path, md_path]


def _ms(value) -> str:
    if value is None:
        return "—"
    return f"{value:.2f}" if value < 100 else f"{value:.0f}"


def _ratio(reference, measured) -> str:
    if not reference or not measured:
        return "—"
    return (
        f"{reference / measured:,.0f}x"
        if reference / measured >= 10
        else f"{reference / measured:.1f}x"
    )


def machine_line(m: dict) -> str:
    return (
        f"{m['cpus']} CPUs ({m['cpu_model']}), {m['memory_gb']} GB RAM, "
        f"PostgreSQL {m['postgresql']}, Python {m['python']}, Django {m['django']}"
        + (f", commit {m['git_commit']}" if m.get("git_commit") else "")
        + (
            f"; load average {m['load_average_1m']} when the run ended"
            if m.get("load_average_1m") is not None
            else ""
        )
        + (
            f"; CPU calibration {m['cpu_calibration_ms']} ms (a fixed pure-Python workload,"
            f" best of {CPU_CALIBRATION_RUNS} before the run: lower is a faster machine)"
            if m.get("cpu_calibration_ms") is not None
            else ""
        )
        + (
            f"; Django calibration {m['django_calibration_ms']} ms (Django's template engine"
            f" and forms on a fixed workload, median CPU time of {DJANGO_CALIBRATION_RUNS}"
            " before the run; it follows the application's speed better)"
            if m.get("django_calibration_ms") is not None
            else ""
        )
    )


ROW_LABELS = {
    "hotel": "hotels",
    "room_type": "room types",
    "room": "rooms",
    "amenity": "amenities",
    "guest": "guests",
    "room_inventory": "inventory nights",
    "booking": "bookings",
    "booking_night": "booking nights",
    "booking_event": "booking events",
}


def bench_markdown(data: dict) -> str:
    lines = [
        "# Benchmark",
        "",
        f"Run {data['finished_at']} on {machine_line(data['machine'])}.",
        "",
    ]
    ds = data.get("dataset")
    if ds:
        rows = ds["rows"]
        lines += [
            "Dataset: "
            + ", ".join(f"{n:,} {ROW_LABELS.get(name, name)}" for name, n in rows.items())
            + f"; inventory {ds['inventory_start']} to {ds['inventory_end']}; "
            f"built in {ds['seconds']:.0f} s.",
            "",
        ]
    lines += [
        f"Each operation ran {data['iterations']} times per cache mode, single client, "
        "through the real selectors and services. Times in milliseconds. *cold*: the "
        "operation's cache namespace invalidated before each call; *warm*: repeated "
        "reads of a pool of 20 inputs; *db*: no cache on this path.",
        "",
        "| operation | cache | p50 | p95 | p99 | ops/s | queries/op | reference | "
        "x faster (p50) | x faster (p95) |",
        "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for r in data["operations"]:
        ref = r.get("reference_ms")
        lines.append(
            f"| {r['label']} | {r['mode']} | {_ms(r['p50_ms'])} | {_ms(r['p95_ms'])} | "
            f"{_ms(r['p99_ms'])} | {r['ops_per_s'] or '—'} | {r['queries_per_op']} | "
            f"{f'{ref:g} ms' if ref else '—'} | {_ratio(ref, r['p50_ms'])} | "
            f"{_ratio(ref, r['p95_ms'])} |"
        )
    for r in data.get("not_measured", []):
        lines.append(
            f"| {r['label']} | — | — | — | — | — | — | {r['reference_ms']:g} ms | {r['status']} | |"
        )
    lines += [
        "",
        "References are the figures of the documents this project grew from: "
        "room types 15 ms, availability for 7 days 80 ms, user bookings 45 ms, "
        "create booking 1.2 s, report 3 s.",
        "",
    ]
    contention = data.get("contention")
    if contention:
        lines += contention_markdown(contention)
    delivery = data.get("delivery")
    if delivery:
        lines += delivery_markdown(delivery)
    backups = data.get("backups")
    if backups:
        lines += backups_markdown(backups)
    check = data.get("consistency")
    if check:
        lines += [
            f"Whole-dataset check after the run: {check['nights_checked']:,} nights, "
            f"{check['oversold_nights']} oversold, {check['drift_nights']} whose `sold` "
            "differs from the live bookings.",
            "",
        ]
    return "\n".join(lines)


def contention_markdown(c: dict) -> list[str]:
    clients_are = c.get("clients_are", "threads")
    lines = [
        "## Contention",
        "",
        f"N clients ({clients_are}, one database connection each) hold one room of "
        f"{c['room_type']} for {c['check_in']} to {c['check_out']}, "
        f"{c['holds_per_client']} times each. *open*: there is a room for every hold, and "
        "each client keeps what it holds (given back after the clock stops), so every hold "
        f"queues on the same locked nights. *last rooms*: {c['free_rooms']} rooms are free "
        "and each client cancels its hold at once, so most attempts find the nights full. "
        "Oversold nights are counted by SQL against the live bookings after each round.",
        "",
        "| scenario | clients | attempts | held | sold out | busy | deadlock retries | "
        "holds/s | p50 ms | p95 ms | p99 ms | errors | oversold nights |",
        "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for r in c["rounds"]:
        lines.append(
            f"| {r.get('scenario', 'last rooms')} | {r['clients']} | {r['attempts']} | "
            f"{r['held']} | {r['sold_out']} | {r['busy']} | "
            f"{r['deadlock_retries']} | {r['holds_per_s']} | {_ms(r['hold_p50_ms'])} | "
            f"{_ms(r['hold_p95_ms'])} | {_ms(r['hold_p99_ms'])} | {r['errors']} | "
            f"{r['oversold_nights']} |"
        )
    lines.append("")
    return lines


def _results_file(title: str, data: dict, body: list[str]) -> str:
    """The results file of a part run alone: its title, the machine, its body."""
    lines = [f"# {title}", "", f"Run {data['finished_at']} on {machine_line(data['machine'])}."]
    return "\n".join([*lines, "", *body])


def delivery_results_markdown(data: dict) -> str:
    """The results file of ``python -m benchmarks delivery``."""
    return _results_file("Notification delivery", data, _delivery_body(data["delivery"]))


def delivery_markdown(d: dict) -> list[str]:
    """The delivery section of the benchmark's results."""
    return ["## Notification delivery", "", *_delivery_body(d)]


def _delivery_body(d: dict) -> list[str]:
    if "error" in d:
        return [f"Not measured: {d['error']}", ""]
    lines = [
        f"{d['emails']} bookings held and confirmed by one client through the services, each "
        "writing its confirmation to the outbox and queueing its task after the commit; a "
        f"Celery worker (prefork, {d['concurrency']} processes) on the Redis broker sends them "
        "to an SMTP server on 127.0.0.1, which counts each message by its notification id. "
        "*backlog*: confirmed with no worker running, then one starts; *emails/s* from the "
        "first email sent to the last, *start to last* from the worker's process starting to "
        "the last email sent. *live*: the worker runs while the client confirms "
        f"{d.get('rate', 10):g} bookings a second; *latency* from the outbox row's insert in "
        "the confirming transaction to just after the SMTP server accepted the message.",
        "",
        "| scenario | confirmed | confirmations/s | sent | emails/s | start to last s | "
        "latency p50 ms | p95 ms | p99 ms | max ms | duplicates | missing | failed |",
        "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for r in d["rounds"]:
        lines.append(
            f"| {r['scenario']} | {r['confirmed']} | {r['confirmations_per_s'] or '—'} | "
            f"{r['sent']} | {r['emails_per_s'] or '—'} | {r['worker_start_to_last_s'] or '—'} | "
            f"{_ms(r['latency_p50_ms'])} | {_ms(r['latency_p95_ms'])} | "
            f"{_ms(r['latency_p99_ms'])} | {_ms(r['latency_max_ms'])} | "
            f"{r['duplicates']} | {r['missing']} | {r['failed']} |"
        )
    lines.append("")
    return lines


def backups_results_markdown(data: dict) -> str:
    """The results file of ``python -m benchmarks backups``."""
    return _results_file("Backups", data, _backups_body(data["backups"]))


def backups_markdown(b: dict) -> list[str]:
    """The backups section of the benchmark's results."""
    return ["## Backups", "", *_backups_body(b)]


def _backups_body(b: dict) -> list[str]:
    if "error" in b:
        return [f"Not measured: {b['error']}", ""]
    backup = b["backup"]
    restore = b.get("restore")
    lines = [
        f"The services behind `manage.py backup`, `verify_backup` and `restore_backup` on the "
        f"benchmark's database ({b['database_bytes'] / 1e6:,.0f} MB on disk): "
        f"{backup['rows']:,} rows in {backup['tables']} tables.",
        "",
        "| step | seconds | what it did |",
        "|---|--:|---|",
        f"| backup | {backup['seconds']} | pg_dump of one snapshot, the row counts, the SHA-256 "
        f"and the manifest: a {backup['size_bytes'] / 1e6:,.1f} MB archive |",
        f"| verify | {backup['verify_seconds']} | the archive restored into a scratch database "
        f"and its rows counted: {backup['status']} |",
    ]
    if restore and "error" in restore:
        lines.append(f"| restore in place | — | {restore['error']} |")
    elif restore:
        differ = ", ".join(restore["mismatched"]) or "none"
        lines.append(
            f"| restore in place | {restore['seconds']} | a safety backup first "
            f"({restore['safety_backup_seconds']} s), then the schema dropped and the archive "
            "restored in one transaction; then every table's rows counted by SQL (the catalogue "
            f"of backups aside, which a restore keeps as it was): tables that differ from the "
            f"backup: {differ} |"
        )
    lines += [
        "",
        f"Meanwhile a guest (a process with its own connection) held a stay and cancelled it "
        f"{b['rate']:g} times a second through the booking services; *idle* is before the "
        "backup started. The restore needs the database alone, so the guest stopped before it.",
        "",
        "| phase | seconds | holds | hold p50 ms | p95 ms | max ms | cancel p50 ms | p95 ms | "
        "sold out | errors |",
        "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for p in b["phases"]:
        lines.append(
            f"| {p['phase']} | {p['seconds']} | {p['held']} | {_ms(p['hold_p50_ms'])} | "
            f"{_ms(p['hold_p95_ms'])} | {_ms(p['hold_max_ms'])} | {_ms(p['cancel_p50_ms'])} | "
            f"{_ms(p['cancel_p95_ms'])} | {p['sold_out']} | {p['errors']} |"
        )
    lines.append("")
    return lines


def outage_results_markdown(data: dict) -> str:
    """The results file of ``python -m benchmarks outage``."""
    return _results_file("PostgreSQL outage under the read mix", data, _outage_body(data["outage"]))


def _outage_body(o: dict) -> list[str]:
    lines = [
        f"gunicorn ({o['workers']} processes x {o['threads']} threads, production settings) "
        "reaches PostgreSQL through a TCP switch on 127.0.0.1. Guests arrive as a Poisson "
        f"stream at {o['rate']:g} requests a second for the load test's read mix (home, "
        "search, a hotel's page for a stay, a room type's page), each timed from when it was "
        "due. *down*: "
        + (
            "the kernel drops every packet to and from the switch (nftables), as when the "
            "server's host or the network to it fails: nothing is refused, connections stay "
            "open and new ones are never answered. A connection counts as lost after "
            f"{o['network_timeout_seconds']:g} s without an answer (`DB_NETWORK_TIMEOUT_SECONDS`). "
            if o.get("mode") == "drop"
            else "the switch hangs up every connection and each new one, as a server that "
            "is restarting or gone does. "
        )
        + "A process stops asking for a connection for "
        f"{o['pause_seconds']:g} s after one fails (`DB_UNREACHABLE_PAUSE_SECONDS`); "
        + (
            f"the pool waits {o['pool_timeout_seconds']:g} s for one (`DB_POOL_TIMEOUT`)."
            if o.get("pool_timeout_seconds") is not None
            else "it connects without a pool."
        ),
        "",
        "| phase | seconds | requests | served/s | answers | unanswered | p50 ms | p95 ms | "
        "p99 ms | max ms |",
        "|---|--:|--:|--:|---|--:|--:|--:|--:|--:|",
    ]
    for name, p in o["phases"].items():
        answers = ", ".join(f"{status}: {count}" for status, count in p["statuses"].items())
        lines.append(
            f"| {name} | {p['seconds']:g} | {p['requests']} | {p['served_rps']:g} | "
            f"{answers or '—'} | {p['unanswered']} | {_ms(p['p50_ms'])} | {_ms(p['p95_ms'])} | "
            f"{_ms(p['p99_ms'])} | {_ms(p['max_ms'])} |"
        )
    last = o["last_failure_after_back_s"]
    lines += [
        "",
        (
            f"Packets dropped while down: {o['dropped_packets']}. "
            if o.get("mode") == "drop"
            else f"Connections the switch hung up on while down: {o['refused_connections']}. "
        )
        + (
            f"The last request not served was due {last:g} s after the database came back."
            if last is not None
            else "Every request due after the database came back was served."
        ),
        "",
    ]
    return lines
