"""Every write to RoomInventory goes through here.

Date ranges are half-open, [start, end), like a stay: ``end`` is the first
night not touched. Staff forms that show an inclusive "to" date convert.
"""

from collections import defaultdict
from collections.abc import Collection, Iterable
from datetime import date, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import connections, router, transaction
from django.db.models import Count, Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from hotel.models import Hotel, RoomType
from hotel.money import is_payable, minor_unit
from hotel.rows import model_columns, per_database, read_instances

from .exceptions import InventoryError, SoldOut, StayRestricted
from .models import RoomInventory
from .pricing import HotelRules

# Rows per INSERT/UPDATE statement when writing nights in bulk.
BATCH_SIZE = 1000
# A bulk edit longer than this is almost certainly a typo in a year.
MAX_EDIT_NIGHTS = 800
# A write over more weeks than this invalidates the hotel's whole availability
# rather than send one bump per week (a stay is at most BOOKING_MAX_NIGHTS).
MAX_WEEKS_INVALIDATED = 8
# Guests are told how many rooms are free only when few are ("3 left"); above
# that, only that one is. See shown_free.
FEW_ROOMS_LEFT = 3

UNCHANGED = object()


def shown_free(free: int) -> int:
    """A night's free rooms as the guests' pages tell them apart: 0 up to FEW_ROOMS_LEFT, or more.

    The search, the hotel page and the room type page's calendar read free
    rooms only through this (the availability selectors cap them in SQL, the
    calendar's cards in calendar_weeks), so a hold or a cancel that leaves it
    unchanged changes nothing they show, and their cached reads are kept
    (see _after_sale).
    """
    return max(0, min(free, FEW_ROOMS_LEFT + 1))


def stay_nights(check_in: date, check_out: date) -> list[date]:
    """The nights of a stay [check_in, check_out)."""
    return [check_in + timedelta(days=i) for i in range((check_out - check_in).days)]


# The stay's nights and its check-out day, in plain SQL: a hold reads them
# first, and the ORM's query cost more to build than to run.
_CHECK_SQL = """
SELECT {columns}
  FROM {table} night
 WHERE night.{room_type} = %s AND night.{date} >= %s AND night.{date} <= %s
 ORDER BY night.{date}
"""


def _check_sql(connection) -> str:
    quote = connection.ops.quote_name
    return _CHECK_SQL.format(
        columns=model_columns(RoomInventory, "night", connection).sql,
        table=quote(RoomInventory._meta.db_table),
        room_type=quote(RoomInventory._meta.get_field("room_type").column),
        date=quote(RoomInventory._meta.get_field("date").column),
    )


def inventory_check(
    *, room_type: RoomType, check_in: date, check_out: date, rooms: int = 1
) -> list[RoomInventory]:
    """Refuse a stay that is full, stop-sold or restricted; else return its nights.

    One read without locks: every night of the stay and the check-out day
    (for closed to departure). It names the nights with no room left
    (SoldOut) or the rule the stay breaks (StayRestricted), before the
    caller writes anything, and gives the booking its prices. It promises
    nothing: inventory_take applies the same rules again under the lock.
    """
    connection = connections[router.db_for_read(RoomInventory)]
    nights = model_columns(RoomInventory, "night", connection)
    text = per_database(connection, "inventory check", lambda: _check_sql(connection))
    adapt = connection.ops.adapt_datefield_value
    params = [room_type.pk, adapt(check_in), adapt(check_out)]
    rows = [night for (night,) in read_instances(connection, text, params, [nights])]
    departure = rows.pop() if rows and rows[-1].date == check_out else None
    by_date = {row.date: row for row in rows}
    unavailable = [
        night
        for night in stay_nights(check_in, check_out)
        if night not in by_date
        or by_date[night].stop_sell
        or by_date[night].sold + rooms > by_date[night].total
    ]
    if unavailable:
        raise SoldOut(unavailable)
    _check_restrictions(rows, departure=departure, check_in=check_in, check_out=check_out)
    return rows


