from datetime import date, timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from inventory.models import RoomInventory
from inventory.tasks import inventory_keep_window_task
from tests.factories import RoomFactory, RoomTypeFactory

pytestmark = pytest.mark.django_db


def test_keep_window_task_generates_the_configured_window(settings):
    settings.INVENTORY_WINDOW_DAYS = 20
    room_type = RoomTypeFactory()
    RoomFactory(room_type=room_type)

    created = inventory_keep_window_task.delay().get()

    assert created == 20
    assert inventory_keep_window_task.delay().get() == 0
    assert RoomInventory.objects.filter(room_type=room_type, total=1).count() == 20


def test_beat_runs_the_window_task_daily(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["inventory-keep-window"]

    assert entry["task"] == inventory_keep_window_task.name


def test_generate_inventory_command_for_one_hotel():
    room_type = RoomTypeFactory()
    RoomTypeFactory()
    out = StringIO()

    call_command(
        "generate_inventory",
        hotel=room_type.hotel.slug,
        start=(date.today() + timedelta(days=1)).isoformat(),
        days=10,
        stdout=out,
    )

    assert "10 nights created" in out.getvalue()
    assert RoomInventory.objects.count() == 10


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"start": "soon"}, "--start must be a date"),
        ({"days": 0}, "--days must be between"),
        ({"hotel": "nowhere"}, "No hotel with the slug"),
    ],
)
def test_generate_inventory_command_refuses_bad_options(options, message):
    with pytest.raises(CommandError, match=message):
        call_command("generate_inventory", **options)
