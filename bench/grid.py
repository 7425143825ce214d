"""Benchmark: the week grid and its cell fragments for a school of 200 rooms and ~30,000 sessions.

Run with `.venv/bin/python bench/grid.py` (or `make bench`). It builds the school of
bench/generate.py (1,000 series, 200 rooms, a generated 15-week term) in a fresh SQLite file
in a temporary directory, logs a coordinator in through Flask's test client, and measures,
each against a floor measured in the same run (targets from issue 3):

- SQL statements of the week grid page, unfiltered and filtered by one room and by one
  mentor: at most 10, and the same for a quiet and the busiest room or mentor (and for the
  whole school at 1,000 and at 100 series): they must not grow with the sessions shown;
- a filtered week (one room, one mentor) end to end through the test client, within 3x of
  its floor: the page's own SQL statements replayed through the bare sqlite3 driver, plus the
  minimal route below rendering the page's markup (filter bar, grid, cards) from prepared
  dicts with one plain Jinja template, padded to the page's size: what any server-rendered
  implementation must do. (Until issue 14 the floor was that template alone, without the
  request or the SQL; for a while it was the SQL and the route answering the page's bytes
  ready-made, which left out the rendering any implementation needs.)
- the cell fragment (`GET /schedule/sessions/<id>/card`, what Cancel and Escape swap back):
  under 2 KB, and within 2x of Flask's own minimal fragment route in this app (one that, like
  every fragment route here, authenticates the user, then renders the same bytes from a
  prepared template); the same card in the term's last week and the save round trip
  (cancel, then restore) are reported, not targeted;
- under gunicorn (2 workers, loopback) with wrk: the card fragment's requests per second at
  least half of that minimal route's (skipped, with a message, when wrk is not installed).

This is a measurement, not a test: it prints PASS/MISS per target and exits 1 if a target
is missed (so `make bench` works as a check). Times are the best of several repeats.
"""

from __future__ import annotations

import argparse
import io
import os
import re
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from contextlib import redirect_stderr
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import jinja2  # noqa: E402
from flask import render_template  # noqa: E402
from flask_migrate import upgrade  # noqa: E402
from school import (  # noqa: E402
    SEED,
    TERM_START,
    TIMEZONE,
    build_school,
    counting_statements,
    log_in,
    timed_generation,
)
from sqlalchemy import event, func, select  # noqa: E402

from app import create_app  # noqa: E402
from blueprints.access import staff_required  # noqa: E402
from blueprints.extensions import init_migrations  # noqa: E402
from models import CourseGroup, Occurrence, Room, User, db  # noqa: E402
from services.common.timeutil import local_day_bounds  # noqa: E402
from services.people.accounts import create_user  # noqa: E402
from services.timetable.schedule.entries import load_entries  # noqa: E402
from services.timetable.schedule.layout import build_grid  # noqa: E402
from services.timetable.schedule.view import ScheduleFilters, ScheduleView  # noqa: E402

QUERY_TARGET = 10  # SQL statements per grid page
WEEK_TARGET = 3.0  # x floor (its SQL on the bare driver + a plain template of its markup)
CARD_TARGET = 2.0  # x floor (minimal authenticated Flask route, same bytes)
CARD_BYTES_TARGET = 2048
RPS_TARGET = 0.5  # x the minimal route's requests per second

# The second week of the term: every series has met once already, nothing is special.
WEEK = TERM_START + timedelta(days=7)
CTX = f"view=week&layout=time&date={WEEK.isoformat()}"
EMAIL, PASSWORD = "coordinator@bench.test", "bench-password"
FAST_HASH = "scrypt:1024:8:1"
USER_AGENT = "termtable-bench"
FLOOR_ROUTE = "/bench/fragment"


def bench_config(db_path: Path, *, testing: bool) -> dict:
    return {
        "TESTING": testing,
        "SECRET_KEY": "bench-not-secret",
        "SQLALCHEMY_DATABASE_URI": "sqlite:///" + str(db_path),
        "TIMEZONE": TIMEZONE,
        "PASSWORD_HASH_METHOD": FAST_HASH,
        "RATELIMIT_ENABLED": False,
    }


