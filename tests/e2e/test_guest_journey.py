from datetime import date, timedelta
from decimal import Decimal

import pytest

from bookings.models import Booking
from inventory.models import RoomInventory
from tests.factories import HotelFactory, RoomFactory, RoomInventoryFactory, RoomTypeFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def lisbon_stay():
    hotel = HotelFactory(name="Alfama Riverside", city="Lisbon")
    room_type = RoomTypeFactory(hotel=hotel, name="River View Double")
    RoomFactory(room_type=room_type)
    check_in = date.today() + timedelta(days=20)
    for i in range(3):
        RoomInventoryFactory(
            room_type=room_type, date=check_in + timedelta(days=i), total=2, price=Decimal("110.00")
        )
    return room_type, check_in, check_in + timedelta(days=3)


def test_a_guest_searches_holds_and_confirms_a_room(live_server, page, lisbon_stay, tmp_path):
    room_type, check_in, check_out = lisbon_stay

    # given the home page, the guest searches Lisbon for three nights
    page.goto(live_server.url + "/")
    page.fill("input[name=q]", "Lisbon")
    page.fill("input[name=check_in]", check_in.isoformat())
    page.fill("input[name=check_out]", check_out.isoformat())
    page.fill("input[name=adults]", "2")
    page.click("button:has-text('Search')")
    page.wait_for_selector("text=River View Double")
    assert "€330.00" in page.content()

    # when they book it, give their details and accept the policy
    page.click("button:has-text('Book')")
    page.wait_for_selector("input[name=guest_name]")
    page.fill("input[name=guest_name]", "Grace Hopper")
    page.fill("input[name=guest_email]", "grace@example.com")
    page.click("button:has-text('Continue to review')")
    page.check("input[name=accept_policy]")
    page.click("button:has-text('Confirm booking')")
    page.wait_for_selector("text=confirmed")
    page.screenshot(path=str(tmp_path / "confirmed.png"), full_page=True)

    # then one confirmed booking holds a room on each night, at the quoted price
    booking = Booking.objects.get()
    assert booking.status == Booking.Status.CONFIRMED
    assert booking.total_price == Decimal("330.00")
    assert booking.reference in page.content()
    assert list(
        RoomInventory.objects.filter(room_type=room_type).values_list("sold", flat=True)
    ) == [1, 1, 1]


def test_a_guest_cancels_from_the_emailed_link_and_the_nights_come_back(
    live_server, page, lisbon_stay
):
    from bookings.links import booking_signed_path
    from bookings.services import booking_confirm, booking_hold

    room_type, check_in, check_out = lisbon_stay
    booking = booking_hold(
        room_type=room_type,
        check_in=check_in,
        check_out=check_out,
        adults=2,
        guest_name="Ada Lovelace",
        guest_email="ada@example.com",
    )
    booking = booking_confirm(booking=booking, policy_accepted=True)

    # given the signed link from the confirmation email, in a browser with no login
    page.goto(live_server.url + booking_signed_path(booking))
    page.click("text=Cancel this booking")

    # when the guest reads the fee (free: the stay is weeks away) and confirms
    page.wait_for_selector("text=Cancelling now is free of charge.")
    page.click("button:has-text('Yes, cancel')")
    page.wait_for_selector("text=Cancelled on")

    # then the booking is cancelled and its nights are for sale again
    booking.refresh_from_db()
    assert booking.status == Booking.Status.CANCELLED
    assert booking.cancellation_fee in (None, Decimal("0"), Decimal("0.00"))
    assert set(
        RoomInventory.objects.filter(room_type=room_type).values_list("sold", flat=True)
    ) == {0}
