"""The yearly occupancy and revenue report: exact figures on a hand-built hotel."""

from datetime import date, timedelta
from decimal import Decimal

import pytest

from bookings.models import Booking, BookingNight
from bookings.reports import Figures, occupancy_report
from inventory.models import RoomInventory
from tests.factories import BookingFactory, HotelFactory, RoomTypeFactory

pytestmark = pytest.mark.django_db

Status = Booking.Status
D = Decimal


def on_sale(room_type, *, first: date, last: date, total: int) -> None:
    """Put ``total`` rooms on sale every night from ``first`` to ``last``, both included."""
    nights = (last - first).days + 1
    RoomInventory.objects.bulk_create(
        RoomInventory(room_type=room_type, date=first + timedelta(days=i), total=total, price=100)
        for i in range(nights)
    )


def booked(room_type, check_in: date, prices: list[str], *, status=Status.CONFIRMED, **kwargs):
    """A booking of ``room_type`` from ``check_in`` with one night per price."""
    prices = [D(p) for p in prices]
    booking = BookingFactory(
        room_type=room_type,
        guest=None,
        check_in=check_in,
        check_out=check_in + timedelta(days=len(prices)),
        status=status,
        total_price=sum(prices),
        **kwargs,
    )
    BookingNight.objects.bulk_create(
        BookingNight(booking=booking, date=check_in + timedelta(days=i), price=price)
        for i, price in enumerate(prices)
    )
    return booking


@pytest.fixture
def hotel():
    """A hotel with a year, 2025, of every kind of booking the report must tell apart.

    Double: 2 rooms on sale in January and December 2025, none from February
    to November. Suite: 1 room in January only. An inactive room type with
    nothing in 2025 must not show.
    """
    hotel = HotelFactory(name="Casa Azul", slug="casa-azul", currency="EUR", timezone="UTC")
    double = RoomTypeFactory(hotel=hotel, name="Double", sort_order=1)
    suite = RoomTypeFactory(hotel=hotel, name="Suite", sort_order=2)
    RoomTypeFactory(hotel=hotel, name="Old annex", sort_order=3, is_active=False)
    on_sale(double, first=date(2025, 1, 1), last=date(2025, 1, 31), total=2)
    on_sale(double, first=date(2025, 12, 1), last=date(2025, 12, 31), total=2)
    on_sale(suite, first=date(2025, 1, 1), last=date(2025, 1, 31), total=1)
    # Nights of the years either side, on sale, never counted in 2025.
    on_sale(double, first=date(2024, 12, 31), last=date(2024, 12, 31), total=2)
    on_sale(double, first=date(2026, 1, 1), last=date(2026, 1, 1), total=2)

    # Sold: confirmed, checked out and checked in.
    booked(double, date(2025, 1, 10), ["100.00", "100.00", "120.00"])
    # A stay across a month: two nights in January, one in February (nothing on sale then).
    booked(double, date(2025, 1, 30), ["90.00", "90.00", "90.00"], status=Status.CHECKED_OUT)
    # Stays across the year's ends: only their 2025 nights count.
    booked(double, date(2024, 12, 31), ["200.00", "110.00"], status=Status.CHECKED_OUT)
    booked(double, date(2025, 12, 30), ["150.00", "200.00", "150.00"], status=Status.CHECKED_IN)
    booked(suite, date(2025, 1, 3), ["300.00", "300.00"])

    # Not sold: a hold, an expired hold, a cancellation and a no-show.
    booked(double, date(2025, 1, 20), ["100.00", "100.00"], status=Status.HOLD)
    booked(double, date(2025, 1, 22), ["100.00"], status=Status.EXPIRED)
    booked(
        double,
        date(2025, 1, 15),
        ["100.00", "100.00"],
        status=Status.CANCELLED,
        cancellation_fee=D("100.00"),
    )
    booked(suite, date(2025, 1, 5), ["300.00"], status=Status.CANCELLED, cancellation_fee=D("0.00"))
    booked(
        suite,
        date(2025, 1, 8),
        ["250.00", "250.00"],
        status=Status.NO_SHOW,
        cancellation_fee=D("250.00"),
    )
    # A fee belongs to the arrival's year: this one is 2026's.
    booked(
        double,
        date(2026, 1, 1),
        ["180.00"],
        status=Status.CANCELLED,
        cancellation_fee=D("180.00"),
    )

    # Another hotel's booking on the same nights.
    other = RoomTypeFactory(name="Elsewhere")
    on_sale(other, first=date(2025, 1, 1), last=date(2025, 1, 31), total=9)
    booked(other, date(2025, 1, 10), ["999.00"])
    return hotel


