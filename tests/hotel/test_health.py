import json

import pytest
from django.test import override_settings
from django.urls import reverse

pytestmark = pytest.mark.django_db

CLOSED_REDIS = {
    "default": {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": "redis://127.0.0.1:1/0",
        "OPTIONS": {
            "CLIENT_CLASS": "django_redis.client.DefaultClient",
            "SOCKET_CONNECT_TIMEOUT": 0.1,
            "SOCKET_TIMEOUT": 0.1,
            "IGNORE_EXCEPTIONS": True,
        },
    }
}


def test_health_is_ok_when_database_and_cache_answer(client):
    response = client.get(reverse("health"))
    body = response.json()
    assert response.status_code == 200
    assert body["checks"]["database"]["status"] == "ok"
    assert body["checks"]["cache"]["status"] == "ok"
    assert response["Cache-Control"].startswith("max-age=0")


def test_health_reports_a_cache_outage_as_degraded_not_down(client):
    with override_settings(CACHES=CLOSED_REDIS):
        response = client.get(reverse("health"))
    body = json.loads(response.content)
    assert response.status_code == 200
    assert body["status"] == "degraded"
    assert body["checks"]["cache"]["status"] == "error"


def test_health_is_degraded_until_a_backup_has_been_verified(client):
    body = client.get(reverse("health")).json()
    assert body["checks"]["backups"]["status"] == "degraded"
    assert body["checks"]["backups"]["reason"] == "no verified backup"
    assert body["status"] == "degraded"


def test_health_shows_staff_the_read_cache_statistics(staff_client):
    body = staff_client.get(reverse("health")).json()
    assert body["cache_stats"]["backend_available"] is True
    assert "size" in body["cache_stats"]["local"]


def test_health_hides_error_details_and_cache_internals_from_the_public(client):
    with override_settings(CACHES=CLOSED_REDIS):
        body = client.get(reverse("health")).json()
    assert body["checks"]["cache"] == {"status": "error"}
    assert "cache_stats" not in body


def test_health_reports_a_broker_outage_at_once_as_degraded_not_down(client):
    import socket
    import threading

    from tests.notifications.conftest import celery_broker

    # a broker that takes each connection and hangs up
    listener = socket.create_server(("127.0.0.1", 0))
    attempts = []

    def hang_up() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            attempts.append(conn)
            conn.close()

    threading.Thread(target=hang_up, daemon=True).start()
    try:
        # Celery's conf reads the setting through: change it only inside
        # celery_broker, which puts the conf back as it found it.
        with (
            celery_broker(f"redis://127.0.0.1:{listener.getsockname()[1]}/0"),
            override_settings(CELERY_TASK_ALWAYS_EAGER=False),
        ):
            response = client.get(reverse("health"))
    finally:
        listener.close()

    body = json.loads(response.content)
    assert response.status_code == 200
    assert body["status"] == "degraded"
    assert body["checks"]["broker"]["status"] == "error"
    # one attempt: a retry would first wait two seconds, longer than a load
    # balancer gives the probe, and the probe is asked again anyway
    assert len(attempts) == 1


def test_health_does_not_wait_the_publishers_connect_timeout_on_a_broker_that_drops_packets(
    client, settings
):
    import socket
    import time

    from tests.notifications.conftest import celery_broker

    # a broker host that drops packets: its accept queue (one place) is
    # full and never read, so a new connection's handshake goes unanswered
    listener = socket.create_server(("127.0.0.1", 0), backlog=0)
    address = listener.getsockname()
    queued = socket.create_connection(address)
    # and publishers that would wait for it far longer than a probe may take
    publishers_timeout = 8
    settings.CELERY_BROKER_CONNECTION_TIMEOUT = publishers_timeout
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {
        **settings.CELERY_BROKER_TRANSPORT_OPTIONS,
        "socket_connect_timeout": publishers_timeout,
    }
    try:
        with (
            celery_broker(f"redis://127.0.0.1:{address[1]}/0"),
            override_settings(CELERY_TASK_ALWAYS_EAGER=False),
        ):
            started = time.monotonic()
            response = client.get(reverse("health"))
            waited = time.monotonic() - started
    finally:
        queued.close()
        listener.close()

    assert response.status_code == 200
    assert response.json()["checks"]["broker"]["status"] == "error"
    # A bound, not a speed check: the probe gives up after its own second;
    # at the publishers' timeout it would have waited eight.
    assert waited < publishers_timeout / 2
