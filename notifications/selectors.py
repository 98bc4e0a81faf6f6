from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import QuerySet
from django.utils import timezone

from bookings.models import Booking

from .models import Notification


def notifications_for_booking(*, booking: Booking) -> QuerySet[Notification]:
    """A booking's messages, newest first, for its staff and guest pages."""
    return Notification.objects.filter(booking=booking).order_by("-created_at")


def bookings_needing_reminder(*, now: datetime | None = None) -> QuerySet[Booking]:
    """Confirmed bookings whose reminder is still ahead and not yet written.

    Arrivals up to a day past the reminder horizon, so every time zone's
    reminder hour is covered whatever the UTC date is now.
    """
    now = now or timezone.now()
    today = now.date()
    horizon = today + timedelta(days=settings.NOTIFICATION_REMINDER_DAYS_BEFORE + 1)
    return (
        Booking.objects.filter(
            status=Booking.Status.CONFIRMED, check_in__gt=today, check_in__lte=horizon
        )
        .exclude(
            notifications__kind=Notification.Kind.ARRIVAL_REMINDER,
            notifications__status__in=[
                Notification.Status.PENDING,
                Notification.Status.SENDING,
                Notification.Status.SENT,
            ],
        )
        .select_related("hotel", "room_type", "guest")
        .order_by("check_in", "pk")
    )