# The nights are locked in date order (the CTE), so that two stays that
# overlap queue on their first shared night instead of deadlocking, and each
# night is taken only if the rules of inventory_check still hold on the row
# as it is now (under READ COMMITTED an UPDATE re-checks its WHERE on the
# newest version of a row it waited for). Closed to departure lives on the
# check-out day, which is not taken; inventory_check applies it.
_TAKE_SQL = """
WITH stay AS (
    SELECT id AS night_id FROM {table}
     WHERE room_type_id = %s AND date >= %s AND date < %s
     ORDER BY date{lock}
)
UPDATE {table} AS night
   SET sold = night.sold + %s
  FROM stay
 WHERE night.id = stay.night_id
   AND NOT night.stop_sell
   AND night.sold + %s <= night.total
   AND night.min_stay <= %s
   AND (night.max_stay IS NULL OR night.max_stay >= %s)
   AND NOT (night.date = %s AND night.closed_to_arrival)
RETURNING total - sold
"""
# RETURNING names the columns bare: SQLite does not know the alias there, and
# the CTE has no column of those names, so both read the updated row.


def inventory_take(*, room_type: RoomType, check_in: date, check_out: date, rooms: int = 1) -> None:
    """Take ``rooms`` rooms on every night of the stay, or raise and keep none.

    Must run inside the caller's transaction (the booking service), which
    rolls back on SoldOut or StayRestricted. One statement locks the nights
    in date order and takes a room only where one is free, the night is not
    stop-sold and the stay meets its restrictions. Fewer nights taken than
    asked means refused; the refusal is read again under the lock, so it
    names the nights as they are now. A caller locks as late as it can
    (after its own inserts): the nights then stay locked for this statement
    and the commit only, which is what lets many guests book one room type
    at once.
    """
    connection = transaction.get_connection()
    if not connection.in_atomic_block:
        raise RuntimeError("inventory_take must run inside a transaction")
    nights = (check_out - check_in).days
    lock = " FOR UPDATE" if connection.features.has_select_for_update else ""
    sql = _TAKE_SQL.format(table=connection.ops.quote_name(RoomInventory._meta.db_table), lock=lock)
    params = [room_type.pk, check_in, check_out, rooms, rooms, nights, nights, check_in]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        # Counted from RETURNING: SQLite's driver gives no rowcount after a WITH.
        free_after = [row[0] for row in cursor.fetchall()]
    if len(free_after) != nights:
        inventory_check(room_type=room_type, check_in=check_in, check_out=check_out, rooms=rooms)
        # Unreachable while the rules above match inventory_check's; kept so
        # that a rule added to one and not the other can never book.
        raise SoldOut(stay_nights(check_in, check_out))
    _after_sale(
        room_type=room_type,
        start=check_in,
        end=check_out,
        free_changes=[(free + rooms, free) for free in free_after],
    )


def _check_restrictions(
    rows: list[RoomInventory],
    *,
    departure: RoomInventory | None,
    check_in: date,
    check_out: date,
) -> None:
    """Refuse a stay that the availability pages show as not bookable for its restrictions.

    The same rules as inventory.selectors: the strictest minimum and maximum
    stay over the nights, closed to arrival on the first night, closed to
    departure on the check-out day. Without this a stale page or a crafted
    POST would book round what staff closed.
    """
    n = len(rows)
    min_stay = max(row.min_stay for row in rows)
    max_stays = [row.max_stay for row in rows if row.max_stay is not None]
    if min_stay > n:
        raise StayRestricted(
            ngettext(
                "The minimum stay on these dates is %(n)d night.",
                "The minimum stay on these dates is %(n)d nights.",
                min_stay,
            )
            % {"n": min_stay}
        )
    if max_stays and min(max_stays) < n:
        raise StayRestricted(
            ngettext(
                "The maximum stay on these dates is %(n)d night.",
                "The maximum stay on these dates is %(n)d nights.",
                min(max_stays),
            )
            % {"n": min(max_stays)}
        )
    if rows[0].closed_to_arrival:
        raise StayRestricted(
            _("Arrivals are closed on %(day)s.") % {"day": f"{check_in:%a %d %b %Y}"}
        )
    if departure is not None and departure.closed_to_departure:
        raise StayRestricted(
            _("Departures are closed on %(day)s.") % {"day": f"{check_out:%a %d %b %Y}"}
        )


