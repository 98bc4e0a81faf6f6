"""Every change to a booking goes through here.

Lock order, everywhere: the booking row first, then the inventory nights in
date order (inventory.services), taken as late as the change allows. A hold
that lapsed is released lazily by the next hold that finds one of its nights
full, and otherwise by the periodic job; correctness never depends on the job.
Each change leaves a BookingEvent (who, when, from, to, why) that staff read
in admin.
"""

import logging
import random
import time
from datetime import date, timedelta
from decimal import Decimal

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db import IntegrityError, OperationalError, connection, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy

from hotel import rows
from hotel.models import Room, RoomType
from inventory.exceptions import SoldOut, StayRestricted
from inventory.pricing import night_prices
from inventory.services import inventory_check, inventory_release, inventory_take
from notifications.services import notify_booking_event

from .exceptions import (
    BookingError,
    FeeChanged,
    HoldExpired,
    IllegalTransition,
    RoomUnavailable,
    StayNotAvailable,
)
from .models import Booking, BookingEvent, BookingNight
from .policy import cancellation_fee, late_fee, policy_snapshot
from .selectors import booking_for_update

logger = logging.getLogger(__name__)

Status = Booking.Status

# A hold that meets a deadlock or a serialization failure is tried again this
# many times in all, with a short random back-off so the racers spread out.
HOLD_ATTEMPTS = 5
HOLD_BACKOFF_SECONDS = 0.005


class BookingBusy(BookingError):
    """The database stayed contended through every retry; the guest may simply try again."""


# --- helpers -----------------------------------------------------------------


def _actor(by) -> AbstractBaseUser | None:
    if by is None or isinstance(by, AnonymousUser) or not getattr(by, "pk", None):
        return None
    return by


def _record(*, booking: Booking, by, from_status: str, to_status: str, reason: str = "") -> None:
    # Plain SQL, as for the booking's own writes on the guest's path (hotel.rows).
    rows.insert(
        connection,
        [
            BookingEvent(
                booking=booking,
                by=_actor(by),
                from_status=from_status,
                to_status=to_status,
                reason=reason[:300],
            )
        ],
    )


def _move(booking: Booking, *, to: str, by, reason: str, **changes) -> None:
    """Move a locked booking to status ``to`` with the given field changes, and audit it."""
    from_status = booking.status
    booking.status = to
    for name, value in changes.items():
        setattr(booking, name, value)
    rows.update(connection, booking, ["status", *changes, "updated_at"])
    _record(booking=booking, by=by, from_status=from_status, to_status=to, reason=reason)


def _lock(booking: Booking) -> Booking:
    """Re-read the booking under a row lock; only the booking row, never its hotel.

    The caller's hotel and room type are reused when it has read them (a
    booking never moves to another hotel or room type), else read in the
    same query.
    """
    if not (Booking.hotel.is_cached(booking) and Booking.room_type.is_cached(booking)):
        return booking_for_update(pk=booking.pk, related=("hotel", "room_type"))
    locked = booking_for_update(pk=booking.pk)
    locked.hotel, locked.room_type = booking.hotel, booking.room_type
    if locked.room_type.hotel_id == locked.hotel_id:
        # Share the hotel already read rather than read it again through the room type.
        locked.room_type.hotel = locked.hotel
    return locked


def hotel_today(hotel) -> date:
    """Today in the hotel's time zone: arrival days are the hotel's, not the server's."""
    return timezone.localtime(timezone.now(), hotel.tzinfo).date()


def stay_has_ended(booking: Booking) -> bool:
    """Whether the booking's departure day has come at its hotel: too late to cancel it."""
    return hotel_today(booking.hotel) >= booking.check_out


def _refuse(booking: Booking, action: str) -> IllegalTransition:
    return IllegalTransition(
        _("Booking %(ref)s is %(status)s, so it cannot be %(action)s.")
        % {
            "ref": booking.reference,
            "status": booking.get_status_display().lower(),
            "action": action,
        }
    )


def _is_transient(exc: OperationalError) -> bool:
    from psycopg import errors

    cause = exc.__cause__
    return isinstance(cause, errors.DeadlockDetected | errors.SerializationFailure)


def _release(booking: Booking) -> None:
    inventory_release(
        room_type=booking.room_type, check_in=booking.check_in, check_out=booking.check_out
    )


