"""A small-scale run of the benchmark, so that it cannot rot. Timings are never asserted."""

import gc
import json
import os
import re
import socket
import threading
import time
from types import SimpleNamespace
from urllib.parse import quote

import pytest
from django.db import connection
from django.utils import timezone

from benchmarks import report
from benchmarks.calibration import calibrate
from benchmarks.contention import consistency, run_contention
from benchmarks.dataset import Scale, build
from benchmarks.operations import NOT_YET_BUILT, OPERATIONS, run_operations
from bookings.models import Booking, BookingEvent, BookingNight
from inventory.models import RoomInventory

TINY = Scale(
    hotels=2,
    cities=1,
    room_types=3,
    nights=60,
    bookings=400,
    guests=40,
    history_days=40,
    future_days=50,
    past_nights=5,
)


@pytest.fixture(autouse=True)
def _collector_restored():
    # The operations run with a web process's collector (config.process); the
    # rest of the suite keeps Python's.
    threshold = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*threshold)


@pytest.fixture
def dataset():
    return build(scale=TINY, seed=7, today=timezone.now().date())


@pytest.mark.django_db(transaction=True)
def test_dataset_has_the_asked_size_and_sold_matches_the_bookings(dataset):
    assert dataset.rows["hotel"] == 2
    assert dataset.rows["room_type"] == 6
    assert dataset.rows["guest"] == 40
    assert Booking.objects.count() == dataset.rows["booking"] == 400
    assert RoomInventory.objects.count() == 6 * 60
    assert BookingNight.objects.count() == dataset.rows["booking_night"]
    assert RoomInventory.objects.filter(sold__gt=0).exists()
    check = consistency()
    assert check == {"oversold_nights": 0, "drift_nights": 0, "nights_checked": 360}


@pytest.mark.django_db(transaction=True)
def test_every_operation_runs_in_every_mode_with_bounded_queries(dataset, tmp_path):
    # taken before the operations run, as the bench command does
    calibration = calibrate()
    results = run_operations(
        iterations=3, seed=1, today=timezone.now().date(), log=lambda _message: None
    )
    by_key = {(r["operation"], r["mode"]): r for r in results}
    assert set(by_key) == {(op.name, mode) for op in OPERATIONS for mode in op.modes}
    for (name, mode), r in by_key.items():
        assert r["iterations"] + r["outcomes"].get("sold_out", 0) == 3, (name, mode)
        assert r["iterations"] >= 1, (name, mode)
        assert r["p50_ms"] <= r["p95_ms"] <= r["p99_ms"] <= r["max_ms"]
        if mode == "warm":
            # The search page matches the hotel names with one query before
            # it reads the city's cached results; every other warm read is
            # served from the cache alone.
            assert r["queries_max"] <= (1 if name == "search_city" else 0), (name, r)
            assert r["queries_max"] < by_key[(name, "cold")]["queries_max"]
        else:
            # A sanity bound, not the owners' pinned counts: far below any
            # count that would grow with the rows of the dataset.
            assert 1 <= r["queries_max"] <= 25, (name, mode, r["queries_max"])
    # Every booking the benchmark made was cancelled again: the dataset is as it was.
    assert consistency()["drift_nights"] == 0

    # and the results are written as JSON and as a Markdown table with the references
    data = {
        "finished_at": report.now_iso(),
        "iterations": 3,
        "machine": report.machine(calibration=calibration),
        "dataset": {
            "rows": dataset.rows,
            "inventory_start": dataset.inventory_start,
            "inventory_end": dataset.inventory_end,
            "seconds": dataset.seconds,
        },
        "operations": results,
        "not_measured": NOT_YET_BUILT,
    }
    json_path, md_path = report.write(
        "bench", data, report.bench_markdown(data), directory=tmp_path
    )
    assert len(json.loads(json_path.read_text())["operations"]) == len(results)
    markdown = md_path.read_text()
    assert "| Availability of all room types of a hotel, 7 nights | cold |" in markdown
    assert "| 80 ms |" in markdown
    # with how fast the machine was, so that runs on different machines compare
    assert calibration["cpu_calibration_ms"] > 0
    assert calibration["django_calibration_ms"] > 0
    assert data["machine"]["cpu_calibration_ms"] == calibration["cpu_calibration_ms"]
    assert data["machine"]["django_calibration_ms"] == calibration["django_calibration_ms"]
    assert f"CPU calibration {calibration['cpu_calibration_ms']} ms" in markdown
    assert f"Django calibration {calibration['django_calibration_ms']} ms" in markdown


