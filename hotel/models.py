from decimal import Decimal

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from .validators import validate_currency_code, validate_timezone


class Amenity(models.Model):
    name = models.CharField(max_length=80, unique=True)
    slug = models.SlugField(max_length=80, unique=True)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "amenities"

    def __str__(self) -> str:
        return self.name


class Hotel(models.Model):
    class CancellationFee(models.TextChoices):
        NONE = "none", _("No fee")
        FIRST_NIGHT = "first_night", _("First night")
        PERCENT = "percent", _("Percentage of the stay")

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=200, unique=True)
    city = models.CharField(max_length=100)
    country = models.CharField(max_length=2, help_text=_("ISO 3166-1 alpha-2 code, e.g. PT."))
    address = models.CharField(max_length=300)
    stars = models.PositiveSmallIntegerField(
        validators=[MinValueValidator(1), MaxValueValidator(5)]
    )
    description = models.TextField(blank=True)
    email = models.EmailField(blank=True)
    phone = models.CharField(max_length=40, blank=True)
    timezone = models.CharField(
        max_length=64,
        default="UTC",
        validators=[validate_timezone],
        help_text=_("IANA time zone; nights and cancellation deadlines are in it."),
    )
    currency = models.CharField(
        max_length=3,
        default="EUR",
        validators=[validate_currency_code],
        help_text=_("ISO 4217 code; every price of this hotel is in it."),
    )
    check_in_time = models.TimeField(default="15:00")
    check_out_time = models.TimeField(default="11:00")
    free_cancellation_days = models.PositiveSmallIntegerField(
        default=2,
        help_text=_("Cancellation is free until this many days before arrival."),
    )
    cancellation_fee = models.CharField(
        max_length=20, choices=CancellationFee.choices, default=CancellationFee.FIRST_NIGHT
    )
    cancellation_fee_percent = models.DecimalField(
        max_digits=5,
        decimal_places=2,
        default=Decimal("0"),
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("100"))],
        help_text=_("Used when the fee is a percentage of the stay."),
    )
    deposit_percent = models.DecimalField(
        max_digits=5,
        decimal_places=2,
        default=Decimal("0"),
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("100"))],
        help_text=_("Share of the stay taken as a deposit at confirmation; 0 pays at the hotel."),
    )
    amenities = models.ManyToManyField(Amenity, blank=True, related_name="hotels")
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(stars__gte=1) & Q(stars__lte=5), name="hotel_stars_1_to_5"
            ),
            models.CheckConstraint(
                condition=Q(cancellation_fee_percent__gte=0) & Q(cancellation_fee_percent__lte=100),
                name="hotel_cancellation_fee_percent_range",
            ),
            models.CheckConstraint(
                condition=Q(deposit_percent__gte=0) & Q(deposit_percent__lte=100),
                name="hotel_deposit_percent_range",
            ),
            models.CheckConstraint(
                condition=Q(currency__regex=r"^[A-Z]{3}$"), name="hotel_currency_iso4217"
            ),
        ]
        indexes = [
            models.Index(fields=["is_active", "city", "stars"], name="hotel_active_city_stars"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.city})"

    def get_absolute_url(self) -> str:
        return reverse("hotel:detail", kwargs={"slug": self.slug})

    @property
    def tzinfo(self):
        from zoneinfo import ZoneInfo

        return ZoneInfo(self.timezone)


class RoomType(models.Model):
    hotel = models.ForeignKey(Hotel, on_delete=models.CASCADE, related_name="room_types")
    name = models.CharField(max_length=120)
    slug = models.SlugField(max_length=120)
    description = models.TextField(blank=True)
    max_adults = models.PositiveSmallIntegerField(default=2)
    max_children = models.PositiveSmallIntegerField(default=0)
    max_occupancy = models.PositiveSmallIntegerField(default=2)
    base_occupancy = models.PositiveSmallIntegerField(
        default=2, help_text=_("Guests included in the price; more pay a supplement.")
    )
    beds = models.CharField(max_length=120, help_text=_("For example: 1 king bed."))
    size_m2 = models.PositiveSmallIntegerField(null=True, blank=True, verbose_name="size (m²)")
    base_price = models.DecimalField(
        max_digits=10,
        decimal_places=2,
        validators=[MinValueValidator(Decimal("0"))],
        help_text=_("Nightly price before seasons, weekday rules and special days."),
    )
    amenities = models.ManyToManyField(Amenity, blank=True, related_name="room_types")
    is_active = models.BooleanField(default=True)
    sort_order = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["hotel", "sort_order", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["hotel", "slug"], name="roomtype_unique_slug_per_hotel"
            ),
            models.CheckConstraint(
                condition=Q(max_adults__gte=1), name="roomtype_max_adults_gte_1"
            ),
            models.CheckConstraint(
                condition=Q(max_occupancy__gte=1)
                & Q(max_occupancy__lte=F("max_adults") + F("max_children")),
                name="roomtype_max_occupancy_fits_beds",
            ),
            models.CheckConstraint(
                condition=Q(base_occupancy__gte=1) & Q(base_occupancy__lte=F("max_occupancy")),
                name="roomtype_base_occupancy_range",
            ),
            models.CheckConstraint(
                condition=Q(base_price__gte=0), name="roomtype_base_price_gte_0"
            ),
        ]
        indexes = [
            models.Index(fields=["hotel", "is_active", "sort_order"], name="roomtype_hotel_active"),
        ]

    def __str__(self) -> str:
        return f"{self.name} — {self.hotel.name}"

    def get_absolute_url(self) -> str:
        return reverse(
            "hotel:room_type", kwargs={"slug": self.hotel.slug, "room_type_slug": self.slug}
        )

    def fits(self, *, adults: int, children: int) -> bool:
        """Whether the party fits this room type's beds."""
        return (
            adults <= self.max_adults
            and children <= self.max_children
            and adults + children <= self.max_occupancy
        )


class Room(models.Model):
    hotel = models.ForeignKey(Hotel, on_delete=models.CASCADE, related_name="rooms")
    room_type = models.ForeignKey(RoomType, on_delete=models.PROTECT, related_name="rooms")
    number = models.CharField(max_length=10)
    floor = models.SmallIntegerField(default=0)
    is_active = models.BooleanField(
        default=True, help_text=_("Inactive rooms (repairs, renovation) are not sold.")
    )
    notes = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["hotel", "number"]
        constraints = [
            models.UniqueConstraint(
                fields=["hotel", "number"], name="room_unique_number_per_hotel"
            ),
        ]
        indexes = [
            models.Index(fields=["room_type", "is_active"], name="room_type_active"),
        ]

    def __str__(self) -> str:
        return f"Room {self.number} ({self.room_type.name})"

    def clean(self) -> None:
        from django.core.exceptions import ValidationError

        if self.room_type_id and self.hotel_id and self.room_type.hotel_id != self.hotel_id:
            raise ValidationError({"room_type": _("The room type belongs to another hotel.")})
