"""Invalidate cached reads when the models they are built from change through the ORM.

Every receiver only schedules the bump for after the commit. Writes that fire
no signals (``QuerySet.update``, bulk operations, inventory_take/release) call
``caching.api.invalidate_on_commit`` themselves.
"""

from datetime import timedelta

from django.db.models.signals import m2m_changed, post_delete, post_save, pre_delete, pre_save
from django.dispatch import receiver

from hotel.models import Amenity, Hotel, Room, RoomType
from inventory.models import OccupancySupplement, RoomInventory
from inventory.services import availability_namespaces

from .api import invalidate_on_commit

CATALOGUE = "catalogue"


def hotel_namespace(hotel_id: int) -> str:
    return f"hotel:{hotel_id}"


def _hotel_namespaces(hotel: Hotel) -> list[str]:
    return [CATALOGUE, hotel_namespace(hotel.pk), *availability_namespaces(hotel=hotel)]


def _hotel_of(instance, attribute: str = "hotel") -> Hotel | None:
    try:
        return getattr(instance, attribute)
    except Hotel.DoesNotExist:
        return None


@receiver(pre_save, sender=Hotel, dispatch_uid="caching.hotel_city_before")
def remember_hotel_city(sender, instance: Hotel, raw=False, update_fields=None, **kwargs):
    # A hotel that moves city leaves the old city's search results stale too.
    instance._caching_city_before = None
    if raw or instance.pk is None or (update_fields is not None and "city" not in update_fields):
        return
    instance._caching_city_before = (
        Hotel.objects.filter(pk=instance.pk).values_list("city", flat=True).first()
    )


@receiver(post_save, sender=Hotel, dispatch_uid="caching.hotel_saved")
@receiver(post_delete, sender=Hotel, dispatch_uid="caching.hotel_deleted")
def hotel_changed(sender, instance: Hotel, **kwargs):
    namespaces = _hotel_namespaces(instance)
    city_before = getattr(instance, "_caching_city_before", None)
    if city_before and city_before.strip().lower() != instance.city.strip().lower():
        namespaces.append(f"availability:city:{city_before.strip().lower()}")
    invalidate_on_commit(*namespaces)


@receiver(post_save, sender=RoomType, dispatch_uid="caching.room_type_saved")
@receiver(post_delete, sender=RoomType, dispatch_uid="caching.room_type_deleted")
@receiver(post_save, sender=Room, dispatch_uid="caching.room_saved")
@receiver(post_delete, sender=Room, dispatch_uid="caching.room_deleted")
def room_type_or_room_changed(sender, instance, **kwargs):
    # Room types show on hotel lists (prices from), hotel pages and search
    # results; a room's active flag changes what can be sold.
    hotel = _hotel_of(instance)
    if hotel is None:
        invalidate_on_commit(CATALOGUE, hotel_namespace(instance.hotel_id))
        return
    invalidate_on_commit(*_hotel_namespaces(hotel))


@receiver(post_save, sender=OccupancySupplement, dispatch_uid="caching.supplement_saved")
@receiver(post_delete, sender=OccupancySupplement, dispatch_uid="caching.supplement_deleted")
def supplement_changed(sender, instance: OccupancySupplement, **kwargs):
    # The catalogue caches room types with their supplement (quotes add it).
    room_type = _room_type_of(instance)
    hotel = _hotel_of(room_type) if room_type is not None else None
    if hotel is not None:
        invalidate_on_commit(*_hotel_namespaces(hotel))


@receiver(post_save, sender=RoomInventory, dispatch_uid="caching.inventory_saved")
@receiver(post_delete, sender=RoomInventory, dispatch_uid="caching.inventory_deleted")
def inventory_changed(sender, instance: RoomInventory, **kwargs):
    room_type = _room_type_of(instance)
    hotel = _hotel_of(room_type) if room_type is not None else None
    if hotel is not None:
        # Only the week of this night: a night's date never changes (the
        # admin shows it read-only), so no other week saw this row.
        invalidate_on_commit(
            *availability_namespaces(
                hotel=hotel,
                start=instance.date,
                end=instance.date + timedelta(days=1),
                room_type_ids=[room_type.pk],
            )
        )


def _room_type_of(instance: RoomInventory | OccupancySupplement) -> RoomType | None:
    try:
        return instance.room_type
    except RoomType.DoesNotExist:
        return None