@pytest.mark.django_db(transaction=True)
def test_contention_never_oversells(dataset):
    result = run_contention(
        clients=[4],
        holds_per_client=3,
        free_rooms=2,
        nights=2,
        today=timezone.now().date(),
        log=lambda _message: None,
    )
    by_scenario = {r["scenario"]: r for r in result["rounds"]}
    assert set(by_scenario) == {"open", "last rooms"}
    for round_ in result["rounds"]:
        assert round_["attempts"] == 12
        assert round_["errors"] == 0, round_["error_samples"]
        assert round_["oversold_nights"] == 0
        assert round_["drift_nights"] == 0
    # every hold of the open round had a room; the last two rooms changed hands
    assert by_scenario["open"]["held"] == 12
    assert 1 <= by_scenario["last rooms"]["held"] <= 12
    # and every room held, kept or not, was given back through the cancel service
    given_back = BookingEvent.objects.filter(
        to_status=Booking.Status.CANCELLED, reason__contains="Contention benchmark."
    ).count()
    assert given_back == by_scenario["open"]["held"] + by_scenario["last rooms"]["held"]


@pytest.mark.django_db(transaction=True)
def test_notification_delivery_sends_every_confirmation_once(dataset, tmp_path, settings):
    from benchmarks.__main__ import BENCH_ENV
    from benchmarks.delivery import run_delivery
    from notifications.models import Notification
    from tests.notifications.conftest import celery_broker

    db = connection.settings_dict
    # The worker is its own process, on the production settings, the suite's
    # test database and Redis database.
    worker_env = {
        **os.environ,
        **BENCH_ENV,
        "DATABASE_URL": (
            f"postgres://{quote(db['USER'])}:{quote(db['PASSWORD'] or '')}"
            f"@{db['HOST']}:{db['PORT']}/{db['NAME']}"
        ),
        "REDIS_URL": settings.CELERY_BROKER_URL,
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "CACHE_KEY_PREFIX": "delivery-test",
    }
    with celery_broker(settings.CELERY_BROKER_URL):
        result = run_delivery(
            emails=4,
            concurrency=1,
            today=timezone.now().date(),
            worker_env=worker_env,
            log_dir=tmp_path,
            start_timeout=30,
            drain_timeout=30,
            log=lambda _message: None,
        )

    by_scenario = {r["scenario"]: r for r in result["rounds"]}
    assert set(by_scenario) == {"backlog", "live"}
    for r in result["rounds"]:
        # every confirmation reached the SMTP server, once
        assert (r["confirmed"], r["queued"], r["sent"], r["received"]) == (4, 4, 4, 4), r
        assert (r["duplicates"], r["missing"], r["failed"]) == (0, 0, 0), r
    # the backlog times the worker's pace, the live scenario each guest's wait
    backlog, live = by_scenario["backlog"], by_scenario["live"]
    assert backlog["emails_per_s"] > 0 and backlog["worker_start_to_last_s"] > 0
    assert backlog["latency_p50_ms"] is None
    assert 0 < live["latency_p50_ms"] <= live["latency_p95_ms"] <= live["latency_max_ms"]
    assert live["emails_per_s"] is None
    # The SMTP server counted them: the worker process sent them (this
    # process's test settings keep mail in memory).
    mine = Notification.objects.filter(recipient__startswith="delivery-")
    confirmations = mine.filter(kind=Notification.Kind.BOOKING_CONFIRMED)
    assert confirmations.filter(status=Notification.Status.SENT).count() == 8
    # and the bookings were cancelled again, their cancellation emails
    # withdrawn rather than left for a sweeper: the dataset is as it was
    assert not Booking.objects.filter(
        guest_email__startswith="delivery-", status=Booking.Status.CONFIRMED
    ).exists()
    assert mine.filter(kind=Notification.Kind.BOOKING_CANCELLED).count() == 8
    assert not mine.filter(status=Notification.Status.PENDING).exists()
    assert consistency()["drift_nights"] == 0
    # and the results file of `python -m benchmarks delivery` shows both scenarios
    markdown = report.delivery_results_markdown(
        {
            "finished_at": report.now_iso(),
            "machine": report.machine(
                calibration={"cpu_calibration_ms": 3.5, "django_calibration_ms": 20.0}
            ),
            "delivery": result,
        }
    )
    assert markdown.startswith("# Notification delivery")
    assert "| backlog | 4 |" in markdown and "| live | 4 |" in markdown


