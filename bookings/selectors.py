"""Reads for the booking pages and staff screens; each in a fixed number of queries."""

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.core.paginator import Page, Paginator
from django.db import connections, router
from django.db.models import Prefetch, Q, QuerySet, prefetch_related_objects
from django.db.transaction import TransactionManagementError
from django.utils import timezone

from caching.api import cached
from hotel.models import Hotel, RoomType
from hotel.money import CENT
from hotel.rows import ModelColumns, model_columns, per_database, read_instances

from .models import Booking, BookingNight, booking_path, status_label

Status = Booking.Status

UPCOMING = (Status.HOLD, Status.CONFIRMED, Status.CHECKED_IN)


def _hotel_time_zones() -> tuple[str, ...]:
    """The time zones the hotels are in, inactive ones included (past stays were there)."""
    return cached(
        "catalogue",
        ["hotel-time-zones"],
        lambda: tuple(sorted(set(Hotel.objects.values_list("timezone", flat=True)))),
        ttl=3600,
    )


def _hotel_dates(now: datetime) -> dict[date, list[str]]:
    """The hotels' time zones by the date it is in each at ``now``."""
    zones_by_date: dict[date, list[str]] = defaultdict(list)
    for name in _hotel_time_zones():
        zones_by_date[now.astimezone(ZoneInfo(name)).date()].append(name)
    return zones_by_date


def departs_today_or_later(now: datetime) -> Q:
    """Bookings whose check-out day has not passed yet at their hotel, in its time zone.

    Today differs from hotel to hotel (Tokyo is a day ahead of New York for
    much of the day), so the filter names the hotels' zones that are still on
    an earlier date than the latest; with every hotel on the same date, as
    for most of the day in most catalogues, it is one comparison.
    """
    zones_by_date = _hotel_dates(now)
    if not zones_by_date:
        return Q(check_out__gte=timezone.localdate(now))
    latest = max(zones_by_date)
    condition = Q(check_out__gte=latest)
    for day, names in zones_by_date.items():
        if day != latest:
            condition |= Q(check_out__gte=day, hotel__timezone__in=names)
    return condition


def bookings_for_guest(*, guest, past: bool = False) -> QuerySet[Booking]:
    """A guest's upcoming stays (soonest first) or past and cancelled ones (latest first).

    A stay is upcoming until its check-out day has passed at its hotel.
    Lapsed holds never show: they were never bookings.
    """
    qs = Booking.objects.filter(guest=guest)
    upcoming = Q(status__in=UPCOMING) & departs_today_or_later(timezone.now())
    live_hold = ~Q(status=Status.HOLD) | Q(hold_expires_at__gt=timezone.now())
    if past:
        return (
            qs.exclude(upcoming)
            .exclude(status__in=(Status.HOLD, Status.EXPIRED))
            .order_by("-check_in", "-pk")
        )
    return qs.filter(upcoming & live_hold).order_by("check_in", "pk")


@dataclass(frozen=True, slots=True)
class GuestBookingRow:
    """A booking as "My bookings" lists it: nothing else is read."""

    reference: str
    status: str
    check_in: date
    check_out: date
    currency: str
    total_price: Decimal
    hotel_name: str
    hotel_city: str
    room_type_name: str

    def get_absolute_url(self) -> str:
        return booking_path(self.reference)

    def get_status_display(self) -> str:
        return status_label(self.status)


# "My bookings" in plain SQL: building and compiling the ORM's query (its
# filters, three joined names and a window count) took twice as long as
# PostgreSQL took to run it. The conditions are ``bookings_for_guest``'s,
# which stays the ORM's definition of the same lists, for a caller that needs
# a queryset; a test holds the two to the same rows. The count rides on every
# row as a window function instead of the Paginator's separate COUNT.
# CAST(... AS TEXT) keeps one text for PostgreSQL and SQLite.
_GUEST_PAGE_SQL = """
SELECT booking.reference, booking.status, CAST(booking.check_in AS TEXT),
       CAST(booking.check_out AS TEXT), booking.currency, CAST(booking.total_price AS TEXT),
       hotel.name, hotel.city, room_type.name, COUNT(*) OVER ()
  FROM {booking} booking
  JOIN {hotel} hotel ON hotel.id = booking.hotel_id
  JOIN {room_type} room_type ON room_type.id = booking.room_type_id
 WHERE booking.guest_id = %s AND {condition}
 ORDER BY {order}
 LIMIT %s OFFSET %s
"""
# Upcoming: live, and its check-out day not past at its hotel; a hold only
# while it lasts. Past: the rest, but for holds and lapsed holds.
_UPCOMING = "booking.status IN (%s, %s, %s) AND ({departs})"
_GUEST_PAGE_CONDITIONS = {
    False: (
        f"{_UPCOMING} AND (booking.status <> %s OR booking.hold_expires_at > %s)",
        "booking.check_in, booking.id",
    ),
    True: (
        f"NOT ({_UPCOMING}) AND booking.status NOT IN (%s, %s)",
        "booking.check_in DESC, booking.id DESC",
    ),
}


