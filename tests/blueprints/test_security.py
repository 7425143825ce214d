"""Security headers, no inline script anywhere, and CSRF on every state-changing route."""

from __future__ import annotations

import re
from datetime import date, time, timedelta
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin, urlsplit
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from models import DateOverride, db
from services.timetable.exceptions import OverrideChange, find_occurrence, save_override
from services.timetable.generation import generate_occurrences, resolve_window
from tests.conftest import browser, csrf_token_of

TERM = date(2026, 9, 7)


@pytest.fixture
def term_with_exceptions(app, make_series, make_group, make_room, make_user):
    """A small timetable with generated sessions, a cancellation, a move and a conflict."""

    tz = ZoneInfo(app.config["TIMEZONE"])
    room = make_room("Lab 1")
    maths = make_series(make_group("Maths 7A", room=room), weekdays=(0, 2))
    make_series(make_group("Physics 8B", room=room), weekdays=(0,), start=time(10, 30))
    start, end = resolve_window(TERM, weeks=2)
    generate_occurrences(start, end, tz=tz)
    save_override(
        maths, TERM + timedelta(days=2), OverrideChange(cancelled=True), actor=None, tz=tz
    )
    moved, _ = save_override(
        maths,
        TERM + timedelta(days=9),
        OverrideChange(start_time=time(16), end_time=time(17), notes="<script>alert(1)</script>"),
        actor=None,
        tz=tz,
    )
    db.session.commit()
    return {
        "override_id": moved.id,
        "series_id": maths.id,
        "group_id": maths.group_id,
        "occurrence_id": find_occurrence(maths.id, TERM).id,
        "moved_id": find_occurrence(maths.id, TERM + timedelta(days=9)).id,
    }


# --- Headers ------------------------------------------------------------------------------------


def csp_directives(response) -> dict[str, list[str]]:
    policy = response.headers["Content-Security-Policy"]
    directives = {}
    for part in policy.split(";"):
        if part.strip():
            name, *values = part.split()
            directives[name] = values
    return directives


def assert_security_headers(response):
    where = f"{response.request.method} {response.request.path_qs} ({response.status})"
    directives = csp_directives(response)
    assert directives.get("script-src") == ["'self'"], where
    assert "'unsafe-inline'" not in directives.get("default-src", []), where
    assert "'unsafe-eval'" not in " ".join(directives.get("script-src", [])), where
    assert directives.get("frame-ancestors") == ["'none'"], where
    assert directives.get("object-src") == ["'none'"], where
    assert response.headers["X-Content-Type-Options"] == "nosniff", where
    assert response.headers["Referrer-Policy"] == "same-origin", where


class PageScan(HTMLParser):
    """Collects links to follow and anything the CSP would block or that runs inline."""

    def __init__(self):
        super().__init__()
        self.links: set[str] = set()
        self.problems: list[str] = []
        self._in_inline_script = False

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        for name, _value in attrs:
            if name.startswith("on"):
                self.problems.append(f"<{tag} {name}=...> inline event handler")
            if name.startswith(("hx-on", "data-hx-on")):
                self.problems.append(f"<{tag} {name}=...> needs eval (blocked by the CSP)")
            if name == "style":
                self.problems.append(f"<{tag} style=...> inline style (blocked by the CSP)")
        for name in ("href", "src", "action", "hx-get", "formaction"):
            value = attributes.get(name) or ""
            if value.lower().lstrip().startswith("javascript:"):
                self.problems.append(f"<{tag} {name}={value!r}> javascript: URL")
        if tag == "script":
            if not attributes.get("src"):
                self.problems.append("<script> without src (inline script)")
            elif urlsplit(attributes["src"]).netloc:
                self.problems.append(f"<script src={attributes['src']!r}> from another site")
        if tag == "style":
            self.problems.append("<style> block (blocked by the CSP)")
        if tag == "link" and urlsplit(attributes.get("href", "")).netloc:
            self.problems.append(f"<link href={attributes['href']!r}> from another site (CDN)")
        if tag == "a" and attributes.get("href"):
            self.links.add(attributes["href"])
        if attributes.get("hx-get"):
            self.links.add(attributes["hx-get"])
        if tag == "form" and (attributes.get("method") or "get").lower() == "get":
            self.links.add(attributes.get("action") or "")


