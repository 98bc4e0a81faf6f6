"""The yearly occupancy and revenue report that staff read for one hotel.

What counts, night by night in the hotel's own dates (``BookingNight.date``):

* **Available**: the rooms put on sale, the sum of ``RoomInventory.total``.
  A night with no inventory row adds nothing; a stop-sell night still counts,
  since the rooms existed and the hotel chose not to sell them.
* **Sold**: the nights of bookings whose guests have a room: confirmed,
  checked in or checked out (``Booking.OCCUPIES_ROOM``). A hold is not sold
  yet (it lapses unless confirmed); cancelled, expired and no-show bookings
  gave their nights back to inventory, so they are not sold either.
* **Room revenue**: the price snapshot of those sold nights. **ADR** is room
  revenue per sold night and **RevPAR** room revenue per available night, as
  the trade defines them.
* **Fees**: the cancellation fee recorded on a cancelled booking and the late
  fee recorded on a no-show are revenue, but of no night sold, so they are
  shown apart and added to the **total revenue** only, never to ADR or
  RevPAR. A fee belongs to the month of the booking's arrival night, the
  night it stands in for, so a month's figures do not move with the day a
  guest happened to cancel.

Money is the hotel's currency. A booking sold in another one (the hotel
changed currency later) still counts its nights, but its amounts are left out
of every sum and reported apart in ``other_currencies``: adding euros to
koruny would give a number that means nothing.

The figures are aggregated in the database, grouped by room type and month,
in four queries whatever the number of bookings.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import Count, Sum
from django.db.models.functions import ExtractMonth

from hotel.models import Hotel, RoomType
from inventory.models import RoomInventory

from .models import Booking, BookingNight

ZERO = Decimal("0.00")
CENT = Decimal("0.01")
TENTH = Decimal("0.1")
MONTHS = range(1, 13)

# The years the report can be asked for: wide enough for any hotel's history
# and plans, narrow enough that a typing slip is caught rather than answered
# with a year of zeros.
FIRST_YEAR = 2000
LAST_YEAR = 2100


@dataclass(frozen=True)
class Figures:
    """Occupancy and revenue over one period: a month or the year, a room type or the hotel."""

    available: int = 0
    sold: int = 0
    room_revenue: Decimal = ZERO
    cancellation_fees: Decimal = ZERO
    no_show_fees: Decimal = ZERO

    def __add__(self, other: Figures) -> Figures:
        return Figures(
            available=self.available + other.available,
            sold=self.sold + other.sold,
            room_revenue=self.room_revenue + other.room_revenue,
            cancellation_fees=self.cancellation_fees + other.cancellation_fees,
            no_show_fees=self.no_show_fees + other.no_show_fees,
        )

    @property
    def occupancy(self) -> Decimal | None:
        """Sold nights per 100 available, to one decimal (half up); None with nothing on sale."""
        if not self.available:
            return None
        return (Decimal(self.sold) * 100 / self.available).quantize(TENTH, ROUND_HALF_UP)

    @property
    def adr(self) -> Decimal | None:
        """Average daily rate: room revenue per sold night, to the cent; None with none sold."""
        if not self.sold:
            return None
        return (self.room_revenue / self.sold).quantize(CENT, ROUND_HALF_UP)

    @property
    def revpar(self) -> Decimal | None:
        """Room revenue per available night, to the cent; None with nothing on sale."""
        if not self.available:
            return None
        return (self.room_revenue / self.available).quantize(CENT, ROUND_HALF_UP)

    @property
    def fees(self) -> Decimal:
        return self.cancellation_fees + self.no_show_fees

    @property
    def total_revenue(self) -> Decimal:
        return self.room_revenue + self.fees


def _total(figures: Iterable[Figures]) -> Figures:
    return sum(figures, Figures())


@dataclass(frozen=True)
class Breakdown:
    """Twelve months of one year, January first, and the total they add up to."""

    year: int
    months: tuple[Figures, ...]
    total: Figures

    @property
    def month_rows(self) -> list[tuple[date, Figures]]:
        """(first day of the month, its figures), for a template's loop."""
        return [(date(self.year, m, 1), f) for m, f in zip(MONTHS, self.months, strict=True)]


@dataclass(frozen=True)
class RoomTypeBreakdown(Breakdown):
    room_type_id: int = 0
    name: str = ""
    is_active: bool = True


@dataclass(frozen=True)
class OccupancyReport:
    hotel: Hotel
    year: int
    currency: str
    hotel_total: Breakdown
    room_types: tuple[RoomTypeBreakdown, ...]
    # Amounts of bookings sold in another currency than the hotel's, left out
    # of every sum above: {"CZK": Decimal("1200.00")}.
    other_currencies: dict[str, Decimal] = field(default_factory=dict)