def _departs_today_or_later_sql(now: datetime, connection) -> tuple[str, list]:
    """``departs_today_or_later`` as SQL text and its parameters."""
    zones_by_date = _hotel_dates(now)
    adapt = connection.ops.adapt_datefield_value
    if not zones_by_date:
        return "booking.check_out >= %s", [adapt(timezone.localdate(now))]
    latest = max(zones_by_date)
    terms, params = ["booking.check_out >= %s"], [adapt(latest)]
    for day, names in zones_by_date.items():
        if day != latest:
            marks = ", ".join(["%s"] * len(names))
            terms.append(f"(booking.check_out >= %s AND hotel.timezone IN ({marks}))")
            params += [adapt(day), *names]
    return " OR ".join(terms), params


def _guest_page_rows(*, guest, past: bool, offset: int, limit: int) -> tuple[list, int]:
    """One page of a guest's bookings as ``GuestBookingRow``s, and how many there are in all."""
    connection = connections[router.db_for_read(Booking)]
    now = timezone.now()
    departs, departs_params = _departs_today_or_later_sql(now, connection)
    condition, order = _GUEST_PAGE_CONDITIONS[past]
    params: list = [guest.pk, *UPCOMING, *departs_params]
    if past:
        params += [Status.HOLD, Status.EXPIRED]
    else:
        params += [Status.HOLD, connection.ops.adapt_datetimefield_value(now)]
    quote = connection.ops.quote_name
    sql = _GUEST_PAGE_SQL.format(
        booking=quote(Booking._meta.db_table),
        hotel=quote(Hotel._meta.db_table),
        room_type=quote(RoomType._meta.db_table),
        condition=condition.format(departs=departs),
        order=order,
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, limit, offset])
        rows = cursor.fetchall()
    page = [
        GuestBookingRow(
            reference,
            status,
            date.fromisoformat(check_in),
            date.fromisoformat(check_out),
            currency,
            Decimal(total).quantize(CENT),
            *names,
        )
        for reference, status, check_in, check_out, currency, total, *names, _found in rows
    ]
    return page, rows[0][-1] if rows else 0


MAX_PAGE_NUMBER = 2**31


def guest_bookings_page(*, guest, past: bool, number, per_page: int) -> Page:
    """One page of ``bookings_for_guest`` and their number, in one query.

    Like ``Paginator.get_page``, a number that is not one gives the first
    page, and one past the end the last page (which costs two more queries:
    the number of bookings, then that page).
    """
    try:
        number = max(int(number), 1)
    except (TypeError, ValueError):
        number = 1
    # Past any guest's last page, and its offset still fits PostgreSQL's bigint.
    number = min(number, MAX_PAGE_NUMBER)
    page, found = _guest_page_rows(
        guest=guest, past=past, offset=(number - 1) * per_page, limit=per_page
    )
    if not page and number > 1:
        _first, count = _guest_page_rows(guest=guest, past=past, offset=0, limit=1)
        number = _last_page(count, per_page)
        page, found = _guest_page_rows(
            guest=guest, past=past, offset=(number - 1) * per_page, limit=per_page
        )
    paginator = Paginator(page, per_page)
    paginator.count = found
    return Page(page, number, paginator)


