"""Instructions each guest request costs the web process, counted by callgrind.

A time measured on a shared machine drifts by 10 to 30% within an hour, so
two commits' timings compare only in runs interleaved on one host (see the
README). An instruction count does not drift: callgrind (valgrind) counts
the instructions the process runs, whatever else the machine is doing, and
the same requests at the same commit count the same from one run to the next.

``python -m benchmarks instructions`` starts a Django process under
callgrind (``run_under_callgrind``) with the instrumentation off while it
starts and warms up. It then sends each scenario's requests through
Django's test client, with the settings and middleware it is given and the
CSRF check on, each inside ``contextvars.copy_context().run``: callgrind
counts only within that C function (``--toggle-collect=context_run``) and
writes one dump after each (``--dump-after``), so each figure is one request
and nothing else. The copy keeps the context's cache handles, as a web
process's thread keeps them from one request to the next (an empty context
made each request open its cache client again).

Three things would make the path through the code differ from run to run,
and all are fixed. PYTHONHASHSEED, so the order of sets and dicts. The
clock the read cache goes by (``caching.local.clock``: how often the
namespace versions are checked, when the in-process copies expire): under
callgrind a request takes 20 to 50 times as long as it does, so it moves
on by STEP_SECONDS a request instead, as if the process served 50 requests
a second. And what Redis holds: the counted process keeps its cache under
a key prefix of its own and empties it as it starts, so that the stays
each round asks for the first time (the new-stay scenarios, a third of the
load test's searches and hotel pages) are new to the shared tier too.

Counted: the application from the first middleware to the response, the
database and Redis clients (psycopg, redis-py) included; waiting counts
nothing. Not counted: gunicorn's parsing and writing, and the work of
PostgreSQL and Redis themselves. Instructions are not time (a cache miss or a
mispredicted branch costs more than an addition), but for the same machine
code they move together, which is what comparing two commits needs.

The inner process is ``python -m benchmarks.instructions --plan FILE``: it
writes the scenario of each counted request, in order, to FILE.
"""

from __future__ import annotations

import argparse
import contextvars
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent

# Scenario names, in the order they run, with what each request is.
SCENARIOS = {
    "GET home": "the home page",
    "GET search, cached": "a city's search for a stay, the results cached",
    "GET search, cold": "the same, its city's namespace invalidated first",
    "GET search, new stay": "the same city for a stay this process was not asked for before",
    "GET hotel page (stay), cached": "a hotel's page for a stay, the availability cached",
    "GET hotel page (stay), cold": "the same, the stay's weeks of its offers invalidated first",
    "GET hotel page (stay), new stay": "the same hotel for a stay not asked for before",
    "GET room type page, cached": "a room type's page with its 60-day calendar, cached",
    "GET room type page, cold": "the same, its calendar's weeks invalidated first (a sale)",
    "POST hold": "hold a room type for 2 nights (a 302 to the details step)",
    "POST details": "the guest's name and email",
    "POST confirm": "accept the policy and confirm",
    "POST cancel": "cancel the confirmed booking",
}
# A hold refused because a night is full is not counted; it is tried again with another stay.
DISCARDED = "(discarded)"
# How far the read cache's clock moves on for each request.
STEP_SECONDS = 0.02
# Stays the new-stay scenarios can ask for, each once (_Guest._new_stay): two a
# round, on 40 days of arrival for 1 to 4 nights, never the same dates twice
# (the nights' figures are cached by dates, whatever the party).
NEW_STAY_DAYS = 40
NEW_STAYS = NEW_STAY_DAYS * 4
# The last night a new stay or the holds may ask for, days ahead.
NIGHTS_FOR_SALE = 8 + NEW_STAY_DAYS + 4
# Callgrind runs the counted requests 20 to 50 times slower than they run.
SECONDS_PER_COUNTED_REQUEST = 3.0


def callgrind_unavailable() -> str | None:
    """Why callgrind cannot count here, or None."""
    for tool in ("valgrind", "callgrind_control"):
        if shutil.which(tool) is None:
            return f"{tool} was not found: install valgrind (apt-get install valgrind)."
    return None


