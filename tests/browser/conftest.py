"""Browser tests: the real UI in Debian's headless Chromium, driven by Playwright.

They need ``/usr/bin/chromium`` (``apt-get install chromium``; ``.ci/run`` installs it). Without
it they skip with a message saying so. Playwright's own browser downloads are never used.

Every test runs against pytest-django's ``live_server`` with the demo organisation loaded
(``demo`` fixture) and gets a fresh browser context (``page``), so no cookie or session leaks
from one test to the next.
"""

from __future__ import annotations

import io
import os
import shutil

import pytest
from playwright.sync_api import expect

from tests.browser.helpers import DEMO_PASSWORD, Demo
from tests.browser.snapshot import DatabaseSnapshot

CHROMIUM = os.environ.get("REVLINE_CHROMIUM", shutil.which("chromium") or "/usr/bin/chromium")

# Playwright's sync API runs an event loop in this thread; the live server and the ORM calls the
# tests make themselves are ordinary synchronous code.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

# Assertions wait up to 10 s (Playwright's default is 5): CI machines are sometimes busy.
expect.set_options(timeout=10_000)


@pytest.fixture(scope="session")
def browser():
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"browser tests need Chromium at {CHROMIUM} (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    """A page in a fresh browser context; the test errors if a script on it failed."""
    context = browser.new_context(viewport={"width": 1366, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    script_errors: list[str] = []
    page.on("pageerror", lambda error: script_errors.append(str(error)))
    yield page
    context.close()
    assert not script_errors, f"JavaScript errors on the page: {script_errors}"


# --- the demo organisation behind a live server -----------------------------------------------


@pytest.fixture(scope="session")
def _demo_snapshot() -> dict:
    """The demo database as first loaded (see ``demo``), kept for the whole session."""
    holder: dict = {}
    yield holder
    if holder.get("snapshot") is not None:
        holder["snapshot"].close()


@pytest.fixture
def demo(browser, live_server, transactional_db, monkeypatch, _demo_snapshot) -> Demo:
    """The demo organisation (``revline demo``), committed so that the live server sees it.

    ``live_server`` brings ``transactional_db``: the tables are emptied after each test, so every
    test starts from the same, untouched demo org, whatever the one before it changed. Requests
    ``browser`` first so that a machine without Chromium skips before loading anything.

    The first test loads the demo and copies the database's rows aside; later tests get that
    copy back (``snapshot.py``: SQLite's backup API, PostgreSQL's COPY), which takes a fraction
    of the loader's time. Where no copy can be taken, every test runs the loader.
    """
    from django.core.management import call_command
    from django.db import connection

    monkeypatch.setenv("REVLINE_DEMO_PASSWORD", DEMO_PASSWORD)
    if "snapshot" not in _demo_snapshot:
        call_command("demo", stdout=io.StringIO())
        _demo_snapshot["snapshot"] = DatabaseSnapshot.take(connection)
    elif _demo_snapshot["snapshot"] is None:
        call_command("demo", stdout=io.StringIO())
    else:
        _demo_snapshot["snapshot"].restore(connection)
    return Demo(url=live_server.url, password=DEMO_PASSWORD)