def inventory_release(
    *, room_type: RoomType, check_in: date, check_out: date, rooms: int = 1
) -> int:
    """Give ``rooms`` rooms back on every night of the stay; return the nights released.

    Runs in the caller's transaction. ``sold`` never goes below zero: a night
    that was edited down meanwhile keeps its floor, and the CHECK constraint
    would refuse anything else.
    """
    connection = transaction.get_connection()
    sql = _RELEASE_SQL.format(table=connection.ops.quote_name(RoomInventory._meta.db_table))
    with connection.cursor() as cursor:
        cursor.execute(sql, [rooms, room_type.pk, check_in, check_out, rooms])
        free_after = [row[0] for row in cursor.fetchall()]
    _after_sale(
        room_type=room_type,
        start=check_in,
        end=check_out,
        free_changes=[(free - rooms, free) for free in free_after],
    )
    return len(free_after)


# The free rooms after the change come back with it, from the locked rows, so
# the caller knows what each night went from and to. PostgreSQL and SQLite
# (3.35 and later) both return from an UPDATE.
_RELEASE_SQL = """UPDATE {table}
   SET sold = sold - %s
 WHERE room_type_id = %s AND date >= %s AND date < %s AND sold >= %s
RETURNING total - sold
"""


def _after_sale(
    *, room_type: RoomType, start: date, end: date, free_changes: list[tuple[int, int]]
) -> None:
    """Invalidate cached reads of these nights once a hold or a release commits.

    ``free_changes`` holds each changed night's free rooms before and after.
    The exact figures (the staff calendar) are always refreshed. What the
    guests' pages show (the search, the hotel page, the room type page's
    calendar) is refreshed only where a night's shown_free changed: on a
    hotel whose nights have rooms to spare, most sales change nothing a guest
    sees, and those pages, the most read, stay cached while guests book.
    """
    from caching.api import invalidate_on_commit

    shown_changed = any(shown_free(before) != shown_free(after) for before, after in free_changes)
    invalidate_on_commit(
        *availability_namespaces(
            hotel=room_type.hotel,
            start=start,
            end=end,
            room_type_ids=[room_type.pk],
            offers=shown_changed,
        )
    )


# Availability is cached per hotel and per city (the search), and a cached
# read depends on the whole namespace and on one namespace per ISO week of the
# dates it reads. A hold bumps only the weeks of its nights, so on a busy
# hotel the pages of other weeks stay cached; a change that is not about some
# nights (a room type edited, a room out of service) bumps the whole. A room
# type's own calendar depends on its own weeks, so that a hold on one room
# type leaves the hotel's other calendars cached.
# Holds cluster on the coming weekends as searches do, so a finer grain (a
# namespace per night) would save few misses for several times the bumps.
#
# Two families of week namespaces: the exact figures (``hotel-week``, the
# staff calendar's "9/12"), bumped by every change to the nights, and what the
# guests' pages show (``hotel-offers`` for the hotel page, ``city-offers`` for
# the search, ``room-type-offers`` for the room type page's calendar), which a
# sale bumps only when it changes what they show (shown_free). Any other
# change bumps both.


def _city_key(city: str) -> str:
    return city.strip().lower()