def run_under_callgrind(
    *, requests: int, warmup: int, seed: int, env: dict | None = None, baseline: dict | None = None
) -> dict:
    """Count each scenario's requests in a process of their own; return the figures.

    ``baseline``, an earlier run's results (its JSON), is kept with them to be
    shown beside them.
    """
    if 2 * (requests + warmup) > NEW_STAYS:
        raise ValueError(f"At most {NEW_STAYS // 2} rounds: each asks for two new stays.")
    unavailable = callgrind_unavailable()
    if unavailable:
        raise RuntimeError(unavailable)
    with tempfile.TemporaryDirectory(prefix="bench-callgrind-") as tmp:
        plan_path = Path(tmp) / "plan.json"
        out = Path(tmp) / "callgrind.out"
        argv = [
            "valgrind",
            "--tool=callgrind",
            "--instr-atstart=no",
            "--collect-atstart=no",
            "--toggle-collect=context_run",
            "--dump-after=context_run",
            "--dump-line=no",
            f"--callgrind-out-file={out}",
            sys.executable,
            "-m",
            "benchmarks.instructions",
            f"--requests={requests}",
            f"--warmup={warmup}",
            f"--seed={seed}",
            f"--plan={plan_path}",
        ]
        # A cache of the counted process's own, emptied as it starts (_inner):
        # each run starts from the same state, whatever earlier runs stored.
        child_env = {
            **(env if env is not None else os.environ),
            "PYTHONHASHSEED": "0",
            "CACHE_KEY_PREFIX": "instructions",
        }
        limit = 120 + SECONDS_PER_COUNTED_REQUEST * len(SCENARIOS) * requests
        try:
            done = subprocess.run(  # noqa: S603 - our own argv
                argv,
                cwd=ROOT,
                env=child_env,
                capture_output=True,
                text=True,
                check=False,
                timeout=limit,
            )
        except subprocess.TimeoutExpired as exc:
            raise RuntimeError(f"the counted process did not end within {limit:g} s") from exc
        if done.returncode != 0 or not plan_path.exists():
            tail = "\n".join(done.stderr.strip().splitlines()[-15:])
            raise RuntimeError(f"the counted process failed (exit {done.returncode}):\n{tail}")
        plan = json.loads(plan_path.read_text())
        counts = _dumped_totals(out)
        valgrind = subprocess.run(
            ["valgrind", "--version"],  # noqa: S607
            capture_output=True,
            text=True,
            check=False,
        ).stdout.strip()
    if len(counts) != len(plan["requests"]):
        raise RuntimeError(
            f"callgrind wrote {len(counts)} dumps for {len(plan['requests'])} requests: "
            "something else ran in a contextvars context, or this Python has no symbols "
            "for context_run"
        )
    per_scenario: dict[str, list[int]] = {name: [] for name in SCENARIOS}
    for name, count in zip(plan["requests"], counts, strict=True):
        if name != DISCARDED:
            per_scenario[name].append(count)
    return {
        "requests": requests,
        "warmup": warmup,
        "seed": seed,
        "valgrind": valgrind,
        "settings": plan["settings"],
        "scenarios": [
            {"name": name, "what": SCENARIOS[name], **_figures(values)}
            for name, values in per_scenario.items()
        ],
        "baseline": _baseline_medians(baseline) if baseline is not None else None,
    }


def _baseline_medians(data: dict) -> dict:
    try:
        return {
            "git_commit": data.get("machine", {}).get("git_commit") or "",
            "medians": {s["name"]: s["median"] for s in data["instructions"]["scenarios"]},
        }
    except (KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"not the results of an instructions run (no {exc})") from exc