def bench_app(db_path: Path, *, testing: bool = True, fragment: str = ""):
    """The real app plus the floor route: a minimal authenticated route rendering a prepared
    template.

    The floor's body is set later (`app.config["BENCH_FRAGMENT"]`), once the card it mirrors
    has been fetched; routes cannot be added after the first request.
    """
    app = create_app(bench_config(db_path, testing=testing))
    app.config["BENCH_FRAGMENT"] = fragment
    compiled: dict[str, jinja2.Template] = {}

    # Flask's own minimal fragment route in this app: like every fragment route here it
    # authenticates the user (session cookie, the user's row) before answering; it then
    # renders the same bytes from a prepared template, with none of the card's own work.
    @app.get(FLOOR_ROUTE)
    @staff_required
    def bench_fragment():
        body = app.config["BENCH_FRAGMENT"]
        template = compiled.get(body)
        if template is None:
            template = compiled[body] = app.jinja_env.from_string(body)
        return render_template(template, **app.config.get("BENCH_CONTEXT", {}))

    return app


def wsgi_app():
    """For gunicorn (`grid:wsgi_app()`): the same app on the bench's database, not testing."""
    fragment = Path(os.environ["BENCH_FRAGMENT_FILE"]).read_text(encoding="utf-8")
    return bench_app(Path(os.environ["BENCH_DB"]), testing=False, fragment=fragment)


def make_school(directory: Path, n_series: int, weeks: int, seed: int):
    db_path = directory / "bench.db"
    app = bench_app(db_path)
    with app.app_context(), redirect_stderr(io.StringIO()):
        init_migrations(app)
        upgrade(directory=str(ROOT / "migrations"))
    build_school(app, n_series, seed)
    run = timed_generation(app, weeks)
    with app.app_context():
        create_user(EMAIL, "Bench Coordinator", "coordinator", password=PASSWORD,
                    hash_method=FAST_HASH)  # fmt: skip
        db.session.commit()
        sessions = db.session.scalar(select(func.count(Occurrence.id)))
    return app, db_path, sessions, run.conflicts


# --- Flask test client ------------------------------------------------------------------


def logged_in_client(app):
    client = app.test_client()
    log_in(client, EMAIL, PASSWORD)
    return client


def csrf_header(client) -> dict:
    page = client.get(f"/schedule/?date={WEEK.isoformat()}").get_data(as_text=True)
    token = re.search(r'"X-CSRFToken": "([^"]+)"', page).group(1)
    return {"X-CSRFToken": token, "HX-Request": "true", "HX-Request-Type": "partial"}


def fetch(client, url: str, **kwargs) -> bytes:
    response = client.open(url, **kwargs)
    assert response.status_code == 200, (url, response.status_code)
    return response.get_data()


