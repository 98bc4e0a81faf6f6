"""Password reset emails are capped per address and per client, and never reveal accounts."""

from types import SimpleNamespace

import pytest
from django.core import mail
from django.urls import reverse

from tests.caching.test_failopen import redis_down  # noqa: F401  (fixture)
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

REFUSED = "Too many reset links were asked for"


def ask(client, email, *, address="203.0.113.7"):
    return client.post(reverse("password_reset"), {"email": email}, REMOTE_ADDR=address)


@pytest.fixture
def caps(settings):
    settings.PASSWORD_RESET_RATE_PER_EMAIL = "3/h"
    settings.PASSWORD_RESET_RATE_PER_CLIENT = "10/h"


def test_an_address_gets_three_links_an_hour_then_a_clear_refusal(client, caps):
    guest = UserFactory(email="ana@example.com")
    asked = ("ana@example.com", "ANA@example.com ", "ana@example.com") * 2
    answers = [ask(client, email) for email in asked]

    assert [a.status_code for a in answers] == [302, 302, 302, 429, 429, 429]
    assert REFUSED in answers[3].content.decode()
    assert len(mail.outbox) == 3
    assert {m.to[0] for m in mail.outbox} == {guest.email}


def test_the_cap_is_the_same_for_an_address_without_an_account(client, caps):
    UserFactory(email="ana@example.com")
    known = [ask(client, "ana@example.com", address="198.51.100.1").status_code for _ in range(4)]
    unknown = [
        ask(client, "nobody@example.com", address="198.51.100.2").status_code for _ in range(4)
    ]

    assert known == unknown == [302, 302, 302, 429]


def test_one_client_cannot_mail_many_addresses(client, caps):
    users = [UserFactory(email=f"guest{i}@example.com") for i in range(11)]
    statuses = [ask(client, user.email).status_code for user in users]

    assert statuses == [302] * 10 + [429]
    assert len(mail.outbox) == 10
    # another connection is not held back by this one
    assert ask(client, users[-1].email, address="192.0.2.50").status_code == 302
    assert len(mail.outbox) == 11


def test_with_redis_down_reset_links_are_still_sent(client, caps, redis_down):  # noqa: F811
    UserFactory(email="ana@example.com")
    statuses = [ask(client, "ana@example.com").status_code for _ in range(5)]

    assert statuses == [302] * 5
    assert len(mail.outbox) == 5


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


def test_one_client_cannot_mail_many_addresses_from_many_addresses_of_its_ipv6_network(
    client, caps
):
    # One IPv6 host is handed a whole /64 and may send from any address in it.
    users = [UserFactory(email=f"guest{i}@example.com") for i in range(11)]
    statuses = [
        ask(client, user.email, address=f"2001:db8:5:7::{i + 1:x}").status_code
        for i, user in enumerate(users)
    ]

    assert statuses == [302] * 10 + [429]
    assert len(mail.outbox) == 10
    # another network is not held back by this one
    assert ask(client, users[-1].email, address="2001:db8:5:8::1").status_code == 302


def test_the_request_leaves_the_mail_to_a_worker_and_queues_it_for_any_address(
    client, caps, monkeypatch
):
    # Sending in the request made a known address answer later than an unknown
    # one by the mail server's time (up to EMAIL_TIMEOUT): an account oracle.
    from bookings import tasks

    queued = []
    task = SimpleNamespace(delay=lambda **kwargs: queued.append(kwargs))
    monkeypatch.setattr(tasks, "send_password_reset_task", task, raising=False)
    UserFactory(email="ana@example.com")

    known = ask(client, "ana@example.com")
    unknown = ask(client, "nobody@example.com")

    assert known.status_code == unknown.status_code == 302
    assert mail.outbox == []
    assert [job["email"] for job in queued] == ["ana@example.com", "nobody@example.com"]


def test_the_queued_reset_mails_the_accounts_with_the_address_and_nobody_else(client, caps):
    guest = UserFactory(email="ana@example.com")

    ask(client, "ana@example.com")
    ask(client, "nobody@example.com")

    [email] = mail.outbox
    assert email.to == [guest.email]
    assert email.subject == "Reset your password for Hotel bookings"
    assert "http://testserver/accounts/password/reset/" in email.body


def test_with_the_broker_down_the_reset_link_is_sent_from_the_request(client, caps, monkeypatch):
    from kombu.exceptions import OperationalError

    from bookings import tasks

    def broker_down(**kwargs):
        raise OperationalError("Error 111 connecting to the broker")

    monkeypatch.setattr(tasks.send_password_reset_task, "delay", broker_down)
    guest = UserFactory(email="ana@example.com")

    assert ask(client, "ana@example.com").status_code == 302
    [email] = mail.outbox
    assert email.to == [guest.email]


def test_with_the_broker_down_only_the_first_reset_waits_for_it(
    client, caps, settings, monkeypatch, caplog
):
    from bookings import tasks
    from tests.notifications.conftest import celery_broker
    from tests.notifications.test_tasks import UNREACHABLE_BROKER

    settings.NOTIFICATION_PUBLISH_PAUSE_SECONDS = 60
    task = tasks.send_password_reset_task
    tries = []
    publish = task.delay
    monkeypatch.setattr(task, "delay", lambda **kwargs: tries.append(1) or publish(**kwargs))
    guest = UserFactory(email="ana@example.com")

    with celery_broker(UNREACHABLE_BROKER):
        # given a reset whose task could not be queued, and was mailed from the request
        assert ask(client, "ana@example.com").status_code == 302
        assert len(tries) == 1
        assert "Not queueing from this process for 60 s" in caplog.text

        # when another guest asks during the pause
        assert ask(client, "ana@example.com", address="198.51.100.9").status_code == 302

    # then the broker was not tried again (each try holds the request for
    # its retries, longer on a silent broker), and both links were mailed
    assert len(tries) == 1
    assert [email.to for email in mail.outbox] == [[guest.email]] * 2


def test_a_link_mailed_by_a_worker_keeps_the_path_the_site_is_served_under(
    client, caps, monkeypatch
):
    # given a site served under /hotel (SCRIPT_NAME) and a worker, which has
    # no request and so the default script prefix
    from django.urls import get_script_prefix, set_script_prefix

    from bookings import tasks

    queued = []
    monkeypatch.setattr(
        tasks, "send_password_reset_task", SimpleNamespace(delay=lambda **kw: queued.append(kw))
    )
    UserFactory(email="ana@example.com")
    url = reverse("password_reset")
    # The WSGI handler sets the prefix from SCRIPT_NAME; the test client does not.
    set_script_prefix("/hotel/")
    try:
        client.post(url, {"email": "ana@example.com"})
    finally:
        set_script_prefix("/")
    monkeypatch.undo()

    # when the worker sends it
    tasks.send_password_reset_task(**queued[0])

    # then the link is the one Django's form would have mailed from the request
    [email] = mail.outbox
    assert "http://testserver/hotel/accounts/password/reset/" in email.body
    assert get_script_prefix() == "/"
