"""End-to-end tests: Debian's Chromium driven by Playwright against live_server.

Playwright never downloads a browser here: it launches the system Chromium
(CHROMIUM_PATH, /usr/bin/chromium by default; `apt-get install chromium`).
"""

import os
import shutil
from pathlib import Path

import pytest
from django.db import connections

from tests.servers import require

CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        require(f"Chromium not found at {CHROMIUM}: apt-get install chromium, or set CHROMIUM_PATH")
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread while it is
    # open, so for the module only; the tests' own ORM calls between page
    # actions are synchronous and safe. Child processes never inherit the
    # flag (tests/servers.py).
    #
    # Under a running loop Django keeps this thread's connections apart from
    # those it holds without one (asgiref's thread-critical Local), and
    # neither set can close the other's. Closed on the way in and on the way
    # out, neither is left open unseen: a restore in place refuses to run
    # beside any other session on the database. The way out matters most:
    # the loop's set is never seen again once it stops. It is closed while
    # the flag still allows it (close() refuses under a running loop).
    connections.close_all()
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                yield browser
            finally:
                try:
                    browser.close()
                finally:
                    connections.close_all()
    finally:
        os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)


@pytest.fixture
def page(browser, tmp_path):
    context = browser.new_context(viewport={"width": 1100, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()
