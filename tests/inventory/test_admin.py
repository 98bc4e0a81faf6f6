from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from unittest import mock

import pytest
from django.urls import reverse
from django.utils import timezone

from inventory.models import Adjustment, OccupancySupplement, RoomInventory
from inventory.services import inventory_generate
from tests.factories import HotelFactory, RoomFactory, RoomInventoryFactory, RoomTypeFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def stocked():
    today = date.today()
    room_type = RoomTypeFactory(name="Double")
    RoomFactory.create_batch(4, room_type=room_type)
    inventory_generate(room_type=room_type, start=today, end=today + timedelta(days=30))
    return room_type


@pytest.mark.parametrize("weeks", [2, 4])
def test_staff_calendar_renders_room_types_by_dates(staff_client, stocked, weeks):
    stocked.inventory.filter(date=date.today()).update(sold=3)

    response = staff_client.get(
        reverse("admin:inventory_roominventory_calendar"),
        {"hotel": stocked.hotel_id, "weeks": weeks},
    )

    assert response.status_code == 200
    calendar = response.context["calendar"]
    assert len(calendar.days) == 7 * weeks
    [(room_type, days)] = calendar.rows
    assert room_type == stocked
    assert (days[0].free, days[0].total, days[0].level) == (1, 4, "mid")
    body = response.content.decode()
    assert "1/4" in body and "Double" in body and "Next →" in body


def test_staff_calendar_survives_bad_parameters(staff_client, stocked):
    response = staff_client.get(
        reverse("admin:inventory_roominventory_calendar"),
        {"hotel": "nope", "start": "yesterday", "weeks": "many"},
    )

    assert response.status_code == 200
    assert len(response.context["calendar"].days) == 14


def test_calendar_is_for_staff_only(client, stocked):
    response = client.get(reverse("admin:inventory_roominventory_calendar"))

    assert response.status_code == 302


def _bulk(staff_client, room_type, **fields):
    today = date.today()
    data = {
        "hotel": room_type.hotel_id,
        "room_types": [room_type.pk],
        "start": today.isoformat(),
        "last": (today + timedelta(days=6)).isoformat(),
        **fields,
    }
    return staff_client.post(reverse("admin:inventory_roominventory_bulk_edit"), data)


def test_bulk_edit_applies_through_inventory_set(staff_client, stocked):
    response = _bulk(staff_client, stocked, total=2, stop_sell="yes", price="120.00")

    assert response.status_code == 302
    edited = RoomInventory.objects.filter(
        room_type=stocked, date__lte=date.today() + timedelta(days=6)
    )
    assert set(edited.values_list("total", "stop_sell", "price", "price_overridden")) == {
        (2, True, Decimal("120.00"), True)
    }
    assert RoomInventory.objects.filter(room_type=stocked, total=4).count() == 23


def test_bulk_edit_refusal_shows_the_nights_and_writes_nothing(staff_client, stocked):
    night = date.today() + timedelta(days=2)
    stocked.inventory.filter(date=night).update(sold=3)

    response = _bulk(staff_client, stocked, total=1, stop_sell="yes")

    assert response.status_code == 400
    assert f"Double on {night:%a %d %b %Y}" in response.content.decode()
    assert not RoomInventory.objects.filter(stop_sell=True).exists()
    assert set(RoomInventory.objects.values_list("total", flat=True)) == {4}


def test_bulk_edit_refuses_room_types_of_another_hotel(staff_client, stocked):
    other = RoomTypeFactory(hotel=HotelFactory())

    response = staff_client.post(
        reverse("admin:inventory_roominventory_bulk_edit"),
        {
            "hotel": stocked.hotel_id,
            "room_types": [stocked.pk, other.pk],
            "start": date.today().isoformat(),
            "last": date.today().isoformat(),
            "stop_sell": "yes",
        },
    )

    assert response.status_code == 400
    assert not RoomInventory.objects.filter(stop_sell=True).exists()


def test_changelist_filters_by_hotel(staff_client, stocked):
    RoomInventoryFactory(room_type=RoomTypeFactory(name="Elsewhere"))

    response = staff_client.get(
        reverse("admin:inventory_roominventory_changelist"),
        {"room_type__hotel__id__exact": stocked.hotel_id},
    )

    assert response.status_code == 200
    assert response.context["cl"].result_count == 30


def test_changing_one_night_cannot_put_total_below_sold(staff_client, stocked):
    row = stocked.inventory.order_by("date").first()
    RoomInventory.objects.filter(pk=row.pk).update(sold=3)
    url = reverse("admin:inventory_roominventory_change", args=[row.pk])

    response = staff_client.post(
        url, {"total": 2, "price": "100.00", "min_stay": 1, "max_stay": ""}
    )

    assert response.status_code == 200
    assert "3 rooms are already sold" in response.content.decode()
    row.refresh_from_db()
    assert row.total == 4