def _namespaces_of_hotels(hotel_ids) -> list[str]:
    namespaces = []
    for pk, city in Hotel.objects.filter(pk__in=hotel_ids).values_list("pk", "city"):
        namespaces += [hotel_namespace(pk), f"availability:hotel:{pk}"]
        namespaces.append(f"availability:city:{city.lower()}")
    return namespaces


def _hotels_with_amenity(amenity_id: int) -> set[int]:
    hotel_ids = set(Hotel.objects.filter(amenities=amenity_id).values_list("pk", flat=True))
    hotel_ids.update(
        RoomType.objects.filter(amenities=amenity_id).values_list("hotel_id", flat=True)
    )
    return hotel_ids


@receiver(post_save, sender=Amenity, dispatch_uid="caching.amenity_saved")
def amenity_saved(sender, instance: Amenity, created=False, raw=False, **kwargs):
    # A new amenity belongs to no hotel yet; a renamed one shows on every
    # page of the hotels and room types that have it.
    hotel_ids = set() if created or raw else _hotels_with_amenity(instance.pk)
    invalidate_on_commit(CATALOGUE, *(hotel_namespace(pk) for pk in sorted(hotel_ids)))


@receiver(pre_delete, sender=Amenity, dispatch_uid="caching.amenity_deleting")
def amenity_deleting(sender, instance: Amenity, **kwargs):
    # The deletion cascades to the M2M rows without m2m_changed, so the
    # hotels that had it are found before they are gone.
    instance._caching_hotel_ids = _hotels_with_amenity(instance.pk)


@receiver(post_delete, sender=Amenity, dispatch_uid="caching.amenity_deleted")
def amenity_deleted(sender, instance: Amenity, **kwargs):
    hotel_ids = getattr(instance, "_caching_hotel_ids", set())
    invalidate_on_commit(CATALOGUE, *_namespaces_of_hotels(hotel_ids))


def _amenities_changed(*, instance, action: str, reverse: bool, pk_set, hotel_ids_of) -> None:
    if action not in ("post_add", "post_remove", "pre_clear", "post_clear"):
        return
    if not reverse:
        # instance is the Hotel or RoomType whose amenities changed.
        if action == "pre_clear":
            return
        hotel = instance if isinstance(instance, Hotel) else _hotel_of(instance)
        if hotel is not None:
            invalidate_on_commit(*_hotel_namespaces(hotel))
        return
    # instance is the Amenity; pk_set holds hotel or room type ids, except on
    # a clear, whose targets are only known before it runs.
    if action == "pre_clear":
        instance._caching_cleared_hotel_ids = _hotels_with_amenity(instance.pk)
        return
    if action == "post_clear":
        hotel_ids = getattr(instance, "_caching_cleared_hotel_ids", set())
    else:
        hotel_ids = hotel_ids_of(pk_set or ())
    invalidate_on_commit(CATALOGUE, *_namespaces_of_hotels(hotel_ids))


@receiver(m2m_changed, sender=Hotel.amenities.through, dispatch_uid="caching.hotel_amenities")
def hotel_amenities_changed(sender, instance, action, reverse, pk_set, **kwargs):
    _amenities_changed(
        instance=instance,
        action=action,
        reverse=reverse,
        pk_set=pk_set,
        hotel_ids_of=set,
    )


@receiver(
    m2m_changed, sender=RoomType.amenities.through, dispatch_uid="caching.room_type_amenities"
)
def room_type_amenities_changed(sender, instance, action, reverse, pk_set, **kwargs):
    _amenities_changed(
        instance=instance,
        action=action,
        reverse=reverse,
        pk_set=pk_set,
        hotel_ids_of=lambda ids: set(
            RoomType.objects.filter(pk__in=ids).values_list("hotel_id", flat=True)
        ),
    )


def every_namespace() -> list[str]:
    """Every namespace the hotels in the database can have, for a full invalidation."""
    namespaces = [CATALOGUE]
    cities = set()
    for pk, city in Hotel.objects.values_list("pk", "city").order_by("pk").iterator():
        namespaces += [hotel_namespace(pk), f"availability:hotel:{pk}"]
        cities.add(city.strip().lower())
    namespaces += [f"availability:city:{city}" for city in sorted(cities)]
    return namespaces