def read_baseline(path: Path) -> dict:
    """An earlier run's results, checked; ValueError says what is wrong with the file."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ValueError(str(exc)) from exc
    _baseline_medians(data)
    return data


def _dumped_totals(out: Path) -> list[int]:
    """The instructions of each dump, in the order callgrind wrote them (out.1, out.2, ...)."""
    totals = []
    parts = sorted(out.parent.glob(out.name + ".*"), key=lambda p: int(p.suffix[1:]))
    for part in parts:
        with part.open() as fh:
            for line in fh:
                if line.startswith("totals:"):
                    totals.append(int(line.split()[1]))
                    break
            else:
                raise RuntimeError(f"{part.name} has no totals line")
    return totals


def _figures(values: list[int]) -> dict:
    if not values:
        return {"count": 0, "median": None, "mean": None, "min": None, "max": None}
    return {
        "count": len(values),
        "median": int(statistics.median(values)),
        "mean": int(statistics.fmean(values)),
        "min": min(values),
        "max": max(values),
    }


def failed(result: dict) -> list[str]:
    return [f"{s['name']}: no request was counted" for s in result["scenarios"] if not s["count"]]


def markdown(data: dict) -> str:
    from .report import machine_line

    result = data["instructions"]
    baseline = result.get("baseline") or {}
    before = baseline.get("medians", {})
    commit = baseline.get("git_commit") or "the baseline"
    lines = [
        "# Instructions a request costs",
        "",
        f"Run {data['finished_at']} on {machine_line(data['machine'])}; {result['valgrind']}.",
        "",
        f"Each scenario: {result['warmup']} requests uncounted, then {result['requests']} "
        "counted, one at a time, through Django's test client in one process "
        f"({result['settings']}, CSRF checked), under callgrind, the read cache's clock "
        f"moving on {STEP_SECONDS * 1000:g} ms a request. Millions of "
        "instructions a request, the application and its database and Redis clients; "
        "not gunicorn, PostgreSQL or Redis. The mean carries the garbage collections "
        "the requests set off; the median mostly does not.",
        "",
    ]
    header = "| scenario | requests | median M | mean M | min M | max M |"
    rule = "|---|--:|--:|--:|--:|--:|"
    if before:
        header += f" median M at {commit} | change |"
        rule += "--:|--:|"
    lines += [header, rule]
    for s in result["scenarios"]:
        row = (
            f"| {s['name']} | {s['count']} | {_m(s['median'])} | {_m(s['mean'])} "
            f"| {_m(s['min'])} | {_m(s['max'])} |"
        )
        if before:
            old = before.get(s["name"])
            row += f" {_m(old)} | {_change(old, s['median'])} |"
        lines.append(row)
    lines.append("")
    return "\n".join(lines)


def _m(value: int | None) -> str:
    return "—" if value is None else f"{value / 1e6:.3f}"


def _change(old: int | None, new: int | None) -> str:
    if not old or new is None:
        return "—"
    return f"{(new - old) / old:+.1%}"


# --- the counted process ------------------------------------------------------------


def _inner(args) -> None:
    import django

    django.setup()
    from django.conf import settings
    from django.core.cache import cache

    from caching import local
    from config.process import tune_garbage_collector

    # As a gunicorn worker of config/wsgi.py runs.
    tune_garbage_collector()
    # Its own keys only (CACHE_KEY_PREFIX): what earlier runs stored would
    # answer this run's new stays from the shared tier.
    delete_pattern = getattr(cache, "delete_pattern", None)
    if delete_pattern is not None:
        delete_pattern("*")
    clock = _SteppedClock()
    local.clock = clock
    guest = _Guest(random.Random(args.seed))
    for _ in range(args.warmup):
        guest.round(_Uncounted(clock))
    subprocess.run(  # noqa: S603 - our own argv
        ["callgrind_control", "--instr=on", str(os.getpid())],  # noqa: S607
        check=True,
        stdout=subprocess.DEVNULL,
        timeout=60,
    )
    counted = _Counted(clock)
    for _ in range(args.requests):
        guest.round(counted)
    Path(args.plan).write_text(
        json.dumps({"settings": settings.SETTINGS_MODULE, "requests": counted.requests})
    )


class _SteppedClock:
    """A monotonic clock that stands still during a request and moves on STEP_SECONDS between."""

    def __init__(self) -> None:
        self.now = time.monotonic()

    def __call__(self) -> float:
        return self.now

    def step(self) -> None:
        self.now += STEP_SECONDS


class _Uncounted:
    """Sends the warm-up's requests."""

    def __init__(self, clock: _SteppedClock) -> None:
        self.clock = clock

    def __call__(self, name: str, send: Callable):
        self.clock.step()
        return send()

    def discard_last(self) -> None:
        pass


