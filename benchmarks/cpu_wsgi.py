"""What gunicorn serves in the load test: the project's WSGI app, counting each endpoint's CPU.

Each request's thread CPU time (``time.thread_time``: this thread's alone, so
the process's other threads do not count) is added to its endpoint's total,
the endpoint being the method and the name of the URL Django resolved for
it, taken from the request once Django has answered (resolving the path a
second time cost 30 to 50 µs of the server's CPU a request). That is the
application's time, from the first middleware to the last; gunicorn's own
parsing and writing are not in it. A thread in every worker writes the
process's totals to LOADTEST_CPU_DIR/<pid>.json four times a second, and the
load test reads the difference over each run.
"""

import json
import os
import threading
import time
from collections import Counter

import django
from django.core.handlers.wsgi import WSGIHandler

_cpu: Counter[str] = Counter()
_requests: Counter[str] = Counter()
_lock = threading.Lock()
_current = threading.local()
_directory = os.environ.get("LOADTEST_CPU_DIR", "")
UNRESOLVED = "(unresolved)"


class _NamingHandler(WSGIHandler):
    """Django's WSGI handler, noting the endpoint of the request it has just answered."""

    def get_response(self, request):
        response = super().get_response(request)
        match = request.resolver_match
        # A request that matched no URL, or that a middleware answered
        # before the URL was resolved (a NUL character, a host not allowed).
        _current.endpoint = f"{request.method} {match.view_name if match else UNRESOLVED}"
        return response


# Built as config/wsgi.py builds the production application, with this
# handler in place of Django's: one middleware chain, set up before the
# collector is tuned, so that start-up's objects are frozen as they are there.
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.production")
django.setup(set_prefix=False)
django_application = _NamingHandler()

from config.process import tune_garbage_collector  # noqa: E402 - needs the settings

tune_garbage_collector()


def application(environ, start_response):
    started = time.thread_time()
    _current.endpoint = f"{environ.get('REQUEST_METHOD')} {UNRESOLVED}"
    try:
        return django_application(environ, start_response)
    finally:
        spent = time.thread_time() - started
        endpoint = _current.endpoint
        with _lock:
            _cpu[endpoint] += spent
            _requests[endpoint] += 1


def totals() -> dict[str, dict[str, float]]:
    with _lock:
        return {"cpu": dict(_cpu), "requests": dict(_requests)}


def _write_totals() -> None:
    path = os.path.join(_directory, f"{os.getpid()}.json")
    while True:
        time.sleep(0.25)
        with open(path + ".tmp", "w") as fh:
            json.dump(totals(), fh)
        os.replace(path + ".tmp", path)


if _directory:
    threading.Thread(target=_write_totals, name="loadtest-cpu", daemon=True).start()