def _expire(booking: Booking, *, by=None, reason: str) -> None:
    _move(booking, to=Status.EXPIRED, by=by, reason=reason)
    _release(booking)


def _release_expired_holds(*, room_type: RoomType, check_in: date, check_out: date, now) -> int:
    # SKIP LOCKED: a hold that another transaction is confirming or expiring
    # right now is its business; waiting for it would only queue this guest.
    expired = list(
        Booking.objects.select_for_update(of=("self",), skip_locked=True)
        .filter(
            status=Status.HOLD,
            hold_expires_at__lte=now,
            room_type=room_type,
            check_in__lt=check_out,
            check_out__gt=check_in,
        )
        .order_by("pk")
    )
    for booking in expired:
        booking.room_type = room_type
        _expire(booking, reason="Hold lapsed; released before a new hold on its nights.")
    return len(expired)


# --- hold ----------------------------------------------------------------------


def _validate_stay(
    *, room_type: RoomType, check_in: date, check_out: date, adults: int, children: int
):
    if check_out <= check_in:
        raise BookingError(_("Check-out must be after check-in."))
    if (check_out - check_in).days > settings.BOOKING_MAX_NIGHTS:
        raise BookingError(
            _("A stay can be at most %(n)d nights.") % {"n": settings.BOOKING_MAX_NIGHTS}
        )
    if adults < 1 or children < 0:
        raise BookingError(_("At least one adult must stay."))
    if not (room_type.is_active and room_type.hotel.is_active):
        raise BookingError(_("This room type is not for sale any more."))
    if not room_type.fits(adults=adults, children=children):
        raise BookingError(
            _("%(room)s sleeps at most %(a)d adults, %(c)d children and %(o)d guests in all.")
            % {
                "room": room_type.name,
                "a": room_type.max_adults,
                "c": room_type.max_children,
                "o": room_type.max_occupancy,
            }
        )
    if check_in < hotel_today(room_type.hotel):
        raise BookingError(_("Check-in cannot be in the past."))


def booking_hold(
    *,
    room_type: RoomType,
    check_in: date,
    check_out: date,
    adults: int,
    children: int = 0,
    guest: AbstractBaseUser | None = None,
    by: AbstractBaseUser | None = None,
    source: str = Booking.Source.WEB,
    idempotency_key: str | None = None,
    guest_name: str = "",
    guest_email: str = "",
    guest_phone: str = "",
    special_requests: str = "",
) -> Booking:
    """Hold one room of ``room_type`` on every night of the stay, or hold nothing.

    The nights are read first, without locks: if one is full, the lapsed
    holds on the stay's nights are released, and a night still full,
    stop-sold or restricted refuses the stay (StayNotAvailable names the
    nights) before anything is written. The booking, its nights and its
    audit row are written next. Last, one conditional update locks the
    nights in date order and takes them (inventory_take), so the nights stay
    locked for that statement and the commit only; fewer nights taken than
    asked raises StayNotAvailable and nothing is kept. A form submitted twice
    with the same ``idempotency_key`` gets the first booking back, marked
    ``replayed``: the caller checks that the repeat comes from whoever made
    the first (a key copied from someone else's form must not open their hold).

    Unlike the other services this one is not decorated with
    ``transaction.atomic``: each attempt runs in its own transaction, and an
    attempt that a deadlock or serialization failure rolled back is tried
    again, up to HOLD_ATTEMPTS times. Inside a caller's transaction there is
    nothing to retry (the caller's locks stay held), so it runs once.
    """
    kwargs = {
        "room_type": room_type,
        "check_in": check_in,
        "check_out": check_out,
        "adults": adults,
        "children": children,
        "guest": _actor(guest),
        "by": _actor(by) or _actor(guest),
        "source": source,
        "idempotency_key": idempotency_key or None,
        "guest_name": guest_name,
        "guest_email": guest_email,
        "guest_phone": guest_phone,
        "special_requests": special_requests,
    }
    if idempotency_key:
        existing = _existing_for_key(idempotency_key, guest=kwargs["guest"])
        if existing is not None:
            return existing
    _validate_stay(
        room_type=room_type,
        check_in=check_in,
        check_out=check_out,
        adults=adults,
        children=children,
    )
    nested = transaction.get_connection().in_atomic_block
    attempts = 1 if nested else HOLD_ATTEMPTS
    for attempt in range(1, attempts + 1):
        try:
            with transaction.atomic():
                return _hold_once(**kwargs)
        except IntegrityError:
            # The same form raced itself: the other submission committed first.
            if idempotency_key and not nested:
                existing = _existing_for_key(idempotency_key, guest=kwargs["guest"])
                if existing is not None:
                    return existing
            raise
        except OperationalError as exc:
            if nested or not _is_transient(exc):
                raise
            logger.info("booking_hold retry %d after %s", attempt, type(exc.__cause__).__name__)
            if attempt == attempts:
                raise BookingBusy(
                    _("Many guests are booking these nights right now. Please try again.")
                ) from exc
            time.sleep(random.uniform(0, HOLD_BACKOFF_SECONDS * 2**attempt))
    raise AssertionError("unreachable")  # pragma: no cover


