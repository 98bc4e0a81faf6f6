from pathlib import Path

import pytest
from django.conf import settings as django_settings

from backups.engines import PostgresEngine, Snapshot


@pytest.fixture
def backup_dir(tmp_path, settings) -> Path:
    settings.BACKUP_DIR = tmp_path / "backups"
    return settings.BACKUP_DIR


@pytest.fixture
def hotel_data(django_user_model):
    """A little of everything: hotels, room types, rooms, users."""
    from tests.factories import HotelFactory, RoomTypeFactory, UserFactory

    for _ in range(2):
        room_type = RoomTypeFactory(hotel=HotelFactory())
        RoomTypeFactory(hotel=room_type.hotel)
    UserFactory.create_batch(3)


def live_snapshot() -> Snapshot:
    """Row counts and migrations of the test database as other connections see it."""
    engine = PostgresEngine(django_settings.DATABASES["default"])
    with engine._connect() as conn:
        return engine._snapshot(conn)


def scratch_databases() -> list[str]:
    engine = PostgresEngine(django_settings.DATABASES["default"])
    with engine._connect(django_settings.BACKUP_PG_MAINTENANCE_DB) as conn:
        name = django_settings.DATABASES["default"]["NAME"]
        rows = conn.execute(
            "SELECT datname FROM pg_database WHERE datname LIKE %s", [f"{name[:30]}_verify_%"]
        )
        return [row[0] for row in rows]


def truncate(path: Path, keep: float = 0.6) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])


def flip_bytes(path: Path, at: float = 0.5, count: int = 16) -> None:
    data = bytearray(path.read_bytes())
    start = int(len(data) * at)
    for i in range(start, min(start + count, len(data))):
        data[i] ^= 0xFF
    path.write_bytes(bytes(data))
