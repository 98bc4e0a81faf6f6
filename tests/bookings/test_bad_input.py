"""Hostile and malformed input on the guest and staff booking pages: a clear answer, no 500.

Each test here is an input that once answered 500; it checks what the guest
or the staff member sees now and that nothing was written.
"""

from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.urls import reverse

from bookings.models import Booking, BookingEvent
from tests.factories import BookingFactory

from .conftest import sold
from .test_admin import CHANGELIST, confirmed, texts
from .test_views import book_data

pytestmark = pytest.mark.django_db

# 254 characters is the email columns' length; a form alone allows 320.
LONG_EMAIL = "a" * 64 + "@" + ("b" * 63 + ".") * 3 + "com"


# --- dates at the end of the calendar ---------------------------------------------


def test_a_hold_in_the_last_week_of_9999_is_refused_as_unavailable(client, room_type, arrival):
    # given a stay whose week has no Monday after it
    stay = {"check_in": "9999-12-30", "check_out": "9999-12-31"}

    response = client.post(reverse("bookings:hold"), {**book_data(room_type, arrival), **stay})

    assert response.status_code == 409
    page = response.content.decode()
    assert "Nothing was booked" in page
    # nobody booked those nights: they were never on sale
    assert "No room of this type can be booked on" in page
    assert "Someone booked" not in page
    assert not Booking.objects.exists()
    assert not BookingEvent.objects.exists()


@pytest.mark.parametrize("page", ["search", "hotel"])
def test_search_pages_for_a_stay_in_the_last_week_of_9999_find_nothing(client, room_type, page):
    stay = {"check_in": "9999-12-30", "check_out": "9999-12-31", "adults": 2}
    url = room_type.hotel.get_absolute_url()
    if page == "search":
        url, stay = reverse("inventory:search"), {**stay, "q": room_type.hotel.city}

    response = client.get(url, stay)

    assert response.status_code == 200
    assert 'action="/bookings/hold/"' not in response.content.decode()


# --- references in the path --------------------------------------------------------


@pytest.mark.parametrize("step", ["detail", "details", "review", "confirmed", "cancel"])
@pytest.mark.parametrize("method", ["get", "post"])
def test_a_reference_with_a_nul_byte_is_a_bad_request(client, room_type, arrival, step, method):
    client.post(reverse("bookings:hold"), book_data(room_type, arrival))
    reference = Booking.objects.get().reference

    response = getattr(client, method)(
        reverse(f"bookings:{step}", args=[reference[:5] + "\x00" + reference[5:]]),
        {"guest_name": "Ana", "guest_email": "ana@example.com", "accept_policy": "on"},
    )

    assert response.status_code == 400
    assert "We could not read that request" in response.content.decode()
    assert Booking.objects.get().status == "hold"
    assert BookingEvent.objects.count() == 1


def test_a_reference_longer_than_any_is_no_booking(client):
    response = client.get(reverse("bookings:detail", args=["A" * 5000]))

    assert response.status_code == 404


# --- My bookings --------------------------------------------------------------------


def test_my_bookings_with_a_page_number_past_bigint_shows_the_last_page(
    client, room_type, guest, arrival
):
    for i in range(12):
        BookingFactory(room_type=room_type, guest=guest, check_in=arrival + timedelta(days=i))
    client.force_login(guest)

    response = client.get(reverse("bookings:mine"), {"page": "9" * 20})

    assert response.status_code == 200
    assert response.context["page"].number == 2
    assert len(response.context["page"].object_list) == 2


# --- email addresses longer than the column -----------------------------------------


def test_guest_details_refuse_an_email_longer_than_the_column(client, room_type, arrival):
    client.post(reverse("bookings:hold"), book_data(room_type, arrival))
    booking = Booking.objects.get()

    response = client.post(
        reverse("bookings:details", args=[booking.reference]),
        {"guest_name": "Ana Silva", "guest_email": LONG_EMAIL},
    )

    assert response.status_code == 200
    assert "at most 254 characters" in response.content.decode()
    booking.refresh_from_db()
    assert (booking.guest_name, booking.guest_email) == ("", "")


