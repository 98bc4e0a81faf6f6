import logging

import pytest
from django.db import connection
from django.test import override_settings
from django.urls import reverse
from django_guid.log_filters import CorrelationId

from hotel.observability import JsonFormatter

pytestmark = pytest.mark.django_db


def test_a_request_id_is_generated_and_returned(client):
    response = client.get(reverse("health"))
    assert len(response["X-Request-ID"]) == 32


def test_a_request_id_sent_by_the_proxy_is_kept(client):
    response = client.get(reverse("health"), headers={"X-Request-ID": "lb-abc-123"})
    assert response["X-Request-ID"] == "lb-abc-123"


class _Capture(logging.Handler):
    def __init__(self):
        super().__init__()
        self.lines = []
        self.addFilter(CorrelationId())
        self.setFormatter(JsonFormatter())

    def emit(self, record):
        self.lines.append(self.format(record))


def test_log_lines_written_during_a_request_carry_its_id(client):
    handler = _Capture()
    logger = logging.getLogger("django.request")
    logger.addHandler(handler)
    try:
        client.get("/hotels/no-such-hotel/", headers={"X-Request-ID": "req-42"})
    finally:
        logger.removeHandler(handler)
    assert any('"request_id": "req-42"' in line for line in handler.lines), handler.lines


def test_queries_slower_than_the_threshold_are_logged_with_their_sql(caplog):
    with override_settings(SLOW_QUERY_MS=0), caplog.at_level("WARNING", "hotel.slow_query"):
        connection.ensure_connection()
        with connection.cursor() as cursor:
            cursor.execute("SELECT 42 AS answer")
    records = [r for r in caplog.records if r.name == "hotel.slow_query"]
    assert records and "SELECT 42 AS answer" in records[-1].sql
    assert records[-1].duration_ms >= 0


def test_fast_queries_are_not_logged(caplog):
    with (
        override_settings(SLOW_QUERY_MS=60_000),
        caplog.at_level("WARNING", "hotel.slow_query"),
        connection.cursor() as cursor,
    ):
        cursor.execute("SELECT 1")
    assert not [r for r in caplog.records if r.name == "hotel.slow_query"]
