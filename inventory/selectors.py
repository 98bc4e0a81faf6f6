"""Availability and calendars: what guests search and staff look at.

Availability over a stay [check_in, check_out) is one query grouped by room
type that also reads the check-out night (for closed-to-departure). The
database computes the minimum free rooms, the stop-sold nights, the strictest
minimum and maximum stay over the nights, the restrictions on arrival and
departure, the price sum, and a compact list of the nights for the per-night
prices and the named reasons. The number of queries never depends on the
number of room types, hotels or nights.

Stay restrictions apply as the strictest over the nights of the stay: a
three-night minimum on a festival Saturday cannot be dodged by arriving on
the Friday. The booking write path never reads these results from the cache.
"""

import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from django.db import connections, router
from django.db.models import Q
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from caching.api import cached
from hotel.models import Amenity, Hotel, RoomType

from .models import RoomInventory
from .pricing import CENT, supplement_per_night
from .services import (
    FEW_ROOMS_LEFT,
    city_offer_namespaces,
    hotel_availability_namespaces,
    hotel_offer_namespaces,
    stay_nights,
)

# Invalidation on commit makes a write visible at once; the TTL only bounds
# how long a value survives if an invalidation is lost (Redis down mid-write).
AVAILABILITY_TTL = 300
CATALOGUE_TTL = 300
STAFF_CALENDAR_TTL = 15
GUEST_CALENDAR_DAYS = 60


@dataclass
class Night:
    date: date
    price: Decimal
    free: int  # up to FEW_ROOMS_LEFT + 1, as rooms_free
    stop_sell: bool


@dataclass
class RoomTypeAvailability:
    """One room type over one stay for one party; plain data, safe to cache."""

    room_type: RoomType
    check_in: date
    check_out: date
    adults: int
    children: int
    currency: str
    # Counted up to FEW_ROOMS_LEFT + 1, as guests are told them (shown_free).
    rooms_free: int = 0
    bookable: bool = False
    fits_party: bool = True
    reasons: list[str] = field(default_factory=list)
    sold_out_nights: list[date] = field(default_factory=list)
    unavailable_nights: list[date] = field(default_factory=list)
    nights: list[Night] = field(default_factory=list)
    nightly_prices: list[Decimal] = field(default_factory=list)
    total: Decimal | None = None

    @property
    def sold_out(self) -> bool:
        """Sold out is the one reason a waitlist can help with."""
        return bool(self.sold_out_nights) and self.fits_party

    @property
    def price_per_night(self) -> Decimal | None:
        if self.total is None or not self.nightly_prices:
            return None
        return (self.total / len(self.nightly_prices)).quantize(CENT)


@dataclass
class HotelAvailability:
    hotel: Hotel
    amenities: list[tuple[str, str]]
    room_types: list[RoomTypeAvailability]

    @property
    def bookable(self) -> list[RoomTypeAvailability]:
        return [rt for rt in self.room_types if rt.bookable]

    @property
    def not_bookable(self) -> list[RoomTypeAvailability]:
        return [rt for rt in self.room_types if not rt.bookable]

    @property
    def cheapest(self) -> Decimal | None:
        totals = [rt.total for rt in self.bookable]
        return min(totals) if totals else None

    @property
    def amenity_slugs(self) -> set[str]:
        return {slug for slug, _name in self.amenities}


def _fmt(night: date) -> str:
    return f"{night:%a} {night.day} {night:%b}"


def _fmt_list(nights: list[date], limit: int = 4) -> str:
    shown = ", ".join(_fmt(n) for n in nights[:limit])
    if len(nights) > limit:
        shown += " " + _("and %(n)d more") % {"n": len(nights) - limit}
    return shown