def _weeks(first: date, last: date) -> list[str]:
    """The ISO weeks from ``first`` to ``last``, both included, as ``2026-W48``."""
    monday = first - timedelta(days=first.weekday())
    # Counted, not stepped past ``last``: a stay in the last week of 9999
    # has no Monday after it, and stepping there overflows the date type.
    weeks = []
    for n in range((last - monday).days // 7 + 1):
        year, week, _day = (monday + timedelta(days=7 * n)).isocalendar()
        weeks.append(f"{year}-W{week:02d}")
    return weeks


def hotel_availability_namespaces(*, hotel_id: int, first: date, last: date) -> list[str]:
    """What a cached read of a hotel's exact figures on the dates [first, last] depends on."""
    return [
        f"availability:hotel:{hotel_id}",
        *(f"availability:hotel-week:{hotel_id}@{week}" for week in _weeks(first, last)),
    ]


def hotel_offer_namespaces(*, hotel_id: int, first: date, last: date) -> list[str]:
    """What a cached read of a hotel's offers to guests on the dates [first, last] depends on."""
    return [
        f"availability:hotel:{hotel_id}",
        *(f"availability:hotel-offers:{hotel_id}@{week}" for week in _weeks(first, last)),
    ]


def room_type_offer_namespaces(
    *, hotel_id: int, room_type_id: int, first: date, last: date
) -> list[str]:
    """What a cached read of one room type's offers on the dates [first, last] depends on."""
    return [
        f"availability:hotel:{hotel_id}",
        *(f"availability:room-type-offers:{room_type_id}@{week}" for week in _weeks(first, last)),
    ]


def city_offer_namespaces(*, city: str, first: date, last: date) -> list[str]:
    """What a cached read of a city's offers to guests on the dates [first, last] depends on."""
    city = _city_key(city)
    return [
        f"availability:city:{city}",
        *(f"availability:city-offers:{city}@{week}" for week in _weeks(first, last)),
    ]


def availability_namespaces(
    *,
    hotel,
    start: date | None = None,
    end: date | None = None,
    room_type_ids: Iterable[int] | None = None,
    offers: bool = True,
) -> list[str]:
    """The cache namespaces that a change to a hotel's inventory makes stale.

    Given the nights changed, [start, end), and the room types they belong
    to, the weeks they fall in; otherwise (or over more than
    MAX_WEEKS_INVALIDATED weeks) the whole hotel and city. ``offers=False``
    (a sale that changes nothing guests are shown) leaves the weeks of the
    hotel's and city's offers out.
    """
    city = _city_key(hotel.city)
    if start is not None and end is not None and end > start and room_type_ids is not None:
        weeks = _weeks(start, end - timedelta(days=1))
        if len(weeks) <= MAX_WEEKS_INVALIDATED:
            namespaces = [f"availability:hotel-week:{hotel.pk}@{week}" for week in weeks]
            if offers:
                namespaces += [
                    *(f"availability:hotel-offers:{hotel.pk}@{week}" for week in weeks),
                    *(f"availability:city-offers:{city}@{week}" for week in weeks),
                    *(
                        f"availability:room-type-offers:{pk}@{week}"
                        for pk in sorted(set(room_type_ids))
                        for week in weeks
                    ),
                ]
            return namespaces
    return [f"availability:hotel:{hotel.pk}", f"availability:city:{city}"]


def _check_range(start: date, end: date, *, limit: int | None = None) -> None:
    if end <= start:
        raise InventoryError(_("The end date must be after the start date."))
    if limit is not None and (end - start).days > limit:
        raise InventoryError(_("A range can cover at most %(n)d nights at once.") % {"n": limit})


def _room_types_for(
    *, hotel: Hotel | None, room_type: RoomType | None, room_types: Iterable[RoomType] | None
) -> list[RoomType]:
    if room_types is not None:
        return list(room_types)
    if room_type is not None:
        return [room_type]
    qs = RoomType.objects.filter(is_active=True, hotel__is_active=True).select_related("hotel")
    if hotel is not None:
        qs = qs.filter(hotel=hotel)
    return list(qs.order_by("hotel_id", "pk"))


def _rooms_for_sale(room_type_ids: list[int]) -> dict[int, int]:
    """Active rooms per room type: the default ``total`` of a new night."""
    counts = (
        RoomType.objects.filter(pk__in=room_type_ids)
        .annotate(n=Count("rooms", filter=Q(rooms__is_active=True)))
        .values_list("pk", "n")
    )
    return dict(counts)


@transaction.atomic
def _generate_for_hotel(
    *, hotel_id: int, room_types: list[RoomType], start: date, end: date
) -> int:
    ids = [rt.pk for rt in room_types]
    existing: dict[int, set[date]] = defaultdict(set)
    for rt_id, night in RoomInventory.objects.filter(
        room_type_id__in=ids, date__gte=start, date__lt=end
    ).values_list("room_type_id", "date"):
        existing[rt_id].add(night)
    nights = stay_nights(start, end)
    if all(len(existing[rt_id]) == len(nights) for rt_id in ids):
        return 0
    rules = HotelRules.load(hotel_id=hotel_id, start=start, end=end)
    totals = _rooms_for_sale(ids)
    rows = [
        RoomInventory(
            room_type_id=rt.pk,
            date=night,
            total=totals.get(rt.pk, 0),
            price=rules.price(room_type=rt, night=night),
        )
        for rt in room_types
        for night in nights
        if night not in existing[rt.pk]
    ]
    # ignore_conflicts: a concurrent run (the beat job and an operator's
    # command) may insert the same nights; the unique constraint settles it.
    RoomInventory.objects.bulk_create(rows, batch_size=BATCH_SIZE, ignore_conflicts=True)
    if rows:
        _after_hotel_change(
            hotel=room_types[0].hotel,
            start=start,
            end=end,
            room_type_ids={row.room_type_id for row in rows},
        )
    return len(rows)


def inventory_generate(
    *,
    hotel: Hotel | None = None,
    room_type: RoomType | None = None,
    start: date,
    end: date,
) -> int:
    """Create the missing nights in [start, end) and return how many were created.

    Covers one room type, the active room types of one hotel, or (neither
    given) every active room type of every active hotel. A new night is for
    sale with ``total`` = the room type's active rooms and the price its
    pricing rules give; existing nights are never touched, so running it
    twice is harmless. Each hotel is written in its own short transaction.
    """
    _check_range(start, end)
    room_types = _room_types_for(hotel=hotel, room_type=room_type, room_types=None)
    by_hotel: dict[int, list[RoomType]] = defaultdict(list)
    for rt in room_types:
        by_hotel[rt.hotel_id].append(rt)
    return sum(
        _generate_for_hotel(hotel_id=hotel_id, room_types=rts, start=start, end=end)
        for hotel_id, rts in by_hotel.items()
    )


def inventory_keep_window(*, days: int | None = None, today: date | None = None) -> int:
    """Make sure every active room type has nights from today for the rolling window."""
    days = days or settings.INVENTORY_WINDOW_DAYS
    today = today or timezone.now().date()
    return inventory_generate(start=today, end=today + timedelta(days=days))


@transaction.atomic
def inventory_reprice(
    *, hotel: Hotel, room_type: RoomType | None = None, start: date, end: date
) -> int:
    """Write the rule price onto the nights in [start, end); return the nights changed.

    Nights whose price staff set by hand keep it. Called whenever a pricing
    rule or a base price changes, so that searches and quotes read stored
    prices and never evaluate rules.
    """
    _check_range(start, end)
    # Inactive room types too: their nights may still be sold again later.
    qs = RoomType.objects.filter(hotel=hotel).select_related("hotel")
    if room_type is not None:
        qs = qs.filter(pk=room_type.pk)
    room_types = {rt.pk: rt for rt in qs}
    if not room_types:
        return 0
    rules = HotelRules.load(hotel_id=hotel.pk, start=start, end=end)
    # Locked in the same (room type, date) order as every other writer.
    rows = list(
        RoomInventory.objects.filter(
            room_type_id__in=list(room_types),
            date__gte=start,
            date__lt=end,
            price_overridden=False,
        )
        .order_by("room_type_id", "date")
        .select_for_update()
        .only("pk", "room_type_id", "date", "price")
    )
    changed = []
    for row in rows:
        price = rules.price(room_type=room_types[row.room_type_id], night=row.date)
        if price != row.price:
            row.price = price
            changed.append(row)
    RoomInventory.objects.bulk_update(changed, ["price"], batch_size=BATCH_SIZE)
    if changed:
        _after_hotel_change(
            hotel=hotel,
            start=start,
            end=end,
            room_type_ids={row.room_type_id for row in changed},
        )
    return len(changed)


def _after_hotel_change(
    *,
    hotel: Hotel,
    start: date | None = None,
    end: date | None = None,
    room_type_ids: Iterable[int] | None = None,
) -> None:
    from caching.api import invalidate_on_commit

    invalidate_on_commit(
        *availability_namespaces(hotel=hotel, start=start, end=end, room_type_ids=room_type_ids)
    )


def _night_list(nights: list[RoomInventory], *, limit: int = 6) -> str:
    shown = ", ".join(f"{row.room_type.name} on {row.date:%a %d %b %Y}" for row in nights[:limit])
    if len(nights) > limit:
        shown += " " + _("and %(n)d more") % {"n": len(nights) - limit}
    return shown


def inventory_price_check(*, price, currency: str) -> None:
    """Refuse a price set by hand that is finer than the currency's smallest amount.

    The rules round their prices the same way (pricing.py), so that every
    night is sold at an amount a guest can pay: whole yen, cents of a euro.
    """
    if not is_payable(price, currency):
        raise InventoryError(
            _("A price in %(currency)s must be a multiple of %(unit)s.")
            % {"currency": currency, "unit": minor_unit(currency)}
        )


@transaction.atomic
def inventory_set(
    *,
    room_types: Iterable[RoomType] | None = None,
    room_type: RoomType | None = None,
    start: date,
    end: date,
    weekdays: Collection[int] | None = None,
    total=UNCHANGED,
    price=UNCHANGED,
    price_from_rules: bool = False,
    min_stay=UNCHANGED,
    max_stay=UNCHANGED,
    closed_to_arrival=UNCHANGED,
    closed_to_departure=UNCHANGED,
    stop_sell=UNCHANGED,
) -> int:
    """Apply a staff bulk edit to the nights in [start, end); return the nights changed.

    ``weekdays`` (Monday = 0) limits the edit to those weekdays. Every field
    left UNCHANGED stays as it is; ``max_stay=None`` removes the maximum. A
    price set here is kept through later rule changes; ``price_from_rules``
    puts the nights back on their rule price. Missing nights in the range are
    generated first, so a stop-sell far ahead works too. The edit is checked
    against every locked night before anything is written: a ``total`` below
    the rooms already sold, or a maximum stay below a minimum, refuses the
    whole edit with the nights named.
    """
    _check_range(start, end, limit=MAX_EDIT_NIGHTS)
    targets = _room_types_for(hotel=None, room_type=room_type, room_types=room_types)
    if not targets:
        raise InventoryError(_("Choose at least one room type."))
    if len({rt.hotel_id for rt in targets}) != 1:
        raise InventoryError(_("A bulk edit covers the room types of one hotel."))
    if weekdays is not None:
        weekdays = set(weekdays)
        if not weekdays or not weekdays <= set(range(7)):
            raise InventoryError(_("Choose at least one weekday."))
    if price is not UNCHANGED and price_from_rules:
        raise InventoryError(_("Either set a price or go back to the rule price, not both."))
    if total is not UNCHANGED and (total is None or total < 0):
        raise InventoryError(_("The number of rooms cannot be negative."))
    if price is not UNCHANGED and (price is None or Decimal(price) < 0):
        raise InventoryError(_("A price cannot be negative."))
    if min_stay is not UNCHANGED and (min_stay is None or min_stay < 1):
        raise InventoryError(_("The minimum stay is at least one night."))
    if max_stay is not UNCHANGED and max_stay is not None and max_stay < 1:
        raise InventoryError(_("The maximum stay is at least one night."))

    hotel = targets[0].hotel
    if price is not UNCHANGED:
        inventory_price_check(price=price, currency=hotel.currency)
    by_id = {rt.pk: rt for rt in targets}
    _generate_for_hotel(hotel_id=hotel.pk, room_types=targets, start=start, end=end)
    rows = [
        row
        for row in RoomInventory.objects.filter(
            room_type_id__in=list(by_id), date__gte=start, date__lt=end
        )
        .order_by("room_type_id", "date")
        .select_for_update()
        if weekdays is None or row.date.weekday() in weekdays
    ]
    for row in rows:
        row.room_type = by_id[row.room_type_id]

    if total is not UNCHANGED:
        oversold = [row for row in rows if row.sold > total]
        if oversold:
            raise InventoryError(
                ngettext(
                    "%(count)d night already has more rooms sold than %(total)d: %(nights)s.",
                    "%(count)d nights already have more rooms sold than %(total)d: %(nights)s.",
                    len(oversold),
                )
                % {"count": len(oversold), "total": total, "nights": _night_list(oversold)}
            )
    new_min = {row.pk: row.min_stay if min_stay is UNCHANGED else min_stay for row in rows}
    new_max = {row.pk: row.max_stay if max_stay is UNCHANGED else max_stay for row in rows}
    clashing = [
        row for row in rows if new_max[row.pk] is not None and new_max[row.pk] < new_min[row.pk]
    ]
    if clashing:
        raise InventoryError(
            _("The maximum stay would be below the minimum stay on %(nights)s.")
            % {"nights": _night_list(clashing)}
        )

    fields = {
        name: value
        for name, value in {
            "total": total,
            "min_stay": min_stay,
            "max_stay": max_stay,
            "closed_to_arrival": closed_to_arrival,
            "closed_to_departure": closed_to_departure,
            "stop_sell": stop_sell,
        }.items()
        if value is not UNCHANGED
    }
    if price is not UNCHANGED:
        fields.update(price=Decimal(price), price_overridden=True)
    if not fields and not price_from_rules:
        raise InventoryError(_("Choose at least one thing to change."))
    if not rows:
        return 0
    ids = [row.pk for row in rows]
    if fields:
        RoomInventory.objects.filter(pk__in=ids).update(**fields, updated_at=timezone.now())
    if price_from_rules:
        rules = HotelRules.load(hotel_id=hotel.pk, start=start, end=end)
        for row in rows:
            row.price = rules.price(room_type=row.room_type, night=row.date)
            row.price_overridden = False
        RoomInventory.objects.bulk_update(
            rows, ["price", "price_overridden"], batch_size=BATCH_SIZE
        )
    _after_hotel_change(
        hotel=hotel, start=start, end=end, room_type_ids={row.room_type_id for row in rows}
    )
    return len(rows)


def pricing_rules_changed(
    *, hotel: Hotel, start: date | None = None, end: date | None = None
) -> int:
    """Reprice a hotel's nights after a rule or base price changed; return the nights changed.

    Only nights from yesterday to the end of the rolling window are repriced:
    past nights are history (bookings keep their own price snapshot), and
    nights beyond the window get rule prices when they are generated.
    """
    today = timezone.now().date()
    first = max(start or today, today - timedelta(days=1))
    last = min(
        end or today + timedelta(days=settings.INVENTORY_WINDOW_DAYS + 1),
        today + timedelta(days=settings.INVENTORY_WINDOW_DAYS + 1),
    )
    if last <= first:
        return 0
    return inventory_reprice(hotel=hotel, start=first, end=last)


def occupancy_supplement_changed(*, room_type: RoomType) -> None:
    """Drop cached quotes of the room type's hotel: supplements are added at quote time."""
    _after_hotel_change(hotel=room_type.hotel)
