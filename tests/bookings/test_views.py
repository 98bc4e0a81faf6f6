from datetime import timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.core.cache import cache
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from bookings.links import booking_signed_path, booking_token
from bookings.models import Booking
from bookings.services import booking_confirm, booking_hold
from inventory.models import RoomInventory
from tests.factories import BookingFactory, RoomTypeFactory, UserFactory

from .conftest import sold, stock

pytestmark = pytest.mark.django_db


def book_data(room_type, arrival, nights=3, **extra):
    return {
        "room_type": room_type.pk,
        "check_in": arrival.isoformat(),
        "check_out": (arrival + timedelta(days=nights)).isoformat(),
        "adults": 2,
        "children": 0,
        **extra,
    }


def test_book_places_a_hold_and_shows_its_countdown(client, room_type, arrival):
    response = client.post(reverse("bookings:hold"), book_data(room_type, arrival))

    booking = Booking.objects.get()
    assert response.status_code == 302
    assert response.url == reverse("bookings:details", args=[booking.reference])
    page = client.get(response.url)
    assert page.status_code == 200
    assert b"data-countdown" in page.content
    assert booking.status == "hold"
    assert sold(room_type, arrival, 3) == [1, 1, 1]


def test_full_guest_checkout_flow(client, room_type, arrival):
    client.post(reverse("bookings:hold"), book_data(room_type, arrival))
    booking = Booking.objects.get()
    ref = booking.reference

    response = client.post(
        reverse("bookings:details", args=[ref]),
        {"guest_name": " Ana  Silva ", "guest_email": "ana@example.com", "guest_phone": "+351 1"},
    )
    assert response.url == reverse("bookings:review", args=[ref])
    review = client.get(response.url)
    assert b"Free cancellation until" in review.content
    assert b"100.00" in review.content

    refused = client.post(reverse("bookings:review", args=[ref]), {})
    assert b"Accept the cancellation policy" in refused.content
    response = client.post(reverse("bookings:review", args=[ref]), {"accept_policy": "on"})
    assert response.url == reverse("bookings:confirmed", args=[ref])
    page = client.get(response.url)
    assert ref.encode() in page.content
    booking.refresh_from_db()
    assert (booking.status, booking.guest_name) == ("confirmed", "Ana Silva")

    # A second click on "Confirm" lands on the same confirmation, no error.
    again = client.post(reverse("bookings:review", args=[ref]), {"accept_policy": "on"})
    assert again.url == reverse("bookings:confirmed", args=[ref])


def test_a_form_post_reads_the_nights_only_when_it_shows_them_again(client, room_type, arrival):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.post(reverse("bookings:hold"), book_data(room_type, arrival))
    reference = Booking.objects.get().reference

    with CaptureQueriesContext(connection) as accepted:
        response = client.post(
            reverse("bookings:details", args=[reference]),
            {"guest_name": "Ana", "guest_email": "ana@example.com"},
        )
    with CaptureQueriesContext(connection) as refused:
        page = client.post(reverse("bookings:review", args=[reference]), {})

    assert response.status_code == 302
    assert not any("bookings_bookingnight" in q["sql"] for q in accepted.captured_queries)
    # the review shown again, policy not accepted, still lists every night in date order
    assert b"Accept the cancellation policy" in page.content
    assert any("bookings_bookingnight" in q["sql"] for q in refused.captured_queries)
    html = page.content.decode()
    days = [f"{arrival + timedelta(days=i):%a %-d %b %Y}" for i in range(3)]
    positions = [html.find(day) for day in days]
    assert -1 not in positions and positions == sorted(positions)


def test_double_submit_with_one_idempotency_key_makes_one_booking(client, room_type, arrival):
    data = book_data(room_type, arrival, idempotency_key="f3d1c0de")
    first = client.post(reverse("bookings:hold"), data)
    second = client.post(reverse("bookings:hold"), data)
    assert first.url == second.url
    assert Booking.objects.count() == 1
    assert sold(room_type, arrival, 3) == [1, 1, 1]