def test_telephone_booking_refuses_an_email_longer_than_the_column(
    staff_client, room_type, arrival
):
    response = staff_client.post(
        reverse("admin:bookings_booking_phone"),
        {
            **book_data(room_type, arrival),
            "guest_name": "Rui Costa",
            "guest_email": LONG_EMAIL,
            "guest_phone": "+351 1",
            "policy_read_out": "on",
        },
    )

    assert response.status_code == 200
    assert "at most 254 characters" in response.content.decode()
    assert not Booking.objects.exists()
    assert sold(room_type, arrival, 3) == [0, 0, 0]


# --- logins with a username longer than the login throttle stores ------------------


@pytest.mark.parametrize("login", ["login", "admin:login"])
def test_a_login_with_a_very_long_username_fails_like_a_wrong_password(client, login):
    response = client.post(reverse(login), {"username": "x" * 300, "password": "guess"})

    assert response.status_code == 200
    assert "correct username and password" in response.content.decode()
    # the failure still counts towards the lockout, under what the table holds
    assert AccessAttempt.objects.get().username == "x" * 255


# --- staff admin ---------------------------------------------------------------------


@pytest.mark.parametrize("tampered", ["abc", "²"])
def test_an_admin_action_on_a_tampered_selection_changes_nothing(
    staff_client, room_type, arrival, tampered
):
    booking = confirmed(room_type, arrival)
    events = BookingEvent.objects.count()

    response = staff_client.post(
        reverse(CHANGELIST),
        {"action": "cancel", "_selected_action": [booking.pk, tampered], "index": 0},
        follow=True,
    )

    assert response.status_code == 200
    assert "Select the bookings from the list; nothing was changed." in texts(response)
    booking.refresh_from_db()
    assert booking.status == "confirmed"
    assert BookingEvent.objects.count() == events


@pytest.mark.parametrize(
    ("changelist", "query"),
    [
        (CHANGELIST, {"status": "\x00"}),
        ("admin:bookings_bookingevent_changelist", {"to_status": "a\x00"}),
        # a search, on admins of other apps too
        (CHANGELIST, {"q": "Ana\x00"}),
        ("admin:hotel_hotel_changelist", {"q": "\x00"}),
        ("admin:inventory_roominventory_changelist", {"q": "\x00"}),
        ("admin:notifications_notification_changelist", {"q": "\x00"}),
    ],
)
def test_an_admin_list_filter_with_a_nul_byte_is_a_bad_request(staff_client, changelist, query):
    response = staff_client.get(reverse(changelist), query)

    assert response.status_code == 400


def test_a_form_posted_with_a_nul_byte_is_a_bad_request_and_writes_nothing(
    client, room_type, arrival
):
    response = client.post(
        reverse("bookings:hold"), {**book_data(room_type, arrival), "special_requests": "\x00"}
    )

    assert response.status_code == 400
    assert not Booking.objects.exists()


@pytest.mark.parametrize(
    ("tampered", "status", "says"),
    [
        ("abc", 200, "Select the amenities from the list; nothing was changed."),
        ("99999999999999999999", 200, "Are you sure"),  # past bigint: no such row
        ("\x00", 400, "We could not read that request"),
    ],
)
def test_the_delete_action_on_a_tampered_selection_deletes_nothing(
    staff_client, tampered, status, says
):
    from hotel.models import Amenity
    from tests.factories import AmenityFactory

    amenity = AmenityFactory()

    response = staff_client.post(
        reverse("admin:hotel_amenity_changelist"),
        {"action": "delete_selected", "_selected_action": [amenity.pk, tampered], "index": 0},
        follow=True,
    )

    assert response.status_code == status
    assert says in response.content.decode()
    assert Amenity.objects.filter(pk=amenity.pk).exists()
