from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from bookings.models import Booking
from bookings.services import booking_hold
from bookings.tasks import expire_holds_task

from .conftest import sold

pytestmark = pytest.mark.django_db


def test_expire_holds_task_releases_lapsed_holds_and_is_safe_to_repeat(room_type, arrival):
    booking = booking_hold(
        room_type=room_type, check_in=arrival, check_out=arrival + timedelta(days=2), adults=1
    )
    Booking.objects.filter(pk=booking.pk).update(hold_expires_at=timezone.now())

    assert expire_holds_task.delay().get() == 1
    assert expire_holds_task.delay().get() == 0

    booking.refresh_from_db()
    assert booking.status == "expired"
    assert sold(room_type, arrival, 2) == [0, 0]


def test_beat_runs_the_expiry_every_minute():
    entry = settings.CELERY_BEAT_SCHEDULE["bookings-expire-holds"]
    assert entry["task"] == "bookings.expire_holds"
    assert entry["schedule"] == 60.0
    assert expire_holds_task.name == "bookings.expire_holds"


@pytest.mark.parametrize(
    "name", ["bookings-expire-holds", "notifications-sweep", "notifications-backfill-reminders"]
)
def test_a_sweep_queued_during_a_worker_outage_expires_before_the_next_is_due(name):
    # otherwise the queue holds one per period missed, run back to back on restart
    entry = settings.CELERY_BEAT_SCHEDULE[name]
    assert 0 < entry["options"]["expires"] < entry["schedule"]