@pytest.mark.parametrize("logged_in", [False, True])
def test_a_key_copied_from_someone_elses_form_does_not_open_their_hold(
    client, room_type, arrival, guest, logged_in
):
    from django.test import Client

    data = book_data(room_type, arrival, idempotency_key="0ddba11c0ffee")
    client.post(reverse("bookings:hold"), data)
    booking = Booking.objects.get()

    other = Client()
    if logged_in:
        other.force_login(guest)
    response = other.post(reverse("bookings:hold"), data)

    assert response.status_code == 400
    assert "This form was already used" in response.content.decode()
    assert other.get(reverse("bookings:details", args=[booking.reference])).status_code == 404
    booking.refresh_from_db()
    assert booking.guest is None
    assert Booking.objects.count() == 1


def _browser_showing_a_hold_form():
    """A first-time visitor's browser: the page it books from set its CSRF cookie, no session."""
    from django.test import Client

    browser = Client(enforce_csrf_checks=True)
    browser.get(reverse("login"))
    return browser, browser.cookies["csrftoken"].value


def test_a_double_click_sent_before_the_first_answer_gets_the_first_hold(room_type, arrival):
    import copy

    # given a guest without an account who clicks "Book" twice: the second
    # submit leaves before the first answer (and the session cookie it sets) arrives
    browser, token = _browser_showing_a_hold_form()
    data = book_data(room_type, arrival, idempotency_key="d0ub1e", csrfmiddlewaretoken=token)
    cookies_before_the_first_answer = copy.deepcopy(browser.cookies)
    first = browser.post(reverse("bookings:hold"), data)
    browser.cookies = cookies_before_the_first_answer

    # when
    second = browser.post(reverse("bookings:hold"), data)

    # then the browser shows the first hold, which it can go on with
    assert first.status_code == 302
    assert (second.status_code, second.get("Location")) == (302, first.url)
    assert Booking.objects.count() == 1
    assert sold(room_type, arrival, 3) == [1, 1, 1]
    assert browser.get(second.url).status_code == 200


def test_a_key_copied_into_another_browser_does_not_reach_the_first_hold(room_type, arrival, guest):
    browser, token = _browser_showing_a_hold_form()
    data = book_data(room_type, arrival, idempotency_key="c0p1ed", csrfmiddlewaretoken=token)
    browser.post(reverse("bookings:hold"), data)
    booking = Booking.objects.get()

    other, _token = _browser_showing_a_hold_form()
    other.force_login(guest)
    other_token = other.cookies["csrftoken"].value
    response = other.post(reverse("bookings:hold"), {**data, "csrfmiddlewaretoken": other_token})

    assert response.get("Location") != reverse("bookings:details", args=[booking.reference])
    assert other.get(reverse("bookings:details", args=[booking.reference])).status_code == 404
    booking.refresh_from_db()
    assert booking.guest is None
    assert Booking.objects.filter(pk=booking.pk, status="hold").exists()


def test_logged_in_guest_gets_details_filled_in(client, room_type, arrival, guest):
    client.force_login(guest)
    client.post(reverse("bookings:hold"), book_data(room_type, arrival))
    booking = Booking.objects.get()
    assert booking.guest == guest
    page = client.get(reverse("bookings:details", args=[booking.reference]))
    assert b'value="Ana Silva"' in page.content
    assert b'value="ana@example.com"' in page.content


def test_sold_out_stay_names_the_nights_and_offers_free_room_types(client, room_type, arrival):
    other = RoomTypeFactory(hotel=room_type.hotel, name="Suite")
    stock(other, start=arrival, nights=3, total=1, price=Decimal("250.00"))
    RoomInventory.objects.filter(room_type=room_type, date=arrival + timedelta(days=1)).update(
        sold=3
    )

    response = client.post(reverse("bookings:hold"), book_data(room_type, arrival))

    assert response.status_code == 409
    content = response.content.decode()
    night = arrival + timedelta(days=1)
    assert night.strftime("%-d %B %Y") in content
    assert "Suite" in content and "Book this instead" in content
    assert not Booking.objects.exists()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"check_out": "2020-01-01"}, "Check-out must be after check-in"),
        ({"check_in": "not-a-date"}, "YYYY-MM-DD"),
        ({"adults": 0}, "At least one adult"),
        ({"adults": 3}, "sleeps at most"),
        ({"room_type": 999999}, "not for sale"),
        # past the id column's range: the database must not be asked
        ({"room_type": 2**63}, "not for sale"),
        ({"room_type": -(2**63) - 1}, "not for sale"),
    ],
)
def test_bad_hold_input_gets_a_clear_message_and_writes_nothing(
    client, room_type, arrival, change, message
):
    response = client.post(reverse("bookings:hold"), {**book_data(room_type, arrival), **change})
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not Booking.objects.exists()
    assert sold(room_type, arrival, 3) == [0, 0, 0]


