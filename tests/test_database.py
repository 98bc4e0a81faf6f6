"""How the application talks to PostgreSQL."""

import pytest
from django.db import connection

from hotel.models import Hotel
from tests.factories import HotelFactory

pytestmark = pytest.mark.django_db


def _prepared_statements() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        return [row[0] for row in cursor.fetchall()]


def test_a_statement_run_again_and_again_is_prepared_and_no_longer_planned_each_time():
    hotel = HotelFactory()
    Hotel.objects.filter(slug=hotel.slug).exists()
    assert not [s for s in _prepared_statements() if '"hotel_hotel"' in s]

    for _ in range(5):
        assert Hotel.objects.filter(slug=hotel.slug).exists()

    prepared = [s for s in _prepared_statements() if '"hotel_hotel"' in s]
    # The slug travels as a parameter, so one statement serves every hotel.
    assert len(prepared) == 1
    assert "$1" in prepared[0] and hotel.slug not in prepared[0]
