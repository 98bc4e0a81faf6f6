import re
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


def flip_table_data(path: Path, count: int = 16) -> None:
    """Flip bytes inside the largest compressed table data of a pg_dump custom archive.

    The custom format keeps each table's rows as one zlib stream (header
    78 9C) after the table of contents. Where the middle of the file falls
    depends on how long the table of contents is, and bytes flipped in a
    comment of it restore without complaint; flipped inside the rows, only a
    restore can notice (zlib's checksum), which is the damage under test.
    """
    data = bytearray(path.read_bytes())
    starts = [match.start() for match in re.finditer(rb"\x78\x9c", data)]
    assert starts, f"{path} holds no compressed table data"
    spans = zip(starts, [*starts[1:], len(data)], strict=True)
    start, end = max(spans, key=lambda span: span[1] - span[0])
    middle = (start + end) // 2
    for i in range(middle, min(middle + count, end)):
        data[i] ^= 0xFF
    path.write_bytes(bytes(data))
