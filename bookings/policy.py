"""The cancellation policy a booking was sold under, and the fee it sets.

The policy is copied onto the booking when it is held (``policy_snapshot``)
and only that copy is read afterwards: a hotel that changes its terms does not
change what earlier guests agreed to. The free period ends at the hotel's
check-in time, ``free_cancellation_days`` days before arrival, in the hotel's
time zone, and that deadline is stored in the snapshot too.
"""

from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

from django.utils import timezone
from django.utils.translation import gettext as _

from hotel.models import Hotel
from hotel.money import minor_unit


def policy_snapshot(*, hotel: Hotel, check_in: date) -> dict:
    """The hotel's current cancellation terms for an arrival on ``check_in``, as JSON."""
    check_in_time = hotel.check_in_time
    if isinstance(check_in_time, str):
        check_in_time = time.fromisoformat(check_in_time)
    deadline = datetime.combine(
        check_in - timedelta(days=hotel.free_cancellation_days),
        check_in_time,
        tzinfo=ZoneInfo(hotel.timezone),
    )
    return {
        "free_cancellation_days": hotel.free_cancellation_days,
        "fee": hotel.cancellation_fee,
        "fee_percent": str(hotel.cancellation_fee_percent),
        "timezone": hotel.timezone,
        "free_until": deadline.isoformat(),
    }


def free_until(booking) -> datetime | None:
    value = (booking.cancellation_policy or {}).get("free_until")
    return datetime.fromisoformat(value) if value else None


def late_fee(booking, first_night_price: Decimal | None = None) -> Decimal:
    """The fee the snapshot sets once the free period is over (also charged for a no-show)."""
    policy = booking.cancellation_policy or {}
    kind = policy.get("fee", Hotel.CancellationFee.FIRST_NIGHT)
    total = booking.total_price
    if kind == Hotel.CancellationFee.NONE:
        fee = Decimal("0")
    elif kind == Hotel.CancellationFee.PERCENT:
        percent = Decimal(policy.get("fee_percent", "0"))
        fee = (total * percent / Decimal("100")).quantize(
            minor_unit(booking.currency), rounding=ROUND_HALF_UP
        )
    else:
        if first_night_price is None:
            first = booking.night_prices.order_by("date").first()
            first_night_price = first.price if first else total
        fee = first_night_price
    return min(fee, total)


def cancellation_fee(booking, *, at: datetime | None = None) -> Decimal:
    """What cancelling ``booking`` at ``at`` costs: nothing for a hold or within the free period."""
    if booking.status == booking.Status.HOLD:
        return Decimal("0.00")
    deadline = free_until(booking)
    if deadline is not None and (at or timezone.now()) < deadline:
        return Decimal("0.00")
    return late_fee(booking)


def policy_summary(booking) -> str:
    """One sentence a guest reads before confirming or cancelling."""
    policy = booking.cancellation_policy or {}
    deadline = free_until(booking)
    kind = policy.get("fee")
    if kind == Hotel.CancellationFee.NONE:
        return _("Cancellation is free at any time before arrival.")
    if kind == Hotel.CancellationFee.PERCENT:
        fee_text = _("%(p)s%% of the stay") % {"p": Decimal(policy.get("fee_percent", "0"))}
    else:
        fee_text = _("the first night")
    if deadline is None:
        return _("Cancelling costs %(fee)s.") % {"fee": fee_text}
    return _(
        "Free cancellation until %(deadline)s (hotel time); after that, cancelling costs %(fee)s."
    ) % {"deadline": f"{deadline:%a %d %b %Y, %H:%M}", "fee": fee_text}