def test_changing_one_night_goes_through_the_service(staff_client, stocked):
    row = stocked.inventory.order_by("date").first()
    url = reverse("admin:inventory_roominventory_change", args=[row.pk])

    response = staff_client.post(
        url, {"total": 3, "price": "90.00", "min_stay": 2, "max_stay": "", "stop_sell": "on"}
    )

    assert response.status_code == 302
    row.refresh_from_db()
    assert (row.total, row.price, row.price_overridden, row.min_stay, row.stop_sell) == (
        3,
        Decimal("90.00"),
        True,
        2,
        True,
    )


def test_saving_a_season_in_admin_reprices_its_nights(staff_client, stocked):
    today = date.today()

    response = staff_client.post(reverse("admin:inventory_season_add"), season_form(stocked.hotel))

    assert response.status_code == 302
    prices = dict(stocked.inventory.values_list("date", "price"))
    assert prices[today + timedelta(days=5)] == Decimal("150.00")
    assert prices[today + timedelta(days=7)] == Decimal("100.00")


def test_changing_a_base_price_reprices_future_nights(stocked):
    stocked.base_price = Decimal("80.00")
    stocked.save()

    assert set(stocked.inventory.values_list("price", flat=True)) == {Decimal("80.00")}


@pytest.mark.parametrize("start", ["9999-12-31", "0001-01-01"])
def test_staff_calendar_at_the_ends_of_the_calendar_shows_today(staff_client, stocked, start):
    response = staff_client.get(
        reverse("admin:inventory_roominventory_calendar"),
        {"hotel": stocked.hotel_id, "start": start},
    )

    assert response.status_code == 200
    assert response.context["calendar"].days[0] == timezone.localdate(timezone=stocked.hotel.tzinfo)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"start": "9999-12-30", "last": "9999-12-31", "stop_sell": "yes"}, "last"),
        ({"total": "99999999999"}, "total"),
        ({"min_stay": "99999"}, "min_stay"),
        ({"max_stay": "99999"}, "max_stay"),
    ],
)
def test_bulk_edit_out_of_range_values_are_form_errors(staff_client, stocked, changes, field):
    today = date.today()
    data = {
        "hotel": stocked.hotel_id,
        "room_types": [stocked.pk],
        "start": today.isoformat(),
        "last": (today + timedelta(days=2)).isoformat(),
        **changes,
    }

    response = staff_client.post(reverse("admin:inventory_roominventory_bulk_edit"), data)

    assert response.status_code == 400
    assert field in response.context["form"].errors


def test_staff_calendar_opens_on_the_hotels_today_not_the_servers(staff_client):
    # given a hotel in Auckland, where it is already tomorrow when UTC is at 23:30
    hotel = HotelFactory(timezone="Pacific/Auckland")
    RoomTypeFactory(hotel=hotel)
    now = datetime(2026, 6, 15, 23, 30, tzinfo=UTC)

    # when staff open its calendar without a start
    with mock.patch("django.utils.timezone.now", return_value=now):
        response = staff_client.get(
            reverse("admin:inventory_roominventory_calendar"), {"hotel": hotel.pk}
        )

    # then it starts on the hotel's today, and so does its Today link
    assert response.status_code == 200
    assert response.context["calendar"].days[0] == date(2026, 6, 16)
    assert response.context["today"] == date(2026, 6, 16)


def season_form(hotel, **changes):
    today = date.today()
    return {
        "hotel": hotel.pk,
        "room_type": "",
        "name": "Summer",
        "adjustment": Adjustment.PERCENT,
        "value": "50",
        "priority": 0,
        "start_date": (today + timedelta(days=5)).isoformat(),
        "end_date": (today + timedelta(days=6)).isoformat(),
        **changes,
    }


def test_a_season_ending_on_the_last_day_of_the_calendar_reprices_its_nights(staff_client, stocked):
    # given a season from a night ahead to the end of time (no end in view)
    start = date.today() + timedelta(days=5)

    # when staff save it
    response = staff_client.post(
        reverse("admin:inventory_season_add"),
        season_form(stocked.hotel, start_date=start.isoformat(), end_date="9999-12-31"),
    )

    # then it is saved and prices every night from its start
    assert response.status_code == 302
    prices = dict(stocked.inventory.values_list("date", "price"))
    assert prices[start - timedelta(days=1)] == Decimal("100.00")
    assert prices[start] == Decimal("150.00")
    assert prices[date.today() + timedelta(days=29)] == Decimal("150.00")