@pytest.mark.parametrize("closed", ["room_type", "hotel"])
def test_a_hold_of_a_room_type_no_longer_for_sale_is_refused(client, room_type, arrival, closed):
    target = room_type if closed == "room_type" else room_type.hotel
    type(target).objects.filter(pk=target.pk).update(is_active=False)

    response = client.post(reverse("bookings:hold"), book_data(room_type, arrival))

    assert response.status_code == 400
    assert "not for sale" in response.content.decode()
    assert not Booking.objects.exists()


def test_expired_hold_shows_a_clear_page_and_books_nothing(client, room_type, arrival):
    client.post(reverse("bookings:hold"), book_data(room_type, arrival))
    booking = Booking.objects.get()
    Booking.objects.filter(pk=booking.pk).update(hold_expires_at=timezone.now())

    response = client.post(
        reverse("bookings:review", args=[booking.reference]), {"accept_policy": "on"}
    )

    assert response.status_code == 410
    assert b"Your hold has expired" in response.content
    assert b"Search the same dates again" in response.content
    booking.refresh_from_db()
    assert booking.status == "expired"
    assert sold(room_type, arrival, 3) == [0, 0, 0]


def test_strangers_get_404_for_a_booking(client, room_type, arrival):
    booking = BookingFactory(room_type=room_type)
    assert client.get(booking.get_absolute_url()).status_code == 404
    client.force_login(UserFactory())
    assert client.get(booking.get_absolute_url()).status_code == 404
    assert client.get(reverse("bookings:detail", args=["NOSUCHREF1"])).status_code == 404


def test_owner_and_staff_can_open_a_booking(client, staff_client, room_type):
    booking = BookingFactory(room_type=room_type)
    client.force_login(booking.guest)
    assert client.get(booking.get_absolute_url()).status_code == 200
    page = staff_client.get(booking.get_absolute_url())
    assert page.status_code == 200


def test_signed_link_opens_the_booking_and_a_tampered_one_does_not(client, room_type):
    booking = BookingFactory(room_type=room_type)
    path = booking_signed_path(booking)
    assert client.get(path).status_code == 200

    token = booking_token(booking.reference)
    middle = len(token) - 10
    tampered = token[:middle] + ("A" if token[middle] != "A" else "B") + token[middle + 1 :]
    assert client.get(reverse("bookings:signed", args=[tampered])).status_code == 404
    other = BookingFactory(room_type=room_type)
    assert client.get(f"{other.get_absolute_url()}?token={token}").status_code == 404
    forged = booking_token(booking.reference).replace(booking.reference, other.reference)
    assert client.get(reverse("bookings:signed", args=[forged])).status_code == 404


def _confirmed_for(guest, room_type, arrival):
    booking = booking_hold(
        room_type=room_type,
        check_in=arrival,
        check_out=arrival + timedelta(days=2),
        adults=1,
        guest=guest,
    )
    return booking_confirm(booking=booking, policy_accepted=True)


def test_cancel_shows_the_fee_first_then_cancels(client, room_type, arrival, guest):
    booking = _confirmed_for(guest, room_type, arrival)
    Booking.objects.filter(pk=booking.pk).update(
        cancellation_policy={
            **booking.cancellation_policy,
            "free_until": (timezone.now() - timedelta(hours=1)).isoformat(),
        }
    )
    client.force_login(guest)
    url = reverse("bookings:cancel", args=[booking.reference])

    page = client.get(url)
    assert "Cancelling now costs €100.00" in page.content.decode()
    booking.refresh_from_db()
    assert booking.status == "confirmed"

    response = client.post(url, {"reason": "ill"})
    booking.refresh_from_db()
    assert response.status_code == 302
    assert booking.status == "cancelled"
    assert booking.cancellation_fee == Decimal("100.00")
    assert sold(room_type, arrival, 2) == [0, 0]


