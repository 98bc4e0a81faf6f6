"""How the application talks to PostgreSQL."""

import json

import pytest
from django.db import connection

from hotel.models import Hotel
from tests.factories import HotelFactory
from tests.servers import python

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


def test_the_suite_keeps_the_options_of_its_database_url_beside_the_binding_options():
    # given a DATABASE_URL that carries connection options, as CI's often do
    url = "postgres://postgres@127.0.0.1:5432/hotel?connect_timeout=7"
    # when the test settings are read
    result = python(
        "import json; from django.conf import settings; "
        "print(json.dumps(settings.DATABASES['default']['OPTIONS']))",
        DATABASE_URL=url,
    )
    # then the URL's options and the binding options are both there
    assert result.returncode == 0, result.stderr
    options = json.loads(result.stdout.strip().splitlines()[-1])
    assert options["connect_timeout"] == 7
    assert options["server_side_binding"] is True


@pytest.mark.parametrize("threshold", ["off", "-1", "5.5", "²"])
def test_a_prepare_threshold_that_is_not_a_whole_number_is_refused_with_a_clear_message(
    threshold,
):
    result = python(
        "from django.conf import settings; settings.DATABASES", DB_PREPARE_THRESHOLD=threshold
    )
    assert result.returncode != 0
    assert "DB_PREPARE_THRESHOLD must be a whole number, or empty" in result.stderr
    assert repr(threshold) in result.stderr


def test_a_negative_network_timeout_is_refused_with_a_clear_message():
    result = python(
        "from django.conf import settings; settings.DATABASES", DB_NETWORK_TIMEOUT_SECONDS="-1"
    )
    assert result.returncode != 0
    assert "DB_NETWORK_TIMEOUT_SECONDS must be 0 (the kernel's defaults) or more" in result.stderr


def test_a_network_timeout_of_0_leaves_the_kernels_defaults_and_the_url_may_set_its_own():
    code = (
        "import json; from django.conf import settings; "
        "print(json.dumps(settings.DATABASES['default']['OPTIONS']))"
    )
    off = python(code, DB_NETWORK_TIMEOUT_SECONDS="0")
    assert off.returncode == 0, off.stderr
    options = json.loads(off.stdout.strip().splitlines()[-1])
    assert not {"connect_timeout", "tcp_user_timeout", "keepalives"} & set(options)

    url = "postgres://postgres@127.0.0.1:5432/hotel?tcp_user_timeout=20000"
    own = python(code, DATABASE_URL=url, DB_NETWORK_TIMEOUT_SECONDS="2.5")
    assert own.returncode == 0, own.stderr
    options = json.loads(own.stdout.strip().splitlines()[-1])
    assert options["tcp_user_timeout"] == 20000
    assert options["connect_timeout"] == 3
    assert options["keepalives_idle"] == 3
