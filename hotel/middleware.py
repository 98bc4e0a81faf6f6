"""Requests no page can answer: refused before any view runs, or when the database is down."""

import logging

from django.core.exceptions import BadRequest
from django.db import OperationalError, connections
from django.http import HttpResponse
from django.template import loader
from django.utils.cache import add_never_cache_headers

from config.postgresql.base import DatabaseUnreachable

logger = logging.getLogger(__name__)

NUL = "\x00"


def reject_nul_characters(get_response):
    """Answer 400 to a NUL character in the path, the query string or a posted form.

    PostgreSQL text cannot hold one, so a value that reaches a query with it
    fails there (a 500): an admin list filter or search, a reference in a
    URL. Django's form fields already refuse it with a message; what a view
    or the admin reads straight from the request does not, and no browser
    sends one unless someone typed ``%00`` on purpose.
    """

    def middleware(request):
        if (
            NUL in request.path_info
            or _has_nul(request.GET)
            or (request.method == "POST" and _has_nul(request.POST))
        ):
            raise BadRequest("The request contains a NUL character.")
        return get_response(request)

    return middleware


def _has_nul(data) -> bool:
    return any(NUL in key or any(NUL in value for value in values) for key, values in data.lists())


class DatabaseUnreachableMiddleware:
    """Answer 503 with a page that says so when a view lost the database or never reached it.

    Django's answer would be its 500 page, after a traceback in the log for
    every request of the outage; a 503 with Retry-After tells browsers,
    crawlers and load balancers that it will pass. A request that could not
    connect ran no statement (config.postgresql), so the page says nothing
    was booked or changed. One whose connection broke under it may have
    committed before the answer was lost, so the page says to wait for the
    email that each confirmation and cancellation sends, and the error is
    logged with its traceback. Pages the read cache serves without the
    database are not affected.
    """

    RETRY_AFTER_S = 30

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        for db in connections.all(initialized_only=True):
            db.lost_connection = False
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not isinstance(exception, OperationalError):
            return None
        lost = _a_connection_was_lost()
        if lost:
            logger.warning(
                "The database connection broke during %s %s; it may have committed.",
                request.method,
                request.path,
                exc_info=exception,
            )
        elif not isinstance(exception.__cause__, DatabaseUnreachable):
            return None
        # No request context: its processors may need the database too.
        page = loader.render_to_string("503.html", {"never_connected": not lost})
        response = HttpResponse(page, status=503)
        response["Retry-After"] = str(self.RETRY_AFTER_S)
        add_never_cache_headers(response)
        return response


def _a_connection_was_lost() -> bool:
    """Whether a connection of this request broke (psycopg's ``broken``), open or since closed."""
    return any(
        getattr(db, "lost_connection", False) or getattr(db.connection, "broken", False)
        for db in connections.all(initialized_only=True)
    )