def test_a_cancel_that_goes_through_reads_no_nights_before_the_service(
    client, room_type, arrival, guest, django_assert_num_queries
):
    booking = _confirmed_for(guest, room_type, arrival)
    client.force_login(guest)
    client.get(reverse("bookings:mine"))  # the session and its account, cached
    url = reverse("bookings:cancel", args=[booking.reference])

    # the booking with its hotel, room type, room and guest, and the
    # request's account; then the service: savepoint, lock, update, event,
    # reminders, nights for the email, its row written (its id returned),
    # nights given back, release
    with django_assert_num_queries(11):
        response = client.post(url, {"reason": "ill"})

    assert response.status_code == 302
    booking.refresh_from_db()
    assert booking.status == "cancelled"


def test_cancel_through_the_signed_link(client, room_type, arrival, guest):
    booking = _confirmed_for(guest, room_type, arrival)
    token = booking_token(booking.reference)
    url = reverse("bookings:cancel", args=[booking.reference])

    page = client.get(url, {"token": token})
    assert "free of charge" in page.content.decode()
    response = client.post(url, {"token": token})

    assert response.url == reverse("bookings:signed", args=[token])
    booking.refresh_from_db()
    assert booking.status == "cancelled"


def test_cancelling_a_checked_in_booking_is_refused_with_a_message(client, room_type, guest):
    booking = BookingFactory(room_type=room_type, guest=guest, status="checked_in")
    client.force_login(guest)
    response = client.post(reverse("bookings:cancel", args=[booking.reference]), follow=True)
    assert "cannot be cancelled online" in response.content.decode()
    booking.refresh_from_db()
    assert booking.status == "checked_in"


def test_my_bookings_lists_upcoming_and_past_in_two_queries(
    client, room_type, guest, django_assert_num_queries
):
    today = timezone.localdate()
    for i in range(15):
        BookingFactory(room_type=room_type, guest=guest, check_in=today + timedelta(days=i + 1))
    for i in range(3):
        BookingFactory(
            room_type=room_type,
            guest=guest,
            check_in=today - timedelta(days=30 + i),
            status="checked_out",
        )
    BookingFactory(room_type=room_type, guest=guest, status="expired")
    BookingFactory(room_type=room_type)  # someone else's
    client.force_login(guest)

    # the account and one page of bookings with their count (the session is
    # read from the cache); the first page also reads the hotels' time zones,
    # which the cache then keeps
    with django_assert_num_queries(3):
        client.get(reverse("bookings:mine"))
    with django_assert_num_queries(2):
        upcoming = client.get(reverse("bookings:mine"))
    with django_assert_num_queries(2):
        second = client.get(reverse("bookings:mine"), {"page": 2})
    with django_assert_num_queries(2):
        past = client.get(reverse("bookings:mine"), {"show": "past"})

    assert len(upcoming.context["page"].object_list) == 10
    assert upcoming.context["page"].paginator.count == 15
    assert upcoming.context["page"].paginator.num_pages == 2
    assert len(second.context["page"].object_list) == 5
    assert [b.check_in for b in second.context["page"].object_list] == [
        today + timedelta(days=i + 1) for i in range(10, 15)
    ]
    assert past.context["page"].paginator.count == 3
    row = upcoming.content.decode().split("<tbody>")[1].split("</tr>")[0]
    assert escape(room_type.hotel.name) in row
    assert escape(room_type.hotel.city) in row
    assert escape(room_type.name) in row
    first = upcoming.context["page"].object_list[0]
    assert f'href="{reverse("bookings:detail", args=[first.reference])}"' in row


def test_my_bookings_escapes_what_staff_typed_into_names(client, guest):
    room_type = RoomTypeFactory(name="Suite <i>deluxe</i>")
    room_type.hotel.name = 'Casa "Azul" <script>x()</script> & Co'
    room_type.hotel.save()
    booking = BookingFactory(room_type=room_type, guest=guest)
    client.force_login(guest)

    row = client.get(reverse("bookings:mine")).content.decode().split("<tbody>")[1]

    assert "Casa &quot;Azul&quot; &lt;script&gt;x()&lt;/script&gt; &amp; Co" in row
    assert "Suite &lt;i&gt;deluxe&lt;/i&gt;" in row
    assert "<script>" not in row
    assert f'<a href="{booking.get_absolute_url()}">{booking.reference}</a>' in row