def best_of(action, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        best = min(best, time.perf_counter() - started)
    return best


def count_statements(app, client, url: str) -> int:
    fetch(client, url)  # warm: templates compiled, connection open
    with app.app_context():
        engine = db.engine
    with counting_statements(engine) as counter:
        fetch(client, url)
    return counter["n"]


# --- The school's extremes --------------------------------------------------------------


@dataclass
class Extremes:
    quiet_room: int
    busy_room: int
    quiet_mentor: int
    busy_mentor: int
    shown: dict[str, int] = field(default_factory=dict)


def extremes(app) -> Extremes:
    """The quietest and busiest room and mentor of the bench week (among those with sessions)."""
    with app.app_context():
        entries = load_entries(WEEK, WEEK + timedelta(days=7), tz=_tz())
        rooms = Counter(e.occurrence.room_id for e in entries if e.occurrence.room_id)
        mentors = Counter(e.occurrence.group.mentor_id for e in entries)
        db.session.remove()
    (busy_room, _), *_, (quiet_room, _) = rooms.most_common()
    (busy_mentor, _), *_, (quiet_mentor, _) = mentors.most_common()
    found = Extremes(quiet_room, busy_room, quiet_mentor, busy_mentor)
    found.shown = {
        "all": len(entries),
        "quiet room": rooms[quiet_room],
        "busiest room": rooms[busy_room],
        "quiet mentor": mentors[quiet_mentor],
        "busiest mentor": mentors[busy_mentor],
    }
    return found


def _week_start_utc():
    return local_day_bounds(WEEK, WEEK + timedelta(days=1), _tz())[0]


def _tz() -> ZoneInfo:
    return ZoneInfo(TIMEZONE)


# --- Floor for a week page: the page's own statements, and Flask serving its bytes ------


def page_statements(app, client, url: str) -> list[tuple[str, object]]:
    """The SQL statements (with their parameters, as the driver got them) of one request."""
    fetch(client, url)  # warm: templates compiled, connection open
    with app.app_context():
        engine = db.engine
    sent: list[tuple[str, object]] = []

    def keep(_conn, _cursor, statement, parameters, _context, _executemany):
        sent.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", keep)
    try:
        fetch(client, url)
    finally:
        event.remove(engine, "before_cursor_execute", keep)
    return sent


def replay_seconds(db_path: Path, statements: list[tuple[str, object]], repeat: int) -> float:
    """Best time to run `statements` through the bare sqlite3 driver, reading every row."""
    connection = sqlite3.connect(db_path, isolation_level=None)
    try:
        connection.execute("PRAGMA mmap_size = 1073741824")  # as the app's connections

        def replay():
            for statement, parameters in statements:
                connection.execute(statement, parameters or ()).fetchall()
            if connection.in_transaction:
                connection.execute("ROLLBACK")

        return best_of(replay, repeat)
    finally:
        connection.close()


# The week page's markup without its machinery: the filter bar's four fields, the grid's
# header, rows, cells and cards, from prepared dicts; a padding string stands for the rest of
# the real page (navigation, legend, layout links: static text).
FLOOR_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Schedule</title></head>
<body><main>
<form id="schedule-filters" method="get" action="/schedule/">
{% for f in fields %}<label for="filter-{{ f.kind }}">{{ f.label }}</label>
<input type="text" id="filter-{{ f.kind }}" name="{{ f.kind }}_q" value="{{ f.name }}" role="combobox" aria-controls="filter-{{ f.kind }}-list" hx-get="/schedule/choices/{{ f.kind }}">
<input type="hidden" name="{{ f.kind }}" value="{{ f.id }}"><ul id="filter-{{ f.kind }}-list" role="listbox" hidden></ul>{% endfor %}
</form>
<section id="schedule"><h2>{{ title }}</h2>
<table class="schedule-grid"><thead><tr><th scope="col">Time</th>{% for d in days %}<th scope="col"><a href="{{ d.href }}">{{ d.label }}</a></th>{% endfor %}</tr></thead>
<tbody>{% for row in rows %}
<tr><th scope="row">{{ row.label }}</th>{% for cell in row.cells %}<td><div id="{{ cell.id }}" class="cell">{% for c in cell.cards %}<article id="session-card-{{ c.id }}" class="{{ c.classes }}"{% if c.conflict %} title="{{ c.conflict }}"{% endif %}>
<a class="session-open" href="{{ c.href }}" hx-get="{{ c.href }}" hx-target="#session-card-{{ c.id }}" hx-swap="outerHTML">
<span class="visually-hidden">Edit {{ c.when }}</span>
<span class="session-time">{{ c.start }}-{{ c.end }}</span>
<strong>{{ c.subject }}</strong> <span>{{ c.group }}</span>
<span class="session-meta">{{ c.room }} · {{ c.mentor }}</span></a>
{% if c.conflict %}<span class="badge badge-conflict">Conflict</span><small class="conflict-text">{{ c.conflict }}</small>{% endif %}
</article>{% endfor %}</div></td>{% endfor %}</tr>{% endfor %}
</tbody></table></section>
</main>{{ padding }}</body></html>
"""  # noqa: E501 (markup like the real page's)


def floor_context(app, params: dict) -> dict:
    """The week page's data as plain dicts and strings, prepared before timing."""
    filters = ScheduleFilters(room_id=params.get("room"), mentor_id=params.get("mentor"))
    view = ScheduleView("week", "time", WEEK, filters=filters)
    with app.app_context(), app.test_request_context():
        entries = load_entries(view.first_day, view.last_day, tz=_tz(), filters=view.filters)
        grid = build_grid(view, entries)
        chosen = {
            kind: db.session.get(Room if kind == "room" else User, params[kind])
            for kind in ("room", "mentor")
            if params.get(kind)
        }
        href = "/schedule/sessions/{}/editor?" + urllib.parse.urlencode(view.query_args())

        def card(e) -> dict:
            o = e.occurrence
            classes = ["session"] + (["is-cancelled"] if e.cancelled else [])
            classes += ["is-conflict"] if e.conflicts else []
            return {
                "id": o.id,
                "classes": " ".join(classes),
                "conflict": e.conflict_text,
                "href": href.format(o.id),
                "group": o.group.name,
                "subject": o.group.subject.name,
                "room": o.room.name if o.room else "Online",
                "mentor": o.group.mentor.name,
                "when": e.start.strftime("%a %d %b"),
                "start": e.start.strftime("%H:%M"),
                "end": e.end.strftime("%H:%M"),
            }

        context = {
            "title": f"Week of {view.first_day:%d %b}",
            "fields": [
                {"kind": kind, "label": kind.title(),
                 "id": chosen[kind].id if kind in chosen else "",
                 "name": chosen[kind].name if kind in chosen else ""}
                for kind in ("room", "mentor", "group", "student")
            ],
            "days": [{"href": f"/schedule/day?date={d}", "label": f"{d:%a %d %b}"}
                     for d in grid.days],
            "rows": [
                {"label": row.label,
                 "cells": [{"id": c.id, "cards": [card(e) for e in c.entries]}
                           for c in row.cells]}
                for row in grid.rows
            ],
            "padding": "",
        }  # fmt: skip
        db.session.remove()
    return context


def measure_page_floor(
    app, client, url: str, params: dict, page: bytes, db_path: Path, repeat: int
) -> float:
    """The least a week page can cost: its own SQL statements replayed through the bare
    driver, plus the floor route (an authenticated Flask route, as the page is) rendering the
    page's markup from prepared dicts with one plain template, padded to the page's size.
    What the page takes beyond that is its Python: the ORM rows, the grid's layout, its
    conflict notes, its URLs, the real templates and their macros."""
    sql = replay_seconds(db_path, page_statements(app, client, url), repeat)
    context = floor_context(app, params)
    app.config["BENCH_FRAGMENT"] = FLOOR_PAGE
    app.config["BENCH_CONTEXT"] = context
    size = len(fetch(client, FLOOR_ROUTE))
    context["padding"] = "x" * max(0, len(page) - size)
    assert len(fetch(client, FLOOR_ROUTE)) >= len(page)
    seconds = sql + best_of(lambda: fetch(client, FLOOR_ROUTE), repeat)
    app.config["BENCH_CONTEXT"] = {}
    return seconds


# --- gunicorn + wrk ---------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http(url: str, data: dict | None = None, cookie: str = "") -> tuple[int, dict, str]:
    """One request without following redirects; (status, headers, body)."""

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    request = urllib.request.Request(  # noqa: S310 (always http://127.0.0.1)
        url,
        data=urllib.parse.urlencode(data).encode() if data is not None else None,
        headers={"User-Agent": USER_AGENT, **({"Cookie": cookie} if cookie else {})},
    )
    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read().decode()


def session_cookie(headers: dict) -> str:
    return headers["Set-Cookie"].split(";", 1)[0]


def wrk_rps(url: str, cookie: str, seconds: int) -> tuple[float, str]:
    output = subprocess.run(
        ["wrk", "-t2", "-c8", f"-d{seconds}s", "-H", f"Cookie: {cookie}",
         "-H", f"User-Agent: {USER_AGENT}", url],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    if "Non-2xx" in output:
        raise RuntimeError(f"wrk got errors from {url}:\n{output}")
    return float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)), output