FORM_ALREADY_USED = _lazy("This form was already used. Please start the booking again.")


def _existing_for_key(key: str, *, guest) -> Booking | None:
    booking = (
        Booking.objects.select_related("hotel", "room_type").filter(idempotency_key=key).first()
    )
    if booking is not None and booking.guest_id and booking.guest_id != getattr(guest, "pk", None):
        raise BookingError(FORM_ALREADY_USED)
    if booking is not None:
        booking.replayed = True
    return booking


def _hold_once(
    *,
    room_type: RoomType,
    check_in: date,
    check_out: date,
    adults: int,
    children: int,
    guest,
    by,
    source: str,
    idempotency_key: str | None,
    guest_name: str,
    guest_email: str,
    guest_phone: str,
    special_requests: str,
) -> Booking:
    now = timezone.now()
    hotel = room_type.hotel
    try:
        nights = _check_stay(room_type=room_type, check_in=check_in, check_out=check_out, now=now)
    except StayRestricted as exc:
        raise BookingError(str(exc)) from exc
    prices = night_prices(room_type=room_type, nights=nights, adults=adults, children=children)
    if guest is not None:
        guest_name = guest_name or guest.get_full_name()
        guest_email = guest_email or guest.email
    # The booking, its nights and its audit row in plain SQL (hotel.rows):
    # building the ORM's three INSERTs cost more than running them.
    booking = Booking(
        hotel=hotel,
        room_type=room_type,
        guest=guest,
        guest_name=guest_name,
        guest_email=guest_email,
        guest_phone=guest_phone,
        special_requests=special_requests,
        adults=adults,
        children=children,
        check_in=check_in,
        check_out=check_out,
        status=Status.HOLD,
        hold_expires_at=now + timedelta(minutes=settings.BOOKING_HOLD_MINUTES),
        currency=hotel.currency,
        total_price=sum(prices, Decimal("0")),
        cancellation_policy=policy_snapshot(hotel=hotel, check_in=check_in),
        source=source,
        idempotency_key=idempotency_key,
    )
    rows.insert(connection, [booking])
    rows.insert(
        connection,
        [
            BookingNight(booking=booking, date=night.date, price=price)
            for night, price in zip(nights, prices, strict=True)
        ],
    )
    _record(
        booking=booking,
        by=by,
        from_status="",
        to_status=Status.HOLD,
        reason=f"Held ({booking.get_source_display()}).",
    )
    # Last, so that the nights stay locked only for this statement and the commit.
    try:
        inventory_take(room_type=room_type, check_in=check_in, check_out=check_out)
    except SoldOut as exc:
        raise StayNotAvailable(exc.nights) from exc
    except StayRestricted as exc:
        raise BookingError(str(exc)) from exc
    return booking


def _check_stay(*, room_type: RoomType, check_in: date, check_out: date, now) -> list:
    """The stay's nights, read without locks; a full night first releases the lapsed holds."""
    stay = {"room_type": room_type, "check_in": check_in, "check_out": check_out}
    try:
        return inventory_check(**stay)
    except SoldOut as exc:
        if not _release_expired_holds(**stay, now=now):
            raise StayNotAvailable(exc.nights) from exc
    try:
        return inventory_check(**stay)
    except SoldOut as exc:
        raise StayNotAvailable(exc.nights) from exc


# --- guest details and confirmation ---------------------------------------------


