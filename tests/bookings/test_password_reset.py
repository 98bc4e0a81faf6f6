"""Account pages: the site's own templates, not the admin's."""

import pytest
from django.core import mail
from django.urls import reverse

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def ask(client, email, *, address="203.0.113.7"):
    return client.post(reverse("password_reset"), {"email": email}, REMOTE_ADDR=address)


def test_account_pages_and_the_reset_email_are_the_sites_own_not_the_admins(client):
    guest = UserFactory(email="ana@example.com")
    reset = client.get(reverse("password_reset")).content.decode()
    ask(client, "ana@example.com")
    sent = client.get(reverse("password_reset_done")).content.decode()
    client.force_login(guest)
    change = client.get(reverse("password_change")).content.decode()

    assert "<h1>Reset your password</h1>" in reset
    assert "<h1>Check your email</h1>" in sent
    assert "<h1>Change your password</h1>" in change
    for page in (reset, sent, change):
        assert "Django site admin" not in page
    [email] = mail.outbox
    assert email.subject == "Reset your password for Hotel bookings"
    assert "Someone (we hope you) asked to reset the password" in email.body
