"""Redis down (cache and broker alike): pages are served and events still commit."""

import pytest
from django.db import transaction

from notifications.models import Notification
from notifications.services import notify_booking_event
from tests.factories import HotelFactory, RoomTypeFactory
from tests.notifications.conftest import celery_broker
from tests.notifications.factories import booking_with_nights

CLOSED_PORT = "redis://127.0.0.1:1/0"


@pytest.fixture
def redis_down(settings):
    """Point the cache at a port where nothing listens."""
    settings.CACHES = {
        "default": {
            **settings.CACHES["default"],
            "LOCATION": CLOSED_PORT,
        }
    }


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/health/", "/", "/hotels/"])
def test_pages_are_served_when_redis_is_down(redis_down, client, path):
    RoomTypeFactory(hotel=HotelFactory(name="Casa Azul"))

    response = client.get(path)

    assert response.status_code == 200


@pytest.mark.django_db
def test_hotel_page_is_served_when_redis_is_down(redis_down, client):
    hotel = HotelFactory(name="Casa Azul")
    RoomTypeFactory(hotel=hotel)

    response = client.get(hotel.get_absolute_url())

    assert response.status_code == 200
    assert "Casa Azul" in response.content.decode()


@pytest.mark.django_db(transaction=True)
def test_booking_event_commits_when_redis_is_down_for_cache_and_broker(redis_down):
    booking = booking_with_nights(guest_email="ana@example.com")

    with celery_broker(CLOSED_PORT), transaction.atomic():
        notify_booking_event(booking=booking, event="confirmed")

    row = Notification.objects.get(booking=booking, kind=Notification.Kind.BOOKING_CONFIRMED)
    assert row.status == Notification.Status.PENDING