# The availability aggregate in plain SQL: the ORM spent more time building
# this statement than PostgreSQL spends running it. CASE rather than FILTER and
# CAST(... AS TEXT) keep one text for PostgreSQL and SQLite. The check-out date
# is read too, for closed-to-departure; every other figure is over the stay.
# Free rooms are read as guests are shown them, capped at one more than
# FEW_ROOMS_LEFT (services.shown_free): a cached result is then the same as a
# fresh one after a sale that the offers' namespaces were not bumped for.
_AGGREGATE_SQL = """
SELECT room_type_id,
       SUM(CASE WHEN date < %(out)s THEN 1 ELSE 0 END),
       MIN(CASE WHEN date < %(out)s THEN {free} END),
       MAX(CASE WHEN date < %(out)s THEN min_stay END),
       MIN(CASE WHEN date < %(out)s THEN max_stay END),
       SUM(CASE WHEN date = %(in)s AND closed_to_arrival THEN 1 ELSE 0 END),
       SUM(CASE WHEN date = %(out)s AND closed_to_departure THEN 1 ELSE 0 END),
       {concat}(CASE WHEN date < %(out)s THEN
                CAST(date AS TEXT) || '|' || CAST(price AS TEXT) || '|' ||
                CAST({free} AS TEXT) || '|' ||
                CASE WHEN stop_sell THEN '1' ELSE '0' END
            END, ',')
  FROM {table}
 WHERE room_type_id IN ({ids}) AND date >= %(in)s AND date <= %(out)s
 GROUP BY room_type_id
"""
_SHOWN_FREE_SQL = (
    f"CASE WHEN total - sold > {FEW_ROOMS_LEFT + 1} THEN {FEW_ROOMS_LEFT + 1} ELSE total - sold END"
)
_AGGREGATE_FIELDS = ("n_nights", "min_free", "min_stay", "max_stay", "cta", "ctd", "detail")


def _aggregate(*, room_type_ids: list[int], check_in: date, check_out: date) -> dict[int, dict]:
    """One grouped query: the stay's figures per room type (absent: no inventory at all)."""
    if not room_type_ids:
        return {}
    connection = connections[router.db_for_read(RoomInventory)]
    concat = "GROUP_CONCAT" if connection.vendor == "sqlite" else "STRING_AGG"
    ids = ", ".join(str(int(pk)) for pk in room_type_ids)
    sql = _AGGREGATE_SQL.format(
        concat=concat,
        table=connection.ops.quote_name(RoomInventory._meta.db_table),
        ids=ids,
        free=_SHOWN_FREE_SQL,
    )
    params = {"in": check_in, "out": check_out}
    if connection.vendor == "sqlite":
        # SQLite's backend takes only positional parameters.
        sql = sql.replace("%(in)s", "%s").replace("%(out)s", "%s")
        order = re.findall(r"%\((in|out)\)s", _AGGREGATE_SQL)
        params = [params[name] for name in order]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    return {row[0]: dict(zip(_AGGREGATE_FIELDS, row[1:], strict=True)) for row in rows}


def _parse_nights(detail: str | None) -> dict[date, tuple[Decimal, int, bool]]:
    nights = {}
    for item in (detail or "").split(","):
        if not item:
            continue
        day, price, free, stop = item.split("|")
        nights[date.fromisoformat(day)] = (Decimal(price).quantize(CENT), int(free), stop == "1")
    return nights


