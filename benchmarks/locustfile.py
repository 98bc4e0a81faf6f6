"""The guest mix for the HTTP load test: 80% reads, 20% writes, by request count.

Reads: home, hotel search in a city, a hotel page for a stay, a room type
page (its calendar). Writes: hold + guest details + confirm (three POSTs) and
cancel (one POST), as an anonymous guest whose session remembers the booking,
with the CSRF token from the cookie the hotel page sets. A stay that is sold
out (409) is a correct answer and counts as a success.

Arrivals are a Poisson stream, as independent guests are: each user waits an
exponential time between task starts (and a random time before its first),
so the offered load does not come in bursts of every user at once.

Driven by benchmarks/loadtest.py, which passes the dataset's slugs in the
file named by LOADTEST_DATA and the per-user task rate in LOADTEST_TASK_RATE.
"""

import json
import os
import random
import time
from datetime import date, timedelta

import gevent
from locust import FastHttpUser, task

with open(os.environ["LOADTEST_DATA"]) as fh:
    DATA = json.load(fh)
TASK_RATE = float(os.environ.get("LOADTEST_TASK_RATE", "1"))
TODAY = date.fromisoformat(DATA["today"])
# Pages that answered 5xx before the run (not built yet); the hotel page takes their share.
UNAVAILABLE = set(DATA.get("unavailable", {}))


# Guests' stays are not uniform: the coming weekends and a few holiday weeks
# take most searches. 70% of the reads ask for one of these 20 stays, the
# rest for any stay, so the cache sees a realistic head and a long tail.
_first_friday = TODAY + timedelta(days=(4 - TODAY.weekday()) % 7 + 7)
POPULAR = [(_first_friday + timedelta(weeks=w), 2) for w in range(12)] + [
    (TODAY + timedelta(days=d), 7) for d in range(14, DATA["max_days_ahead"] - 7, 13)
][:8]
POPULAR_SHARE = 0.7


def _stay(max_nights: int = 4) -> tuple[str, str]:
    if random.random() < POPULAR_SHARE:
        start, nights = random.choice(POPULAR)
        nights = min(nights, max_nights)
    else:
        start = TODAY + timedelta(days=random.randint(7, DATA["max_days_ahead"] - max_nights))
        nights = random.randint(1, max_nights)
    return start.isoformat(), (start + timedelta(days=nights)).isoformat()


def poisson_pacing(rate: float):
    """Start tasks at exponential intervals of mean 1/rate, measured from start to start.

    Locust's constant_throughput spaces them exactly 1/rate apart; users
    spawned together then stay in step and the server sees every user's
    request in the same instant, once a second: a burst that queues behind
    itself and measures the load generator, not the server. A task that
    overruns its interval is followed at once, and the lateness is not
    carried over.
    """

    def wait_time(user) -> float:
        now = time.perf_counter()
        user.next_start = max(now, user.next_start + random.expovariate(rate))
        return user.next_start - now

    return wait_time


class Guest(FastHttpUser):
    wait_time = poisson_pacing(TASK_RATE)

    def on_start(self) -> None:
        self.bookings: list[str] = []
        self.csrf = ""
        # Users spawn together; each starts after its own random delay.
        gevent.sleep(random.expovariate(TASK_RATE))
        self.next_start = time.perf_counter()

    def _csrf_token(self) -> str:
        for cookie in self.client.cookiejar:
            if cookie.name == "csrftoken":
                return cookie.value
        return ""

    def _post(self, path: str, data: dict, *, name: str, expect=(302,)):
        headers = {"X-CSRFToken": self.csrf, "Referer": self.host + path}
        with self.client.post(
            path,
            data={**data, "csrfmiddlewaretoken": self.csrf},
            headers=headers,
            name=name,
            allow_redirects=False,
            catch_response=True,
        ) as response:
            if response.status_code in expect:
                response.success()
            else:
                response.failure(f"{name}: HTTP {response.status_code}")
            return response

    # --- reads: 80 of every 100 requests ----------------------------------------

    @task(20)
    def home(self) -> None:
        self.client.get("/", name="GET home")

    @task(20)
    def search(self) -> None:
        if "search" in UNAVAILABLE:
            self.hotel_page()
            return
        check_in, check_out = _stay()
        self.client.get(
            DATA["search_path"],
            # ``q`` for the search page, ``city`` for the hotel list it
            # falls back to where the search page is not built.
            params={
                "q": (city := random.choice(DATA["cities"])),
                "city": city,
                "check_in": check_in,
                "check_out": check_out,
                "adults": 2,
                "children": 0,
            },
            name="GET search",
        )

    @task(20)
    def hotel_page(self) -> None:
        check_in, check_out = _stay()
        hotel = random.choice(DATA["hotels"])
        self.client.get(
            f"/hotels/{hotel['slug']}/",
            params={"check_in": check_in, "check_out": check_out, "adults": 2, "children": 0},
            name="GET hotel page (stay)",
        )

    @task(20)
    def room_type_page(self) -> None:
        if "room_type_page" in UNAVAILABLE:
            self.hotel_page()
            return
        hotel = random.choice(DATA["hotels"])
        room_type = random.choice(hotel["room_types"])
        self.client.get(
            f"/hotels/{hotel['slug']}/rooms/{room_type['slug']}/", name="GET room type page"
        )

    # --- writes: 20 of every 100 requests ---------------------------------------
    # A booking is three requests and a cancel one: 6 bookings and 2 cancels
    # per 80 reads make 20 writes in 100 requests. A cancel drawn before the
    # guest has a booking books instead, so the write share does not leak
    # into reads.

    @task(6)
    def book(self) -> None:
        if not self.csrf:
            # The hotel page with a stay renders the hold forms and sets the
            # CSRF cookie; a real guest always passes through it first.
            self.hotel_page()
            self.csrf = self._csrf_token()
        hotel = random.choice(DATA["hotels"])
        room_type = random.choice(hotel["room_types"])
        check_in, check_out = _stay(3)
        held = self._post(
            DATA["hold_path"],
            {
                "room_type": room_type["id"],
                "check_in": check_in,
                "check_out": check_out,
                "adults": 1,
                "children": 0,
            },
            name="POST hold",
            expect=(302, 409),
        )
        if held.status_code != 302:
            return
        details_path = held.headers.get("Location", "")
        reference = details_path.rstrip("/").split("/")[-2]
        reviewed = self._post(
            details_path,
            {"guest_name": "Load Test Guest", "guest_email": "load@example.com"},
            name="POST details",
        )
        if reviewed.status_code != 302:
            return
        confirmed = self._post(
            reviewed.headers.get("Location", ""), {"accept_policy": "on"}, name="POST confirm"
        )
        if confirmed.status_code == 302:
            self.bookings.append(reference)

    @task(2)
    def cancel(self) -> None:
        if not self.bookings:
            self.book()
            return
        reference = self.bookings.pop(0)
        self._post(
            f"/bookings/{reference}/cancel/",
            {"reason": "Load test"},
            name="POST cancel",
        )