@transaction.atomic
def booking_update_details(
    *,
    booking: Booking,
    guest_name: str,
    guest_email: str,
    guest_phone: str = "",
    special_requests: str = "",
    by: AbstractBaseUser | None = None,
) -> Booking:
    """Set the guest's name, email, phone and requests on a live hold or confirmed booking."""
    booking = _lock(booking)
    if booking.status not in (Status.HOLD, Status.CONFIRMED):
        raise _refuse(booking, _("changed"))
    if booking.status == Status.HOLD and booking.hold_expires_at <= timezone.now():
        raise HoldExpired(booking.reference)
    if not guest_name.strip() or not guest_email.strip():
        raise BookingError(_("Enter the guest's name and email address."))
    booking.guest_name = guest_name.strip()
    booking.guest_email = guest_email.strip()
    booking.guest_phone = guest_phone.strip()
    booking.special_requests = special_requests.strip()
    rows.update(
        connection,
        booking,
        ["guest_name", "guest_email", "guest_phone", "special_requests", "updated_at"],
    )
    if booking.status == Status.CONFIRMED:
        _record(
            booking=booking,
            by=by,
            from_status=booking.status,
            to_status=booking.status,
            reason="Guest details changed.",
        )
        notify_booking_event(booking=booking, event="changed")
    return booking


@transaction.atomic
def booking_claim(*, booking: Booking, guest: AbstractBaseUser) -> Booking:
    """Give a booking made without an account to the account that logged in in the same browser.

    Empty guest details are filled in from the account; a booking that
    belongs to another account is refused.
    """
    booking = _lock(booking)
    if booking.guest_id == guest.pk:
        return booking
    if booking.guest_id is not None:
        raise BookingError(_("This booking belongs to another account."))
    booking.guest = guest
    booking.guest_name = booking.guest_name or guest.get_full_name()
    booking.guest_email = booking.guest_email or guest.email
    booking.save(update_fields=["guest", "guest_name", "guest_email", "updated_at"])
    _record(
        booking=booking,
        by=guest,
        from_status=booking.status,
        to_status=booking.status,
        reason=f"Linked to the account {guest.get_username()}.",
    )
    return booking


@transaction.atomic
def booking_confirm(
    *, booking: Booking, policy_accepted: bool, by: AbstractBaseUser | None = None
) -> Booking:
    """Confirm a live hold whose guest details are complete and whose policy was accepted.

    A hold that lapsed raises HoldExpired: its nights may already be someone
    else's. The booking is saved and its event written before the function
    returns, so side effects (notifications) can be added at the end.
    """
    booking = _lock(booking)
    now = timezone.now()
    if booking.status != Status.HOLD:
        raise _refuse(booking, _("confirmed"))
    if booking.hold_expires_at <= now:
        raise HoldExpired(booking.reference)
    if not booking.details_complete:
        raise BookingError(_("Enter the guest's name and email address before confirming."))
    if not policy_accepted:
        raise BookingError(_("Accept the cancellation policy to confirm the booking."))
    _move(
        booking,
        to=Status.CONFIRMED,
        by=by,
        reason="Confirmed.",
        confirmed_at=now,
        policy_accepted_at=now,
        hold_expires_at=None,
    )
    notify_booking_event(booking=booking, event="confirmed")
    return booking


# --- cancellation and expiry ----------------------------------------------------------