def _evaluate(
    *,
    room_type: RoomType,
    agg: dict | None,
    wanted: list[date],
    check_in: date,
    check_out: date,
    adults: int,
    children: int,
) -> RoomTypeAvailability:
    """One room type's availability; ``wanted`` are the stay's nights (stay_nights)."""
    result = RoomTypeAvailability(
        room_type=room_type,
        check_in=check_in,
        check_out=check_out,
        adults=adults,
        children=children,
        currency=room_type.hotel.currency,
    )
    reasons = result.reasons
    if not room_type.fits(adults=adults, children=children):
        result.fits_party = False
        reasons.append(
            _("Sleeps at most %(n)d (%(a)d adults, %(c)d children)")
            % {"n": room_type.max_occupancy, "a": room_type.max_adults, "c": room_type.max_children}
        )
    parsed = _parse_nights(agg["detail"] if agg else None)
    missing, stopped, sold_out = [], [], []
    for night in wanted:
        figures = parsed.get(night)
        if figures is None:
            missing.append(night)
        elif figures[2]:
            stopped.append(night)
        elif figures[1] <= 0:
            sold_out.append(night)
    result.unavailable_nights = sorted(missing + stopped)
    result.sold_out_nights = sold_out
    if result.unavailable_nights:
        reasons.append(
            _("Not for sale on %(nights)s") % {"nights": _fmt_list(result.unavailable_nights)}
        )
    if result.sold_out_nights:
        reasons.append(_("Sold out on %(nights)s") % {"nights": _fmt_list(result.sold_out_nights)})
    if agg:
        n = len(wanted)
        if agg["min_stay"] and agg["min_stay"] > n:
            reasons.append(
                ngettext("Minimum stay %(n)d night", "Minimum stay %(n)d nights", agg["min_stay"])
                % {"n": agg["min_stay"]}
            )
        if agg["max_stay"] is not None and agg["max_stay"] < n:
            reasons.append(
                ngettext("Maximum stay %(n)d night", "Maximum stay %(n)d nights", agg["max_stay"])
                % {"n": agg["max_stay"]}
            )
        if agg["cta"]:
            reasons.append(_("Closed to arrival on %(day)s") % {"day": _fmt(check_in)})
        if agg["ctd"]:
            reasons.append(_("Closed to departure on %(day)s") % {"day": _fmt(check_out)})
    if not missing:
        result.rooms_free = 0 if stopped else max(0, agg["min_free"])
        extra = supplement_per_night(room_type=room_type, adults=adults, children=children)
        result.nights = [
            Night(date=n, price=parsed[n][0] + extra, free=parsed[n][1], stop_sell=parsed[n][2])
            for n in wanted
        ]
        result.nightly_prices = [night.price for night in result.nights]
        result.total = sum(result.nightly_prices, Decimal("0")).quantize(CENT)
    result.bookable = not reasons and result.rooms_free > 0
    return result


def _room_types(*, hotel_ids: list[int]) -> list[RoomType]:
    room_types = list(
        RoomType.objects.filter(hotel_id__in=hotel_ids, is_active=True)
        .select_related("hotel", "supplement")
        .order_by("hotel_id", "sort_order", "name")
    )
    # One Hotel object per hotel rather than one per room type: the list is
    # cached, and every read unpickles it; pickle then keeps a single copy.
    hotels: dict[int, Hotel] = {}
    for room_type in room_types:
        room_type.hotel = hotels.setdefault(room_type.hotel_id, room_type.hotel)
    return room_types


@dataclass
class _Catalogue:
    """Active hotels by name, their amenities and active room types: what staff change."""

    hotels: list[Hotel]
    amenities: dict[int, list[tuple[str, str]]]
    room_types: list[RoomType]


def _load_catalogue(*, hotels) -> _Catalogue:
    hotels = list(hotels.filter(is_active=True).order_by("name"))
    ids = [h.pk for h in hotels]
    room_types = _room_types(hotel_ids=ids)
    by_id = {h.pk: h for h in hotels}
    for room_type in room_types:
        room_type.hotel = by_id[room_type.hotel_id]
    amenities: dict[int, list[tuple[str, str]]] = defaultdict(list)
    for hotel_id, slug, name in (
        Amenity.hotels.through.objects.filter(hotel_id__in=ids)
        .order_by("amenity__name")
        .values_list("hotel_id", "amenity__slug", "amenity__name")
    ):
        amenities[hotel_id].append((slug, name))
    return _Catalogue(hotels=hotels, amenities=dict(amenities), room_types=room_types)


# A hold bumps its hotel's and city's availability namespaces, which on a busy
# site happens several times a second; the catalogue the figures are computed
# over changes only when staff edit it. So the two are cached apart: the
# catalogue under ``catalogue`` (bumped by any hotel, room type, room, amenity
# or supplement change), the nights' figures under the availability
# namespaces, and after a hold only the one aggregate query runs again.
def _city_catalogue(city_key: str) -> _Catalogue:
    return cached(
        "catalogue",
        ["city-availability", city_key],
        lambda: _load_catalogue(hotels=Hotel.objects.filter(city__iexact=city_key)),
        ttl=CATALOGUE_TTL,
    )


