"""Demo bookings for seed_demo: past, current and future stays in every status.

Each booking is taken through the booking services, so the inventory stays
consistent (each night's ``sold`` equals the live bookings covering it) and
every booking has its audit trail. Each demo booking carries an idempotency
key of its own, so running seed_demo again finds it and changes nothing.

Stays that began in the past cannot be held through ``booking_hold`` (which
refuses a past check-in, as it should for guests), so they are held through
the same inner step without that check; a stay that ended in the past is
moved to checked in and out by recording the events directly, because those
two transitions do not touch inventory.
"""

from dataclasses import dataclass
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from hotel.models import RoomType

from . import services
from .exceptions import BookingError
from .models import Booking, BookingEvent

Status = Booking.Status


@dataclass(frozen=True)
class DemoStay:
    key: str
    status: str
    starts_in: int  # days from the hotel's today; negative is the past
    nights: int
    guest_name: str
    mine: bool = False  # belongs to the demo guest account
    room: bool = False  # give it a room
    room_type_index: int = 0


STAYS = [
    DemoStay("demo-01", Status.CHECKED_OUT, -40, 3, "Grace Guest", mine=True, room=True),
    DemoStay("demo-02", Status.CHECKED_OUT, -12, 2, "Tomás Pereira", room=True),
    DemoStay("demo-03", Status.NO_SHOW, -4, 2, "Lena Fischer"),
    DemoStay("demo-04", Status.CANCELLED, -1, 2, "Grace Guest", mine=True),
    DemoStay("demo-05", Status.CHECKED_IN, -1, 3, "Grace Guest", mine=True, room=True),
    DemoStay("demo-06", Status.CHECKED_IN, 0, 2, "Amélie Laurent", room=True),
    DemoStay("demo-07", Status.CONFIRMED, 0, 1, "Kenji Sato", room_type_index=1),
    DemoStay("demo-08", Status.CONFIRMED, 7, 4, "Grace Guest", mine=True),
    DemoStay("demo-09", Status.CONFIRMED, 21, 2, "Sofia Rossi", room=True, room_type_index=1),
    DemoStay("demo-10", Status.CONFIRMED, 60, 5, "Grace Guest", mine=True, room_type_index=1),
    DemoStay("demo-11", Status.CANCELLED, 30, 2, "Omar Haddad"),
    DemoStay("demo-12", Status.EXPIRED, 14, 2, "Ines Duarte"),
    DemoStay("demo-13", Status.HOLD, 10, 3, "Noah Smith"),
]


def seed_demo_bookings(*, stdout=None) -> int:
    """Create the demo bookings that do not exist yet; return how many were created."""
    room_types = list(
        RoomType.objects.filter(is_active=True, hotel__is_active=True)
        .select_related("hotel")
        .order_by("hotel__name", "sort_order", "pk")
    )
    if not room_types:
        return 0
    by_hotel: dict[int, list[RoomType]] = {}
    for rt in room_types:
        by_hotel.setdefault(rt.hotel_id, []).append(rt)
    hotels = list(by_hotel.values())
    guest = get_user_model().objects.filter(username="guest").first()
    existing = set(
        Booking.objects.filter(idempotency_key__in=[s.key for s in STAYS]).values_list(
            "idempotency_key", flat=True
        )
    )
    created, skipped = 0, []
    for i, stay in enumerate(STAYS):
        if stay.key in existing:
            continue
        hotel_types = hotels[i % len(hotels)]
        room_type = hotel_types[min(stay.room_type_index, len(hotel_types) - 1)]
        try:
            _create(stay, room_type=room_type, guest=guest if stay.mine else None)
            created += 1
        except BookingError as exc:
            skipped.append(f"{stay.key}: {exc}")
    if stdout is not None:
        stdout.write(f"Bookings: {created} demo bookings created, {len(existing)} already there.")
        for line in skipped:
            stdout.write(f"  skipped {line}")
    return created


def _create(stay: DemoStay, *, room_type: RoomType, guest) -> Booking:
    today = services.hotel_today(room_type.hotel)
    check_in = today + timedelta(days=stay.starts_in)
    email = guest.email if guest else _email(stay.guest_name)
    details = {
        "guest_name": stay.guest_name,
        "guest_email": email,
        "guest_phone": "+351 210 000 000",
    }
    with transaction.atomic():
        if check_in >= today:
            booking = services.booking_hold(
                room_type=room_type,
                check_in=check_in,
                check_out=check_in + timedelta(days=stay.nights),
                adults=1,
                guest=guest,
                idempotency_key=stay.key,
                **details,
            )
        else:
            booking = services._hold_once(
                room_type=room_type,
                check_in=check_in,
                check_out=check_in + timedelta(days=stay.nights),
                adults=1,
                children=0,
                guest=guest,
                by=guest,
                source=Booking.Source.WEB,
                idempotency_key=stay.key,
                special_requests="",
                **details,
            )
        if stay.status == Status.HOLD:
            return booking
        if stay.status == Status.EXPIRED:
            Booking.objects.filter(pk=booking.pk).update(hold_expires_at=timezone.now())
            services.booking_expire_holds(booking_ids=[booking.pk])
            return booking
        booking = services.booking_confirm(booking=booking, policy_accepted=True, by=guest)
        if stay.room:
            booking = services.booking_assign_room(booking=booking)
        if stay.status == Status.CANCELLED:
            return services.booking_cancel(booking=booking, by=guest, reason="Demo data.")
        if stay.status == Status.NO_SHOW:
            return services.booking_mark_no_show(booking=booking)
        if stay.status == Status.CHECKED_IN:
            return services.booking_check_in(booking=booking)
        if stay.status == Status.CHECKED_OUT:
            for from_status, to_status in (
                (Status.CONFIRMED, Status.CHECKED_IN),
                (Status.CHECKED_IN, Status.CHECKED_OUT),
            ):
                BookingEvent.objects.create(
                    booking=booking,
                    from_status=from_status,
                    to_status=to_status,
                    reason="Demo data (past stay).",
                )
            booking.status = Status.CHECKED_OUT
            booking.save(update_fields=["status", "updated_at"])
        return booking


def _email(name: str) -> str:
    import unicodedata

    plain = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return f"{plain.lower().replace(' ', '.')}@example.com"
