import pytest
from django.core import mail
from django.urls import reverse

from bookings.services import booking_update_details
from notifications.models import Notification
from notifications.services import notification_deliver, notify_booking_event
from tests.factories import HotelFactory, RoomTypeFactory
from tests.notifications.factories import booking_with_nights

pytestmark = pytest.mark.django_db

Kind = Notification.Kind
Status = Notification.Status
CHANGELIST = reverse("admin:notifications_notification_changelist")


def change_url(notification: Notification) -> str:
    return reverse("admin:notifications_notification_change", args=[notification.pk])


def confirmed(**kwargs) -> Notification:
    booking = booking_with_nights(**kwargs)
    notify_booking_event(booking=booking, event="confirmed")
    return Notification.objects.get(booking=booking, kind=Kind.BOOKING_CONFIRMED)


def test_changelist_query_count_does_not_grow_with_rows(
    staff_client, django_assert_max_num_queries
):
    for _ in range(3):
        confirmed()
    with django_assert_max_num_queries(12) as few:
        assert staff_client.get(CHANGELIST).status_code == 200
    for _ in range(10):
        confirmed()

    with django_assert_max_num_queries(len(few.captured_queries)):
        response = staff_client.get(CHANGELIST)

    assert response.status_code == 200


def test_changelist_filters_by_status_kind_and_hotel(staff_client):
    lisbon = HotelFactory(name="Lisbon Palace")
    porto = HotelFactory(name="Porto Inn")
    confirmed(room_type=RoomTypeFactory(hotel=lisbon))
    in_porto = confirmed(room_type=RoomTypeFactory(hotel=porto))

    notification_deliver(notification_id=in_porto.pk)

    by_hotel = staff_client.get(CHANGELIST, {"hotel": lisbon.pk})
    by_kind = staff_client.get(CHANGELIST, {"kind__exact": Kind.ARRIVAL_REMINDER})
    by_status = staff_client.get(CHANGELIST, {"status__exact": Status.SENT})

    assert {(n.booking.hotel, n.kind) for n in by_hotel.context["cl"].result_list} == {
        (lisbon, Kind.BOOKING_CONFIRMED),
        (lisbon, Kind.ARRIVAL_REMINDER),
    }
    assert {n.kind for n in by_kind.context["cl"].result_list} == {Kind.ARRIVAL_REMINDER}
    assert list(by_status.context["cl"].result_list) == [in_porto]


def test_changelist_searches_by_booking_reference_and_recipient(staff_client):
    wanted = confirmed(guest_email="wanted@example.com")
    confirmed(guest_email="other@example.com")

    by_reference = staff_client.get(CHANGELIST, {"q": wanted.booking.reference.lower()})
    by_recipient = staff_client.get(CHANGELIST, {"q": "wanted@"})

    assert {n.booking_id for n in by_reference.context["cl"].result_list} == {wanted.booking_id}
    assert {n.recipient for n in by_recipient.context["cl"].result_list} == {"wanted@example.com"}


def test_change_page_previews_the_rendered_email(staff_client):
    reminder = confirmed(guest_name="Ana Sousa").booking.notifications.get(
        kind=Kind.ARRIVAL_REMINDER
    )

    response = staff_client.get(change_url(reminder))

    body = response.content.decode()
    assert response.status_code == 200
    assert "See you soon at" in body
    assert "Dear Ana Sousa" in body
    assert "srcdoc=" in body


def test_change_page_shows_a_template_error_instead_of_failing(staff_client):
    row = confirmed()
    Notification.objects.filter(pk=row.pk).update(template="notifications/email/missing")

    response = staff_client.get(change_url(row))

    assert response.status_code == 200
    assert "This message cannot be rendered" in response.content.decode()


def test_resend_action_writes_a_new_row_and_keeps_history(
    staff_client, django_capture_on_commit_callbacks
):
    row = confirmed()
    notification_deliver(notification_id=row.pk)
    mail.outbox.clear()

    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(
            CHANGELIST, {"action": "resend", "_selected_action": [row.pk]}, follow=True
        )

    assert "1 message queued again." in response.content.decode()
    row.refresh_from_db()
    assert row.status == Status.SENT
    resend = Notification.objects.get(resent_from=row)
    assert resend.status == Status.SENT
    assert len(mail.outbox) == 1
    assert row.booking.reference in mail.outbox[0].subject


def test_resend_action_explains_a_refusal(staff_client):
    pending_reminder = confirmed().booking.notifications.get(kind=Kind.ARRIVAL_REMINDER)

    response = staff_client.post(
        CHANGELIST, {"action": "resend", "_selected_action": [pending_reminder.pk]}, follow=True
    )

    assert "still being delivered" in response.content.decode()
    assert not Notification.objects.filter(resent_from=pending_reminder).exists()


def test_rows_cannot_be_added_or_edited_in_admin(staff_client):
    row = confirmed()

    assert staff_client.get(reverse("admin:notifications_notification_add")).status_code == 403
    staff_client.post(change_url(row), {"recipient": "evil@example.com"})

    row.refresh_from_db()
    assert row.recipient != "evil@example.com"


def test_resend_of_the_reminder_of_a_cancelled_booking_is_refused_with_the_reason(
    staff_client, django_capture_on_commit_callbacks
):
    # given: the booking was cancelled, which withdrew its reminder
    reminder = confirmed().booking.notifications.get(kind=Kind.ARRIVAL_REMINDER)
    booking = reminder.booking
    booking.status = booking.Status.CANCELLED
    booking.save()
    notify_booking_event(booking=booking, event="cancelled")
    mail.outbox.clear()

    # when: staff select it among failed rows and resend
    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(
            CHANGELIST, {"action": "resend", "_selected_action": [reminder.pk]}, follow=True
        )

    # then: nothing is queued, and staff are told why
    content = response.content.decode()
    assert "queued again" not in content
    assert f"Booking {booking.reference} is no longer confirmed" in content
    assert not Notification.objects.filter(resent_from=reminder).exists()
    assert mail.outbox == []


def test_resend_after_the_guests_address_was_corrected_goes_to_the_new_address(
    staff_client, django_capture_on_commit_callbacks
):
    # given: the confirmation failed on a mistyped address, which staff then corrected
    row = confirmed(guest=None, guest_email="ana.example.com")
    notification_deliver(notification_id=row.pk)
    row.refresh_from_db()
    assert row.status == Status.FAILED
    booking_update_details(
        booking=row.booking, guest_name="Ana Guest", guest_email="ana@example.com"
    )

    # when: staff resend the failed confirmation
    with django_capture_on_commit_callbacks(execute=True):
        staff_client.post(CHANGELIST, {"action": "resend", "_selected_action": [row.pk]})

    # then: it goes to the address the booking has now
    resend = Notification.objects.get(resent_from=row)
    assert resend.recipient == "ana@example.com"
    assert resend.status == Status.SENT
    assert [m.to for m in mail.outbox] == [["ana@example.com"]]
