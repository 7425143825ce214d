"""Real-browser tests: the app served on 127.0.0.1 by a real server, driven by Chromium.

- `live_server` (session): `create_app` through `make_app` (the suite's test config and its
  own migrated database: a SQLite file, or a fresh PostgreSQL database when TEST_DATABASE_URL
  is set, like every other test module), served by werkzeug's threaded `make_server` on a free
  port in a background thread, shut down at the end of the session.
- `app` is overridden here to be the live server's app, so the root `_clean_database` fixture
  empties its tables after every browser test and the factories (`make_user`, `make_series`,
  ...) and services seed the database the browser sees: seed in the test, then drive the page.
  Before each request the browser sends, the test's own transaction is committed (see `page`).
- `chromium` (session) and `page` (a new context and page per test, with `base_url` set, so
  `page.goto("/timetable/exceptions")` works). A console error, a CSP violation (a console
  message of any level, or a `securitypolicyviolation` event), an uncaught page error or an
  exception in the server fails the test; a test that provokes an HTTP error on purpose says
  so with `console.allow_http_error(422)`.
- `log_in(role_or_user)` creates the user if given a role, logs the page in, returns the user.
- On failure a screenshot of the page is saved in test-artifacts/.
- The wall clock of the whole package (tests and the live server, one process) is pinned at
  `PINNED_NOW` and ticks from there: data built from "now" and the pages showing it agree at
  any hour. Modules take their dates from `PINNED_NOW`/`PINNED_TODAY`, never from the clock
  at import. The browser itself needs no shifted clock: the pages compute no dates in script.

Every test in this package is marked `browser` and skipped (or failed, with REQUIRE_BROWSER=1)
when Chromium is missing.
"""

from __future__ import annotations

import contextlib
import os
import re
import threading
from pathlib import Path

import pytest
import time_machine
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import expect, sync_playwright
from sqlalchemy import event
from werkzeug.serving import WSGIRequestHandler, make_server

from models import db
from tests.browser.helpers import login, safe_name, screenshot
from tests.conftest import PINNED_NOW, TEST_PASSWORD, make_app

HERE = Path(__file__).resolve().parent
CHROMIUM_PATH = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# Actions and `expect` give up after this many milliseconds (Playwright's defaults are 30 s
# and 5 s): room for a busy CI machine, without a 30-second wait per missing element.
TIMEOUT_MS = 10_000
expect.set_options(timeout=TIMEOUT_MS)

_reports = pytest.StashKey[dict]()
_guards = pytest.StashKey["ErrorGuard"]()


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items):
    # tryfirst: the marker must be there before `-m browser` / `-m "not browser"` selects.
    for item in items:
        if HERE in item.path.parents:
            item.add_marker(pytest.mark.browser)
            # The live server is werkzeug's development server: when Chromium drops a
            # connection (a cancelled favicon or poll) a static file can be garbage-collected
            # unclosed in a server thread, which would fail whichever test runs then. The
            # app's own resource handling is checked by the rest of the suite.
            item.add_marker(pytest.mark.filterwarnings("ignore::ResourceWarning"))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    item.stash.setdefault(_reports, {})[report.when] = report
    return report


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    result = yield  # re-raises the test's own failure, which then wins
    guard = item.stash.get(_guards, None)
    if guard is not None:
        guard.check()
    return result


@pytest.fixture(scope="package", autouse=True)
def _pinned_wall_clock():
    # Package scope: set up before the modules' seeding fixtures, undone before the rest of
    # the suite runs on the real clock.
    with time_machine.travel(PINNED_NOW, tick=True):
        yield


@pytest.fixture(scope="session", autouse=True)
def _require_chromium():
    if not os.access(CHROMIUM_PATH, os.X_OK):
        message = (
            f"Chromium not found at {CHROMIUM_PATH}: install it with `apt-get install -y "
            "chromium` (the browser tests drive it through Playwright)"
        )
        if os.environ.get("REQUIRE_BROWSER") == "1":
            pytest.fail(message + "; REQUIRE_BROWSER=1 forbids skipping them", pytrace=False)
        pytest.skip(message)


class _QuietHandler(WSGIRequestHandler):
    """No line per request (Chromium fetches many); errors are still logged."""

    def log_request(self, code="-", size="-"):
        pass


