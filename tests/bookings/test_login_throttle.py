"""Password guessing: failed logins are counted per account and address, then refused."""

import re

import pytest
from django.conf import settings
from django.urls import reverse, reverse_lazy

from tests.factories import StaffFactory, UserFactory

pytestmark = pytest.mark.django_db

RIGHT = "correct-horse-battery"


def log_in(client, username, password, *, address="203.0.113.7", url=None, **headers):
    return client.post(
        url or reverse("login"),
        {"username": username, "password": password},
        REMOTE_ADDR=address,
        **headers,
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


@pytest.mark.parametrize("url", [reverse_lazy("login"), reverse_lazy("admin:login")])
def test_behind_a_proxy_nobody_elsewhere_can_lock_a_guest_out(client, settings, url):
    # given one proxy in front of the app: every request comes from its
    # address, and it names the client in X-Forwarded-For
    settings.AXES_IPWARE_PROXY_COUNT = 1
    proxy = "10.0.0.2"
    guest = StaffFactory() if "admin" in str(url) else UserFactory()

    # when someone elsewhere fails as that guest until the limit
    fail(
        client,
        guest.username,
        settings.AXES_FAILURE_LIMIT,
        address=proxy,
        url=url,
        HTTP_X_FORWARDED_FOR="198.51.100.9",
    )

    # then the guest, at their own address, still logs in
    response = log_in(
        client, guest.username, RIGHT, address=proxy, url=url, HTTP_X_FORWARDED_FOR="203.0.113.7"
    )
    assert response.status_code == 302


def test_without_a_proxy_a_forged_forwarded_for_does_not_dodge_the_count(client):
    guest = UserFactory()
    for n in range(settings.AXES_FAILURE_LIMIT):
        log_in(client, guest.username, "wrong-password", HTTP_X_FORWARDED_FOR=f"198.51.100.{n}")

    response = log_in(client, guest.username, RIGHT, HTTP_X_FORWARDED_FOR="198.51.100.200")

    assert response.status_code == 429


def test_behind_a_proxy_an_address_the_client_forged_does_not_dodge_the_count(client, settings):
    settings.AXES_IPWARE_PROXY_COUNT = 1
    guest = UserFactory()
    # the proxy appends the address it was reached from to whatever the client sent
    for n in range(settings.AXES_FAILURE_LIMIT):
        log_in(
            client,
            guest.username,
            "wrong-password",
            address="10.0.0.2",
            HTTP_X_FORWARDED_FOR=f"192.0.2.{n}, 198.51.100.9",
        )

    response = log_in(
        client,
        guest.username,
        RIGHT,
        address="10.0.0.2",
        HTTP_X_FORWARDED_FOR="192.0.2.200, 198.51.100.9",
    )

    assert response.status_code == 429


def test_a_password_reset_lets_a_locked_out_guest_log_in_again(client, mailoutbox):
    # given a guest locked out, whose lockout page offers the password reset
    guest = UserFactory(email="ana@example.com")
    fail(client, guest.username, settings.AXES_FAILURE_LIMIT)

    # when they reset their password through the emailed link
    client.post(reverse("password_reset"), {"email": "ana@example.com"})
    link = re.search(r"https?://[^/\s]+(/\S+/)", mailoutbox[-1].body).group(1)
    form = client.get(link, follow=True).redirect_chain[-1][0]
    new = "Brand-new-pass-2026"
    done = client.post(form, {"new_password1": new, "new_password2": new})
    assert done.url == reverse("password_reset_complete")

    # then the new password logs them in at once
    assert log_in(client, guest.username, new).status_code == 302