def scan(response) -> PageScan:
    parser = PageScan()
    parser.feed(response.text)
    return parser


def crawl(web, start_urls, *, limit=150):
    """GET every same-site page reachable from `start_urls`; returns {url: response}."""
    seen, queue = {}, list(start_urls)
    while queue and len(seen) < limit:
        url = queue.pop(0)
        if url in seen:
            continue
        response = web.get(url, status="*")
        seen[url] = response
        if response.status_int in (301, 302, 303):
            queue.append(urlsplit(response.headers["Location"]).path)
            continue
        if "html" not in (response.content_type or ""):  # a 204 has no type
            continue
        for link in scan(response).links:
            target = urlsplit(urljoin(url, link))
            if target.netloc in ("", "localhost") and not target.path.startswith("/static/"):
                queue.append(target.path + (f"?{target.query}" if target.query else ""))
    return seen


def test_every_page_a_coordinator_reaches_has_the_headers_and_no_inline_script(
    web, login_as, term_with_exceptions
):
    login_as("coordinator")
    pages = crawl(
        web,
        [
            "/",
            "/sessions/today/",
            f"/timetable/exceptions/{term_with_exceptions['override_id']}/edit",
            f"/timetable/exceptions?group={term_with_exceptions['group_id']}",
            "/does-not-exist",
            "/timetable/exceptions/999999/edit",
        ],
    )
    expected = {
        "/schedule/",
        "/timetable/generate",
        "/timetable/exceptions",
        f"/timetable/exceptions/{term_with_exceptions['override_id']}/edit",
    }
    assert expected <= set(pages), sorted(pages)
    for url, response in pages.items():
        assert_security_headers(response)
        if "html" in (response.content_type or ""):
            assert scan(response).problems == [], url
            # Nothing of a logged-in page is kept by caches or the browser's history.
            assert response.headers.get("Cache-Control") == "no-store", url
    # The note typed by a user is shown as text, never as markup.
    exceptions = pages["/timetable/exceptions"].text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in exceptions


def test_pages_after_posts_and_fragments_have_no_inline_script(
    web, login_as, htmx, term_with_exceptions
):
    login_as("admin")
    page = web.get("/timetable/generate")
    form = page.forms["generate-form"]
    form["start"] = TERM.isoformat()
    form["weeks"] = "0"
    responses = [form.submit("preview", status=422)]
    form["weeks"] = "2"
    responses.append(form.submit("preview", status=200))
    responses.append(htmx.get(f"/timetable/exceptions/{term_with_exceptions['override_id']}/edit"))
    responses.append(htmx.get(f"/timetable/exceptions/{term_with_exceptions['override_id']}"))
    responses.append(
        htmx.post("/timetable/generate", {"start": "nope", "span": "weeks"}, status=422)
    )
    responses.append(htmx.get("/timetable/exceptions/0", status=404))
    for response in responses:
        assert_security_headers(response)
        assert scan(response).problems == [], response.request.path


def test_login_page_static_files_and_errors_carry_the_headers_too(web):
    responses = [
        web.get("/auth/login"),
        web.get("/static/app.js"),
        web.get("/static/app.css"),
        web.get("/static/vendor/htmx-4.0.1.min.js"),
        web.get("/nope", status=404),
        web.get("/", status=302),
        web.post("/auth/login", status=400),
        web.get("/auth/logout", status=405),
    ]
    for response in responses:
        assert_security_headers(response)
    assert scan(responses[0]).problems == []


