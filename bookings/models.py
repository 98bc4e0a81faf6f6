import secrets
from functools import lru_cache
from types import ModuleType

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.urls import get_script_prefix, get_urlconf, reverse
from django.utils.translation import gettext_lazy as _

from hotel.models import Hotel, Room, RoomType

# No 0/O, 1/I/L: a reference read out on the telephone cannot be misheard.
REFERENCE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
REFERENCE_LENGTH = 10


def new_reference() -> str:
    """A reference nobody can guess: 10 characters of 31, about 49 bits from `secrets`."""
    return "".join(secrets.choice(REFERENCE_ALPHABET) for _ in range(REFERENCE_LENGTH))


_REFERENCE_CHARACTERS = frozenset(REFERENCE_ALPHABET)
_PLACEHOLDER = "-reference-"


@lru_cache(maxsize=16)
def _detail_path_around(script_prefix: str, urlconf: str | ModuleType) -> tuple[str, str]:
    """What comes before and after the reference in a booking page's path.

    Keyed by what ``reverse`` reads besides its arguments: the script prefix
    the server is mounted under and the URLconf it resolves with.
    """
    path = reverse("bookings:detail", kwargs={"reference": _PLACEHOLDER}, urlconf=urlconf)
    before, _, after = path.partition(_PLACEHOLDER)
    return before, after


def status_label(status: str) -> str:
    """A booking status's label in the active language (the value itself if it is none).

    Django's generated ``get_status_display`` hashes every lazy label of the
    choices (a translation lookup each) on every call; lists of bookings call
    it per row.
    """
    try:
        return Booking.Status(status).label
    except ValueError:
        return status


def booking_path(reference: str) -> str:
    """The booking page's path, as ``reverse`` gives it, for lists that link every row.

    ``reverse`` costs about 30 µs a call, 7% of "My bookings" with its ten
    links. A reference drawn from REFERENCE_ALPHABET needs no quoting, so
    it goes between the parts of a path reversed once; any other string
    goes through ``reverse``.
    """
    # An empty reference matches no booking path: reverse() raises for it.
    if reference and _REFERENCE_CHARACTERS.issuperset(reference):
        # Outside a request get_urlconf() is None and reverse() falls back to
        # ROOT_URLCONF as it is now, so the key must name that one.
        urlconf = get_urlconf() or settings.ROOT_URLCONF
        before, after = _detail_path_around(get_script_prefix(), urlconf)
        return f"{before}{reference}{after}"
    return reverse("bookings:detail", kwargs={"reference": reference})


