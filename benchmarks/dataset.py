"""Build the benchmark dataset: hotels, rooms, guests, two years of bookings, 400 nights.

Everything goes in with PostgreSQL COPY (psycopg 3 ``cursor.copy``), so the
default scale (50 hotels, 200,000 bookings, about a million rows in all)
loads in well under a minute on a 2-core machine. Column lists come from each
model's concrete fields: a field added later with a default is filled with
it, and one without a default stops the build naming the field, instead of
loading rows that no longer match the schema.

The bookings are drawn first, in Python, against a per-night count of rooms
taken, so that no night is oversold; RoomInventory.sold is then written from
the same counts, which keeps it equal to the live bookings on every night
(the benchmark checks this with SQL after the contention run).
"""

from __future__ import annotations

import json
import random
import sys
import time
from bisect import bisect
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from itertools import accumulate, chain

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.core.management.color import no_style
from django.db import connection, models, transaction
from django.utils import timezone

from bookings.models import (
    REFERENCE_ALPHABET,
    REFERENCE_LENGTH,
    Booking,
    BookingEvent,
    BookingNight,
)
from bookings.policy import policy_snapshot
from hotel import demo
from hotel.models import Amenity, Hotel, Room, RoomType
from inventory.models import RoomInventory

# Every guest account of the dataset logs in with this password (the load
# test signs in as them); one hash computed once keeps the build fast.
GUEST_PASSWORD = "bench-guest-password"  # noqa: S105

CITIES = [
    ("Lisbon", "PT", "Europe/Lisbon", "EUR"),
    ("Porto", "PT", "Europe/Lisbon", "EUR"),
    ("Madrid", "ES", "Europe/Madrid", "EUR"),
    ("Barcelona", "ES", "Europe/Madrid", "EUR"),
    ("Paris", "FR", "Europe/Paris", "EUR"),
    ("Berlin", "DE", "Europe/Berlin", "EUR"),
    ("Rome", "IT", "Europe/Rome", "EUR"),
    ("London", "GB", "Europe/London", "GBP"),
    ("Amsterdam", "NL", "Europe/Amsterdam", "EUR"),
    ("Prague", "CZ", "Europe/Prague", "CZK"),
    ("Vienna", "AT", "Europe/Vienna", "EUR"),
    ("Copenhagen", "DK", "Europe/Copenhagen", "DKK"),
]
# The demo catalogue's first ten amenities: the same names guests see in `make run`.
AMENITIES = demo.AMENITIES[:10]
# name, beds, max adults, max children, max occupancy, price factor
ROOM_TYPES = [
    ("Single", "1 single bed", 1, 0, 1, Decimal("0.75")),
    ("Standard Double", "1 double bed", 2, 0, 2, Decimal("1.00")),
    ("Twin", "2 single beds", 2, 1, 3, Decimal("1.05")),
    ("Superior Double", "1 queen bed", 2, 1, 3, Decimal("1.25")),
    ("Deluxe King", "1 king bed", 2, 1, 3, Decimal("1.50")),
    ("Family Room", "1 double and 2 single beds", 2, 2, 4, Decimal("1.60")),
    ("Junior Suite", "1 king bed and a sofa bed", 3, 1, 4, Decimal("2.10")),
    ("Suite", "1 king bed, separate lounge", 3, 2, 4, Decimal("3.00")),
    ("Penthouse", "2 king beds", 4, 2, 6, Decimal("4.50")),
    ("Accessible Double", "1 double bed, step-free", 2, 0, 2, Decimal("1.00")),
]
STAY_LENGTHS = [1, 2, 3, 4, 5, 7, 10, 14]
STAY_WEIGHTS = [24, 26, 20, 12, 8, 6, 3, 1]
CENT = Decimal("0.01")