class _Counted:
    """Sends each request where callgrind counts it, and notes its scenario."""

    def __init__(self, clock: _SteppedClock) -> None:
        self.clock = clock
        self.requests: list[str] = []

    def __call__(self, name: str, send: Callable):
        self.clock.step()
        response = contextvars.copy_context().run(send)
        self.requests.append(name)
        return response

    def discard_last(self) -> None:
        self.requests[-1] = DISCARDED


class _Guest:
    """One browser asking for every scenario once a round, as the load test's guests do."""

    def __init__(self, rng: random.Random) -> None:
        from django.db.models import Max
        from django.test import Client
        from django.urls import reverse
        from django.utils import timezone

        from hotel.models import Hotel, RoomType
        from inventory.models import RoomInventory

        self.rng = rng
        self.browser = Client(enforce_csrf_checks=True, HTTP_HOST="127.0.0.1")
        self.today = timezone.localdate()
        self.hotel = Hotel.objects.filter(is_active=True).order_by("pk").first()
        if self.hotel is None:
            raise SystemExit("No hotel: build the dataset first (python -m benchmarks build).")
        room_types = list(
            RoomType.objects.filter(hotel__is_active=True, is_active=True).order_by("pk")
        )
        self.room_type = next(rt for rt in room_types if rt.hotel_id == self.hotel.pk)
        # The holds go to other hotels, and weeks after the stay the pages are read for,
        # so that they change none of the pages read: each is read in the same state
        # in every round.
        self.room_types = [rt for rt in room_types if rt.hotel_id != self.hotel.pk] or room_types
        check_in = self.today + timedelta(days=7)
        self.stay = {
            "check_in": check_in.isoformat(),
            "check_out": (check_in + timedelta(days=2)).isoformat(),
            "adults": 2,
            "children": 0,
        }
        last = RoomInventory.objects.aggregate(last=Max("date"))["last"]
        # Holds go to the second half of the nights for sale, where fewer are taken.
        self.ahead = min(120, (last - self.today).days) if last else 0
        if self.ahead < NIGHTS_FOR_SALE:
            raise SystemExit(
                f"The dataset has under {NIGHTS_FOR_SALE} nights for sale: build it again."
            )
        self.search_path = reverse("inventory:search")
        self.hold_path = reverse("bookings:hold")
        self.new_stays = 0

    def _new_stay(self) -> dict:
        """Dates that no earlier request asked for: a new key for every cache that reads them.

        Within the first weeks for sale, 8 to 51 days ahead. The round's
        hold may fall on the same nights (on a small dataset), but it is
        cancelled within the round, so every round reads them as they were.
        """
        k = self.new_stays
        self.new_stays += 1
        if k >= NEW_STAYS:
            raise SystemExit(f"More than {NEW_STAYS} new stays: none is left to ask for.")
        check_in = self.today + timedelta(days=8 + k % NEW_STAY_DAYS)
        nights = 1 + k // NEW_STAY_DAYS
        return {
            "check_in": check_in.isoformat(),
            "check_out": (check_in + timedelta(days=nights)).isoformat(),
            "adults": 2,
            "children": 0,
        }

    def _expect(self, response, name: str, *statuses: int):
        if response.status_code not in statuses:
            raise SystemExit(f"{name} answered {response.status_code}, not {statuses}.")
        return response

    def _csrf(self) -> str:
        cookie = self.browser.cookies.get("csrftoken")
        return cookie.value if cookie else ""

    def _post(self, path: str, data: dict):
        # Encoded as a browser (and the load test's locust) sends a form, not
        # as the test client's multipart default, whose parsing costs more.
        token = self._csrf()
        return self.browser.post(
            path,
            urlencode({**data, "csrfmiddlewaretoken": token}),
            content_type="application/x-www-form-urlencoded",
            HTTP_X_CSRFTOKEN=token,
        )

    def round(self, send: _Uncounted | _Counted) -> None:
        """Every scenario once; ``send(name, request)`` sends (and counts) each request."""
        from django.utils import timezone

        from caching.api import invalidate
        from inventory.selectors import GUEST_CALENDAR_DAYS
        from inventory.services import hotel_offer_namespaces, room_type_offer_namespaces

        get = self.browser.get
        hotel_path = self.hotel.get_absolute_url()
        search = {"q": self.hotel.city, **self.stay}
        self._expect(send("GET home", lambda: get("/")), "home", 200)
        self._expect(
            send("GET search, cached", lambda: get(self.search_path, search)), "search", 200
        )
        invalidate(f"availability:city:{self.hotel.city.lower()}")
        self._expect(send("GET search, cold", lambda: get(self.search_path, search)), "search", 200)
        new_search = {"q": self.hotel.city, **self._new_stay()}
        self._expect(
            send("GET search, new stay", lambda: get(self.search_path, new_search)), "search", 200
        )
        self._expect(
            send("GET hotel page (stay), cached", lambda: get(hotel_path, self.stay)),
            "hotel page",
            200,
        )
        # The weeks only: the hotel's own namespace would empty its room types' calendars too.
        invalidate(
            *_weekly(
                hotel_offer_namespaces(
                    hotel_id=self.hotel.pk,
                    first=date.fromisoformat(self.stay["check_in"]),
                    last=date.fromisoformat(self.stay["check_out"]),
                )
            )
        )
        self._expect(
            send("GET hotel page (stay), cold", lambda: get(hotel_path, self.stay)),
            "hotel page",
            200,
        )
        new_stay = self._new_stay()
        self._expect(
            send("GET hotel page (stay), new stay", lambda: get(hotel_path, new_stay)),
            "hotel page",
            200,
        )
        room_type_path = f"{hotel_path}rooms/{self.room_type.slug}/"
        self._expect(
            send("GET room type page, cached", lambda: get(room_type_path)), "room type page", 200
        )
        first = timezone.now().astimezone(self.hotel.tzinfo).date()
        invalidate(
            *_weekly(
                room_type_offer_namespaces(
                    hotel_id=self.hotel.pk,
                    room_type_id=self.room_type.pk,
                    first=first,
                    last=first + timedelta(days=GUEST_CALENDAR_DAYS - 1),
                )
            )
        )
        self._expect(
            send("GET room type page, cold", lambda: get(room_type_path)), "room type page", 200
        )
        self._book(send)

    def _book(self, send: _Uncounted | _Counted) -> None:
        for _attempt in range(20):
            room_type = self.rng.choice(self.room_types)
            check_in = self.today + timedelta(
                days=self.rng.randint(max(self.ahead // 2, 21), self.ahead - 2)
            )
            hold = {
                "room_type": room_type.pk,
                "check_in": check_in.isoformat(),
                "check_out": (check_in + timedelta(days=2)).isoformat(),
                "adults": 1,
                "children": 0,
            }
            response = self._expect(
                send("POST hold", lambda hold=hold: self._post(self.hold_path, hold)),
                "hold",
                302,
                409,
            )
            if response.status_code == 302:
                break
            # A full night: another path, kept out of the hold's figures.
            send.discard_last()
        else:
            raise SystemExit("20 holds in a row found a full night: build a fresh dataset.")
        details_path = response["Location"]
        guest = {"guest_name": "Instruction Count", "guest_email": "count@example.com"}
        response = self._expect(
            send("POST details", lambda: self._post(details_path, guest)), "details", 302
        )
        review_path = response["Location"]
        self._expect(
            send("POST confirm", lambda: self._post(review_path, {"accept_policy": "on"})),
            "confirm",
            302,
        )
        reference = details_path.rstrip("/").split("/")[-2]
        response = self._expect(
            send(
                "POST cancel",
                lambda: self._post(f"/bookings/{reference}/cancel/", {"reason": "Counted"}),
            ),
            "cancel",
            302,
        )
        # As a browser does, uncounted: the booking's page shows the cancel's
        # message, which the next round's home page would show otherwise.
        self._expect(self.browser.get(response["Location"]), "booking page", 200)


def _weekly(namespaces: list[str]) -> list[str]:
    """The weekly namespaces among ``namespaces`` (``...@2026-W48``)."""
    return [namespace for namespace in namespaces if "@" in namespace]


def _parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--requests", type=int, required=True)
    p.add_argument("--warmup", type=int, required=True)
    p.add_argument("--seed", type=int, required=True)
    p.add_argument("--plan", required=True)
    return p.parse_args(argv)


if __name__ == "__main__":
    _inner(_parse(sys.argv[1:]))
    sys.exit(0)