class Booking(models.Model):
    class Status(models.TextChoices):
        HOLD = "hold", _("On hold")
        CONFIRMED = "confirmed", _("Confirmed")
        CANCELLED = "cancelled", _("Cancelled")
        EXPIRED = "expired", _("Expired")
        CHECKED_IN = "checked_in", _("Checked in")
        CHECKED_OUT = "checked_out", _("Checked out")
        NO_SHOW = "no_show", _("No-show")

    class Source(models.TextChoices):
        WEB = "web", _("Website")
        ADMIN = "admin", _("Staff (admin)")

    # Statuses whose nights are counted in RoomInventory.sold. A checked-out
    # stay keeps its nights: they were slept in, and occupancy reports read
    # them (an early departure gave the rest back and ends on its real
    # departure day). Cancelled, expired and no-show bookings gave theirs back.
    HOLDS_INVENTORY = (Status.HOLD, Status.CONFIRMED, Status.CHECKED_IN, Status.CHECKED_OUT)
    # Statuses in which an assigned room is really occupied; the exclusion
    # constraint (migration 0002) forbids two of them overlapping on one room.
    OCCUPIES_ROOM = (Status.CONFIRMED, Status.CHECKED_IN, Status.CHECKED_OUT)
    CANCELLABLE = (Status.HOLD, Status.CONFIRMED)

    # Unique through Meta.constraints, whose index is the only one a write
    # maintains; a field's unique=True adds a LIKE index nothing here uses.
    # Foreign keys that lead a composite index below have no index of their own.
    reference = models.CharField(max_length=16, default=new_reference, editable=False)
    hotel = models.ForeignKey(
        Hotel, on_delete=models.PROTECT, related_name="bookings", db_index=False
    )
    room_type = models.ForeignKey(RoomType, on_delete=models.PROTECT, related_name="bookings")
    room = models.ForeignKey(
        Room,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="bookings",
        db_index=False,
    )
    guest = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="bookings",
        db_index=False,
    )
    guest_name = models.CharField(max_length=200, blank=True)
    guest_email = models.EmailField(blank=True)
    guest_phone = models.CharField(max_length=40, blank=True)
    adults = models.PositiveSmallIntegerField(default=1)
    children = models.PositiveSmallIntegerField(default=0)
    check_in = models.DateField()
    check_out = models.DateField()
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.HOLD)
    hold_expires_at = models.DateTimeField(null=True, blank=True)

    # Snapshot taken when the booking is made and never recomputed; the nights
    # and their prices are the BookingNight rows.
    currency = models.CharField(max_length=3)
    total_price = models.DecimalField(max_digits=12, decimal_places=2)
    cancellation_policy = models.JSONField(default=dict, blank=True)
    cancellation_fee = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)

    special_requests = models.TextField(blank=True)
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.WEB)
    idempotency_key = models.CharField(max_length=64, null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    policy_accepted_at = models.DateTimeField(
        null=True, blank=True, help_text=_("When the guest accepted the cancellation policy.")
    )
    cancelled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-check_in", "-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["reference"], name="booking_reference_unique"),
            models.UniqueConstraint(
                fields=["idempotency_key"], name="booking_idempotency_key_unique"
            ),
            models.CheckConstraint(
                condition=Q(check_out__gt=F("check_in")), name="booking_check_out_after_check_in"
            ),
            models.CheckConstraint(condition=Q(adults__gte=1), name="booking_adults_gte_1"),
            models.CheckConstraint(condition=Q(total_price__gte=0), name="booking_total_gte_0"),
            models.CheckConstraint(
                condition=~Q(status="hold") | Q(hold_expires_at__isnull=False),
                name="booking_hold_has_expiry",
            ),
        ]
        indexes = [
            models.Index(fields=["guest", "-check_in"], name="booking_guest_checkin"),
            models.Index(fields=["hotel", "check_in"], name="booking_hotel_arrivals"),
            models.Index(fields=["hotel", "check_out"], name="booking_hotel_departures"),
            models.Index(fields=["status", "check_in"], name="booking_status_checkin"),
            models.Index(
                fields=["hold_expires_at"],
                name="booking_hold_expiry",
                condition=Q(status="hold"),
            ),
            models.Index(fields=["hotel", "status", "check_in"], name="booking_hotel_status_in"),
            models.Index(fields=["room", "check_in"], name="booking_room_checkin"),
        ]

    def __str__(self) -> str:
        return f"{self.reference} ({self.get_status_display()})"

    def get_absolute_url(self) -> str:
        return booking_path(self.reference)

    def get_status_display(self) -> str:
        return status_label(self.status)

    @property
    def nights(self) -> int:
        return (self.check_out - self.check_in).days

    @property
    def is_live(self) -> bool:
        return self.status in self.HOLDS_INVENTORY

    def hold_seconds_left(self, now=None) -> int:
        """Seconds until the hold lapses; 0 once it has, or when this is not a hold."""
        from django.utils import timezone

        if self.status != self.Status.HOLD or self.hold_expires_at is None:
            return 0
        return max(0, int((self.hold_expires_at - (now or timezone.now())).total_seconds()))

    @property
    def details_complete(self) -> bool:
        return bool(self.guest_name.strip() and self.guest_email.strip())


class BookingNight(models.Model):
    """One night of a booking with the price it was sold at."""

    # Indexed by the unique (booking, date) below.
    booking = models.ForeignKey(
        Booking, on_delete=models.CASCADE, related_name="night_prices", db_index=False
    )
    date = models.DateField()
    price = models.DecimalField(max_digits=10, decimal_places=2)

    class Meta:
        ordering = ["booking", "date"]
        constraints = [
            models.UniqueConstraint(fields=["booking", "date"], name="bookingnight_unique_date"),
            models.CheckConstraint(condition=Q(price__gte=0), name="bookingnight_price_gte_0"),
        ]
        indexes = [models.Index(fields=["date"], name="bookingnight_date")]

    def __str__(self) -> str:
        return f"{self.booking.reference} {self.date}: {self.price}"


class BookingEvent(models.Model):
    """The audit trail: who moved a booking from one status to another, when and why."""

    # Indexed by (booking, at) below.
    booking = models.ForeignKey(
        Booking, on_delete=models.CASCADE, related_name="events", db_index=False
    )
    at = models.DateTimeField(auto_now_add=True)
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    from_status = models.CharField(max_length=20, blank=True)
    to_status = models.CharField(max_length=20)
    reason = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["booking", "at"]
        indexes = [models.Index(fields=["booking", "at"], name="bookingevent_booking_at")]

    def __str__(self) -> str:
        return f"{self.booking.reference}: {self.from_status or '—'} → {self.to_status}"