def test_my_bookings_rows_show_each_booking_its_own_status_dates_and_total(client, guest):
    today = timezone.localdate()
    room_type = RoomTypeFactory(hotel__currency="EUR")
    stays = [
        ("checked_out", today - timedelta(days=40), Decimal("1234.50")),
        ("cancelled", today + timedelta(days=3), Decimal("99.00")),
        ("checked_out", today - timedelta(days=20), Decimal("10.05")),
        ("no_show", today - timedelta(days=10), Decimal("0.00")),
    ]
    for status, check_in, total in stays:
        BookingFactory(
            room_type=room_type,
            guest=guest,
            status=status,
            check_in=check_in,
            check_out=check_in + timedelta(days=2),
            total_price=total,
        )
    client.force_login(guest)

    body = client.get(reverse("bookings:mine"), {"show": "past"}).content.decode()

    rows = body.split("<tbody>")[1].split("</tbody>")[0].split("</tr>")[:-1]
    shown = {
        (row.split('<span class="tag">')[1].split("</span>")[0], row.split("<td>")[5])
        for row in rows
    }
    assert shown == {
        ("Checked out", "€1,234.50</td>"),
        ("Cancelled", "€99.00</td>"),
        ("Checked out", "€10.05</td>"),
        ("No-show", "€0.00</td>"),
    }
    first = today - timedelta(days=40)
    assert f"{first.day} {first:%b %Y} → " in body


def test_a_session_outlives_the_cache_that_serves_it(client, guest, django_assert_num_queries):
    # Sessions are read through the cache but kept in the database: Redis
    # restarting or evicting them logs nobody out.
    client.force_login(guest)
    cache.clear()

    with django_assert_num_queries(4):  # session, account, time zones, page
        response = client.get(reverse("bookings:mine"))
    assert response.status_code == 200
    with django_assert_num_queries(2):  # read back into the cache
        assert client.get(reverse("bookings:mine")).status_code == 200


def test_a_logout_redis_missed_ends_the_session_within_the_session_cache_ttl(
    client, guest, settings, monkeypatch
):
    # given a signed-in guest whose session the cache holds, and Redis
    # unreachable while they log out (django-redis swallows the failed DELETE)
    import time

    from django_redis.client import DefaultClient
    from django_redis.exceptions import ConnectionInterrupted

    settings.CACHE_SESSION_TTL = 1
    client.force_login(guest)
    assert client.get(reverse("bookings:mine")).status_code == 200
    cookie = client.cookies[settings.SESSION_COOKIE_NAME].value

    def unreachable(*args, **kwargs):
        raise ConnectionInterrupted(connection=None)

    monkeypatch.setattr(DefaultClient, "delete", unreachable)
    client.post(reverse("logout"))
    monkeypatch.undo()

    # when the old cookie is replayed once Redis answers again, past the bound
    time.sleep(1.2)
    client.cookies[settings.SESSION_COOKIE_NAME] = cookie
    response = client.get(reverse("bookings:mine"))

    # then the session is over: its row is gone and no cached copy outlives it
    assert response.status_code == 302
    assert reverse("login") in response["Location"]


def test_my_bookings_shows_each_status_by_its_label(client, room_type, guest):
    today = timezone.localdate()
    BookingFactory(
        room_type=room_type, guest=guest, check_in=today - timedelta(days=9), status="no_show"
    )
    BookingFactory(
        room_type=room_type, guest=guest, check_in=today + timedelta(days=9), status="cancelled"
    )
    client.force_login(guest)

    page = client.get(reverse("bookings:mine"), {"show": "past"}).content.decode()

    assert '<span class="tag">No-show</span>' in page
    assert '<span class="tag">Cancelled</span>' in page


def test_status_display_falls_back_to_the_stored_value():
    assert Booking(status="checked_in").get_status_display() == "Checked in"
    assert Booking(status="legacy").get_status_display() == "legacy"


