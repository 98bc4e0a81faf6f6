"""Log formatting and the slow-query log.

Every log line carries the request id (django-guid puts it on the record as
``correlation_id``). Queries slower than ``SLOW_QUERY_MS`` are logged with their
SQL and duration by a database execute wrapper installed on every connection.
"""

import json
import logging
import time

from django.conf import settings
from django.db.backends.signals import connection_created
from django.dispatch import receiver

slow_query_logger = logging.getLogger("hotel.slow_query")


class JsonFormatter(logging.Formatter):
    """One JSON object a line, for log shippers."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": self.formatTime(record),
            "level": record.levelname,
            "logger": record.name,
            "request_id": getattr(record, "correlation_id", None),
            "msg": record.getMessage(),
        }
        for field in ("sql", "duration_ms"):
            if hasattr(record, field):
                entry[field] = getattr(record, field)
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def slow_query_wrapper(execute, sql, params, many, context):
    started = time.perf_counter()
    try:
        return execute(sql, params, many, context)
    finally:
        elapsed_ms = (time.perf_counter() - started) * 1000
        if elapsed_ms >= settings.SLOW_QUERY_MS:
            slow_query_logger.warning(
                "slow query duration_ms=%.1f sql=%s",
                elapsed_ms,
                sql,
                extra={"sql": sql, "duration_ms": round(elapsed_ms, 1)},
            )


@receiver(connection_created, dispatch_uid="hotel.observability.slow_query")
def install_slow_query_wrapper(sender, connection, **kwargs) -> None:
    if slow_query_wrapper not in connection.execute_wrappers:
        connection.execute_wrappers.append(slow_query_wrapper)
