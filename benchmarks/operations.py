"""The operations the benchmark times, each through the real selector or service.

Cache modes:

* ``cold``: the namespace the read is cached under is invalidated before
  every call (outside the timing), so each call misses both tiers, runs the
  selector's queries and stores the result: a read right after a write.
* ``warm``: a pool of inputs is read once first, then the timed calls cycle
  through it: what a busy page sees between writes.
* ``db``: the operation has no cache (the guest's own bookings) or must never
  read it (the booking write path, DESIGN.md invariant 5).
"""

from __future__ import annotations

import random
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta

from django.contrib.auth import get_user_model
from django.db.models import Count
from django.urls import reverse

from bookings.exceptions import StayNotAvailable
from bookings.models import Booking
from caching.api import cached, invalidate
from config.process import tune_garbage_collector
from hotel.models import Hotel, RoomType
from inventory.models import RoomInventory

from .measure import QueryCounter, Sample, timed

WARM_POOL = 20


@dataclass
class Context:
    """What the inputs are drawn from, read once before timing starts."""

    today: date
    last_night: date
    cities: list[str]
    hotels: list[Hotel]
    room_types: list[RoomType]
    guests: list
    created: list[tuple[Booking, object]] = field(default_factory=list)
    browser: object = None

    @classmethod
    def load(cls, *, today: date) -> Context:
        last_night = RoomInventory.objects.order_by("-date").values_list("date", flat=True).first()
        if last_night is None:
            raise RuntimeError(
                "No inventory: build the dataset first (python -m benchmarks build)."
            )
        hotels = list(Hotel.objects.filter(is_active=True).order_by("pk"))
        room_types = list(
            RoomType.objects.filter(is_active=True, hotel__is_active=True)
            .select_related("hotel")
            .order_by("pk")
        )
        # Guests who have bookings, the heaviest first: the page must stay
        # fast for a frequent traveller, not only for a one-off guest.
        guest_ids = list(
            Booking.objects.filter(guest__isnull=False)
            .values("guest_id")
            .annotate(n=Count("pk"))
            .order_by("-n", "guest_id")
            .values_list("guest_id", flat=True)[:500]
        )
        guests = list(get_user_model().objects.filter(pk__in=guest_ids).order_by("pk"))
        return cls(
            today=today,
            last_night=last_night,
            cities=sorted({h.city for h in hotels}),
            hotels=hotels,
            room_types=room_types,
            guests=guests,
        )

    def stay(self, rng: random.Random, *, nights: int | None = None) -> tuple[date, date]:
        """A future stay whose nights all have inventory."""
        length = nights or rng.randint(1, 7)
        latest = (self.last_night - self.today).days - length
        start = self.today + timedelta(days=rng.randint(7, max(8, min(latest, 180))))
        return start, start + timedelta(days=length)


@dataclass
class Operation:
    name: str
    label: str
    modes: tuple[str, ...]
    make_input: Callable[[Context, random.Random], object]
    run: Callable[[Context, object], object]
    namespaces: Callable[[object], list[str]] = lambda _input: []
    reference_ms: float | None = None
    reference_label: str = ""


# --- reads -------------------------------------------------------------------


def _search_input(ctx: Context, rng: random.Random):
    check_in, check_out = ctx.stay(rng)
    return rng.choice(ctx.cities), check_in, check_out


def _search(ctx: Context, inp):
    """What the search page runs for a city: its hotels with availability, sorted by price."""
    from inventory.selectors import search_hotels

    city, check_in, check_out = inp
    return search_hotels(q=city, check_in=check_in, check_out=check_out, adults=2)


def _hotel_stay_input(ctx: Context, rng: random.Random):
    check_in, check_out = ctx.stay(rng, nights=7)
    return rng.choice(ctx.hotels), check_in, check_out


def _availability(ctx: Context, inp):
    from inventory.selectors import hotel_availability

    hotel, check_in, check_out = inp
    return hotel_availability(hotel=hotel, check_in=check_in, check_out=check_out, adults=2)


