"""Reads of the hotel catalogue for the public pages."""

from dataclasses import dataclass
from decimal import Decimal

from django.db import connections, router
from django.db.models import Count, Min, Prefetch, Q, QuerySet

from .models import Amenity, Hotel, RoomType
from .money import CENT

HOTEL_SORTS = {
    "name": ["name"],
    "-stars": ["-stars", "name"],
    "stars": ["stars", "name"],
    "price": ["price_from", "name"],
    "-price": ["-price_from", "name"],
}


def hotels_for_list(
    *, city: str = "", min_stars: int | None = None, sort: str = "name"
) -> QuerySet[Hotel]:
    """Active hotels with their lowest room price, filtered and sorted for the hotel list."""
    qs = Hotel.objects.filter(is_active=True)
    if city:
        qs = qs.filter(city__iexact=city)
    if min_stars:
        qs = qs.filter(stars__gte=min_stars)
    return (
        qs.annotate(price_from=Min("room_types__base_price", filter=Q(room_types__is_active=True)))
        .prefetch_related(Prefetch("amenities", queryset=Amenity.objects.order_by("name")))
        .order_by(*HOTEL_SORTS.get(sort, HOTEL_SORTS["name"]))
    )


def cities() -> list[dict]:
    """Cities with active hotels and how many, for the home page and the list filter."""
    return list(
        Hotel.objects.filter(is_active=True)
        .values("city", "country")
        .annotate(hotels=Count("id"))
        .order_by("city")
    )


@dataclass(frozen=True, slots=True)
class RoomTypeCard:
    """A room type as the hotel page lists it."""

    slug: str
    name: str
    description: str
    beds: str
    size_m2: int | None
    max_occupancy: int
    base_price: Decimal
    amenities: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class HotelPage:
    """What the hotel page shows of the catalogue: read once, cached, never queried again."""

    hotel: Hotel
    amenities: tuple[str, ...]
    room_types: tuple[RoomTypeCard, ...]


# The hotel page's catalogue in plain SQL, one row per amenity: on a cache
# miss the ORM spent three times longer building and reading these two
# statements than PostgreSQL spends running them. CAST(... AS TEXT) keeps one
# text for PostgreSQL and SQLite, whose driver has no decimal type. Columns
# are named, never ``*``: a prepared statement whose result gains a column
# (a migration under running processes) fails until it is prepared again.
_HOTEL_SQL = """
SELECT {hotel_columns}, amenity.name AS amenity_name
  FROM {hotel} hotel
  LEFT JOIN {hotel_amenities} link ON link.{hotel_fk} = hotel.id
  LEFT JOIN {amenity} amenity ON amenity.id = link.{hotel_amenity_fk}
 WHERE hotel.slug = %s AND hotel.is_active
 ORDER BY amenity.name
"""
_ROOM_TYPES_SQL = """
SELECT room_type.id, room_type.slug, room_type.name, room_type.description, room_type.beds,
       room_type.size_m2, room_type.max_occupancy, CAST(room_type.base_price AS TEXT),
       amenity.name
  FROM {room_type} room_type
  LEFT JOIN {room_type_amenities} link ON link.{room_type_fk} = room_type.id
  LEFT JOIN {amenity} amenity ON amenity.id = link.{room_type_amenity_fk}
 WHERE room_type.hotel_id = %s AND room_type.is_active
 ORDER BY room_type.sort_order, room_type.name, room_type.id, amenity.name
"""


_CATALOGUE_SQL: dict[str, tuple[str, str]] = {}


def _catalogue_sql(connection) -> tuple[str, str]:
    """The two statements with the tables' names, quoted for the connection's backend."""
    if connection.vendor in _CATALOGUE_SQL:
        return _CATALOGUE_SQL[connection.vendor]
    quote = connection.ops.quote_name
    hotel_link = Hotel.amenities.through._meta
    room_type_link = RoomType.amenities.through._meta
    names = {
        "hotel_columns": ", ".join(
            f"hotel.{quote(field.column)}" for field in Hotel._meta.concrete_fields
        ),
        "hotel": quote(Hotel._meta.db_table),
        "room_type": quote(RoomType._meta.db_table),
        "amenity": quote(Amenity._meta.db_table),
        "hotel_amenities": quote(hotel_link.db_table),
        "hotel_fk": quote(hotel_link.get_field("hotel").column),
        "hotel_amenity_fk": quote(hotel_link.get_field("amenity").column),
        "room_type_amenities": quote(room_type_link.db_table),
        "room_type_fk": quote(room_type_link.get_field("roomtype").column),
        "room_type_amenity_fk": quote(room_type_link.get_field("amenity").column),
    }
    statements = _HOTEL_SQL.format(**names), _ROOM_TYPES_SQL.format(**names)
    _CATALOGUE_SQL[connection.vendor] = statements
    return statements


def hotel_for_page(*, slug: str) -> HotelPage:
    """An active hotel, its amenities and its active room types with theirs, in two queries."""
    connection = connections[router.db_for_read(Hotel)]
    hotel_sql, room_types_sql = _catalogue_sql(connection)
    rows = list(Hotel.objects.db_manager(connection.alias).raw(hotel_sql, [slug]))
    if not rows:
        raise Hotel.DoesNotExist(f"No active hotel {slug!r}.")
    amenities = tuple(row.amenity_name for row in rows if row.amenity_name is not None)
    hotel = rows[0]
    del hotel.amenity_name
    cards: dict[int, tuple[list, list[str]]] = {}
    with connection.cursor() as cursor:
        cursor.execute(room_types_sql, [hotel.pk])
        for pk, *values, price, amenity in cursor.fetchall():
            if pk not in cards:
                cards[pk] = ([*values, Decimal(price).quantize(CENT)], [])
            if amenity is not None:
                cards[pk][1].append(amenity)
    return HotelPage(
        hotel=hotel,
        amenities=amenities,
        room_types=tuple(
            RoomTypeCard(*values, amenities=tuple(names)) for values, names in cards.values()
        ),
    )


def room_type_for_page(*, hotel_slug: str, slug: str) -> RoomType:
    """An active room type of an active hotel, with its hotel, supplement and amenities."""
    return (
        RoomType.objects.select_related("hotel", "supplement")
        .prefetch_related(Prefetch("amenities", queryset=Amenity.objects.order_by("name")))
        .get(hotel__slug=hotel_slug, hotel__is_active=True, slug=slug, is_active=True)
    )
