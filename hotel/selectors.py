"""Reads of the hotel catalogue for the public pages."""

from django.db.models import Count, Min, Prefetch, Q, QuerySet

from .models import Amenity, Hotel, RoomType

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


def hotel_for_page(*, slug: str) -> Hotel:
    """An active hotel with its amenities and active room types (with theirs) prefetched."""
    room_types = (
        RoomType.objects.filter(is_active=True)
        .prefetch_related(Prefetch("amenities", queryset=Amenity.objects.order_by("name")))
        .annotate(room_count=Count("rooms", filter=Q(rooms__is_active=True)))
    )
    return (
        Hotel.objects.filter(is_active=True, slug=slug)
        .prefetch_related(
            Prefetch("amenities", queryset=Amenity.objects.order_by("name")),
            Prefetch("room_types", queryset=room_types.order_by("sort_order", "name")),
        )
        .get()
    )


def room_type_for_page(*, hotel_slug: str, slug: str) -> RoomType:
    """An active room type of an active hotel, with its hotel, supplement and amenities."""
    return (
        RoomType.objects.select_related("hotel", "supplement")
        .prefetch_related(Prefetch("amenities", queryset=Amenity.objects.order_by("name")))
        .get(hotel__slug=hotel_slug, hotel__is_active=True, slug=slug, is_active=True)
    )