def _room_types(ctx: Context, inp):
    """The hotel page's catalogue read, under the same key the page uses."""
    from hotel.selectors import hotel_for_page

    hotel = inp

    def load():
        try:
            return hotel_for_page(slug=hotel.slug)
        except Hotel.DoesNotExist:
            return None

    page = cached("catalogue", ["hotel-page", hotel.slug], load, ttl=300)
    return [(rt.name, rt.amenities) for rt in page.room_types]


def _browser(ctx: Context):
    """One test client for every guest (its handler loads the middleware once)."""
    from django.test import Client

    if ctx.browser is None:
        ctx.browser = Client(HTTP_HOST="127.0.0.1")
    return ctx.browser


def _guest_bookings_input(ctx: Context, rng: random.Random):
    """The session cookie of one of the guests, logged in, and the tab: upcoming or past."""
    from django.conf import settings

    browser = _browser(ctx)
    browser.cookies.clear()  # a new session; logging in over another would end it
    browser.force_login(rng.choice(ctx.guests))
    return browser.cookies[settings.SESSION_COOKIE_NAME].value, rng.choice(("", "past"))


def _guest_bookings(ctx: Context, inp):
    """The whole page as a guest's browser gets it: session, account, bookings, template."""
    from django.conf import settings

    session, show = inp
    browser = _browser(ctx)
    browser.cookies[settings.SESSION_COOKIE_NAME] = session
    response = browser.get(reverse("bookings:mine"), {"show": show} if show else {})
    if response.status_code != 200:
        raise RuntimeError(f"My bookings answered {response.status_code}.")
    return response.content


def _calendar_input(ctx: Context, rng: random.Random):
    return rng.choice(ctx.hotels), ctx.today + timedelta(days=rng.randint(-7, 60))


def _staff_calendar(ctx: Context, inp):
    from inventory.selectors import hotel_calendar

    hotel, start = inp
    calendar = hotel_calendar(hotel=hotel, start=start, days=14)
    return [day.free for _rt, days in calendar.rows for day in days]


def _report_input(ctx: Context, rng: random.Random):
    # The calendar year that holds most of the twelve months behind today: the
    # dataset's busiest year, whose nights are all history.
    return rng.choice(ctx.hotels), (ctx.today - timedelta(days=182)).year


def _yearly_report(ctx: Context, inp):
    """What the staff report page reads: a hotel's months and room types for a year."""
    from bookings.reports import occupancy_report

    hotel, year = inp
    report = occupancy_report(hotel=hotel, year=year)
    return report.hotel_total.total, [line.total for line in report.room_types]


# --- writes ------------------------------------------------------------------


def _hold_input(ctx: Context, rng: random.Random):
    check_in, check_out = ctx.stay(rng, nights=rng.randint(1, 4))
    return rng.choice(ctx.room_types), check_in, check_out, rng.choice(ctx.guests)


def _hold_confirm(ctx: Context, inp):
    from bookings.services import booking_confirm, booking_hold

    room_type, check_in, check_out, guest = inp
    booking = booking_hold(
        room_type=room_type, check_in=check_in, check_out=check_out, adults=1, guest=guest
    )
    booking = booking_confirm(booking=booking, policy_accepted=True, by=guest)
    ctx.created.append((booking, guest))
    return booking


def _cancel_input(ctx: Context, rng: random.Random):
    return ctx.created.pop() if ctx.created else None


def _cancel(ctx: Context, inp):
    from bookings.services import booking_cancel

    booking, guest = inp
    return booking_cancel(booking=booking, by=guest, reason="Benchmark clean-up.")


def _availability_namespaces(inp) -> list[str]:
    hotel = inp[0]
    return [f"availability:hotel:{hotel.pk}"]