def measure_wrk(
    directory: Path, db_path: Path, card_url: str, fragment: bytes, seconds: int, workers: int
):
    """Requests per second of the card and of the minimal route, under gunicorn."""
    if shutil.which("wrk") is None:
        return None
    fragment_file = directory / "fragment.html"
    fragment_file.write_bytes(fragment)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "BENCH_DB": str(db_path), "BENCH_FRAGMENT_FILE": str(fragment_file)}
    env.pop("DATABASE_URL", None)
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-w", str(workers), "-b", f"127.0.0.1:{port}",
         "--chdir", str(ROOT / "bench"), "--log-level", "warning", "grid:wsgi_app()"],
        # Not a pipe: one left unread fills with the app's request log lines and stalls it.
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                status, headers, page = http(base + "/auth/login")
                break
            except (urllib.error.URLError, ConnectionError):
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError("gunicorn did not start") from None
                time.sleep(0.2)
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
        status, headers, _ = http(
            base + "/auth/login",
            {"email": EMAIL, "password": PASSWORD, "csrf_token": token},
            session_cookie(headers),
        )
        assert status == 302, status
        cookie = session_cookie(headers)
        status, _, body = http(base + card_url, cookie=cookie)
        assert status == 200 and body.encode() == fragment, (status, body[:200])
        status, _, body = http(base + FLOOR_ROUTE, cookie=cookie)
        assert status == 200 and body.encode() == fragment, (status, body[:200])
        for url in (card_url, FLOOR_ROUTE):  # warm both workers
            wrk_rps(base + url, cookie, 1)
        card, _ = wrk_rps(base + card_url, cookie, seconds)
        bare, _ = wrk_rps(base + FLOOR_ROUTE, cookie, seconds)
        return card, bare
    finally:
        server.terminate()
        server.wait(timeout=30)