def _hotel_room_types(hotel: Hotel) -> list[RoomType]:
    return cached(
        "catalogue",
        ["hotel-room-types", hotel.pk],
        lambda: _room_types(hotel_ids=[hotel.pk]),
        ttl=CATALOGUE_TTL,
    )


def _stay_figures(
    namespaces: list[str],
    *,
    room_types: list[RoomType],
    check_in: date,
    check_out: date,
    use_cache: bool,
) -> dict[int, dict]:
    """The aggregate of the stay's nights per room type, cached under ``namespaces``."""
    ids = [rt.pk for rt in room_types]

    def load():
        return _aggregate(room_type_ids=ids, check_in=check_in, check_out=check_out)

    if not use_cache:
        return load()
    # The ids are in the key so that figures read before a room type was
    # added can never be paired with the catalogue read after. One indexed
    # query costs less than the stampede lock's round trips.
    return cached(
        namespaces,
        ["nights", check_in.isoformat(), check_out.isoformat(), *ids],
        load,
        ttl=AVAILABILITY_TTL,
        lock=False,
    )


def _evaluate_all(
    room_types: list[RoomType],
    aggs: dict[int, dict],
    *,
    check_in: date,
    check_out: date,
    adults: int,
    children: int,
) -> list[RoomTypeAvailability]:
    wanted = stay_nights(check_in, check_out)
    return [
        _evaluate(
            room_type=rt,
            agg=aggs.get(rt.pk),
            wanted=wanted,
            check_in=check_in,
            check_out=check_out,
            adults=adults,
            children=children,
        )
        for rt in room_types
    ]


def room_types_availability(
    *,
    room_types: list[RoomType],
    check_in: date,
    check_out: date,
    adults: int,
    children: int = 0,
) -> list[RoomTypeAvailability]:
    """Availability of the given room types (loaded with hotel and supplement) in one query."""
    aggs = _aggregate(
        room_type_ids=[rt.pk for rt in room_types], check_in=check_in, check_out=check_out
    )
    return _evaluate_all(
        room_types, aggs, check_in=check_in, check_out=check_out, adults=adults, children=children
    )


def hotel_availability(
    *,
    hotel: Hotel,
    check_in: date,
    check_out: date,
    adults: int,
    children: int = 0,
    use_cache: bool = True,
) -> list[RoomTypeAvailability]:
    """Every active room type of a hotel over a stay for a party, in two queries."""
    room_types = _hotel_room_types(hotel) if use_cache else _room_types(hotel_ids=[hotel.pk])
    # The check-out date is read too (closed to departure).
    aggs = _stay_figures(
        hotel_offer_namespaces(hotel_id=hotel.pk, first=check_in, last=check_out),
        room_types=room_types,
        check_in=check_in,
        check_out=check_out,
        use_cache=use_cache,
    )
    return _evaluate_all(
        room_types,
        aggs,
        check_in=check_in,
        check_out=check_out,
        adults=adults,
        children=children or 0,
    )


def _hotels_with_availability(
    catalogue: _Catalogue, aggs: dict[int, dict], **stay
) -> list[HotelAvailability]:
    by_hotel: dict[int, list[RoomTypeAvailability]] = defaultdict(list)
    for entry in _evaluate_all(catalogue.room_types, aggs, **stay):
        by_hotel[entry.room_type.hotel_id].append(entry)
    return [
        HotelAvailability(
            hotel=h, amenities=list(catalogue.amenities.get(h.pk, [])), room_types=by_hotel[h.pk]
        )
        for h in catalogue.hotels
    ]