@pytest.mark.parametrize(
    ("asked", "shown"), [("abc", 1), ("0", 1), ("-3", 1), ("2", 2), ("99", 2), ("", 1)]
)
def test_my_bookings_pages_like_get_page(client, room_type, guest, asked, shown):
    # a page that is not a number is the first; one past the end is the last
    today = timezone.localdate()
    for i in range(12):
        BookingFactory(room_type=room_type, guest=guest, check_in=today + timedelta(days=i + 1))
    client.force_login(guest)

    page = client.get(reverse("bookings:mine"), {"page": asked}).context["page"]

    assert page.number == shown
    assert page.paginator.count == 12
    assert len(page.object_list) == (10 if shown == 1 else 2)


def test_my_bookings_with_none_shows_an_empty_first_page(client, guest):
    client.force_login(guest)

    response = client.get(reverse("bookings:mine"), {"page": 5})

    assert response.status_code == 200
    assert response.context["page"].paginator.count == 0
    assert response.context["page"].number == 1
    assert "No upcoming stays" in response.content.decode()


def test_my_bookings_needs_a_login(client):
    response = client.get(reverse("bookings:mine"))
    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


def test_sign_up_logs_in_and_log_out_is_a_post(client):
    response = client.post(
        reverse("signup"),
        {
            "username": "maria",
            "email": "maria@example.com",
            "first_name": "Maria",
            "last_name": "Costa",
            "password1": "a-Long-pass-phrase-42",
            "password2": "a-Long-pass-phrase-42",
        },
    )
    assert response.status_code == 302
    home = client.get(reverse("bookings:mine"))
    assert home.status_code == 200
    assert client.get(reverse("logout")).status_code == 405
    assert client.post(reverse("logout")).status_code == 302
    assert client.get(reverse("bookings:mine")).status_code == 302


def test_sign_up_refuses_an_email_in_use(client, guest):
    response = client.post(
        reverse("signup"),
        {
            "username": "other",
            "email": guest.email.upper(),
            "first_name": "A",
            "last_name": "B",
            "password1": "a-Long-pass-phrase-42",
            "password2": "a-Long-pass-phrase-42",
        },
    )
    assert response.status_code == 200
    assert "exists already" in response.content.decode()


def test_login_and_password_reset_use_our_templates(client, guest):
    page = client.get(reverse("login"))
    assert b"Forgot your password?" in page.content
    response = client.post(
        reverse("login"), {"username": guest.username, "password": "correct-horse-battery"}
    )
    assert response.status_code == 302

    client.post(reverse("logout"))
    response = client.post(reverse("password_reset"), {"email": guest.email})
    assert response.url == reverse("password_reset_done")
    assert len(mail.outbox) == 1
    assert "/accounts/password/reset/" in mail.outbox[0].body


def test_a_hold_made_before_logging_in_joins_the_account(client, room_type, arrival, guest):
    client.post(reverse("bookings:hold"), book_data(room_type, arrival))
    booking = Booking.objects.get()
    assert booking.guest is None

    client.force_login(guest)
    page = client.get(reverse("bookings:details", args=[booking.reference]))

    booking.refresh_from_db()
    assert booking.guest == guest
    assert booking.guest_email == "ana@example.com"
    assert b'value="Ana Silva"' in page.content
    assert booking.events.last().reason == f"Linked to the account {guest.username}."
    mine = client.get(reverse("bookings:mine"))
    assert booking.reference in mine.content.decode()


def test_someone_elses_booking_is_never_claimed(client, room_type, arrival, guest):
    booking = BookingFactory(room_type=room_type, status="hold")
    client.force_login(guest)
    assert client.get(reverse("bookings:details", args=[booking.reference])).status_code == 404
    booking.refresh_from_db()
    assert booking.guest != guest


def test_cancel_charges_no_fee_it_did_not_show(client, room_type, arrival, guest, monkeypatch):
    # given a guest who opened the cancel page a minute before the free period ended
    booking = _confirmed_for(guest, room_type, arrival)
    deadline = timezone.now() + timedelta(minutes=1)
    Booking.objects.filter(pk=booking.pk).update(
        cancellation_policy={**booking.cancellation_policy, "free_until": deadline.isoformat()}
    )
    client.force_login(guest)
    url = reverse("bookings:cancel", args=[booking.reference])
    page = client.get(url)
    assert "Cancelling now is free of charge" in page.content.decode()
    assert 'name="fee"' in page.content.decode()

    # when they press "Yes, cancel" after the deadline
    later = deadline + timedelta(minutes=1)
    monkeypatch.setattr(timezone, "now", lambda: later)
    response = client.post(url, {"reason": "", **page.context["form"].initial})

    # then nothing is cancelled: they are shown the fee that now applies first
    booking.refresh_from_db()
    assert booking.status == "confirmed"
    assert response.status_code == 200
    assert "free cancellation period has ended" in response.content.decode()
    assert "Cancelling now costs €100.00" in response.content.decode()
    # and confirming that fee cancels with it
    response = client.post(url, {"reason": "", **response.context["form"].initial})
    booking.refresh_from_db()
    assert booking.status == "cancelled"
    assert booking.cancellation_fee == Decimal("100.00")