# --- Report -----------------------------------------------------------------------------


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


class Table:
    def __init__(self):
        self.missed = []
        print(f"{'measure':<44}{'value':>12}{'floor':>12}{'ratio':>8}{'target':>10}  result")
        print("-" * 94)

    def row(self, name, value, floor="", ratio=None, target="", ok=None):
        ratio_text = f"{ratio:.2f}" if ratio is not None else ""
        result = "" if ok is None else verdict(ok)
        if ok is False:
            self.missed.append(name)
        print(f"{name:<44}{value:>12}{floor:>12}{ratio_text:>8}{target:>10}  {result}")


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f} ms"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--series", type=int, default=1000, help="series in the school")
    parser.add_argument("--weeks", type=int, default=15, help="weeks in the term")
    parser.add_argument(
        "--small", type=int, default=100, help="series in the school used to compare counts"
    )
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--repeat", type=int, default=30, help="timed repeats (best kept)")
    parser.add_argument("--wrk-seconds", type=int, default=5)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    args = parser.parse_args(argv)
    os.environ.pop("DATABASE_URL", None)  # always a fresh temporary SQLite file

    with tempfile.TemporaryDirectory(prefix="termtable-bench-") as tmp:
        small_dir = Path(tmp) / "small"
        small_dir.mkdir()
        small_app, _, small_sessions, _ = make_school(small_dir, args.small, args.weeks, args.seed)
        small_client = logged_in_client(small_app)
        week_url = f"/schedule/?date={WEEK.isoformat()}"
        small_queries = count_statements(small_app, small_client, week_url)
        with small_app.app_context():
            db.engine.dispose()

        directory = Path(tmp) / "school"
        directory.mkdir()
        app, db_path, sessions, conflicts = make_school(
            directory, args.series, args.weeks, args.seed
        )
        client = logged_in_client(app)
        x = extremes(app)
        with app.app_context():
            rooms = db.session.scalar(select(func.count(Room.id)))
            groups = db.session.scalar(select(func.count(CourseGroup.id)))
            mentors = db.session.scalar(select(func.count(User.id)).where(User.role == "mentor"))
            db.session.remove()
        print(
            f"School: {args.series} series, {groups} groups, {rooms} rooms, {mentors} mentors, "
            f"{sessions} sessions ({conflicts} conflicts) over {args.weeks} weeks from "
            f"{TERM_START}; bench week {WEEK}: {x.shown['all']} sessions. {TIMEZONE}, "
            f"SQLite {sqlite3.sqlite_version}, Python {sys.version.split()[0]}."
        )
        print()
        table = Table()

        # 1. Queries per grid page.
        pages = {
            "all": week_url,
            "quiet room": f"{week_url}&room={x.quiet_room}",
            "busiest room": f"{week_url}&room={x.busy_room}",
            "quiet mentor": f"{week_url}&mentor={x.quiet_mentor}",
            "busiest mentor": f"{week_url}&mentor={x.busy_mentor}",
        }
        queries = {name: count_statements(app, client, url) for name, url in pages.items()}
        for name, n in queries.items():
            table.row(
                f"SQL, week page, {name} ({x.shown[name]} sessions)",
                str(n), target=f"<= {QUERY_TARGET}", ok=n <= QUERY_TARGET,
            )  # fmt: skip
        table.row(
            f"SQL, week page, {args.small} series ({small_sessions} sessions)",
            str(small_queries), target=f"<= {QUERY_TARGET}", ok=small_queries <= QUERY_TARGET,
        )  # fmt: skip
        flat = (
            queries["quiet room"] == queries["busiest room"]
            and queries["quiet mentor"] == queries["busiest mentor"]
            and queries["all"] == small_queries
        )
        table.row("SQL independent of the sessions shown", "yes" if flat else "no", ok=flat)

        # 2. A filtered week, end to end, vs a plain Jinja template of the same size.
        weeks = {}
        chosen = {
            "busiest room": {"room": x.busy_room},
            "busiest mentor": {"mentor": x.busy_mentor},
        }
        for name in ("busiest room", "busiest mentor"):
            url = pages[name]
            page = fetch(client, url)
            seconds = best_of(lambda url=url: fetch(client, url), args.repeat)
            floor = measure_page_floor(app, client, url, chosen[name], page, db_path, args.repeat)
            weeks[name] = (seconds, floor, len(page))
            table.row(
                f"week page, {name} ({len(page) // 1024} KB)",
                ms(seconds), ms(floor), seconds / floor, f"<= {WEEK_TARGET:g}x",
                seconds / floor <= WEEK_TARGET,
            )  # fmt: skip
        for name, url in (
            ("whole school, landed on", week_url),
            ("whole school, one page", f"{week_url}&whole=1"),
        ):
            all_page = fetch(client, url)
            all_seconds = best_of(lambda url=url: fetch(client, url), max(3, args.repeat // 10))
            table.row(
                f"week page, {name} ({len(all_page) // 1024} KB)", ms(all_seconds),
                target="report",
            )  # fmt: skip

        # 3. The cell fragment, and the save round trip.
        with app.app_context():
            occurrence_id = db.session.scalar(
                select(Occurrence.id)
                .join(CourseGroup, CourseGroup.id == Occurrence.group_id)
                .where(Occurrence.room_id == x.busy_room)
                .where(Occurrence.start_utc >= _week_start_utc())
                .order_by(Occurrence.start_utc)
            )
            db.session.remove()
        card_url = f"/schedule/sessions/{occurrence_id}/card?{CTX}"
        card = fetch(client, card_url)
        app.config["BENCH_FRAGMENT"] = card.decode()
        assert fetch(client, FLOOR_ROUTE) == card
        card_seconds = best_of(lambda: fetch(client, card_url), args.repeat * 3)
        floor_seconds = best_of(lambda: fetch(client, FLOOR_ROUTE), args.repeat * 3)
        card_queries = count_statements(app, client, card_url)
        table.row(
            "card fragment size", f"{len(card)} B", target=f"< {CARD_BYTES_TARGET // 1024} KB",
            ok=len(card) < CARD_BYTES_TARGET,
        )  # fmt: skip
        table.row(
            f"card fragment GET ({card_queries} SQL)", ms(card_seconds), ms(floor_seconds),
            card_seconds / floor_seconds, f"<= {CARD_TARGET:g}x",
            card_seconds / floor_seconds <= CARD_TARGET,
        )  # fmt: skip
        # The same card in the term's last week: what grows with the sessions before it.
        last_week = TERM_START + timedelta(weeks=args.weeks - 1)
        with app.app_context():
            late_id = db.session.scalar(
                select(Occurrence.id)
                .where(Occurrence.room_id == x.busy_room)
                .where(Occurrence.start_utc >= local_day_bounds(last_week, last_week, _tz())[0])
                .order_by(Occurrence.start_utc)
            )
            db.session.remove()
        if late_id is not None:
            late_url = f"/schedule/sessions/{late_id}/card?view=week&layout=time&date={last_week}"
            fetch(client, late_url)
            late_seconds = best_of(lambda: fetch(client, late_url), args.repeat * 3)
            table.row(
                f"card fragment GET, week of {last_week:%d %b}", ms(late_seconds),
                ms(floor_seconds), late_seconds / floor_seconds, "report",
            )  # fmt: skip

        headers = csrf_header(client)
        room_ctx = f"{CTX}&room={x.busy_room}"
        cancel_url = f"/schedule/sessions/{occurrence_id}/exception?{room_ctx}"
        restore_url = f"/schedule/sessions/{occurrence_id}/restore?{room_ctx}"
        saves, restores, sizes = [], [], set()
        for _ in range(max(3, args.repeat // 3)):
            started = time.perf_counter()
            body = fetch(client, cancel_url, method="POST", data={"action": "cancel"},
                         headers=headers)  # fmt: skip
            saves.append(time.perf_counter() - started)
            assert b"is-cancelled" in body, body[:300]
            sizes.add(len(body))
            started = time.perf_counter()
            body = fetch(client, restore_url, method="POST", headers=headers)
            restores.append(time.perf_counter() - started)
            sizes.add(len(body))
        table.row(
            "saved cell fragment size", f"{max(sizes)} B",
            target=f"< {CARD_BYTES_TARGET // 1024} KB", ok=max(sizes) < CARD_BYTES_TARGET,
        )  # fmt: skip
        table.row("save: cancel (writes, commits)", ms(min(saves)), target="report")
        table.row("save: restore (writes, commits)", ms(min(restores)), target="report")

        # 4. Under gunicorn with wrk.
        with app.app_context():
            db.engine.dispose()
        rps = measure_wrk(directory, db_path, card_url, card, args.wrk_seconds, args.workers)
        if rps is None:
            name = f"card fragment, gunicorn -w {args.workers}, wrk (req/s)"
            print(f"{name:<44}skipped: wrk is not installed (apt-get install -y wrk)")
        else:
            card_rps, bare_rps = rps
            table.row(
                f"card fragment, gunicorn -w {args.workers}, wrk (req/s)", f"{card_rps:.0f}",
                f"{bare_rps:.0f}",
                card_rps / bare_rps, f">= {RPS_TARGET:g}x", card_rps / bare_rps >= RPS_TARGET,
            )  # fmt: skip

    print()
    for name, (seconds, floor, size) in weeks.items():
        print(
            f"Week page, {name}: {size} bytes in {ms(seconds)}; floor (its SQL replayed on the "
            f"bare driver, and the floor route answering its bytes) {ms(floor)}."
        )
    print(
        f"Card fragment: {len(card)} bytes; saved cell fragment {min(sizes)}-{max(sizes)} bytes; "
        f"bench session #{occurrence_id} in the busiest room, week of {WEEK}."
    )
    if table.missed:
        print(f"MISSED: {', '.join(table.missed)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