@dataclass(frozen=True)
class Scale:
    """How big the dataset is. The defaults are the issue's; ``scaled`` shrinks them."""

    hotels: int = 50
    cities: int = 10
    room_types: int = 8
    # 400 nights ahead of today (the inventory window) and the year behind,
    # so that every booking's nights have their inventory row, as they would
    # in the running system: past months report a real occupancy.
    nights: int = 765
    bookings: int = 200_000
    guests: int = 50_000
    # Bookings arrive over [today - history_days, today + future_days).
    history_days: int = 365
    future_days: int = 365
    # Inventory nights start this many days before today and run for
    # ``nights`` nights.
    past_nights: int = 365

    @classmethod
    def scaled(cls, factor: float) -> Scale:
        """The default dataset times ``factor`` in hotels, bookings and guests."""
        if factor <= 0:
            raise ValueError("The scale must be a positive number, e.g. 0.1 or 1.")
        base = cls()
        hotels = max(2, round(base.hotels * factor))
        return cls(
            hotels=hotels,
            cities=max(1, min(base.cities, hotels // 5 or 1)),
            bookings=max(10, round(base.bookings * factor)),
            guests=max(10, round(base.guests * factor)),
        )


@dataclass
class BuildReport:
    scale: dict
    seconds: float
    rows: dict[str, int] = field(default_factory=dict)
    today: str = ""
    inventory_start: str = ""
    inventory_end: str = ""


class Progress:
    """One line on stderr per table, rewritten in place: rows written, rate, elapsed."""

    def __init__(self, *, enabled: bool = True, stream=None) -> None:
        self.enabled = enabled
        self.stream = stream or sys.stderr
        # A log file gets the final line per table only, not 50 rewrites.
        self.live = bool(getattr(self.stream, "isatty", lambda: False)())

    def track(self, label: str, rows: Iterable, total: int) -> Iterator:
        start = time.perf_counter()
        every = max(1, total // 50)
        n = 0
        for n, row in enumerate(rows, 1):
            if self.live and self.enabled and n % every == 0:
                self._line(label, n, total, start)
            yield row
        if self.enabled:
            self._line(label, n, total, start, end="\n")

    def note(self, message: str) -> None:
        if self.enabled:
            print(message, file=self.stream, flush=True)

    def _line(self, label: str, n: int, total: int, start: float, end: str = "") -> None:
        elapsed = time.perf_counter() - start
        width = 30
        filled = int(width * n / total) if total else width
        bar = "#" * filled + "-" * (width - filled)
        rate = n / elapsed if elapsed > 0 else 0.0
        print(
            f"\r  {label:<24} [{bar}] {n:>9,}/{total:<9,} {rate:>10,.0f} rows/s {elapsed:6.1f}s",
            end=end,
            file=self.stream,
            flush=True,
        )


# --- COPY ----------------------------------------------------------------------


class _Columns:
    """The concrete columns of a model and how to fill the ones a row leaves out."""

    def __init__(self, model: type[models.Model], now: datetime, *, with_pk: bool) -> None:
        self.model = model
        pk = model._meta.pk
        # An auto-increment id the rows leave out comes from its sequence.
        self.fields = [
            f
            for f in model._meta.concrete_fields
            if with_pk or not (f is pk and isinstance(f, models.AutoField))
        ]
        self.fillers: list[tuple[str, Callable[[], object] | None]] = []
        for f in self.fields:
            self.fillers.append((f.attname, self._filler(f, now)))

    @staticmethod
    def _filler(f: models.Field, now: datetime) -> Callable[[], object] | None:
        if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False):
            return lambda: now
        if f.has_default():
            if callable(f.default):
                return f.get_default
            value = f.get_default()
            return lambda: value
        if f.null:
            return lambda: None
        if f.blank and isinstance(f, models.CharField | models.TextField):
            return lambda: ""
        return None

    def values(self, row: dict) -> list:
        out = []
        for attname, filler in self.fillers:
            if attname in row:
                value = row[attname]
            elif filler is not None:
                value = filler()
            else:
                raise ValueError(
                    f"{self.model._meta.label}.{attname} has no default and the benchmark "
                    "dataset gives it no value: add it to benchmarks/dataset.py."
                )
            if isinstance(value, dict | list):
                value = json.dumps(value)
            out.append(value)
        return out


def copy_rows(
    model: type[models.Model],
    rows: Iterable[dict],
    *,
    total: int,
    progress: Progress,
    now: datetime,
) -> int:
    """COPY ``rows`` (dicts keyed by field attname) into the model's table; return the count."""
    rows = iter(rows)
    first = next(rows, None)
    if first is None:
        return 0
    columns = _Columns(model, now, with_pk=model._meta.pk.attname in first)
    qn = connection.ops.quote_name
    sql = "COPY {} ({}) FROM STDIN".format(
        qn(model._meta.db_table), ", ".join(qn(f.column) for f in columns.fields)
    )
    count = 0
    with connection.cursor() as cursor, cursor.cursor.copy(sql) as copy:
        for row in progress.track(model._meta.label, chain([first], rows), total):
            copy.write_row(columns.values(row))
            count += 1
    return count


# --- The build -------------------------------------------------------------------


def _truncate(progress: Progress) -> None:
    """Empty every table the dataset writes and every table that points at them."""
    tables = [
        m._meta.db_table
        for m in (
            Booking,
            BookingNight,
            BookingEvent,
            RoomInventory,
            Room,
            RoomType,
            Hotel,
            Amenity,
            get_user_model(),
        )
    ]
    qn = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE {} RESTART IDENTITY CASCADE".format(", ".join(qn(t) for t in tables))
        )
    progress.note("  emptied " + ", ".join(tables) + " (and the tables that refer to them)")


def night_price(base: Decimal, night: date) -> Decimal:
    """The dataset's nightly price: weekend and summer uplifts on the base price."""
    price = base
    if night.weekday() in (4, 5):
        price *= Decimal("1.20")
    if night.month in (6, 7, 8):
        price *= Decimal("1.15")
    return price.quantize(CENT)


def build(
    *,
    scale: Scale,
    seed: int = 20260101,
    today: date | None = None,
    progress: Progress | None = None,
) -> BuildReport:
    """Replace the catalogue, guests, inventory and bookings with a generated dataset."""
    progress = progress or Progress(enabled=False)
    rng = random.Random(seed)
    started = time.perf_counter()
    today = today or timezone.now().date()
    now = timezone.now()
    report = BuildReport(scale=asdict(scale), seconds=0.0, today=today.isoformat())

    with transaction.atomic():
        _truncate(progress)
        hotels, room_types = _catalogue(scale=scale, rng=rng, now=now)
        report.rows["hotel"] = len(hotels)
        report.rows["room_type"] = len(room_types)
        report.rows["room"] = Room.objects.count()
        report.rows["amenity"] = Amenity.objects.count()
        progress.note(
            f"  catalogue: {len(hotels)} hotels in {scale.cities} cities, "
            f"{len(room_types)} room types, {report.rows['room']} rooms"
        )
        report.rows["guest"] = _guests(scale=scale, progress=progress, now=now)
        plan = _plan_bookings(
            scale=scale, rng=rng, today=today, now=now, room_types=room_types, hotels=hotels
        )
        inv_start = today - timedelta(days=scale.past_nights)
        inv_end = inv_start + timedelta(days=scale.nights)
        report.inventory_start, report.inventory_end = inv_start.isoformat(), inv_end.isoformat()
        report.rows["room_inventory"] = copy_rows(
            RoomInventory,
            _inventory_rows(room_types=room_types, plan=plan, start=inv_start, end=inv_end),
            total=len(room_types) * scale.nights,
            progress=progress,
            now=now,
        )
        report.rows["booking"] = copy_rows(
            Booking, plan.bookings, total=len(plan.bookings), progress=progress, now=now
        )
        report.rows["booking_night"] = copy_rows(
            BookingNight,
            _booking_nights(plan=plan),
            total=plan.night_count,
            progress=progress,
            now=now,
        )
        report.rows["booking_event"] = copy_rows(
            BookingEvent,
            _booking_events(plan=plan),
            total=plan.event_count,
            progress=progress,
            now=now,
        )
        _reset_sequences()
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    _forget_cached_reads()
    report.seconds = round(time.perf_counter() - started, 2)
    progress.note(f"  dataset built in {report.seconds:.1f}s")
    return report


def _catalogue(*, scale: Scale, rng: random.Random, now: datetime):
    amenities = Amenity.objects.bulk_create(Amenity(name=n, slug=s) for n, s in AMENITIES)
    cities = [CITIES[i % len(CITIES)] for i in range(scale.cities)]
    hotels = []
    for i in range(scale.hotels):
        city, country, tz, currency = cities[i % len(cities)]
        stars = rng.choice([2, 3, 3, 4, 4, 4, 5])
        hotels.append(
            Hotel(
                name=f"{city} {['Plaza', 'Garden', 'Central', 'Harbour', 'Park'][i % 5]} {i + 1}",
                slug=f"bench-hotel-{i + 1}",
                city=city,
                country=country,
                address=f"{i + 1} Main Street, {city}",
                stars=stars,
                description=f"A {stars}-star hotel in {city}.",
                email=f"hotel{i + 1}@example.com",
                timezone=tz,
                currency=currency,
                free_cancellation_days=rng.choice([1, 2, 3, 7]),
                cancellation_fee=rng.choice(
                    [Hotel.CancellationFee.FIRST_NIGHT, Hotel.CancellationFee.PERCENT]
                ),
                cancellation_fee_percent=Decimal("30"),
            )
        )
    hotels = Hotel.objects.bulk_create(hotels)
    through = Hotel.amenities.through
    through.objects.bulk_create(
        through(hotel_id=h.pk, amenity_id=a.pk)
        for h in hotels
        for a in rng.sample(amenities, k=rng.randint(3, len(amenities)))
    )
    room_types = []
    for hotel in hotels:
        base = Decimal(40 + 30 * hotel.stars + rng.randint(0, 30))
        for order, (name, beds, adults, children, occupancy, factor) in enumerate(
            ROOM_TYPES[: scale.room_types]
        ):
            room_types.append(
                RoomType(
                    hotel=hotel,
                    name=name,
                    slug=name.lower().replace(" ", "-"),
                    beds=beds,
                    max_adults=adults,
                    max_children=children,
                    max_occupancy=occupancy,
                    base_occupancy=min(2, occupancy),
                    size_m2=14 + 6 * order,
                    base_price=(base * factor).quantize(CENT),
                    sort_order=order,
                )
            )
    room_types = RoomType.objects.bulk_create(room_types)
    rooms = []
    for hotel in hotels:
        number = 100
        for rt in (rt for rt in room_types if rt.hotel_id == hotel.pk):
            for _ in range(rng.randint(4, 20)):
                number += 1
                rooms.append(
                    Room(hotel=hotel, room_type=rt, number=str(number), floor=number // 100)
                )
    Room.objects.bulk_create(rooms, batch_size=2000)
    counts: dict[int, int] = {}
    for room in rooms:
        counts[room.room_type_id] = counts.get(room.room_type_id, 0) + 1
    for rt in room_types:
        rt.rooms_total = counts[rt.pk]
    return hotels, room_types


def _guests(*, scale: Scale, progress: Progress, now: datetime) -> int:
    password = make_password(GUEST_PASSWORD)
    joined = now - timedelta(days=800)
    rows = (
        {
            "id": i,
            "username": f"guest{i}",
            "email": f"guest{i}@example.com",
            "first_name": "Guest",
            "last_name": f"Number {i}",
            "password": password,
            "is_staff": False,
            "is_superuser": False,
            "is_active": True,
            "date_joined": joined,
            "last_login": None,
        }
        for i in range(1, scale.guests + 1)
    )
    return copy_rows(get_user_model(), rows, total=scale.guests, progress=progress, now=now)


@dataclass
class _Plan:
    bookings: list[dict]
    nights: list[tuple[int, date, list[Decimal]]]  # booking id, check-in, prices
    sold: dict[int, list[int]]  # room type id -> rooms taken per day since day0
    day0: date
    night_count: int = 0
    event_count: int = 0


def _plan_bookings(*, scale, rng, today, now, room_types, hotels) -> _Plan:
    """Draw the bookings against per-night counts so that no night is oversold."""
    day0 = today - timedelta(days=scale.history_days)
    span = scale.history_days + scale.future_days
    horizon = span + max(STAY_LENGTHS) + 1
    sold = {rt.pk: [0] * horizon for rt in room_types}
    by_hotel: dict[int, list[RoomType]] = {}
    for rt in room_types:
        by_hotel.setdefault(rt.hotel_id, []).append(rt)
    hotel_by_id = {h.pk: h for h in hotels}
    # Fewer bookings the further ahead the arrival: most are made weeks before.
    day_weights = list(
        accumulate(
            1.0 if d < scale.history_days else max(0.05, 1 - (d - scale.history_days) / 240)
            for d in range(span)
        )
    )
    stay_weights = list(accumulate(STAY_WEIGHTS))
    policies: dict[tuple[int, date], dict] = {}
    references: set[str] = set()
    plan = _Plan(bookings=[], nights=[], sold=sold, day0=day0)
    for booking_id in range(1, scale.bookings + 1):
        for _attempt in range(6):
            start = bisect(day_weights, rng.random() * day_weights[-1])
            length = STAY_LENGTHS[bisect(stay_weights, rng.random() * stay_weights[-1])]
            hotel_id = hotels[rng.randrange(len(hotels))].pk
            rt = rng.choice(by_hotel[hotel_id])
            days = sold[rt.pk]
            if all(days[d] < rt.rooms_total for d in range(start, start + length)):
                break
        else:
            rt = None
        check_in = day0 + timedelta(days=start)
        check_out = check_in + timedelta(days=length)
        status = _status(rng=rng, check_in=check_in, check_out=check_out, today=today)
        if rt is None:
            # Every try met a full night: the guest booked elsewhere. Keep the
            # booking as a cancelled one so the count stays what was asked.
            rt = rng.choice(by_hotel[hotel_id])
            status = Booking.Status.CANCELLED
        if status in Booking.HOLDS_INVENTORY:
            for d in range(start, start + length):
                sold[rt.pk][d] += 1
        hotel = hotel_by_id[hotel_id]
        key = (hotel_id, check_in)
        if key not in policies:
            policies[key] = policy_snapshot(hotel=hotel, check_in=check_in)
        guest_id = int(scale.guests * rng.random() ** 2) + 1 if rng.random() > 0.04 else None
        adults = rng.randint(1, rt.max_adults)
        prices = [night_price(rt.base_price, check_in + timedelta(days=d)) for d in range(length)]
        total = sum(prices, Decimal("0"))
        created = datetime.combine(
            check_in - timedelta(days=rng.randint(0, 120)), datetime.min.time(), tzinfo=UTC
        ) + timedelta(minutes=rng.randint(0, 24 * 60 - 1))
        created = min(created, now - timedelta(minutes=5))
        while True:
            reference = "".join(rng.choice(REFERENCE_ALPHABET) for _ in range(REFERENCE_LENGTH))
            if reference not in references:
                references.add(reference)
                break
        confirmed = created + timedelta(minutes=rng.randint(1, 9))
        cancelled_at = None
        fee = None
        if status == Booking.Status.CANCELLED:
            cancelled_at = min(now, confirmed + timedelta(days=rng.randint(0, 30)))
            fee = Decimal("0.00") if rng.random() < 0.7 else prices[0]
        plan.bookings.append(
            {
                "id": booking_id,
                "reference": reference,
                "hotel_id": hotel_id,
                "room_type_id": rt.pk,
                "room_id": None,
                "guest_id": guest_id,
                "guest_name": f"Guest Number {guest_id}" if guest_id else "Walk-in Guest",
                "guest_email": f"guest{guest_id or 0}@example.com",
                "adults": adults,
                "children": 0,
                "check_in": check_in,
                "check_out": check_out,
                "status": status,
                "hold_expires_at": None,
                "currency": hotel.currency,
                "total_price": total,
                "cancellation_policy": policies[key],
                "cancellation_fee": fee,
                "source": Booking.Source.WEB,
                "idempotency_key": None,
                "created_at": created,
                "updated_at": cancelled_at or confirmed,
                "confirmed_at": confirmed,
                "policy_accepted_at": confirmed,
                "cancelled_at": cancelled_at,
            }
        )
        plan.nights.append((booking_id, check_in, prices))
        plan.night_count += length
        plan.event_count += 2 if status == Booking.Status.CONFIRMED else 3
    return plan


def _status(*, rng: random.Random, check_in: date, check_out: date, today: date) -> str:
    r = rng.random()
    if check_out <= today:
        if r < 0.85:
            return Booking.Status.CHECKED_OUT
        return Booking.Status.CANCELLED if r < 0.95 else Booking.Status.NO_SHOW
    if check_in <= today:
        return Booking.Status.CHECKED_IN if r < 0.9 else Booking.Status.CANCELLED
    return Booking.Status.CONFIRMED if r < 0.87 else Booking.Status.CANCELLED


def _inventory_rows(*, room_types, plan: _Plan, start: date, end: date) -> Iterator[dict]:
    offset = (start - plan.day0).days
    nights = (end - start).days
    for rt in room_types:
        days = plan.sold[rt.pk]
        for i in range(nights):
            night = start + timedelta(days=i)
            d = offset + i
            yield {
                "room_type_id": rt.pk,
                "date": night,
                "total": rt.rooms_total,
                "sold": days[d] if 0 <= d < len(days) else 0,
                "price": night_price(rt.base_price, night),
                "price_overridden": False,
                "min_stay": 1,
                "max_stay": None,
                "closed_to_arrival": False,
                "closed_to_departure": False,
                "stop_sell": False,
            }


def _booking_nights(*, plan: _Plan) -> Iterator[dict]:
    for booking_id, check_in, prices in plan.nights:
        for i, price in enumerate(prices):
            yield {"booking_id": booking_id, "date": check_in + timedelta(days=i), "price": price}


def _booking_events(*, plan: _Plan) -> Iterator[dict]:
    """The audit trail each booking would have: held, confirmed, then its final move."""
    for row in plan.bookings:
        by = row["guest_id"]
        yield {
            "booking_id": row["id"],
            "at": row["created_at"],
            "by_id": by,
            "from_status": "",
            "to_status": Booking.Status.HOLD,
            "reason": "Held (Website).",
        }
        yield {
            "booking_id": row["id"],
            "at": row["confirmed_at"],
            "by_id": by,
            "from_status": Booking.Status.HOLD,
            "to_status": Booking.Status.CONFIRMED,
            "reason": "Confirmed.",
        }
        status = row["status"]
        if status != Booking.Status.CONFIRMED:
            from_status = (
                Booking.Status.CHECKED_IN
                if status == Booking.Status.CHECKED_OUT
                else Booking.Status.CONFIRMED
            )
            yield {
                "booking_id": row["id"],
                "at": row["cancelled_at"] or row["updated_at"],
                "by_id": None,
                "from_status": from_status,
                "to_status": status,
                "reason": f"{Booking.Status(status).label}.",
            }


def _reset_sequences() -> None:
    """Move the id sequences past the ids COPY wrote, so the next insert does not collide."""
    sql = connection.ops.sequence_reset_sql(
        no_style(), [get_user_model(), Booking, BookingNight, BookingEvent, RoomInventory]
    )
    with connection.cursor() as cursor:
        for statement in sql:
            cursor.execute(statement)


def _forget_cached_reads() -> None:
    """Pages cached before the build describe rows that are gone."""
    from caching.api import invalidate

    namespaces = ["catalogue"]
    for hotel_id, city in Hotel.objects.values_list("pk", "city"):
        namespaces += [
            f"hotel:{hotel_id}",
            f"availability:hotel:{hotel_id}",
            f"availability:city:{city.lower()}",
        ]
    invalidate(*namespaces)
