"""Reads racing writes on PostgreSQL, in real threads."""

import threading

import pytest
from django.db import connection, transaction

from caching import api
from caching.api import _read_version, cached
from hotel.models import Hotel
from tests.factories import HotelFactory

pytestmark = pytest.mark.django_db(transaction=True)


def read_name(hotel_id: int, loader=None) -> str:
    def load() -> str:
        return Hotel.objects.values_list("name", flat=True).get(pk=hotel_id)

    return cached(f"hotel:{hotel_id}", ["name"], loader or load)


def as_a_fresh_process(hotel_id: int) -> str:
    """Read as a process that has nothing in its local tier would."""
    api.local_tier.clear()
    api.versions.clear()
    return read_name(hotel_id)


def in_thread(target):
    errors = []

    def run():
        try:
            target()
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread, errors


def test_a_read_that_loaded_before_a_write_committed_leaves_nothing_stale():
    hotel = HotelFactory(name="Before")
    loaded, committed = threading.Event(), threading.Event()
    got = []

    def slow_load() -> str:
        name = Hotel.objects.values_list("name", flat=True).get(pk=hotel.pk)
        loaded.set()
        assert committed.wait(10)
        return name

    reader, errors = in_thread(lambda: got.append(read_name(hotel.pk, slow_load)))
    assert loaded.wait(10)
    # given the reader holds the old row, when the write commits
    with transaction.atomic():
        hotel.name = "After"
        hotel.save()
    committed.set()
    reader.join(10)

    # then the reader returns what it read, but nobody is served it again
    assert errors == []
    assert got == ["Before"]
    assert read_name(hotel.pk) == "After"
    assert as_a_fresh_process(hotel.pk) == "After"


def test_readers_hammering_a_hotel_while_it_is_renamed_end_on_the_last_name():
    hotel = HotelFactory(name="name-0")
    stop = threading.Event()
    renames = 15

    def keep_reading():
        while not stop.is_set():
            read_name(hotel.pk)

    readers = [in_thread(keep_reading) for _ in range(3)]

    def rename_repeatedly():
        for n in range(1, renames + 1):
            with transaction.atomic():
                row = Hotel.objects.select_for_update().get(pk=hotel.pk)
                row.name = f"name-{n}"
                row.save()

    writer, writer_errors = in_thread(rename_repeatedly)
    writer.join(30)
    stop.set()
    for thread, _ in readers:
        thread.join(10)

    assert writer_errors == []
    assert all(errors == [] for _, errors in readers)
    assert read_name(hotel.pk) == f"name-{renames}"
    assert as_a_fresh_process(hotel.pk) == f"name-{renames}"


def test_a_write_rolled_back_while_others_read_leaves_the_committed_value():
    hotel = HotelFactory(name="Committed")
    version_before = _read_version(f"hotel:{hotel.pk}")
    written, read = threading.Event(), threading.Event()
    seen_by_writer = []

    def write_then_roll_back():
        with pytest.raises(RuntimeError), transaction.atomic():
            row = Hotel.objects.select_for_update().get(pk=hotel.pk)
            row.name = "Rolled back"
            row.save()
            seen_by_writer.append(read_name(hotel.pk))
            written.set()
            assert read.wait(10)
            raise RuntimeError("card declined")

    writer, errors = in_thread(write_then_roll_back)
    assert written.wait(10)
    during = read_name(hotel.pk)
    read.set()
    writer.join(10)

    assert errors == []
    assert seen_by_writer == ["Rolled back"]
    assert during == "Committed"
    assert _read_version(f"hotel:{hotel.pk}") == version_before
    assert read_name(hotel.pk) == "Committed"
    assert as_a_fresh_process(hotel.pk) == "Committed"
