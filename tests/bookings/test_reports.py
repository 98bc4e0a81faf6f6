"""The yearly occupancy and revenue report: exact figures on a hand-built hotel, and its page."""

import csv
import io
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from bookings.models import Booking, BookingNight
from bookings.reports import Figures, occupancy_report
from inventory.models import RoomInventory
from tests.factories import BookingFactory, HotelFactory, RoomTypeFactory, UserFactory

pytestmark = pytest.mark.django_db

REPORT = "admin:bookings_booking_report"
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


# --- figures --------------------------------------------------------------------


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


# --- the staff page ----------------------------------------------------------------


@pytest.fixture
def viewer(client):
    """Staff who may look at bookings and nothing more."""
    user = UserFactory(is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_booking"))
    client.force_login(user)
    return client


def test_staff_who_can_view_bookings_see_the_months_and_room_types(viewer, hotel):
    response = viewer.get(reverse(REPORT), {"hotel": hotel.pk, "year": 2025})

    assert response.status_code == 200
    report = response.context["report"]
    assert (report.hotel, report.year) == (hotel, 2025)
    page = response.content.decode()
    assert "Occupancy and revenue of Casa Azul in 2025" in page
    assert "January 2025" in page and "December 2025" in page
    # January's row, the year's row and the suite's line, as staff read them.
    assert '<td class="num">8.6%</td><td class="num">1,210.00</td>' in page
    assert '<td class="num">7.1%</td><td class="num">1,650.00</td>' in page
    assert '<th>Suite</th><td class="num">31</td><td class="num">2</td>' in page
    assert "Old annex" not in page
    assert "format=csv" in page


def test_the_page_costs_a_fixed_number_of_queries(viewer, hotel, django_assert_num_queries):
    # the user (the session is read from the cache), their permissions and
    # their groups', the chosen hotel, the report's four, the hotels of the
    # form's list
    with django_assert_num_queries(9):
        viewer.get(reverse(REPORT), {"hotel": hotel.pk, "year": 2025})
    booked(hotel.room_types.get(name="Double"), date(2025, 12, 5), ["80.00"] * 5)
    with django_assert_num_queries(9):
        viewer.get(reverse(REPORT), {"hotel": hotel.pk, "year": 2025})


def test_without_a_choice_the_page_asks_for_one(viewer, hotel):
    response = viewer.get(reverse(REPORT))

    assert response.status_code == 200
    assert response.context["report"] is None
    assert "Choose a hotel and a year." in response.content.decode()


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"hotel": "abc", "year": "2025"}, "Choose a hotel from the list."),
        ({"hotel": "999999", "year": "2025"}, "Choose a hotel from the list."),
        ({"hotel": "99999999999999999999999", "year": "2025"}, "Choose a hotel from the list."),
        ({"year": "2025"}, "Choose a hotel."),
        ({"hotel": "HOTEL", "year": "twenty"}, "Enter the year as four digits, for example 2026."),
        ({"hotel": "HOTEL", "year": "1999"}, "Enter a year from 2000 to 2100."),
        ({"hotel": "HOTEL", "year": "99999999999999999999"}, "Enter a year from 2000 to 2100."),
        ({"hotel": "HOTEL", "year": ""}, "Enter a year."),
    ],
)
def test_bad_input_is_a_form_error_not_a_500(viewer, hotel, params, message):
    params = {k: (str(hotel.pk) if v == "HOTEL" else v) for k, v in params.items()}

    response = viewer.get(reverse(REPORT), {**params, "format": "csv"})

    assert response.status_code == 400
    assert response["Content-Type"].startswith("text/html")
    assert response.context["report"] is None
    assert message in response.content.decode()


def test_the_csv_holds_the_same_figures_as_the_page(viewer, hotel):
    response = viewer.get(reverse(REPORT), {"hotel": hotel.pk, "year": 2025, "format": "csv"})

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="occupancy-casa-azul-2025.csv"'
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0] == [
        "room type", "month", "available nights", "sold nights", "occupancy %", "room revenue",
        "ADR", "RevPAR", "cancellation fees", "no-show fees", "total revenue", "currency",
    ]  # fmt: skip
    # 13 lines (12 months and the year) for the hotel, then for each room type.
    assert len(rows) == 1 + 3 * 13
    assert rows[1] == [
        "All room types", "2025-01", "93", "8", "8.6", "1210.00", "151.25", "13.01",
        "100.00", "250.00", "1560.00", "EUR",
    ]  # fmt: skip
    assert rows[2] == [
        "All room types", "2025-02", "0", "1", "", "90.00", "90.00", "", "0.00", "0.00",
        "90.00", "EUR",
    ]  # fmt: skip
    assert rows[13] == [
        "All room types", "2025", "155", "11", "7.1", "1650.00", "150.00", "10.65",
        "100.00", "250.00", "2000.00", "EUR",
    ]  # fmt: skip
    assert [r[0] for r in rows[14::13]] == ["Double", "Suite"]
    assert rows[39] == [
        "Suite", "2025", "31", "2", "6.5", "600.00", "300.00", "19.35", "0.00", "250.00",
        "850.00", "EUR",
    ]  # fmt: skip


def test_a_room_type_named_like_a_formula_is_not_run_by_a_spreadsheet(viewer, hotel):
    RoomTypeFactory(hotel=hotel, name="=HYPERLINK(1)", sort_order=9)

    response = viewer.get(reverse(REPORT), {"hotel": hotel.pk, "year": 2025, "format": "csv"})

    names = {row[0] for row in csv.reader(io.StringIO(response.content.decode()))}
    assert "'=HYPERLINK(1)" in names
    assert "=HYPERLINK(1)" not in names


def test_anonymous_visitors_are_sent_to_log_in(client, hotel):
    response = client.get(reverse(REPORT), {"hotel": hotel.pk, "year": 2025, "format": "csv"})

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))


def test_a_signed_in_guest_who_is_not_staff_is_sent_to_log_in(client, hotel):
    client.force_login(UserFactory())

    response = client.get(reverse(REPORT), {"hotel": hotel.pk, "year": 2025, "format": "csv"})

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))


def test_staff_who_cannot_view_bookings_are_refused(client, hotel):
    client.force_login(UserFactory(is_staff=True))

    response = client.get(reverse(REPORT), {"hotel": hotel.pk, "year": 2025, "format": "csv"})

    assert response.status_code == 403


def test_the_booking_list_links_to_the_report(staff_client):
    response = staff_client.get(reverse("admin:bookings_booking_changelist"))

    assert reverse(REPORT) in response.content.decode()
