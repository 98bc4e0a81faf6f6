from datetime import timedelta

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils import timezone

from bookings.models import Booking
from bookings.services import booking_cancel, booking_confirm, booking_hold
from tests.factories import BookingFactory, RoomFactory, UserFactory

from .conftest import sold

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:bookings_booking_changelist"


def confirmed(room_type, check_in, nights=2, **kwargs):
    booking = booking_hold(
        room_type=room_type,
        check_in=check_in,
        check_out=check_in + timedelta(days=nights),
        adults=1,
        guest_name="Rui Costa",
        guest_email="rui@example.com",
        **kwargs,
    )
    return booking_confirm(booking=booking, policy_accepted=True)


def act(client, action, *bookings):
    return client.post(
        reverse(CHANGELIST),
        {"action": action, "_selected_action": [b.pk for b in bookings], "index": 0},
        follow=True,
    )


def texts(response):
    return [str(m) for m in get_messages(response.wsgi_request)]


def test_changelist_costs_the_same_queries_for_10_and_100_rows(
    staff_client, room_type, django_assert_num_queries
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    BookingFactory.create_batch(10, room_type=room_type, guest=None)
    with CaptureQueriesContext(connection) as ten:
        assert staff_client.get(reverse(CHANGELIST)).status_code == 200
    BookingFactory.create_batch(90, room_type=room_type, guest=None)
    with django_assert_num_queries(len(ten.captured_queries)):
        response = staff_client.get(reverse(CHANGELIST))
    assert len(response.context["cl"].result_list) == 100


def test_changelist_filters_and_searches(staff_client, room_type):
    a = BookingFactory(room_type=room_type, guest_name="Joana Reis", status="cancelled")
    BookingFactory(room_type=room_type, guest_name="Pedro Lima")
    by_name = staff_client.get(reverse(CHANGELIST), {"q": "joana"})
    assert [b.pk for b in by_name.context["cl"].result_list] == [a.pk]
    by_ref = staff_client.get(reverse(CHANGELIST), {"q": a.reference})
    assert [b.pk for b in by_ref.context["cl"].result_list] == [a.pk]
    by_status = staff_client.get(
        reverse(CHANGELIST), {"status__exact": "cancelled", "hotel__id__exact": room_type.hotel_id}
    )
    assert [b.pk for b in by_status.context["cl"].result_list] == [a.pk]


def test_actions_call_the_services_and_explain_refusals(staff_client, room_type):
    today = timezone.localdate()
    arriving = confirmed(room_type, today)
    cancelled = booking_cancel(booking=confirmed(room_type, today))

    response = act(staff_client, "check_in_guests", arriving, cancelled)

    arriving.refresh_from_db()
    cancelled.refresh_from_db()
    assert (arriving.status, cancelled.status) == ("checked_in", "cancelled")
    messages = texts(response)
    assert "1 booking(s) checked in." in messages
    assert any(
        f"{cancelled.reference} is cancelled, so it cannot be checked in" in m for m in messages
    )
    event = arriving.events.last()
    assert event.by.is_staff and event.to_status == "checked_in"

    response = act(staff_client, "cancel", arriving)
    assert any("checked in, so it cannot be cancelled" in m for m in texts(response))
    response = act(staff_client, "check_out_guests", arriving)
    arriving.refresh_from_db()
    assert arriving.status == "checked_out"


def test_assign_room_and_no_show_actions(staff_client, room_type):
    today = timezone.localdate()
    room = RoomFactory(room_type=room_type, number="301")
    a, b = confirmed(room_type, today), confirmed(room_type, today)

    response = act(staff_client, "assign_rooms", a, b)

    a.refresh_from_db()
    assert a.room == room
    assert any("No " in m and b.reference in m for m in texts(response))
    act(staff_client, "mark_no_show", b)
    b.refresh_from_db()
    assert b.status == "no_show"
    assert sold(room_type, today, 2) == [1, 1]


def test_cancel_waiving_fee_action(staff_client, room_type, arrival):
    booking = confirmed(room_type, arrival)
    act(staff_client, "cancel_waiving_fee", booking)
    booking.refresh_from_db()
    assert booking.status == "cancelled" and booking.cancellation_fee == 0


def test_change_form_shows_audit_rows_and_edits_details_through_the_service(
    staff_client, room_type, arrival
):
    booking = confirmed(room_type, arrival)
    url = reverse("admin:bookings_booking_change", args=[booking.pk])
    page = staff_client.get(url)
    assert page.status_code == 200
    assert "Confirmed." in page.content.decode()

    response = staff_client.post(
        url,
        {
            "guest_name": "Rui M. Costa",
            "guest_email": "rui@example.com",
            "guest_phone": "+351 9",
            "special_requests": "Late arrival",
            "night_prices-TOTAL_FORMS": 0,
            "night_prices-INITIAL_FORMS": 0,
            "events-TOTAL_FORMS": 0,
            "events-INITIAL_FORMS": 0,
        },
    )
    assert response.status_code == 302
    booking.refresh_from_db()
    assert booking.guest_name == "Rui M. Costa" and booking.status == "confirmed"
    assert booking.events.last().reason == "Guest details changed."


def test_telephone_booking_goes_through_the_services(staff_client, room_type, arrival):
    account = UserFactory(email="rui@example.com")
    assert staff_client.get(reverse("admin:bookings_booking_add")).status_code == 302
    form_page = staff_client.get(reverse("admin:bookings_booking_phone"))
    assert "I read the cancellation policy" in form_page.content.decode()
    data = {
        "room_type": room_type.pk,
        "check_in": arrival.isoformat(),
        "check_out": (arrival + timedelta(days=2)).isoformat(),
        "adults": 2,
        "children": 0,
        "guest_name": "Rui Costa",
        "guest_email": "RUI@example.com",
        "guest_phone": "+351 912 000 000",
        "policy_read_out": "on",
        "idempotency_key": "phone-1",
    }

    response = staff_client.post(reverse("admin:bookings_booking_phone"), data)
    again = staff_client.post(reverse("admin:bookings_booking_phone"), data)

    booking = Booking.objects.get()
    assert response.status_code == again.status_code == 302
    assert (booking.status, booking.source, booking.guest) == ("confirmed", "admin", account)
    assert sold(room_type, arrival, 2) == [1, 1]
    assert booking.events.first().by.is_staff


def test_telephone_booking_of_a_full_stay_names_the_nights(staff_client, room_type, arrival):
    from inventory.models import RoomInventory

    RoomInventory.objects.filter(room_type=room_type, date=arrival).update(sold=3)
    response = staff_client.post(
        reverse("admin:bookings_booking_phone"),
        {
            "room_type": room_type.pk,
            "check_in": arrival.isoformat(),
            "check_out": (arrival + timedelta(days=2)).isoformat(),
            "adults": 2,
            "guest_name": "Rui",
            "guest_email": "rui@example.com",
            "guest_phone": "1",
            "policy_read_out": "on",
        },
    )
    assert response.status_code == 200
    assert "No room of this type is left on" in response.content.decode()
    assert not Booking.objects.exists()


def test_today_page_lists_arrivals_departures_and_in_house(staff_client, room_type):
    today = timezone.localdate()
    arriving = confirmed(room_type, today)
    BookingFactory(
        room_type=room_type,
        status="checked_in",
        check_in=today - timedelta(days=2),
        check_out=today,
        guest_name="Leaving Today",
    )
    url = reverse("admin:bookings_booking_today")

    assert staff_client.get(url).status_code == 200
    page = staff_client.get(url, {"hotel": room_type.hotel_id})

    lists = page.context["lists"]
    assert [b.pk for b in lists["arrivals"]] == [arriving.pk]
    assert [b.guest_name for b in lists["departures"]] == ["Leaving Today"]
    assert [b.guest_name for b in lists["in_house"]] == ["Leaving Today"]

    response = staff_client.post(
        f"{url}?hotel={room_type.hotel_id}", {"op": "check_in", "booking": arriving.pk}, follow=True
    )
    arriving.refresh_from_db()
    assert arriving.status == "checked_in"
    response = staff_client.post(
        f"{url}?hotel={room_type.hotel_id}", {"op": "check_in", "booking": arriving.pk}, follow=True
    )
    assert any("cannot be checked in" in m for m in texts(response))


def test_audit_trail_is_read_only_in_admin(staff_client, room_type, arrival):
    booking = confirmed(room_type, arrival)
    page = staff_client.get(reverse("admin:bookings_bookingevent_changelist"))
    assert page.status_code == 200
    assert booking.reference in page.content.decode()
    assert staff_client.get(reverse("admin:bookings_bookingevent_add")).status_code == 403


@pytest.mark.parametrize("booking_id", ["zz", "²", ""])
def test_today_page_answers_a_malformed_booking_id_with_404(staff_client, booking_id):
    response = staff_client.post(
        reverse("admin:bookings_booking_today"), {"op": "check_in", "booking": booking_id}
    )

    assert response.status_code == 404


def test_today_page_ignores_a_malformed_hotel_id(staff_client):
    response = staff_client.get(reverse("admin:bookings_booking_today"), {"hotel": "²"})

    assert response.status_code == 200


def test_change_page_costs_the_same_queries_for_2_and_12_nights(
    staff_client, room_type, arrival, django_assert_num_queries
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    short = confirmed(room_type, arrival, nights=2)
    long = confirmed(room_type, arrival + timedelta(days=3), nights=12)
    with CaptureQueriesContext(connection) as two:
        url = reverse("admin:bookings_booking_change", args=[short.pk])
        assert staff_client.get(url).status_code == 200

    with django_assert_num_queries(len(two.captured_queries)):
        url = reverse("admin:bookings_booking_change", args=[long.pk])
        assert staff_client.get(url).status_code == 200


def test_today_page_is_refused_to_staff_who_may_not_view_bookings(client, room_type):
    # given staff who may edit inventory but not see bookings, and a guest arriving today
    from django.contrib.auth.models import Permission

    user = UserFactory(is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="change_roominventory"))
    client.force_login(user)
    confirmed(room_type, timezone.localdate())

    # when they open the today page of the hotel
    response = client.get(reverse("admin:bookings_booking_today"), {"hotel": room_type.hotel_id})

    # then they are refused, and no guest's name is shown
    assert response.status_code == 403
    assert "Rui Costa" not in response.content.decode()


def test_staff_change_their_password_on_the_admins_pages_not_the_guests(staff_client):
    # The guest site's account templates must not stand in for the admin's.
    form = staff_client.get(reverse("admin:password_change"))
    done = staff_client.get(reverse("admin:password_change_done"))

    for page in (form, done):
        assert "Django site admin" in page.content.decode()
        assert "My bookings" not in page.content.decode()
