"""What gunicorn serves in the load test: the project's WSGI app, counting each endpoint's CPU.

Each request's thread CPU time (``time.thread_time``: this thread's alone, so
the process's other threads do not count) is added to its endpoint's total,
the endpoint being the method and the URL's name. That is the application's
time, from the first middleware to the last; gunicorn's own parsing and
writing are not in it. A thread in every worker writes the process's totals
to LOADTEST_CPU_DIR/<pid>.json four times a second, and the load test reads
the difference over each run.
"""

import json
import os
import threading
import time
from collections import Counter

from django.urls import Resolver404, resolve

from config.wsgi import application as django_application

_cpu: Counter[str] = Counter()
_requests: Counter[str] = Counter()
_lock = threading.Lock()
_directory = os.environ.get("LOADTEST_CPU_DIR", "")


def _endpoint(environ) -> str:
    try:
        match = resolve(environ.get("PATH_INFO", "/"))
    except Resolver404:
        return f"{environ.get('REQUEST_METHOD')} (no route)"
    return f"{environ.get('REQUEST_METHOD')} {match.view_name}"


def application(environ, start_response):
    started = time.thread_time()
    try:
        return django_application(environ, start_response)
    finally:
        spent = time.thread_time() - started
        endpoint = _endpoint(environ)
        with _lock:
            _cpu[endpoint] += spent
            _requests[endpoint] += 1


def _write_totals() -> None:
    path = os.path.join(_directory, f"{os.getpid()}.json")
    while True:
        time.sleep(0.25)
        with _lock:
            totals = {"cpu": dict(_cpu), "requests": dict(_requests)}
        with open(path + ".tmp", "w") as fh:
            json.dump(totals, fh)
        os.replace(path + ".tmp", path)


if _directory:
    threading.Thread(target=_write_totals, name="loadtest-cpu", daemon=True).start()