class LiveServer:
    """`app` served on 127.0.0.1 (a free port) by a threaded werkzeug server in a thread."""

    def __init__(self, app):
        self.app = app
        self.errors: list[str] = []
        self._server = make_server(
            "127.0.0.1", 0, self._wsgi, threaded=True, request_handler=_QuietHandler
        )
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="live-server", daemon=True
        )

    def _wsgi(self, environ, start_response):
        # TESTING propagates unhandled exceptions: werkzeug answers 500 and logs them; keep
        # them too, so that the test fails with the server's error and not a vague timeout.
        try:
            return self.app(environ, start_response)
        except Exception as err:
            self.errors.append(f"{environ['REQUEST_METHOD']} {environ['PATH_INFO']}: {err!r}")
            raise

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._thread.join(timeout=10)
        self._server.server_close()
        with self.app.app_context():
            db.engine.dispose()


def _test_thread_reads_without_the_write_lock(app) -> None:
    """On SQLite a transaction outside a request begins with BEGIN IMMEDIATE (models/__init__):
    the write lock from its first statement. In the test's own thread that would be a race
    with the server: a test reading `user.id` (expired by a commit) just after a click holds
    the lock, and the request the click sent waits for it while the test waits for the page.
    The test's transactions begin deferred instead; its writes take the lock when they come,
    and its transaction ends before each request the browser sends (`open_page`)."""
    test_thread = threading.current_thread()

    def defer_in_test_thread(connection):
        # On connecting, before its transaction begins (the class-wide `begin` listener
        # reads the option).
        if threading.current_thread() is test_thread:
            connection.execution_options(termtable_reads_only=True)

    with app.app_context():
        event.listen(db.engine, "engine_connect", defer_in_test_thread)


@pytest.fixture(scope="session")
def live_server(tmp_path_factory):
    server = LiveServer(make_app(tmp_path_factory))
    _test_thread_reads_without_the_write_lock(server.app)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def app(live_server):
    """The live server's app: the root `_clean_database` fixture then wipes its tables after
    each test, and keeps its app context open in the test, where factories and services seed."""
    return live_server.app


@pytest.fixture(scope="session")
def chromium():
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM_PATH, headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


# Logs every `securitypolicyviolation` event of a page as a console error naming the element
# refused: Chromium logs most violations itself, but not all as errors (a report-only policy
# logs a warning), and its message does not say which element carried the inline style.
_CSP_LISTENER = """
if (!window.__termtableCspWatch) {
  window.__termtableCspWatch = true;
  document.addEventListener("securitypolicyviolation", (event) => {
    const target = event.target && event.target.nodeType === 1
      ? event.target.outerHTML.slice(0, 160) : String(event.target);
    console.error("Content Security Policy violation (securitypolicyviolation): " + [
      event.effectiveDirective, event.disposition, event.blockedURI,
      event.sourceFile + ":" + event.lineNumber, event.sample, target].join(" | "));
  }, true);
}
"""
# Lets pending work of a page (htmx's settle step runs just after a swap) run, and its
# console messages arrive, before the guard's verdict.
_SETTLE = "() => new Promise((resolve) => setTimeout(resolve, 50))"