def occupancy_report(*, hotel: Hotel, year: int) -> OccupancyReport:
    """Occupancy and revenue of ``hotel`` for each month of ``year`` and the year, per room type.

    Four queries, whatever the number of bookings: the room types, then the
    nights on sale, the nights sold and the fees, each summed by the
    database per room type and month.
    """
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise ValueError(f"The report covers the years {FIRST_YEAR} to {LAST_YEAR}.")
    start, end = date(year, 1, 1), date(year + 1, 1, 1)
    currency = hotel.currency
    room_types = list(
        RoomType.objects.filter(hotel=hotel)
        .order_by("sort_order", "name", "pk")
        .values_list("pk", "name", "is_active")
    )
    # cells[room type id][month] -> dict of the Figures fields
    cells: dict[int, dict[int, dict]] = {pk: {} for pk, _name, _active in room_types}
    other_currencies: dict[str, Decimal] = {}

    def cell(room_type_id: int, month: int) -> dict:
        return cells.setdefault(room_type_id, {}).setdefault(month, {})

    def add(amounts: dict, key: str, amount: Decimal | None, row_currency: str) -> None:
        amount = amount or ZERO
        if row_currency == currency:
            amounts[key] = amounts.get(key, ZERO) + amount
        elif amount:
            other_currencies[row_currency] = other_currencies.get(row_currency, ZERO) + amount

    available = (
        RoomInventory.objects.filter(room_type__hotel=hotel, date__gte=start, date__lt=end)
        .annotate(month=ExtractMonth("date"))
        .order_by()
        .values_list("room_type_id", "month")
        .annotate(total=Sum("total"))
    )
    for room_type_id, month, total in available:
        cell(room_type_id, month)["available"] = total

    # The booking's own dates bound the join as well as the nights' dates, so
    # the database starts from the hotel's bookings of the year (an index on
    # hotel, status, check-in) instead of every hotel's nights of the year.
    sold = (
        BookingNight.objects.filter(
            booking__hotel=hotel,
            booking__status__in=Booking.OCCUPIES_ROOM,
            booking__check_in__lt=end,
            booking__check_out__gt=start,
            date__gte=start,
            date__lt=end,
        )
        .annotate(month=ExtractMonth("date"))
        .order_by()
        .values_list("booking__room_type_id", "month", "booking__currency")
        .annotate(nights=Count("pk"), revenue=Sum("price"))
    )
    for room_type_id, month, row_currency, nights, revenue in sold:
        amounts = cell(room_type_id, month)
        amounts["sold"] = amounts.get("sold", 0) + nights
        add(amounts, "room_revenue", revenue, row_currency)

    fees = (
        Booking.objects.filter(
            hotel=hotel,
            status__in=(Booking.Status.CANCELLED, Booking.Status.NO_SHOW),
            check_in__gte=start,
            check_in__lt=end,
            cancellation_fee__gt=0,
        )
        .annotate(month=ExtractMonth("check_in"))
        .order_by()
        .values_list("room_type_id", "month", "currency", "status")
        .annotate(fee=Sum("cancellation_fee"))
    )
    for room_type_id, month, row_currency, status, fee in fees:
        key = "no_show_fees" if status == Booking.Status.NO_SHOW else "cancellation_fees"
        add(cell(room_type_id, month), key, fee, row_currency)

    names = {pk: (name, active) for pk, name, active in room_types}
    breakdowns = []
    for room_type_id, by_month in cells.items():
        months = tuple(Figures(**by_month.get(m, {})) for m in MONTHS)
        name, active = names.get(room_type_id, ("", False))
        if not active and not by_month:
            # A room type withdrawn from sale with nothing in this year is noise.
            continue
        breakdowns.append(
            RoomTypeBreakdown(
                year=year,
                months=months,
                total=_total(months),
                room_type_id=room_type_id,
                name=name,
                is_active=active,
            )
        )
    hotel_months = tuple(_total(b.months[m - 1] for b in breakdowns) for m in MONTHS)
    return OccupancyReport(
        hotel=hotel,
        year=year,
        currency=currency,
        hotel_total=Breakdown(year=year, months=hotel_months, total=_total(hotel_months)),
        room_types=tuple(breakdowns),
        other_currencies=dict(sorted(other_currencies.items())),
    )


CSV_HEADER = [
    "room type",
    "month",
    "available nights",
    "sold nights",
    "occupancy %",
    "room revenue",
    "ADR",
    "RevPAR",
    "cancellation fees",
    "no-show fees",
    "total revenue",
    "currency",
]


def _csv_text(value: str) -> str:
    # A name that starts like a formula would run as one in a spreadsheet.
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def _csv_line(label: str, month: str, f: Figures, currency: str) -> list[str]:
    def text(value) -> str:
        return "" if value is None else str(value)

    return [
        _csv_text(label),
        month,
        str(f.available),
        str(f.sold),
        text(f.occupancy),
        str(f.room_revenue),
        text(f.adr),
        text(f.revpar),
        str(f.cancellation_fees),
        str(f.no_show_fees),
        str(f.total_revenue),
        currency,
    ]


def occupancy_report_csv_rows(report: OccupancyReport) -> Iterator[list[str]]:
    """The report's figures as CSV rows: the hotel's months and year, then each room type's."""
    yield CSV_HEADER
    lines = [("All room types", report.hotel_total)]
    lines += [(b.name, b) for b in report.room_types]
    for label, breakdown in lines:
        for m, figures in zip(MONTHS, breakdown.months, strict=True):
            yield _csv_line(label, f"{report.year}-{m:02d}", figures, report.currency)
        yield _csv_line(label, str(report.year), breakdown.total, report.currency)