@pytest.mark.parametrize(
    ("changes", "errors"),
    [
        (
            {"start_date": "2030-07-06", "end_date": "2030-07-05"},
            {"end_date": ["The last night must not be before the first."]},
        ),
        (
            {"adjustment": Adjustment.SET, "value": "-10"},
            {"value": ["A price cannot be negative."]},
        ),
        (
            {"adjustment": Adjustment.PERCENT, "value": "-150"},
            {"value": ["A price cannot drop by more than 100%."]},
        ),
    ],
)
def test_an_impossible_season_is_refused_with_a_message_staff_understand(
    staff_client, stocked, changes, errors
):
    response = staff_client.post(
        reverse("admin:inventory_season_add"), season_form(stocked.hotel, **changes)
    )

    assert response.status_code == 200
    assert response.context["adminform"].form.errors == errors
    assert set(stocked.inventory.values_list("price", flat=True)) == {Decimal("100.00")}


def _yen_room_type_on_sale(*, nights: int):
    """A yen hotel's room type of 12,000 JPY a night, two rooms, nights from today."""
    today = date.today()
    room_type = RoomTypeFactory(
        hotel=HotelFactory(currency="JPY", timezone="Asia/Tokyo"), base_price=Decimal("12000")
    )
    RoomFactory.create_batch(2, room_type=room_type)
    inventory_generate(room_type=room_type, start=today, end=today + timedelta(days=nights))
    return room_type


def test_bulk_edit_refuses_a_price_finer_than_the_hotels_currency(staff_client):
    # given a yen hotel, whose prices are whole yen (there is no smaller coin)
    room_type = _yen_room_type_on_sale(nights=7)

    # when staff set a price with sen
    response = _bulk(staff_client, room_type, price="12000.50")

    # then the edit is refused with the reason, and no night is priced so
    assert response.status_code == 400
    assert "A price in JPY must be a multiple of 1." in response.content.decode()
    assert set(room_type.inventory.values_list("price", "price_overridden")) == {
        (Decimal("12000"), False)
    }


def test_changing_one_night_refuses_a_price_finer_than_the_hotels_currency(staff_client):
    room_type = _yen_room_type_on_sale(nights=1)
    row = room_type.inventory.get()
    url = reverse("admin:inventory_roominventory_change", args=[row.pk])

    response = staff_client.post(
        url, {"total": 2, "price": "12000.50", "min_stay": 1, "max_stay": ""}
    )

    # a form error on the price, not a red message beside "changed successfully"
    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {
        "price": ["A price in JPY must be a multiple of 1."]
    }
    row.refresh_from_db()
    assert (row.price, row.price_overridden) == (Decimal("12000"), False)


def test_an_occupancy_supplement_finer_than_the_hotels_currency_is_refused(staff_client):
    # given a yen room type
    room_type = RoomTypeFactory(hotel=HotelFactory(currency="JPY", timezone="Asia/Tokyo"))

    # when staff give it a supplement of half a yen more than a whole one
    response = staff_client.post(
        reverse("admin:inventory_occupancysupplement_add"),
        {"room_type": room_type.pk, "extra_adult": "1500.50", "extra_child": "800"},
    )

    # then it is refused on that field, and nothing is saved
    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {
        "extra_adult": ["An amount in JPY must be a multiple of 1."]
    }
    assert not OccupancySupplement.objects.exists()


def test_bulk_edit_offers_only_the_room_types_of_the_chosen_hotel(staff_client, stocked):
    # given another hotel with its own room types
    other = RoomTypeFactory(hotel=HotelFactory(), name="Other hotel's room")

    # when staff come to the bulk edit from one hotel's calendar
    response = staff_client.get(
        reverse("admin:inventory_roominventory_bulk_edit"), {"hotel": stocked.hotel_id}
    )

    # then only that hotel's room types are offered to tick
    assert response.status_code == 200
    choices = list(response.context["form"].fields["room_types"].queryset)
    assert choices == [stocked]
    assert other.name not in response.content.decode()


@pytest.mark.parametrize("hotel", ["99999999999999999999", "²", "x"])
def test_bulk_edit_survives_a_malformed_hotel(staff_client, stocked, hotel):
    response = staff_client.get(
        reverse("admin:inventory_roominventory_bulk_edit"), {"hotel": hotel}
    )

    assert response.status_code == 200


def test_bulk_edit_from_a_hotel_proposes_the_hotels_tonight(staff_client):
    # given a hotel in Honolulu, where it is still the 15th when UTC is past midnight
    hotel = HotelFactory(timezone="Pacific/Honolulu")
    now = datetime(2026, 6, 16, 1, 30, tzinfo=UTC)

    with mock.patch("django.utils.timezone.now", return_value=now):
        response = staff_client.get(
            reverse("admin:inventory_roominventory_bulk_edit"), {"hotel": hotel.pk}
        )

    # then the proposed range is the hotel's tonight, not tomorrow night there
    form = response.context["form"]
    assert (form.initial["start"], form.initial["last"]) == (date(2026, 6, 15), date(2026, 6, 15))