@transaction.atomic
def booking_cancel(
    *,
    booking: Booking,
    by: AbstractBaseUser | None = None,
    reason: str = "",
    waive_fee: bool = False,
    expected_fee: Decimal | None = None,
) -> Booking:
    """Cancel a hold or a confirmed booking, give its nights back and record the policy's fee.

    The fee comes from the policy snapshot: nothing before its deadline, then
    the first night or a share of the stay. Only staff may waive it. With
    ``expected_fee`` (what the guest was shown), a different fee raises
    FeeChanged and cancels nothing: a guest who read "free" on the page just
    before the deadline is never charged without seeing it.
    """
    booking = _lock(booking)
    if booking.status not in Booking.CANCELLABLE:
        raise _refuse(booking, _("cancelled"))
    if booking.status == Status.CONFIRMED and stay_has_ended(booking):
        raise IllegalTransition(
            _("The stay of booking %(ref)s has ended; mark it as a no-show instead.")
            % {"ref": booking.reference}
        )
    actor = _actor(by)
    if waive_fee and not (actor is not None and actor.is_staff):
        raise BookingError(_("Only staff can waive a cancellation fee."))
    fee = Decimal("0.00") if waive_fee else cancellation_fee(booking, at=timezone.now())
    if expected_fee is not None and fee != expected_fee:
        raise FeeChanged(fee)
    who = "staff" if actor is not None and actor.is_staff else "guest"
    why = f"Cancelled by {who}; fee {fee} {booking.currency}."
    if waive_fee:
        why = "Cancelled by staff; fee waived."
    if reason:
        why = f"{why} {reason}"
    _move(
        booking,
        to=Status.CANCELLED,
        by=by,
        reason=why,
        cancelled_at=timezone.now(),
        cancellation_fee=fee,
        hold_expires_at=None,
    )
    notify_booking_event(booking=booking, event="cancelled")
    # Last, so that the nights stay locked only for this statement and the commit.
    _release(booking)
    return booking


def booking_expire_holds(*, limit: int = 500, booking_ids: list[int] | None = None) -> int:
    """Expire lapsed holds and give their nights back; return how many were expired.

    Each hold is expired in a transaction of its own, like a hold is taken:
    its nights are locked in date order for its release statement and the
    commit only. In one transaction for the whole batch, the job kept up to
    500 stays' nights locked until its end, so guests holding those nights
    waited for all of it, and locking stay after stay out of date order could
    deadlock with them. Safe to run from several workers at once: each skips
    the holds another has locked. The same release also happens lazily in
    booking_hold.
    """
    qs = Booking.objects.filter(status=Status.HOLD, hold_expires_at__lte=timezone.now())
    if booking_ids is not None:
        qs = qs.filter(pk__in=booking_ids)
    candidates = list(qs.order_by("hold_expires_at", "pk").values_list("pk", flat=True)[:limit])
    expired = 0
    for pk in candidates:
        with transaction.atomic():
            booking = (
                Booking.objects.select_for_update(of=("self",), skip_locked=True)
                .select_related("room_type__hotel")
                .filter(pk=pk, status=Status.HOLD, hold_expires_at__lte=timezone.now())
                .first()
            )
            if booking is None:
                # Confirmed, cancelled or expired meanwhile, or another worker has it.
                continue
            _expire(booking, reason="Hold lapsed before confirmation.")
        expired += 1
    return expired


# --- staff operations -------------------------------------------------------------


@transaction.atomic
def booking_check_in(*, booking: Booking, by: AbstractBaseUser | None = None) -> Booking:
    """Check in a confirmed guest on or after the arrival day (hotel time), before departure."""
    booking = _lock(booking)
    if booking.status != Status.CONFIRMED:
        raise _refuse(booking, _("checked in"))
    today = hotel_today(booking.hotel)
    if today < booking.check_in:
        raise BookingError(
            _("Booking %(ref)s arrives on %(day)s; it cannot be checked in before then.")
            % {"ref": booking.reference, "day": f"{booking.check_in:%d %b %Y}"}
        )
    if today >= booking.check_out:
        raise BookingError(
            _("Booking %(ref)s departed on %(day)s; mark it as a no-show instead.")
            % {"ref": booking.reference, "day": f"{booking.check_out:%d %b %Y}"}
        )
    _move(booking, to=Status.CHECKED_IN, by=by, reason="Checked in.")
    return booking


@transaction.atomic
def booking_check_out(*, booking: Booking, by: AbstractBaseUser | None = None) -> Booking:
    """Check out a guest who is in house; the nights slept in stay sold.

    A guest who leaves before the booked departure day (hotel time) gives the
    nights from today back: the stay ends today, those nights and their prices
    leave the booking and the total, so the rooms can be sold and the room
    assigned again. The first night is always kept, even by a guest who leaves
    on the arrival day. The audit row names the booked departure and what was
    given back.
    """
    booking = _lock(booking)
    if booking.status != Status.CHECKED_IN:
        raise _refuse(booking, _("checked out"))
    leaves = max(hotel_today(booking.hotel), booking.check_in + timedelta(days=1))
    if leaves >= booking.check_out:
        _move(booking, to=Status.CHECKED_OUT, by=by, reason="Checked out.")
        return booking
    booked_check_out = booking.check_out
    unused = BookingNight.objects.filter(booking=booking, date__gte=leaves)
    given_back = sum(unused.values_list("price", flat=True), Decimal("0"))
    unused.delete()
    _move(
        booking,
        to=Status.CHECKED_OUT,
        by=by,
        reason=(
            f"Checked out early on {leaves:%d %b %Y}, booked until {booked_check_out:%d %b %Y}; "
            f"{(booked_check_out - leaves).days} night(s) given back "
            f"({given_back} {booking.currency})."
        ),
        check_out=leaves,
        total_price=booking.total_price - given_back,
    )
    # Last, as in every service: the nights' rows stay locked only until the commit.
    inventory_release(room_type=booking.room_type, check_in=leaves, check_out=booked_check_out)
    return booking


