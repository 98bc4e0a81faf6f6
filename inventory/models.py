from decimal import Decimal

from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from hotel.models import RoomType


class RoomInventory(models.Model):
    """One room type on one night: how many rooms are for sale, how many are taken, the price.

    ``sold`` counts held and confirmed bookings. Only inventory services write
    these rows; the CHECK constraints are the last line against overselling.
    """

    room_type = models.ForeignKey(RoomType, on_delete=models.CASCADE, related_name="inventory")
    date = models.DateField(help_text=_("The night, in the hotel's time zone."))
    total = models.PositiveIntegerField(help_text=_("Rooms for sale this night."))
    sold = models.PositiveIntegerField(default=0, help_text=_("Rooms held or booked."))
    price = models.DecimalField(
        max_digits=10, decimal_places=2, validators=[MinValueValidator(Decimal("0"))]
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

    def __str__(self) -> str:
        return f"{self.room_type} on {self.date:%Y-%m-%d}: {self.sold}/{self.total}"

    @property
    def free(self) -> int:
        return self.total - self.sold
