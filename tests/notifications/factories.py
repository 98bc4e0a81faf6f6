from datetime import date, timedelta
from decimal import Decimal

from django.utils import timezone

from bookings.models import Booking, BookingNight
from tests.factories import BookingFactory


def booking_with_nights(**kwargs) -> Booking:
    """A confirmed booking with its night-by-night price snapshot, as the service leaves it."""
    kwargs.setdefault("check_in", date.today() + timedelta(days=14))
    kwargs.setdefault("check_out", kwargs["check_in"] + timedelta(days=2))
    prices = kwargs.pop("prices", None)
    nights = (kwargs["check_out"] - kwargs["check_in"]).days
    prices = prices or [Decimal("120.00")] * nights
    kwargs.setdefault("total_price", sum(prices, Decimal("0")))
    if kwargs.get("status", Booking.Status.CONFIRMED) != Booking.Status.HOLD:
        kwargs.setdefault("confirmed_at", timezone.now())
    booking = BookingFactory(**kwargs)
    BookingNight.objects.bulk_create(
        BookingNight(booking=booking, date=booking.check_in + timedelta(days=i), price=price)
        for i, price in enumerate(prices)
    )
    return booking