def _last_page(count: int, per_page: int) -> int:
    return max(-(-count // per_page), 1)


# The booking flow's reads in plain SQL. Every step of a hold (details,
# review, confirm, cancel) reads its booking with the hotel, room type, room
# and guest, then locks it again in the service: the ORM spent four times
# longer building and reading these queries (eighty columns over five
# tables) than PostgreSQL spent running them.
_BOOKING_SQL = "SELECT {columns}\n  FROM {booking} booking{joins}\n WHERE booking.{key} = %s{lock}"
# What a booking page shows with it; a room and a guest are optional.
PAGE_RELATIONS = ("hotel", "room_type", "room", "guest")


@dataclass(frozen=True, slots=True)
class _BookingRead:
    """One statement reading a booking and some of its relations, and their columns in it."""

    text: str
    booking: ModelColumns
    related: tuple[tuple[str, ModelColumns], ...]


def _booking_read(connection, *, key: str, related: tuple[str, ...], lock: bool) -> _BookingRead:
    """The statement reading a booking by ``key`` (a column), with ``related`` joined in."""
    return per_database(
        connection,
        ("booking", key, related, lock),
        lambda: _build_booking_read(connection, key=key, related=related, lock=lock),
    )


def _build_booking_read(connection, *, key: str, related: tuple[str, ...], lock: bool):
    quote = connection.ops.quote_name
    booking = model_columns(Booking, "booking", connection)
    parts, joins = [], []
    for name in related:
        field = Booking._meta.get_field(name)
        model = field.related_model
        parts.append((name, model_columns(model, name, connection)))
        joins.append(
            f"\n  {'LEFT JOIN' if field.null else 'JOIN'} {quote(model._meta.db_table)} {name}"
            f" ON {name}.{quote(field.target_field.column)} = booking.{quote(field.column)}"
        )
    features = connection.features
    for_update = ""
    if lock and features.has_select_for_update:
        for_update = "\n   FOR UPDATE"
        if related and features.has_select_for_update_of:
            # The booking's row only, never its hotel's: other bookings read it.
            for_update += " OF booking"
    return _BookingRead(
        text=_BOOKING_SQL.format(
            columns=", ".join([booking.sql, *(columns.sql for _name, columns in parts)]),
            booking=quote(Booking._meta.db_table),
            joins="".join(joins),
            key=quote(Booking._meta.get_field(key).column),
            lock=for_update,
        ),
        booking=booking,
        related=tuple(parts),
    )


def _read_booking(connection, read: _BookingRead, value) -> Booking:
    parts = [read.booking, *(columns for _name, columns in read.related)]
    found = read_instances(connection, read.text, [value], parts)
    if not found:
        raise Booking.DoesNotExist(f"No booking {value!r}.")
    booking, *instances = found[0]
    related = dict(zip((name for name, _columns in read.related), instances, strict=True))
    for name, instance in related.items():
        setattr(booking, name, instance)
    hotel, room_type = related.get("hotel"), related.get("room_type")
    if hotel is not None and room_type is not None and room_type.hotel_id == hotel.pk:
        # Share the hotel already read rather than read it again through the room type.
        room_type.hotel = hotel
    return booking


def booking_for_page(*, reference: str, with_nights: bool = True) -> Booking:
    """One booking with its hotel, room type, room and nights (two queries).

    ``with_nights=False`` leaves the nights to be read only if a page shows
    them: a form post that succeeds redirects without showing them.
    """
    connection = connections[router.db_for_read(Booking)]
    booking = _read_booking(
        connection,
        _booking_read(connection, key="reference", related=PAGE_RELATIONS, lock=False),
        reference,
    )
    if with_nights:
        prefetch_related_objects(
            [booking], Prefetch("night_prices", queryset=BookingNight.objects.order_by("date"))
        )
    return booking


_NIGHTS_SQL = """
SELECT {columns}
  FROM {table} night
 WHERE night.{booking} = %s
 ORDER BY night.{date}
"""


def booking_nights(*, booking: Booking) -> list[BookingNight]:
    """A booking's nights in date order, in plain SQL (one query).

    Each confirmation and cancellation email lists them, and the ORM's query
    cost more to build than to run.
    """
    # From the booking's database, as its related manager reads: an email
    # written in the booking's transaction must see the nights just written.
    connection = connections[router.db_for_read(BookingNight, instance=booking)]
    columns = model_columns(BookingNight, "night", connection)
    text = per_database(connection, "booking nights", lambda: _nights_sql(connection))
    return [night for (night,) in read_instances(connection, text, [booking.pk], [columns])]


def _nights_sql(connection) -> str:
    quote = connection.ops.quote_name
    return _NIGHTS_SQL.format(
        columns=model_columns(BookingNight, "night", connection).sql,
        table=quote(BookingNight._meta.db_table),
        booking=quote(BookingNight._meta.get_field("booking").column),
        date=quote(BookingNight._meta.get_field("date").column),
    )


def booking_for_update(*, pk: int, related: tuple[str, ...] = ()) -> Booking:
    """The booking ``pk`` under a row lock (its own row only), with ``related`` joined in.

    Like ``select_for_update``, only inside a transaction.
    """
    connection = connections[router.db_for_write(Booking)]
    if connection.get_autocommit():
        raise TransactionManagementError("A booking is locked only inside a transaction.")
    return _read_booking(
        connection, _booking_read(connection, key="id", related=related, lock=True), pk
    )


def hotel_day(*, hotel: Hotel, day: date) -> dict[str, list[Booking]]:
    """Arrivals, departures and guests in house at a hotel on one day (three queries)."""
    base = Booking.objects.filter(hotel=hotel).select_related("room_type", "room")
    return {
        "arrivals": list(
            base.filter(
                check_in=day, status__in=(Status.CONFIRMED, Status.CHECKED_IN, Status.NO_SHOW)
            ).order_by("guest_name")
        ),
        "departures": list(
            base.filter(check_out=day, status__in=(Status.CHECKED_IN, Status.CHECKED_OUT)).order_by(
                "guest_name"
            )
        ),
        "in_house": list(
            base.filter(status=Status.CHECKED_IN, check_in__lte=day).order_by("room__number")
        ),
    }