class ErrorGuard:
    """Console errors, CSP violations, uncaught page errors and server exceptions seen during
    one test.

    A CSP violation fails the test however it arrives: as a console message of any level
    ("Refused to apply inline style ...", "Applying inline style violates the following
    Content Security Policy directive ...") or as a `securitypolicyviolation` event, which
    the pages of a watched context (`watch`) or an attached page (`attach`) log."""

    _HTTP_ERROR = re.compile(
        r"Failed to load resource: the server responded with a status of (\d+)"
    )
    _CSP_MESSAGE = re.compile(r"Content[- ]Security[- ]Policy|\bRefused to\b", re.IGNORECASE)

    def __init__(self, live_server: LiveServer):
        self.live_server = live_server
        self.messages: list[str] = []
        self.allowed_statuses: set[int] = set()
        self._contexts: list = []
        self._pages: list = []

    def allow_http_error(self, *statuses: int) -> None:
        """Chromium logs every 4xx/5xx response as a console error; allow these statuses."""
        self.allowed_statuses.update(statuses)

    def watch(self, context) -> None:
        """Guard every page of a browser context (popups included), from its first load."""
        context.on("console", self.on_console)
        context.on("weberror", lambda web_error: self.on_page_error(web_error.error))
        context.add_init_script(_CSP_LISTENER)
        self._contexts.append(context)

    def attach(self, page) -> None:
        """Guard one page of a context made elsewhere (a module's shared page); `detach` it at
        the end of the test."""
        page.on("console", self.on_console)
        page.on("pageerror", self.on_page_error)
        page.add_init_script(_CSP_LISTENER)
        with contextlib.suppress(PlaywrightError):
            page.evaluate(_CSP_LISTENER)  # the page already open
        self._pages.append(page)

    def detach(self, page) -> None:
        page.remove_listener("console", self.on_console)
        page.remove_listener("pageerror", self.on_page_error)
        self._pages.remove(page)

    def on_console(self, message) -> None:
        where = message.location.get("url")
        if self._CSP_MESSAGE.search(message.text):
            self.messages.append(f"CSP violation ({message.type}): {message.text} ({where})")
            return
        if message.type != "error":
            return
        http = self._HTTP_ERROR.search(message.text)
        if http and int(http.group(1)) in self.allowed_statuses:
            return
        self.messages.append(f"console error: {message.text} ({where})")

    def on_page_error(self, error) -> None:
        self.messages.append(f"uncaught page error: {error}")

    def settle(self) -> None:
        pages = self._pages + [page for context in self._contexts for page in context.pages]
        for page in pages:
            with contextlib.suppress(PlaywrightError):  # closed or navigating: nothing due
                page.evaluate(_SETTLE)

    def check(self) -> None:
        self.settle()
        problems = self.messages + [f"server error: {e}" for e in self.live_server.errors]
        if problems:
            pytest.fail("\n".join(problems), pytrace=False)


@pytest.fixture
def console(request, live_server):
    guard = ErrorGuard(live_server)
    request.node.stash[_guards] = guard
    return guard


@pytest.fixture
def open_page(request, app, live_server, chromium, console):
    """A factory of pages, each in its own browser context (its own cookies: another user)."""
    live_server.errors.clear()
    contexts = []
    # On SQLite a writing transaction starts with BEGIN IMMEDIATE, so a test that has just
    # written (a factory's commit, then a lazy load) may hold the write lock, and the server
    # would wait for it. End the test's transaction before each request a browser sends
    # (route handlers run in the test thread while it waits in a Playwright call). A test
    # adding its own page.route handler must call route.fallback() for this one to run.
    test_session = db.session()

    def end_test_transaction(route):
        try:
            test_session.commit()
        except Exception:
            test_session.rollback()  # a failed flush is the test's to report, not the route's
        route.fallback()

    def new_page():
        context = chromium.new_context(
            base_url=live_server.url,
            viewport={"width": 1280, "height": 900},
            locale="en-GB",  # dd/mm/yyyy date inputs, as the pages write dates
            timezone_id=live_server.app.config["TIMEZONE"],
        )
        context.set_default_timeout(TIMEOUT_MS)
        context.route(re.compile(re.escape(live_server.url) + "/.*"), end_test_transaction)
        console.watch(context)
        contexts.append(context)
        return context.new_page()

    yield new_page
    reports = request.node.stash.get(_reports, {})
    failed = "call" in reports and reports["call"].failed
    for n, context in enumerate(contexts):
        if failed:
            with contextlib.suppress(PlaywrightError):  # a crashed page must not hide it
                for page in context.pages:
                    suffix = f"-{n + 1}" if n else ""
                    screenshot(page, "failed-" + safe_name(request.node.nodeid) + suffix)
        context.close()


@pytest.fixture
def page(open_page):
    return open_page()


@pytest.fixture
def log_in(page, make_user):
    """`log_in("coordinator")` (a new user of that role) or `log_in(user)`; returns the user."""

    def do_log_in(role_or_user="coordinator", password=TEST_PASSWORD):
        user = make_user(role_or_user) if isinstance(role_or_user, str) else role_or_user
        login(page, user.email, password)
        return user

    return do_log_in
