"""Inventory nights and the pricing rules that write their prices.

A night's price is computed from the rules when a rule changes and stored on
the RoomInventory row, so a quote is a sum over rows and never a rule
evaluation at search time. See inventory/pricing.py for the order in which
rules apply.
"""

from decimal import Decimal

from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from hotel.models import Hotel, RoomType
from hotel.money import is_payable, minor_unit


class RoomInventory(models.Model):
    """One room type on one night: how many rooms are for sale, how many are taken, the price.

    ``sold`` counts held and confirmed bookings. Only inventory services write
    these rows; the CHECK constraints are the last line against overselling.
    """

    # No index of its own: the unique (room_type, date) index leads with it,
    # and a lone room_type index tempted the planner into reading a room
    # type's every night and filtering the dates (seen with EXPLAIN).
    room_type = models.ForeignKey(
        RoomType, on_delete=models.CASCADE, related_name="inventory", db_index=False
    )
    date = models.DateField(help_text=_("The night, in the hotel's time zone."))
    total = models.PositiveIntegerField(help_text=_("Rooms for sale this night."))
    sold = models.PositiveIntegerField(default=0, help_text=_("Rooms held or booked."))
    price = models.DecimalField(
        max_digits=10, decimal_places=2, validators=[MinValueValidator(Decimal("0"))]
    )
    price_overridden = models.BooleanField(
        default=False,
        help_text=_("Set by hand in a bulk edit; pricing rule changes leave it alone."),
    )
    min_stay = models.PositiveSmallIntegerField(default=1)
    max_stay = models.PositiveSmallIntegerField(null=True, blank=True)
    closed_to_arrival = models.BooleanField(default=False)
    closed_to_departure = models.BooleanField(default=False)
    stop_sell = models.BooleanField(default=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "night of inventory"
        verbose_name_plural = "inventory"
        ordering = ["room_type", "date"]
        constraints = [
            # The unique index on (room_type, date) also serves every
            # availability and calendar query, which filter on both.
            models.UniqueConstraint(
                fields=["room_type", "date"], name="inventory_one_row_per_night"
            ),
            models.CheckConstraint(
                condition=Q(sold__gte=0) & Q(sold__lte=F("total")),
                name="inventory_sold_within_total",
            ),
            models.CheckConstraint(condition=Q(price__gte=0), name="inventory_price_gte_0"),
            models.CheckConstraint(condition=Q(min_stay__gte=1), name="inventory_min_stay_gte_1"),
            models.CheckConstraint(
                condition=Q(max_stay__isnull=True) | Q(max_stay__gte=F("min_stay")),
                name="inventory_max_stay_gte_min_stay",
            ),
        ]
        indexes = [
            # The rolling-window job and the admin's date filter look nights up
            # by date across room types.
            models.Index(fields=["date"], name="inventory_date"),
        ]

    def __str__(self) -> str:
        return f"{self.room_type} on {self.date:%Y-%m-%d}: {self.sold}/{self.total}"

    @property
    def free(self) -> int:
        return self.total - self.sold


class Adjustment(models.TextChoices):
    SET = "set", _("Set the price to")
    PERCENT = "percent", _("Change by percent")
    AMOUNT = "amount", _("Change by amount")


class PriceRule(models.Model):
    """What seasons, weekday rules and special days share: whom they apply to and how."""

    hotel = models.ForeignKey(Hotel, on_delete=models.CASCADE, related_name="+")
    room_type = models.ForeignKey(
        RoomType,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        help_text=_("Leave empty to apply to every room type of the hotel."),
    )
    name = models.CharField(max_length=120)
    adjustment = models.CharField(max_length=10, choices=Adjustment.choices)
    value = models.DecimalField(
        max_digits=10,
        decimal_places=2,
        help_text=_("A price, a percentage (20 = +20%, -15 = -15%) or an amount (+/-)."),
    )
    priority = models.SmallIntegerField(
        default=0, help_text=_("When rules of the same kind overlap, the highest wins.")
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        from django.core.exceptions import ValidationError

        errors = {}
        if self.room_type_id and self.hotel_id and self.room_type.hotel_id != self.hotel_id:
            errors["room_type"] = _("This room type belongs to another hotel.")
        # The CHECK constraints hold these too, but their own message names
        # the constraint, which tells staff nothing.
        if self.value is not None:
            if self.adjustment == Adjustment.SET and self.value < 0:
                errors["value"] = _("A price cannot be negative.")
            elif self.adjustment == Adjustment.PERCENT and self.value < -100:
                errors["value"] = _("A price cannot drop by more than 100%.")
        if errors:
            raise ValidationError(errors)

    def applies_to(self, room_type_id: int) -> bool:
        return self.room_type_id is None or self.room_type_id == room_type_id

    @staticmethod
    def value_constraints(prefix: str) -> list[models.CheckConstraint]:
        return [
            models.CheckConstraint(
                condition=~Q(adjustment=Adjustment.SET) | Q(value__gte=0),
                name=f"{prefix}_set_price_gte_0",
            ),
            models.CheckConstraint(
                condition=~Q(adjustment=Adjustment.PERCENT) | Q(value__gte=-100),
                name=f"{prefix}_percent_gte_minus_100",
            ),
        ]


class DateRangeRule(PriceRule):
    """A rule over a range of nights, both ends included: seasons and special days."""

    start_date = models.DateField()
    end_date = models.DateField(help_text=_("The last night, included; same as start for one."))

    class Meta:
        abstract = True
        ordering = ["hotel", "start_date"]

    def clean(self) -> None:
        from django.core.exceptions import ValidationError

        errors = {}
        try:
            super().clean()
        except ValidationError as exc:
            errors = exc.update_error_dict(errors)
        if self.start_date and self.end_date and self.end_date < self.start_date:
            errors.setdefault("end_date", []).append(
                _("The last night must not be before the first.")
            )
        if errors:
            raise ValidationError(errors)

    def covers(self, night) -> bool:
        return self.start_date <= night <= self.end_date

    @staticmethod
    def range_constraints(prefix: str) -> list[models.CheckConstraint]:
        return [
            models.CheckConstraint(
                condition=Q(end_date__gte=F("start_date")), name=f"{prefix}_end_after_start"
            ),
            *PriceRule.value_constraints(prefix),
        ]


class Season(DateRangeRule):
    """A date range with its own price or a change to the base price."""

    class Meta(DateRangeRule.Meta):
        constraints = DateRangeRule.range_constraints("season")
        indexes = [models.Index(fields=["hotel", "end_date"], name="season_hotel_end")]


class WeekdayRule(PriceRule):
    """A change on given weekdays, for example a weekend uplift on Friday and Saturday nights."""

    monday = models.BooleanField(default=False)
    tuesday = models.BooleanField(default=False)
    wednesday = models.BooleanField(default=False)
    thursday = models.BooleanField(default=False)
    friday = models.BooleanField(default=False)
    saturday = models.BooleanField(default=False)
    sunday = models.BooleanField(default=False)

    WEEKDAY_FIELDS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")

    class Meta:
        ordering = ["hotel", "name"]
        constraints = PriceRule.value_constraints("weekdayrule")

    @property
    def weekdays(self) -> set[int]:
        """The weekdays (Monday = 0) whose nights this rule prices."""
        return {i for i, f in enumerate(self.WEEKDAY_FIELDS) if getattr(self, f)}

    def covers(self, night) -> bool:
        return night.weekday() in self.weekdays


class SpecialDay(DateRangeRule):
    """An event or holiday: one or more nights priced on their own."""

    class Meta(DateRangeRule.Meta):
        constraints = DateRangeRule.range_constraints("specialday")
        indexes = [models.Index(fields=["hotel", "end_date"], name="specialday_hotel_end")]


class OccupancySupplement(models.Model):
    """What each guest above the room type's base occupancy pays per night."""

    room_type = models.OneToOneField(
        RoomType, on_delete=models.CASCADE, related_name="supplement", primary_key=True
    )
    extra_adult = models.DecimalField(
        max_digits=8,
        decimal_places=2,
        default=Decimal("0"),
        validators=[MinValueValidator(Decimal("0"))],
        help_text=_("Per night, for each adult above the base occupancy."),
    )
    extra_child = models.DecimalField(
        max_digits=8,
        decimal_places=2,
        default=Decimal("0"),
        validators=[MinValueValidator(Decimal("0"))],
        help_text=_("Per night, for each child above the base occupancy."),
    )

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(extra_adult__gte=0) & Q(extra_child__gte=0),
                name="supplement_amounts_gte_0",
            ),
        ]

    def __str__(self) -> str:
        return f"Supplements for {self.room_type}"

    def clean(self) -> None:
        from django.core.exceptions import ValidationError

        if not self.room_type_id:
            return
        # Added to each night's price as it is: an amount finer than the
        # currency allows would make a price no guest can pay.
        currency = self.room_type.hotel.currency
        errors = {
            name: _("An amount in %(currency)s must be a multiple of %(unit)s.")
            % {"currency": currency, "unit": minor_unit(currency)}
            for name in ("extra_adult", "extra_child")
            if getattr(self, name) is not None and not is_payable(getattr(self, name), currency)
        }
        if errors:
            raise ValidationError(errors)
