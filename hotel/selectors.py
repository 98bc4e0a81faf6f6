"""Reads of the hotel catalogue for the public pages."""

from dataclasses import dataclass
from decimal import Decimal

from django.db import connections, router
from django.db.models import Count, Min, Prefetch, Q, QuerySet

from .models import Amenity, Hotel, RoomType
from .money import CENT
from .rows import model_columns, per_database, read_instances

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


# The hotel page's catalogue in one plain SQL statement: on a cache miss the
# ORM spent three times longer building and reading its queries than
# PostgreSQL spends running them, and each further statement is a round trip.
# ``part`` 0 is the hotel's row, 1 one row per amenity of the hotel, 2 one row
# per room type and amenity. The columns a part does not use are NULL, which
# costs nothing to decode: joined, every amenity repeated the hotel's twenty
# columns, and decoding them cost more than the query. The hotel's columns
# come last so that the others keep their places.
# PostgreSQL types a UNION's columns pair by pair from the left, and two
# untyped NULLs make a text: so each column has its type in one of the first
# two branches (room types, then the hotel), and ORDER BY, not the order of
# the branches, puts the rows in order.
# CAST(... AS TEXT) keeps one text for PostgreSQL and SQLite, whose driver has
# no decimal type. Columns are named, never ``*``: a prepared statement whose
# result gains a column (a migration under running processes) fails until it
# is prepared again.
_CATALOGUE_SQL_TEXT = """
SELECT 2 AS part, amenity.name AS amenity_name, room_type.sort_order AS sort_order,
       room_type.name AS name, room_type.id AS id, room_type.slug, room_type.description,
       room_type.beds, room_type.size_m2, room_type.max_occupancy,
       CAST(room_type.base_price AS TEXT), {hotel_nulls}
  FROM {hotel} hotel
  JOIN {room_type} room_type ON room_type.hotel_id = hotel.id
  LEFT JOIN {room_type_amenities} link ON link.{room_type_fk} = room_type.id
  LEFT JOIN {amenity} amenity ON amenity.id = link.{room_type_amenity_fk}
 WHERE hotel.slug = %s AND hotel.is_active AND room_type.is_active
 UNION ALL
SELECT 0, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, {hotel_columns}
  FROM {hotel} hotel
 WHERE hotel.slug = %s AND hotel.is_active
 UNION ALL
SELECT 1, amenity.name, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, {hotel_nulls}
  FROM {hotel} hotel
  JOIN {hotel_amenities} link ON link.{hotel_fk} = hotel.id
  JOIN {amenity} amenity ON amenity.id = link.{hotel_amenity_fk}
 WHERE hotel.slug = %s AND hotel.is_active
 ORDER BY part, sort_order, name, id, amenity_name
"""
# Where the hotel's columns start in a row of the statement.
_HOTEL_COLUMNS_AT = 11


def _catalogue_sql(connection) -> str:
    """The statement, its names quoted for the connection's backend."""
    quote = connection.ops.quote_name
    hotel_link = Hotel.amenities.through._meta
    room_type_link = RoomType.amenities.through._meta
    hotel_columns = model_columns(Hotel, "hotel", connection)
    return _CATALOGUE_SQL_TEXT.format(
        hotel_columns=hotel_columns.sql,
        hotel_nulls=hotel_columns.nulls,
        hotel=quote(Hotel._meta.db_table),
        room_type=quote(RoomType._meta.db_table),
        amenity=quote(Amenity._meta.db_table),
        hotel_amenities=quote(hotel_link.db_table),
        hotel_fk=quote(hotel_link.get_field("hotel").column),
        hotel_amenity_fk=quote(hotel_link.get_field("amenity").column),
        room_type_amenities=quote(room_type_link.db_table),
        room_type_fk=quote(room_type_link.get_field("roomtype").column),
        room_type_amenity_fk=quote(room_type_link.get_field("amenity").column),
    )