def test_my_bookings_moves_a_stay_to_past_on_the_hotels_day(client, guest, monkeypatch):
    # given a stay in Tokyo that departed on 1 Dec, and it is 2 Dec 01:00 in Tokyo
    # (still 1 Dec in UTC, the server's zone)
    from datetime import UTC, date, datetime

    from tests.factories import HotelFactory

    now = datetime(2030, 12, 1, 16, 0, tzinfo=UTC)
    monkeypatch.setattr(timezone, "now", lambda: now)
    tokyo = RoomTypeFactory(hotel=HotelFactory(timezone="Asia/Tokyo"))
    departed = BookingFactory(
        room_type=tokyo,
        guest=guest,
        status="confirmed",
        check_in=date(2030, 11, 29),
        check_out=date(2030, 12, 1),
    )
    # and a stay in New York that departs on 1 Dec, where it is 1 Dec 11:00
    new_york = RoomTypeFactory(hotel=HotelFactory(timezone="America/New_York"))
    leaving_today = BookingFactory(
        room_type=new_york,
        guest=guest,
        status="checked_in",
        check_in=date(2030, 11, 28),
        check_out=date(2030, 12, 1),
    )
    client.force_login(guest)

    upcoming = client.get(reverse("bookings:mine")).context["page"].object_list
    past = client.get(reverse("bookings:mine"), {"show": "past"}).context["page"].object_list

    assert [b.reference for b in upcoming] == [leaving_today.reference]
    assert [b.reference for b in past] == [departed.reference]


def test_a_stay_that_has_ended_is_not_offered_for_cancellation(client, room_type, guest):
    # given a confirmed stay whose departure day has passed (nobody marked it yet)
    today = timezone.localdate()
    booking = BookingFactory(
        room_type=room_type,
        guest=guest,
        status="confirmed",
        check_in=today - timedelta(days=3),
        check_out=today - timedelta(days=1),
        cancellation_policy={"fee": "first_night", "free_until": "2020-01-01T15:00:00+00:00"},
    )
    client.force_login(guest)

    # when the guest opens the booking and its cancel page
    page = client.get(reverse("bookings:detail", args=[booking.reference]))
    cancel_page = client.get(reverse("bookings:cancel", args=[booking.reference]), follow=True)

    # then no cancellation (nor its fee) is offered, and they are told why
    assert "Cancel this booking" not in page.content.decode()
    assert "Yes, cancel" not in cancel_page.content.decode()
    assert "has ended" in cancel_page.content.decode()
    booking.refresh_from_db()
    assert booking.status == "confirmed"


def test_the_booking_page_says_when_it_was_cancelled_in_hotel_time(client, guest):
    # given a Tokyo booking cancelled at 16:00 UTC on 1 Dec, 01:00 on 2 Dec in Tokyo
    from datetime import UTC, datetime

    from bookings.policy import policy_snapshot
    from tests.factories import HotelFactory

    tokyo = RoomTypeFactory(hotel=HotelFactory(timezone="Asia/Tokyo"))
    booking = BookingFactory(
        room_type=tokyo,
        guest=guest,
        status="cancelled",
        cancelled_at=datetime(2030, 12, 1, 16, 0, tzinfo=UTC),
    )
    booking.cancellation_policy = policy_snapshot(hotel=tokyo.hotel, check_in=booking.check_in)
    booking.save(update_fields=["cancellation_policy"])
    client.force_login(guest)

    page = client.get(booking.get_absolute_url()).content.decode()

    assert "Cancelled on 2 Dec 2030, 01:00 (hotel time)" in page