def test_the_base_layout_loads_only_vendored_scripts_and_carries_the_csrf_header(web):
    page = web.get("/auth/login")
    scripts = [s["src"] for s in page.html.find_all("script")]
    assert scripts == [
        "/static/vendor/htmx-4.0.1.min.js",
        "/static/vendor/hx-sse-4.0.1.min.js",
        "/static/app.js",
        "/static/upload.js",
    ]
    assert csrf_token_of(page)
    assert page.html.body.has_attr("hx-headers:inherited")


def test_responses_that_differ_for_htmx_say_so_to_caches(web, login_as):
    login_as("coordinator")
    assert "HX-Request" in web.get("/timetable/generate").headers.get("Vary", "")


# --- CSRF ---------------------------------------------------------------------------------------


def state_changing_urls(app) -> list[str]:
    """Every URL rule that accepts a state-changing method, its parameters filled with 1.

    Read from the app itself, so a new route is covered without being listed here. The ids
    need not exist: the CSRF check runs before any view. The JSON API (/api/) is left out: it
    authenticates with a bearer token and never reads cookies, so a forged cross-site request
    carries no credential and CSRF tokens have nothing to protect (see
    `test_the_api_refuses_cookie_only_requests`).
    """
    return sorted(
        {
            re.sub(r"<[^>]+>", "1", rule.rule)
            for rule in app.url_map.iter_rules()
            if rule.methods - {"GET", "HEAD", "OPTIONS"} and not rule.rule.startswith("/api/")
        }
    )


def test_the_api_refuses_cookie_only_requests(app, web, login_as, term_with_exceptions):
    """What the CSRF token protects on the pages, the API protects by ignoring cookies."""
    login_as("coordinator")
    before = database_state()
    api_calls = sorted(
        (method, re.sub(r"<[^>]+>", "1", rule.rule))
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/api/")
        for method in rule.methods - {"GET", "HEAD", "OPTIONS"}
    )
    assert ("POST", "/api/v1/generate") in api_calls
    token = csrf_token_of(web.get("/sessions/today/"))
    for method, url in api_calls:
        # Even with the page's CSRF token in the header, a cookie is no API credential.
        response = web.request(
            url,
            method=method,
            body=b"{}",
            content_type="application/json",
            headers={"X-CSRFToken": token},
            expect_errors=True,
        )
        assert response.status_int == 401, (method, url)
        assert response.content_type == "application/problem+json", url
    assert database_state() == before


def database_state():
    """Every row of every table, to prove a refused request changed nothing."""
    db.session.expire_all()
    return {
        table.name: db.session.execute(select(table).order_by(*table.primary_key.columns)).all()
        for table in db.metadata.sorted_tables
    }


def test_the_csrf_tests_see_every_area(app):
    urls = state_changing_urls(app)
    for expected in ("/auth/login", "/timetable/generate", "/schedule/sessions/1/exception"):
        assert expected in urls


def test_a_post_without_csrf_token_is_refused_on_every_route(
    app, web, login_as, term_with_exceptions
):
    user = login_as("coordinator")
    before = database_state()
    for url in state_changing_urls(app):
        response = web.post(url, {}, status=400)
        assert "security token" in response.text, url
        assert_security_headers(response)
        # An htmx request with a wrong token is refused too, with a fragment.
        response = web.post(
            url, {}, headers={"HX-Request": "true", "X-CSRFToken": "forged"}, status=400
        )
        assert "<html" not in response.text and "security token" in response.text, url
    assert database_state() == before
    # Still logged in: the refused logout did not log anybody out.
    assert f"Log out {user.name}" in web.get("/sessions/today/").text


def test_a_post_with_valid_input_but_no_token_is_refused(web, login_as, term_with_exceptions):
    login_as("coordinator")
    before = database_state()
    for url, params in valid_params(term_with_exceptions).items():
        response = web.post(url, params, status=400)
        assert "security token" in response.text, url
    assert database_state() == before