def hotel_for_page(*, slug: str) -> HotelPage:
    """An active hotel, its amenities and its active room types with theirs, in one query."""
    connection = connections[router.db_for_read(Hotel)]
    text = per_database(connection, "hotel catalogue", lambda: _catalogue_sql(connection))
    hotel_columns = model_columns(Hotel, "hotel", connection)
    with connection.cursor() as cursor:
        cursor.execute(text, [slug, slug, slug])
        rows = cursor.fetchall()
    if not rows or rows[0][0] != 0:
        raise Hotel.DoesNotExist(f"No active hotel {slug!r}.")
    hotel = hotel_columns.instance(rows[0], connection, start=_HOTEL_COLUMNS_AT)
    amenities: list[str] = []
    cards: dict[int, tuple[list, list[str]]] = {}
    for part, amenity, _sort, name, pk, slug_, description, beds, size, guests, price, *_ in rows:
        if part == 1:
            amenities.append(amenity)
        elif part == 2:
            if pk not in cards:
                card = [slug_, name, description, beds, size, guests, Decimal(price).quantize(CENT)]
                cards[pk] = (card, [])
            if amenity is not None:
                cards[pk][1].append(amenity)
    return HotelPage(
        hotel=hotel,
        amenities=tuple(amenities),
        room_types=tuple(
            RoomTypeCard(*values, amenities=tuple(names)) for values, names in cards.values()
        ),
    )


# What a hold is for, in plain SQL: the hold's form read it with the ORM,
# whose query (two tables, thirty-five columns) cost more to build than to run.
_ROOM_TYPE_FOR_SALE_SQL = """
SELECT {room_type_columns}, {hotel_columns}
  FROM {room_type} room_type
  JOIN {hotel} hotel ON hotel.{hotel_pk} = room_type.{hotel_fk}
 WHERE room_type.{room_type_pk} = %s
   AND room_type.{room_type_active} AND hotel.{hotel_active}
"""


def _room_type_for_sale_sql(connection) -> str:
    quote = connection.ops.quote_name
    return _ROOM_TYPE_FOR_SALE_SQL.format(
        room_type_columns=model_columns(RoomType, "room_type", connection).sql,
        hotel_columns=model_columns(Hotel, "hotel", connection).sql,
        room_type=quote(RoomType._meta.db_table),
        hotel=quote(Hotel._meta.db_table),
        hotel_pk=quote(Hotel._meta.pk.column),
        hotel_fk=quote(RoomType._meta.get_field("hotel").column),
        room_type_pk=quote(RoomType._meta.pk.column),
        room_type_active=quote(RoomType._meta.get_field("is_active").column),
        hotel_active=quote(Hotel._meta.get_field("is_active").column),
    )


def room_type_for_sale(*, pk: int) -> RoomType:
    """An active room type of an active hotel, with its hotel, in one query."""
    connection = connections[router.db_for_read(RoomType)]
    low, high = connection.ops.integer_field_range(RoomType._meta.pk.get_internal_type())
    if not low <= pk <= high:
        # No row has it, and SQLite's driver cannot even send it (OverflowError).
        raise RoomType.DoesNotExist(f"No room type {pk!r}.")
    text = per_database(
        connection, "room type for sale", lambda: _room_type_for_sale_sql(connection)
    )
    columns = [
        model_columns(RoomType, "room_type", connection),
        model_columns(Hotel, "hotel", connection),
    ]
    found = read_instances(connection, text, [pk], columns)
    if not found:
        raise RoomType.DoesNotExist(f"No room type {pk!r} for sale.")
    room_type, room_type.hotel = found[0]
    return room_type


def room_type_for_page(*, hotel_slug: str, slug: str) -> RoomType:
    """An active room type of an active hotel, with its hotel, supplement and amenities."""
    return (
        RoomType.objects.select_related("hotel", "supplement")
        .prefetch_related(Prefetch("amenities", queryset=Amenity.objects.order_by("name")))
        .get(hotel__slug=hotel_slug, hotel__is_active=True, slug=slug, is_active=True)
    )