def hotels_availability(
    *, hotel_ids: list[int], check_in: date, check_out: date, adults: int, children: int = 0
) -> list[HotelAvailability]:
    """Availability of every active room type of the given active hotels, in four queries."""
    catalogue = _load_catalogue(hotels=Hotel.objects.filter(pk__in=hotel_ids))
    aggs = _aggregate(
        room_type_ids=[rt.pk for rt in catalogue.room_types],
        check_in=check_in,
        check_out=check_out,
    )
    return _hotels_with_availability(
        catalogue,
        aggs,
        check_in=check_in,
        check_out=check_out,
        adults=adults,
        children=children or 0,
    )


def city_availability(
    *,
    city: str,
    check_in: date,
    check_out: date,
    adults: int,
    children: int = 0,
    use_cache: bool = True,
) -> list[HotelAvailability]:
    """Every active hotel of a city (any case) with its room types' availability."""
    city_key = city.strip().lower()
    catalogue = (
        _city_catalogue(city_key)
        if use_cache
        else _load_catalogue(hotels=Hotel.objects.filter(city__iexact=city_key))
    )
    aggs = _stay_figures(
        city_offer_namespaces(city=city_key, first=check_in, last=check_out),
        room_types=catalogue.room_types,
        check_in=check_in,
        check_out=check_out,
        use_cache=use_cache,
    )
    return _hotels_with_availability(
        catalogue,
        aggs,
        check_in=check_in,
        check_out=check_out,
        adults=adults,
        children=children or 0,
    )


@dataclass
class CalendarDay:
    date: date
    total: int | None = None
    sold: int = 0
    price: Decimal | None = None
    stop_sell: bool = False
    closed_to_arrival: bool = False
    closed_to_departure: bool = False
    min_stay: int = 1

    @property
    def exists(self) -> bool:
        return self.total is not None

    @property
    def free(self) -> int:
        if self.total is None or self.stop_sell:
            return 0
        return max(0, self.total - self.sold)

    @property
    def occupancy(self) -> int:
        """Percent sold, for colouring the staff calendar."""
        if not self.total:
            return 100
        return min(100, round(100 * self.sold / self.total))

    @property
    def level(self) -> str:
        if not self.exists or self.stop_sell or self.free == 0:
            return "full"
        if self.occupancy >= 80:
            return "high"
        if self.occupancy >= 50:
            return "mid"
        return "low"


def _calendar_rows(
    *, room_type_ids: list[int], start: date, days: int
) -> dict[int, list[CalendarDay]]:
    rows = RoomInventory.objects.filter(
        room_type_id__in=room_type_ids, date__gte=start, date__lt=start + timedelta(days=days)
    )
    # No ORDER BY: the model's default ordering would join hotel and room
    # type only to sort rows that are looked up by key below.
    rows = rows.order_by().values_list(
        "room_type_id",
        "date",
        "total",
        "sold",
        "price",
        "stop_sell",
        "closed_to_arrival",
        "closed_to_departure",
        "min_stay",
    )
    found = {(r[0], r[1]): r for r in rows}
    calendar = {}
    for rt_id in room_type_ids:
        days_list = []
        for night in stay_nights(start, start + timedelta(days=days)):
            r = found.get((rt_id, night))
            days_list.append(
                CalendarDay(
                    date=night,
                    total=r[2],
                    sold=r[3],
                    price=r[4],
                    stop_sell=r[5],
                    closed_to_arrival=r[6],
                    closed_to_departure=r[7],
                    min_stay=r[8],
                )
                if r
                else CalendarDay(date=night)
            )
        calendar[rt_id] = days_list
    return calendar


def room_type_calendar(
    *, room_type: RoomType, start: date, days: int = GUEST_CALENDAR_DAYS
) -> list[CalendarDay]:
    """Free rooms and the nightly price of one room type, day by day, for the guest page.

    Not cached here: the page caches the calendar rendered
    (inventory.blocks.room_type_calendar_block), under the same namespaces.
    """
    return _calendar_rows(room_type_ids=[room_type.pk], start=start, days=days)[room_type.pk]