@transaction.atomic
def booking_mark_no_show(
    *, booking: Booking, by: AbstractBaseUser | None = None, reason: str = ""
) -> Booking:
    """Mark a confirmed guest who did not arrive: give the nights back and record the late fee."""
    booking = _lock(booking)
    if booking.status != Status.CONFIRMED:
        raise _refuse(booking, _("marked as a no-show"))
    if hotel_today(booking.hotel) < booking.check_in:
        raise BookingError(
            _("Booking %(ref)s arrives on %(day)s; it cannot be a no-show before then.")
            % {"ref": booking.reference, "day": f"{booking.check_in:%d %b %Y}"}
        )
    _release(booking)
    fee = late_fee(booking)
    _move(
        booking,
        to=Status.NO_SHOW,
        by=by,
        reason=f"No-show; fee {fee} {booking.currency}. {reason}".strip(),
        cancellation_fee=fee,
    )
    return booking


def _overlapping(booking: Booking):
    return Booking.objects.filter(
        status__in=Booking.OCCUPIES_ROOM,
        check_in__lt=booking.check_out,
        check_out__gt=booking.check_in,
    ).exclude(pk=booking.pk)


@transaction.atomic
def booking_assign_room(
    *, booking: Booking, room: Room | None = None, by: AbstractBaseUser | None = None
) -> Booking:
    """Give a confirmed or checked-in booking a room of its type that no overlapping stay has.

    With no ``room``, the lowest-numbered free room is chosen. The room row
    is locked so that two assignments to it queue; on PostgreSQL the exclusion
    constraint ``booking_room_no_overlap`` is the last word.
    """
    booking = _lock(booking)
    if booking.status not in (Status.CONFIRMED, Status.CHECKED_IN):
        raise _refuse(booking, _("given a room"))
    if room is None:
        taken = _overlapping(booking).filter(room=OuterRef("pk"))
        room = (
            Room.objects.select_for_update(skip_locked=True)
            .filter(room_type_id=booking.room_type_id, is_active=True)
            .exclude(Exists(taken))
            .order_by("number")
            .first()
        )
        if room is None:
            raise RoomUnavailable(
                _("No %(type)s room is free for every night of booking %(ref)s.")
                % {"type": booking.room_type.name, "ref": booking.reference}
            )
    else:
        room = Room.objects.select_for_update().get(pk=room.pk)
        if room.room_type_id != booking.room_type_id:
            raise RoomUnavailable(
                _("Room %(n)s is not a %(type)s room.")
                % {"n": room.number, "type": booking.room_type.name}
            )
        if not room.is_active:
            raise RoomUnavailable(_("Room %(n)s is out of service.") % {"n": room.number})
    clash = _overlapping(booking).filter(room=room).only("reference").first()
    if clash is not None:
        raise RoomUnavailable(
            _("Room %(n)s is already given to booking %(ref)s on some of these nights.")
            % {"n": room.number, "ref": clash.reference}
        )
    previous = booking.room
    booking.room = room
    try:
        with transaction.atomic():
            booking.save(update_fields=["room", "updated_at"])
    except IntegrityError as exc:
        raise RoomUnavailable(
            _("Room %(n)s was just given to another stay on some of these nights.")
            % {"n": room.number}
        ) from exc
    moved = f" (was {previous.number})" if previous else ""
    _record(
        booking=booking,
        by=by,
        from_status=booking.status,
        to_status=booking.status,
        reason=f"Room {room.number} assigned{moved}.",
    )
    return booking