@pytest.mark.django_db(transaction=True)
def test_notification_delivery_refuses_to_run_beside_another_worker(tmp_path, settings):
    from celery.contrib.testing.worker import start_worker

    from benchmarks.delivery import run_delivery
    from config.celery import app as celery_app
    from tests.notifications.conftest import celery_broker

    with (
        celery_broker(settings.CELERY_BROKER_URL),
        start_worker(celery_app, pool="solo", perform_ping_check=False),
    ):
        # the other worker is consuming (on a slow host it takes a moment)
        deadline = time.monotonic() + 30
        while not celery_app.control.ping(timeout=0.5) and time.monotonic() < deadline:
            pass
        with pytest.raises(RuntimeError, match=r"Another Celery worker \(.+\) consumes from"):
            run_delivery(
                emails=1,
                concurrency=1,
                today=timezone.now().date(),
                worker_env={},
                log_dir=tmp_path,
                log=lambda _message: None,
            )
    # it stopped before confirming anything
    assert not Booking.objects.filter(guest_email__startswith="delivery-").exists()


@pytest.mark.django_db(transaction=True)
def test_backups_are_verified_and_restored_whole_while_a_guest_books(dataset, tmp_path):
    from backups.models import BackupRecord
    from benchmarks.backups import failed, run_backups

    result = run_backups(
        rate=40,
        idle_seconds=0.5,
        today=timezone.now().date(),
        backup_dir=tmp_path,
        log=lambda _message: None,
    )

    assert failed(result) == []
    assert result["guest"]["attempts"] > 0 and result["guest"]["errors"] == 0
    backup = result["backup"]
    assert backup["status"] == BackupRecord.Status.VERIFIED
    assert backup["size_bytes"] > 0 and backup["rows"] > 400
    assert backup["seconds"] > 0 and backup["verify_seconds"] > 0
    # the guest booked through every phase, and no booking failed
    phases = {p["phase"]: p for p in result["phases"]}
    assert list(phases) == ["idle", "backup", "verify"]
    for phase in phases.values():
        assert phase["errors"] == 0, phase["error_samples"]
        assert phase["held"] > 0, phase
        assert phase["hold_p50_ms"] <= phase["hold_p95_ms"] <= phase["hold_max_ms"]
    # The restore replaced the database with the backup: the guest's bookings
    # made during the verification, after the backup's snapshot, are gone and
    # every table holds the backup's rows again.
    restore = result["restore"]
    assert restore["mismatched"] == {}
    assert 0 < restore["safety_backup_seconds"] < restore["seconds"]
    assert result["consistency"]["oversold_nights"] == 0
    assert result["consistency"]["drift_nights"] == 0
    # the run's backups are not left in the catalogue
    assert not BackupRecord.objects.exists()
    # and the results file of `python -m benchmarks backups` shows each step and phase
    markdown = report.backups_results_markdown(
        {
            "finished_at": report.now_iso(),
            "machine": report.machine(calibration={"cpu_calibration_ms": 3.5}),
            "backups": result,
        }
    )
    assert markdown.startswith("# Backups")
    for row in ("| backup |", "| verify |", "| restore in place |", "| idle |"):
        assert row in markdown


@pytest.mark.django_db(transaction=True)
def test_backups_report_a_restore_refused_beside_another_session_and_keep_the_figures(
    dataset, tmp_path
):
    import psycopg

    from backups.models import BackupRecord
    from benchmarks.backups import failed, run_backups

    db = connection.settings_dict
    logged = []
    # a psql shell, or a web process left running, on the same database
    with psycopg.connect(
        dbname=db["NAME"], user=db["USER"], host=db["HOST"], port=db["PORT"], autocommit=True
    ) as shell:
        shell_pid = shell.info.backend_pid
        result = run_backups(
            rate=20,
            idle_seconds=0.2,
            today=timezone.now().date(),
            backup_dir=tmp_path,
            settle_seconds=0.5,
            log=logged.append,
        )

    # the run waited for it to end, then the restore refused, naming it (the
    # guest's session, ending, may still be listed beside it)
    assert "  restore: waiting up to 0.5 s for the other sessions to end" in logged
    assert re.match(
        r"the restore was not done: Refusing to restore: [12] other session\(s\) connected",
        result["restore"]["error"],
    )
    assert re.search(rf"\bpid (\d+, )*{shell_pid}\b", result["restore"]["error"])
    assert failed(result) == [result["restore"]["error"]]
    # what was measured before the restore is kept
    assert result["backup"]["status"] == BackupRecord.Status.VERIFIED
    assert [p["phase"] for p in result["phases"]] == ["idle", "backup", "verify"]
    assert not BackupRecord.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_before_the_restore_the_run_waits_for_a_session_that_is_ending():
    import psycopg

    from benchmarks.backups import _wait_alone

    db = connection.settings_dict
    # given a session whose process stops a moment later, as the guest's does
    ending = psycopg.connect(
        dbname=db["NAME"], user=db["USER"], host=db["HOST"], port=db["PORT"], autocommit=True
    )
    threading.Timer(0.5, ending.close).start()
    logged = []

    # when
    _wait_alone(timeout=60, log=logged.append)

    # then it waited, and went on once the session had ended (at the limit it
    # would go on without saying it is alone)
    assert ending.closed
    assert logged == [
        "  restore: waiting up to 60 s for the other sessions to end",
        "  restore: alone on the database",
    ]