@dataclass
class StaffCalendar:
    start: date
    days: list[date]
    rows: list[tuple[RoomType, list[CalendarDay]]]


def hotel_calendar(
    *, hotel: Hotel, start: date, days: int = 14, use_cache: bool = True
) -> StaffCalendar:
    """Every room type of a hotel by date for the staff calendar, in two queries."""

    def load():
        room_types = list(
            RoomType.objects.filter(hotel=hotel)
            .select_related("hotel")
            .order_by("-is_active", "sort_order", "name")
        )
        grid = _calendar_rows(room_type_ids=[rt.pk for rt in room_types], start=start, days=days)
        return StaffCalendar(
            start=start,
            days=stay_nights(start, start + timedelta(days=days)),
            rows=[(rt, grid[rt.pk]) for rt in room_types],
        )

    if not use_cache:
        return load()
    # Staff act on what they see: a short TTL on top of invalidation on commit.
    return cached(
        hotel_availability_namespaces(
            hotel_id=hotel.pk, first=start, last=start + timedelta(days=days - 1)
        ),
        ["staff-calendar", start.isoformat(), days],
        load,
        ttl=STAFF_CALENDAR_TTL,
    )


SEARCH_SORTS = {
    "price": lambda h: (h.cheapest is None, h.cheapest or 0, h.hotel.name),
    "-price": lambda h: (h.cheapest is None, -(h.cheapest or 0), h.hotel.name),
    "-stars": lambda h: (-h.hotel.stars, h.cheapest is None, h.cheapest or 0, h.hotel.name),
    "name": lambda h: (h.hotel.name.lower(),),
}


def _search_matches(q: str) -> list[tuple[int, str]]:
    """The active hotels whose city or name matches ``q``: (pk, city) pairs."""

    def load_matches():
        return list(
            Hotel.objects.filter(is_active=True)
            .filter(Q(city__iexact=q) | Q(city__istartswith=q) | Q(name__icontains=q))
            .values_list("pk", "city")
        )

    # The matching is case-insensitive, so is the key.
    return cached("catalogue", ["search-matches", q.lower()], load_matches, ttl=CATALOGUE_TTL)


def search_namespaces(*, q: str, check_in: date, check_out: date) -> list[str] | None:
    """The cache namespaces search_hotels' results depend on, or None where it reads uncached.

    A query whose matches are in one city reads that city's availability and
    the catalogue; one that spans cities (or matches nothing) is not cached.
    """
    cities = {city.lower() for _pk, city in _search_matches(q)}
    if len(cities) != 1:
        return None
    return [
        *city_offer_namespaces(city=cities.pop(), first=check_in, last=check_out),
        "catalogue",
    ]


def search_hotels(
    *,
    q: str,
    check_in: date,
    check_out: date,
    adults: int,
    children: int = 0,
    stars: list[int] | None = None,
    amenities: list[str] | None = None,
    sort: str = "price",
) -> list[HotelAvailability]:
    """Hotels whose city or name matches ``q``, with availability, filtered and sorted.

    A query naming one city (or hotels of one city) reads that city's cached
    results and filters them; hotel names spread over several cities are
    computed in the same fixed number of queries, uncached. Hotels where
    nothing is bookable sort after those where something is.
    """

    matches = _search_matches(q)
    if not matches:
        return []
    ids = {pk for pk, _city in matches}
    cities = {city.lower() for _pk, city in matches}
    stay = {"check_in": check_in, "check_out": check_out, "adults": adults, "children": children}
    if len(cities) == 1:
        results = [h for h in city_availability(city=cities.pop(), **stay) if h.hotel.pk in ids]
    else:
        results = hotels_availability(hotel_ids=sorted(ids), **stay)
    if stars:
        results = [h for h in results if h.hotel.stars in set(stars)]
    if amenities:
        wanted = set(amenities)
        results = [h for h in results if wanted <= h.amenity_slugs]
    return sorted(results, key=SEARCH_SORTS.get(sort, SEARCH_SORTS["price"]))