def valid_params(term_with_exceptions) -> dict[str, dict]:
    """Requests that would succeed with their token."""
    return {
        "/timetable/generate": {"start": TERM.isoformat(), "span": "weeks", "weeks": "2"},
        "/timetable/exceptions": {
            "series": str(term_with_exceptions["series_id"]),
            "original_date": (TERM + timedelta(days=14)).isoformat(),
            "action": "cancel",
        },
        f"/timetable/exceptions/{term_with_exceptions['override_id']}/edit": {"action": "cancel"},
        f"/timetable/exceptions/{term_with_exceptions['override_id']}/delete": {},
        f"/schedule/sessions/{term_with_exceptions['occurrence_id']}/exception": {
            "action": "cancel"
        },
        f"/schedule/sessions/{term_with_exceptions['moved_id']}/restore": {},
    }


def test_a_token_from_another_browsers_session_is_refused(app, web, login_as, term_with_exceptions):
    login_as("coordinator")
    other = browser(app)
    foreign_token = csrf_token_of(other.get("/auth/login"))
    web.post(
        "/timetable/generate",
        valid_params(term_with_exceptions)["/timetable/generate"] | {"csrf_token": foreign_token},
        status=400,
    )


def test_an_htmx_post_with_the_csrf_header_is_accepted(web, login_as, htmx, term_with_exceptions):
    login_as("coordinator")
    response = htmx.post(
        "/timetable/generate",
        valid_params(term_with_exceptions)["/timetable/generate"],
        page="/timetable/generate",
    )
    assert response.status_int == 200
    assert 'id="generate-panel"' in response.text
    response = htmx.post(f"/timetable/exceptions/{term_with_exceptions['override_id']}/delete")
    assert response.status_int == 200
    assert db.session.get(DateOverride, term_with_exceptions["override_id"]) is None


def test_a_form_post_with_the_token_field_is_accepted(web, login_as, term_with_exceptions):
    login_as("coordinator")
    token = csrf_token_of(web.get("/timetable/exceptions"))
    web.post(
        f"/timetable/exceptions/{term_with_exceptions['override_id']}/delete",
        {"csrf_token": token},
        status=302,
    )
    assert db.session.get(DateOverride, term_with_exceptions["override_id"]) is None


def test_ids_beyond_the_columns_range_are_not_found_on_every_page(
    app, web, login_as, term_with_exceptions
):
    """Ids are INTEGER columns: a larger number (which PostgreSQL would refuse with an error)
    is simply no row's id."""
    login_as("coordinator")
    too_big = str(2**31)
    checked = []
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or "<id:" not in rule.rule or rule.rule.startswith("/api/"):
            continue
        url = re.sub(r"<id:[^>]+>", too_big, rule.rule)
        url = re.sub(r"<[^>]+>", "x", url)
        response = web.get(url, status="*", headers={"HX-Request": "true"})
        assert response.status_int in (400, 403, 404), (url, response.status_int)
        checked.append(url)
    assert len(checked) > 20


TEMPLATES = Path(__file__).resolve().parents[2] / "templates"


BLOCKED_BY_CSP = [
    (re.compile(r"<script\b(?![^>]*\bsrc=)[^>]*>", re.I), "inline <script>"),
    (re.compile(r"(?<![\w-])on[a-z]+\s*=", re.I), "on*= event handler"),
    (re.compile(r"(?<![\w-])(?:data-)?hx-on", re.I), "hx-on (needs eval)"),
    (re.compile(r"javascript:|\bjs:", re.I), "javascript: URL or js: value (needs eval)"),
    (re.compile(r"(?<![\w-])style\s*=|<style\b", re.I), "inline style"),
]


def test_no_template_carries_an_inline_script_handler_or_hx_on():
    problems = [
        f"{path.relative_to(TEMPLATES)}:{text[: match.start()].count(chr(10)) + 1}: {what}"
        for path in sorted(TEMPLATES.rglob("*.html"))
        for text in [path.read_text()]
        for pattern, what in BLOCKED_BY_CSP
        for match in pattern.finditer(text)
    ]
    assert len(list(TEMPLATES.rglob("*.html"))) > 100
    assert problems == []