@pytest.mark.django_db(transaction=True)
def test_before_the_restore_the_sessions_of_this_process_pool_are_not_waited_for():
    from backups.engines import engine_for
    from benchmarks.backups import _wait_alone

    # given this process connected through a pool of two sessions, as the
    # benchmark is under the production settings
    options = connection.settings_dict["OPTIONS"]
    connection.close()
    options["pool"] = {"min_size": 2, "max_size": 4, "timeout": 10}
    try:
        connection.ensure_connection()
        connection.pool.wait(timeout=10)
        logged = []

        # when
        _wait_alone(timeout=5, log=logged.append)

        # then it closed the pool's sessions rather than waiting for them, and
        # the restore finds the database its own
        assert logged in (
            [],
            [
                "  restore: waiting up to 5 s for the other sessions to end",
                "  restore: alone on the database",
            ],
        )
        engine_for(alias=connection.alias).check_no_other_sessions()
    finally:
        connection.close()
        connection.close_pool()
        del options["pool"]


def test_before_the_restore_the_run_does_not_wait_for_a_database_it_cannot_reach(monkeypatch):
    from backups.engines import PostgresEngine
    from backups.exceptions import BackupUnavailable
    from benchmarks.backups import _wait_alone

    checks = []

    def unreachable(engine):
        checks.append(engine)
        raise BackupUnavailable("Cannot connect to PostgreSQL database 'x': refused")

    monkeypatch.setattr(PostgresEngine, "check_no_other_sessions", unreachable)
    logged = []

    _wait_alone(timeout=60, log=logged.append)

    # one look, no waiting: the restore that follows reports why
    assert len(checks) == 1
    assert logged == []


@pytest.mark.django_db(transaction=True)
def test_backups_command_stops_with_a_clear_message_when_the_guest_cannot_book(
    monkeypatch, tmp_path
):
    from argparse import Namespace

    from backups.models import BackupRecord
    from benchmarks import __main__ as cli
    from benchmarks import calibration

    monkeypatch.setattr(calibration, "calibrate", lambda: {"cpu_calibration_ms": 1.0})
    args = Namespace(
        force=True,
        today=None,
        write_rate=10.0,
        idle_seconds=0.0,
        no_restore=False,
        seed=1,
        name="backups",
        no_write=True,
    )

    # when there is no dataset to book in
    with pytest.raises(SystemExit) as stopped:
        cli.cmd_backups(args)

    assert str(stopped.value.code) == (
        "Backups failed: The guest process could not start: RuntimeError: No room type: "
        "build the dataset first (python -m benchmarks build)"
    )
    # and it stopped before taking any backup
    assert not BackupRecord.objects.exists()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("drop", [False, True], ids=["hang up", "drop packets"])
def test_an_outage_run_answers_503_while_the_database_is_gone_and_serves_again_once_back(
    dataset, drop, monkeypatch
):
    from benchmarks.outage import failed, run_outage
    from tests.servers import free_port, require_packet_drop

    if drop:
        require_packet_drop()
    # The server gives up on a silent connection after 1 s, within the 4 s down.
    monkeypatch.setenv("DB_NETWORK_TIMEOUT_SECONDS", "1")
    args = SimpleNamespace(
        scale=1.0,
        rate=30,
        up=1.5,
        down=4,
        back=3,
        clients=16,
        workers=1,
        threads=2,
        port=free_port(),
        seed=7,
        drop=drop,
    )

    result = run_outage(args, log=lambda _message: None)

    assert failed(result) == []
    phases = result["phases"]
    assert list(phases) == ["up", "down", "back, first 5 s", "back, after 5 s"]
    # (a request due just before the cut may be answered after it)
    assert phases["up"]["statuses"].get("200", 0) > 0
    # the pages the read cache did not hold, told at once that it will pass
    assert phases["down"]["statuses"].get("503", 0) > 0
    if drop:
        assert result["mode"] == "drop" and result["dropped_packets"] > 0
    else:
        assert result["mode"] == "hang up" and result["refused_connections"] > 0
    assert phases["back, first 5 s"]["statuses"].get("200", 0) > 0
    assert all(phase["unanswered"] == 0 for phase in phases.values())
    # the server's own settings are recorded: the test settings have no pool
    assert result["pool_timeout_seconds"] is None and result["pause_seconds"] == 2
    assert result["network_timeout_seconds"] == 1
    markdown = report.outage_results_markdown(
        {
            "finished_at": report.now_iso(),
            "machine": report.machine(calibration={"cpu_calibration_ms": 3.5}),
            "outage": result,
        }
    )
    assert markdown.startswith("# PostgreSQL outage under the read mix")
    for row in ("| up |", "| down |", "| back, first 5 s |"):
        assert row in markdown
    assert ("Packets dropped while down" in markdown) == drop


