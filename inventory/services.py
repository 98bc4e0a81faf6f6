"""Every write to RoomInventory goes through here."""

from datetime import date, timedelta

from django.db import transaction
from django.db.models import F

from hotel.models import RoomType

from .exceptions import SoldOut
from .models import RoomInventory


def stay_nights(check_in: date, check_out: date) -> list[date]:
    """The nights of a stay [check_in, check_out)."""
    return [check_in + timedelta(days=i) for i in range((check_out - check_in).days)]


def inventory_take(
    *, room_type: RoomType, check_in: date, check_out: date, rooms: int = 1
) -> list[RoomInventory]:
    """Take ``rooms`` rooms on every night of the stay, or none at all.

    Must run inside the caller's transaction (the booking service), which rolls
    back on SoldOut. The nights are locked in date order so that two stays
    that overlap queue on their first shared night instead of deadlocking;
    the conditional update then takes a room only where one is free and the
    night is not stop-sold. Fewer rows updated than nights asked means sold
    out. Returns the locked rows with their prices for the booking's snapshot.
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("inventory_take must run inside a transaction")
    nights = stay_nights(check_in, check_out)
    locked = list(
        RoomInventory.objects.filter(room_type=room_type, date__gte=check_in, date__lt=check_out)
        .order_by("date")
        .select_for_update()
    )
    by_date = {row.date: row for row in locked}
    unavailable = [
        night
        for night in nights
        if night not in by_date
        or by_date[night].stop_sell
        or by_date[night].sold + rooms > by_date[night].total
    ]
    if unavailable:
        raise SoldOut(unavailable)
    updated = RoomInventory.objects.filter(
        room_type=room_type,
        date__gte=check_in,
        date__lt=check_out,
        stop_sell=False,
        sold__lte=F("total") - rooms,
    ).update(sold=F("sold") + rooms)
    if updated != len(nights):
        # Unreachable while the rows are locked, kept as the guard the
        # invariant rests on should the locking above ever change.
        raise SoldOut(nights)
    for row in locked:
        row.sold += rooms
    _after_inventory_change(room_type=room_type)
    return locked


def inventory_release(
    *, room_type: RoomType, check_in: date, check_out: date, rooms: int = 1
) -> int:
    """Give ``rooms`` rooms back on every night of the stay; return the nights released.

    Runs in the caller's transaction. ``sold`` never goes below zero: a night
    that was edited down meanwhile keeps its floor, and the CHECK constraint
    would refuse anything else.
    """
    released = RoomInventory.objects.filter(
        room_type=room_type, date__gte=check_in, date__lt=check_out, sold__gte=rooms
    ).update(sold=F("sold") - rooms)
    _after_inventory_change(room_type=room_type)
    return released


def _after_inventory_change(*, room_type: RoomType) -> None:
    """Invalidate cached reads of this hotel's availability once the change commits."""
    from caching.api import invalidate_on_commit

    invalidate_on_commit(*availability_namespaces(hotel=room_type.hotel))


def availability_namespaces(*, hotel) -> list[str]:
    """The cache namespaces that a change to a hotel's inventory makes stale."""
    return [f"availability:hotel:{hotel.pk}", f"availability:city:{hotel.city.lower()}"]
