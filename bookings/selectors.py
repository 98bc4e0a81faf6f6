"""Reads for the booking pages and staff screens; each in a fixed number of queries."""

from collections import defaultdict
from datetime import date, datetime
from zoneinfo import ZoneInfo

from django.core.paginator import Page, Paginator
from django.db.models import Count, F, Prefetch, Q, QuerySet, Window
from django.utils import timezone

from caching.api import cached
from hotel.models import Hotel

from .models import Booking, BookingNight

Status = Booking.Status

UPCOMING = (Status.HOLD, Status.CONFIRMED, Status.CHECKED_IN)


def _hotel_time_zones() -> tuple[str, ...]:
    """The time zones the hotels are in, inactive ones included (past stays were there)."""
    return cached(
        "catalogue",
        ["hotel-time-zones"],
        lambda: tuple(sorted(set(Hotel.objects.values_list("timezone", flat=True)))),
        ttl=3600,
    )


def departs_today_or_later(now: datetime) -> Q:
    """Bookings whose check-out day has not passed yet at their hotel, in its time zone.

    Today differs from hotel to hotel (Tokyo is a day ahead of New York for
    much of the day), so the filter names the hotels' zones that are still on
    an earlier date than the latest; with every hotel on the same date, as
    for most of the day in most catalogues, it is one comparison.
    """
    zones_by_date: dict[date, list[str]] = defaultdict(list)
    for name in _hotel_time_zones():
        zones_by_date[now.astimezone(ZoneInfo(name)).date()].append(name)
    if not zones_by_date:
        return Q(check_out__gte=timezone.localdate(now))
    latest = max(zones_by_date)
    condition = Q(check_out__gte=latest)
    for day, names in zones_by_date.items():
        if day != latest:
            condition |= Q(check_out__gte=day, hotel__timezone__in=names)
    return condition


def bookings_for_guest(
    *, guest, past: bool = False, queryset: QuerySet[Booking] | None = None
) -> QuerySet[Booking]:
    """A guest's upcoming stays (soonest first) or past and cancelled ones (latest first).

    A stay is upcoming until its check-out day has passed at its hotel.
    Lapsed holds never show: they were never bookings. ``queryset`` is what
    to filter, all bookings by default.
    """
    qs = (Booking.objects.all() if queryset is None else queryset).filter(guest=guest)
    upcoming = Q(status__in=UPCOMING) & departs_today_or_later(timezone.now())
    live_hold = ~Q(status=Status.HOLD) | Q(hold_expires_at__gt=timezone.now())
    if past:
        return (
            qs.exclude(upcoming)
            .exclude(status__in=(Status.HOLD, Status.EXPIRED))
            .order_by("-check_in", "-pk")
        )
    return qs.filter(upcoming & live_hold).order_by("check_in", "pk")


# What "My bookings" shows of each booking; nothing else is read. The hotel's
# and room type's names ride on the booking as annotations: joined models
# would cost two more instances a row and the ORM's related-selection work
# (a sixth of the query's CPU) for three strings.
GUEST_PAGE_FIELDS = ("reference", "status", "check_in", "check_out", "currency", "total_price")
GUEST_PAGE_NAMES = {
    "hotel_name": F("hotel__name"),
    "hotel_city": F("hotel__city"),
    "room_type_name": F("room_type__name"),
}
# Resolved once, cloned by every page (as a class-based view's ``queryset``):
# resolving the four annotations was an eighth of the selector's CPU.
GUEST_PAGE_ROWS = Booking.objects.only(*GUEST_PAGE_FIELDS).annotate(
    **GUEST_PAGE_NAMES, found=Window(Count("pk"))
)


MAX_PAGE_NUMBER = 2**31


def guest_bookings_page(*, guest, past: bool, number, per_page: int) -> Page:
    """One page of ``bookings_for_guest`` and their number, in one query.

    The count rides on every row as a window function instead of the
    Paginator's separate COUNT. Like ``Paginator.get_page``, a number that
    is not one gives the first page, and one past the end the last page
    (which costs a second query).
    """
    rows = bookings_for_guest(guest=guest, past=past, queryset=GUEST_PAGE_ROWS)
    try:
        number = max(int(number), 1)
    except (TypeError, ValueError):
        number = 1
    # Past any guest's last page, and its offset still fits PostgreSQL's bigint.
    number = min(number, MAX_PAGE_NUMBER)
    page = list(rows[(number - 1) * per_page : number * per_page])
    if not page and number > 1:
        count = bookings_for_guest(guest=guest, past=past).count()
        return guest_bookings_page(
            guest=guest, past=past, number=_last_page(count, per_page), per_page=per_page
        )
    paginator = Paginator(rows, per_page)
    paginator.count = page[0].found if page else 0
    return Page(page, number, paginator)


def _last_page(count: int, per_page: int) -> int:
    return max(-(-count // per_page), 1)


def booking_for_page(*, reference: str, with_nights: bool = True) -> Booking:
    """One booking with its hotel, room type, room and nights (two queries).

    ``with_nights=False`` leaves the nights to be read only if a page shows
    them: a form post that succeeds redirects without showing them.
    """
    bookings = Booking.objects.select_related("hotel", "room_type", "room", "guest")
    if with_nights:
        bookings = bookings.prefetch_related(
            Prefetch("night_prices", queryset=BookingNight.objects.order_by("date"))
        )
    return bookings.get(reference=reference)


def hotel_day(*, hotel: Hotel, day: date) -> dict[str, list[Booking]]:
    """Arrivals, departures and guests in house at a hotel on one day (three queries)."""
    base = Booking.objects.filter(hotel=hotel).select_related("room_type", "room")
    return {
        "arrivals": list(
            base.filter(
                check_in=day, status__in=(Status.CONFIRMED, Status.CHECKED_IN, Status.NO_SHOW)
            ).order_by("guest_name")
        ),
        "departures": list(
            base.filter(check_out=day, status__in=(Status.CHECKED_IN, Status.CHECKED_OUT)).order_by(
                "guest_name"
            )
        ),
        "in_house": list(
            base.filter(status=Status.CHECKED_IN, check_in__lte=day).order_by("room__number")
        ),
    }