def test_an_outage_run_refuses_a_port_another_server_holds():
    from benchmarks.outage import run_outage

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        args = SimpleNamespace(port=taken.getsockname()[1])

        with pytest.raises(RuntimeError, match=r"Port \d+ on 127.0.0.1 is taken"):
            run_outage(args, log=lambda _message: None)


def test_an_outage_run_that_cannot_drop_packets_here_says_why(monkeypatch):
    from benchmarks import outage
    from tests.servers import free_port

    monkeypatch.setattr(outage, "drop_unavailable", lambda: "dropping packets takes root")
    args = SimpleNamespace(port=free_port(), drop=True)

    with pytest.raises(
        RuntimeError, match=r"^--drop cannot run here: dropping packets takes root\.$"
    ):
        outage.run_outage(args, log=lambda _message: None)


def test_an_instructions_run_with_more_rounds_than_new_stays_is_refused_before_it_starts():
    from benchmarks.__main__ import parser
    from benchmarks.instructions import NEW_STAYS, run_under_callgrind

    with pytest.raises(ValueError, match=f"At most {NEW_STAYS // 2} rounds"):
        run_under_callgrind(requests=NEW_STAYS // 2, warmup=1, seed=3)
    # and the command line allows no more
    most = parser().parse_args(["instructions", "--requests", "70", "--warmup", "10"])
    assert most.requests + most.warmup <= NEW_STAYS // 2


@pytest.mark.django_db(transaction=True)
def test_each_scenario_is_counted_alone_and_the_same_in_every_run(dataset):
    from benchmarks.instructions import failed, markdown, run_under_callgrind
    from tests.servers import require_callgrind

    require_callgrind()
    db = connection.settings_dict
    password = f":{quote(db['PASSWORD'], safe='')}" if db["PASSWORD"] else ""
    address = f"{quote(db['HOST'] or '127.0.0.1', safe='')}:{db['PORT'] or 5432}"
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}{password}@{address}/{db['NAME']}",
    }

    first = run_under_callgrind(requests=3, warmup=1, seed=3, env=env)
    second = run_under_callgrind(
        requests=3,
        warmup=1,
        seed=3,
        env=env,
        baseline={"machine": {"git_commit": "abc1234"}, "instructions": first},
    )

    assert failed(first) == []
    by_name = [{s["name"]: s for s in run["scenarios"]} for run in (first, second)]
    for name, s in by_name[0].items():
        assert s["count"] == 3, (name, s)
        # one request each, not the process: a page is millions, Django's start-up far more
        assert 1e6 < s["min"] <= s["median"] <= s["max"] < 2e8, (name, s)
    # what the read cache saves shows
    cold, cached = by_name[0]["GET search, cold"], by_name[0]["GET search, cached"]
    assert cold["min"] > cached["min"] * 1.1, (cold, cached)
    # and a stay nobody asked for before finds nothing kept, the whole page included
    new = by_name[0]["GET search, new stay"]
    assert new["min"] > cold["min"], (new, cold)
    new = by_name[0]["GET hotel page (stay), new stay"]
    assert new["min"] > by_name[0]["GET hotel page (stay), cached"]["max"] * 1.5, new
    # and a second run counts the same requests alike, the ones the garbage
    # collector ran in aside (the fewest), where times drift by 10 to 30%
    for name, s in by_name[0].items():
        again = by_name[1][name]
        assert abs(again["min"] - s["min"]) < 0.02 * s["min"], (name, s, again)
    table = markdown(
        {
            "finished_at": report.now_iso(),
            "machine": report.machine(calibration={"cpu_calibration_ms": 3.5}),
            "instructions": second,
        }
    )
    assert "| GET search, cold | 3 |" in table
    assert "median M at abc1234 | change |" in table
