"""The load test's WSGI app counts each request's CPU under the name of the URL Django resolved."""

import gc

import pytest
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.test import RequestFactory
from django.urls.resolvers import URLResolver

pytestmark = pytest.mark.django_db


@pytest.fixture
def cpu_wsgi():
    # Importing it sets up the server process as gunicorn's would (the
    # collector tuned and start-up's objects frozen); this process is put back.
    threshold = gc.get_threshold()
    try:
        from benchmarks import cpu_wsgi

        yield cpu_wsgi
    finally:
        gc.unfreeze()
        gc.set_threshold(*threshold)


@pytest.fixture(autouse=True)
def connections_kept():
    # As Django's test client does: the test's transaction outlives the requests.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


def _serve(app, request) -> int:
    statuses = []
    body = app.application(request.environ, lambda status, headers: statuses.append(status))
    b"".join(body)
    body.close()
    return int(statuses[0].split()[0])


def test_each_request_is_counted_under_its_url_name_resolved_once(cpu_wsgi, monkeypatch):
    resolved = []
    resolve = URLResolver.resolve

    def counting(self, path):
        if self.pattern.regex.pattern == "^/":
            resolved.append(path)
        return resolve(self, path)

    monkeypatch.setattr(URLResolver, "resolve", counting)
    before = cpu_wsgi.totals()["requests"]
    factory = RequestFactory()

    statuses = [
        _serve(cpu_wsgi, factory.get("/")),
        _serve(cpu_wsgi, factory.get("/")),
        _serve(cpu_wsgi, factory.get("/no/such/page/")),
        # No CSRF token: refused by a middleware once the URL was resolved.
        _serve(cpu_wsgi, factory.post("/bookings/hold/")),
        # Refused by a middleware before the URL was resolved.
        _serve(cpu_wsgi, factory.get("/", {"q": "\x00"})),
    ]

    after = cpu_wsgi.totals()
    counted = {
        endpoint: n - before.get(endpoint, 0)
        for endpoint, n in after["requests"].items()
        if n != before.get(endpoint, 0)
    }
    assert statuses == [200, 200, 404, 403, 400]
    assert counted == {"GET hotel:home": 2, "GET (unresolved)": 2, "POST bookings:hold": 1}
    assert after["cpu"]["GET hotel:home"] > 0
    # Django resolved each path it answered past the NUL check once, and
    # naming the endpoint resolved none again.
    assert resolved == ["/", "/", "/no/such/page/", "/bookings/hold/"]