OPERATIONS = [
    Operation(
        name="search_city",
        label="Hotel search in a city for a stay (1-7 nights)",
        modes=("cold", "warm"),
        make_input=_search_input,
        run=_search,
        namespaces=lambda inp: [f"availability:city:{inp[0].lower()}"],
    ),
    Operation(
        name="availability_7_nights",
        label="Availability of all room types of a hotel, 7 nights",
        modes=("cold", "warm"),
        make_input=_hotel_stay_input,
        run=_availability,
        namespaces=_availability_namespaces,
        reference_ms=80,
        reference_label="availability check for 7 days",
    ),
    Operation(
        name="room_types",
        label="Room type list of a hotel (hotel page)",
        modes=("cold", "warm"),
        make_input=lambda ctx, rng: rng.choice(ctx.hotels),
        run=_room_types,
        namespaces=lambda inp: ["catalogue"],
        reference_ms=15,
        reference_label="room types",
    ),
    Operation(
        name="guest_bookings",
        label="A guest's bookings page (rendered, session and login included)",
        modes=("db",),
        make_input=_guest_bookings_input,
        run=_guest_bookings,
        reference_ms=45,
        reference_label="user bookings",
    ),
    Operation(
        name="hold_confirm",
        label="Hold plus confirm (create a booking)",
        modes=("db",),
        make_input=_hold_input,
        run=_hold_confirm,
        reference_ms=1200,
        reference_label="create booking",
    ),
    Operation(
        name="cancel",
        label="Cancel a confirmed booking",
        modes=("db",),
        make_input=_cancel_input,
        run=_cancel,
    ),
    Operation(
        name="staff_calendar_14_days",
        label="Staff calendar of a hotel, two weeks",
        modes=("cold", "warm"),
        make_input=_calendar_input,
        run=_staff_calendar,
        namespaces=_availability_namespaces,
    ),
    Operation(
        name="yearly_report",
        label="Yearly occupancy and revenue report of a hotel",
        # Staff read it rarely and expect today's bookings in it; it is not cached.
        modes=("db",),
        make_input=_report_input,
        run=_yearly_report,
        reference_ms=3000,
        reference_label="report",
    ),
]

# Operations of the documents that have no counterpart in the code yet, listed
# in the results rather than timed as something else. None are left.
NOT_YET_BUILT: list[dict] = []


def run_operations(
    *,
    iterations: int,
    seed: int,
    today: date,
    only: list[str] | None = None,
    log=None,
) -> list[dict]:
    """Time every operation ``iterations`` times per cache mode; return one summary each."""
    log = log or (lambda message: print(message, file=sys.stderr, flush=True))
    rng = random.Random(seed)
    ctx = Context.load(today=today)
    # The operations run in a process set up as a web process is (config.wsgi).
    tune_garbage_collector()
    counter = QueryCounter()
    results = []
    with counter.installed():
        for op in OPERATIONS:
            if only and op.name not in only:
                continue
            for mode in op.modes:
                sample = _run_one(op=op, mode=mode, ctx=ctx, rng=rng, n=iterations, counter=counter)
                summary = sample.summary()
                summary.update(
                    label=op.label,
                    reference_ms=op.reference_ms,
                    reference_label=op.reference_label,
                )
                results.append(summary)
                log(
                    f"  {op.name:<24} {mode:<5} n={summary['iterations']:<5} "
                    f"p50={summary['p50_ms']}ms p95={summary['p95_ms']}ms "
                    f"queries={summary['queries_per_op']}"
                )
    return results


def _run_one(
    *, op: Operation, mode: str, ctx: Context, rng: random.Random, n: int, counter: QueryCounter
) -> Sample:
    sample = Sample(name=op.name, mode=mode)
    if mode == "warm":
        pool = [op.make_input(ctx, rng) for _ in range(min(WARM_POOL, n))]
        for inp in pool:
            op.run(ctx, inp)
        inputs = [pool[i % len(pool)] for i in range(n)]
    else:
        inputs = [op.make_input(ctx, rng) for _ in range(n)] if op.name != "cancel" else None
    for i in range(n):
        inp = inputs[i] if inputs is not None else op.make_input(ctx, rng)
        if inp is None:
            sample.count("nothing_to_do")
            continue
        if mode == "cold":
            invalidate(*op.namespaces(inp))
        try:
            _result, elapsed, queries = timed(lambda inp=inp: op.run(ctx, inp), counter)
        except StayNotAvailable:
            # A random stay met a full night: a correct refusal, not a timing.
            sample.count("sold_out")
            continue
        sample.add(elapsed, queries)
        sample.count("ok")
    return sample
