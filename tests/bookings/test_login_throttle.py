"""Password guessing: failed logins are counted per account and address, then refused."""

import pytest
from django.conf import settings
from django.urls import reverse

from tests.factories import StaffFactory, UserFactory

pytestmark = pytest.mark.django_db

RIGHT = "correct-horse-battery"


def log_in(client, username, password, *, address="203.0.113.7", url=None):
    return client.post(
        url or reverse("login"),
        {"username": username, "password": password},
        REMOTE_ADDR=address,
    )


def fail(client, username, times, **kwargs):
    """Fail ``times`` times; the failure that reaches the limit is answered with the lockout."""
    statuses = [
        log_in(client, username, "wrong-password", **kwargs).status_code for _ in range(times)
    ]
    limit = settings.AXES_FAILURE_LIMIT
    assert statuses == [200] * min(times, limit - 1) + [429] * max(times - limit + 1, 0)


def test_the_right_password_is_refused_after_too_many_failures(client):
    guest = UserFactory()
    fail(client, guest.username, settings.AXES_FAILURE_LIMIT - 1)
    assert log_in(client, guest.username, RIGHT).status_code == 302  # not yet locked
    client.post(reverse("logout"))

    fail(client, guest.username, settings.AXES_FAILURE_LIMIT)
    response = log_in(client, guest.username, RIGHT)

    assert response.status_code == 429
    page = response.content.decode()
    assert "Too many failed attempts" in page
    assert f"failed {settings.AXES_FAILURE_LIMIT} times in a row" in page
    assert "paused for 15 minutes" in page
    assert "_auth_user_id" not in client.session


def test_a_success_resets_the_count(client):
    guest = UserFactory()
    fail(client, guest.username, settings.AXES_FAILURE_LIMIT - 1)
    assert log_in(client, guest.username, RIGHT).status_code == 302
    client.post(reverse("logout"))

    fail(client, guest.username, settings.AXES_FAILURE_LIMIT - 1)
    assert log_in(client, guest.username, RIGHT).status_code == 302


def test_nobody_elsewhere_can_lock_a_guest_out(client):
    guest = UserFactory()
    fail(client, guest.username, settings.AXES_FAILURE_LIMIT, address="198.51.100.9")

    assert log_in(client, guest.username, RIGHT, address="203.0.113.7").status_code == 302


def test_guests_sharing_an_address_are_not_locked_out_together(client):
    careless, other = UserFactory(), UserFactory()
    fail(client, careless.username, settings.AXES_FAILURE_LIMIT)

    assert log_in(client, other.username, RIGHT).status_code == 302


def test_the_staff_admin_login_is_guarded_too(client):
    staff = StaffFactory()
    url = reverse("admin:login")
    fail(client, staff.username, settings.AXES_FAILURE_LIMIT, url=url)

    response = log_in(client, staff.username, RIGHT, url=url)

    assert response.status_code == 429
    assert client.get(reverse("admin:index")).status_code == 302  # still not logged in