def test_months_count_sold_nights_of_stays_only_and_their_night_prices(hotel):
    report = occupancy_report(hotel=hotel, year=2025)

    january, february = report.hotel_total.months[0], report.hotel_total.months[1]
    assert january == Figures(
        available=93,  # 31 x 2 doubles + 31 x 1 suite
        sold=8,  # double: 3 + 2 + 1 (the 1 January of a stay from 2024); suite: 2
        room_revenue=D("1210.00"),  # 320 + 180 + 110 + 600
        cancellation_fees=D("100.00"),
        no_show_fees=D("250.00"),
    )
    assert (january.occupancy, january.adr, january.revpar) == (D("8.6"), D("151.25"), D("13.01"))
    assert january.total_revenue == D("1560.00")
    assert february == Figures(available=0, sold=1, room_revenue=D("90.00"))


def test_a_month_with_nothing_on_sale_has_no_occupancy_or_revpar_instead_of_a_division_by_zero(
    hotel,
):
    report = occupancy_report(hotel=hotel, year=2025)

    february, june = report.hotel_total.months[1], report.hotel_total.months[5]
    assert (february.occupancy, february.adr, february.revpar) == (None, D("90.00"), None)
    assert june == Figures()
    assert (june.occupancy, june.adr, june.revpar, june.total_revenue) == (None, None, None, 0)


def test_the_year_adds_up_its_months_and_rates_come_from_the_sums(hotel):
    report = occupancy_report(hotel=hotel, year=2025)

    year = report.hotel_total.total
    assert year == Figures(
        available=155,
        sold=11,
        room_revenue=D("1650.00"),
        cancellation_fees=D("100.00"),
        no_show_fees=D("250.00"),
    )
    # 11 / 155 = 7.096..%, 1650 / 11, 1650 / 155 = 10.645...
    assert (year.occupancy, year.adr, year.revpar) == (D("7.1"), D("150.00"), D("10.65"))
    assert year.total_revenue == D("2000.00")
    assert report.hotel_total.months[11] == Figures(available=62, sold=2, room_revenue=D("350.00"))
    assert (report.currency, report.other_currencies) == ("EUR", {})


def test_each_room_type_has_its_own_months_and_an_inactive_one_without_figures_is_left_out(hotel):
    report = occupancy_report(hotel=hotel, year=2025)

    assert [line.name for line in report.room_types] == ["Double", "Suite"]
    double, suite = report.room_types
    assert double.total == Figures(
        available=124, sold=9, room_revenue=D("1050.00"), cancellation_fees=D("100.00")
    )
    assert double.months[0] == Figures(
        available=62, sold=6, room_revenue=D("610.00"), cancellation_fees=D("100.00")
    )
    assert (double.months[0].occupancy, double.months[0].adr) == (D("9.7"), D("101.67"))
    assert suite.total == Figures(
        available=31, sold=2, room_revenue=D("600.00"), no_show_fees=D("250.00")
    )
    assert suite.total.occupancy == D("6.5")  # 2 / 31 = 6.45..., rounded half up


def test_a_fee_counts_in_the_year_of_the_arrival(hotel):
    report = occupancy_report(hotel=hotel, year=2026)

    january = report.hotel_total.months[0]
    assert january == Figures(
        available=2, sold=1, room_revenue=D("150.00"), cancellation_fees=D("180.00")
    )


def test_amounts_in_another_currency_are_reported_apart_and_not_added(hotel):
    double = hotel.room_types.get(name="Double")
    booked(double, date(2025, 12, 10), ["4000.00", "4000.00"], currency="CZK")
    booked(
        double,
        date(2025, 12, 20),
        ["4000.00"],
        status=Status.CANCELLED,
        currency="CZK",
        cancellation_fee=D("4000.00"),
    )

    report = occupancy_report(hotel=hotel, year=2025)

    assert report.hotel_total.months[11] == Figures(available=62, sold=4, room_revenue=D("350.00"))
    assert report.other_currencies == {"CZK": D("12000.00")}


def test_a_hotel_without_room_types_has_an_empty_report():
    report = occupancy_report(hotel=HotelFactory(), year=2025)

    assert report.room_types == ()
    assert report.hotel_total.total == Figures()
    assert len(report.hotel_total.months) == 12


def test_a_year_out_of_range_is_refused():
    with pytest.raises(ValueError, match="2000 to 2100"):
        occupancy_report(hotel=HotelFactory(), year=1999)


def test_the_report_costs_four_queries_however_many_bookings(hotel, django_assert_num_queries):
    with django_assert_num_queries(4):
        few = occupancy_report(hotel=hotel, year=2025)
    double = hotel.room_types.get(name="Double")
    for day in range(1, 29):
        booked(double, date(2025, 12, 1) + timedelta(days=day % 28), ["10.00"])
    with django_assert_num_queries(4):
        many = occupancy_report(hotel=hotel, year=2025)
    assert many.hotel_total.total.sold == few.hotel_total.total.sold + 28
