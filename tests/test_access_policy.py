"""The access policy's table (`services.permissions`), walked against the routes.

Each row of the table (object x action, a cell per role) has probes here: a page, a fragment,
an API call or a feed that does that action, with the status today's app answers each of
seven people: an admin, a coordinator, the mentor of group A (`ma`) and another mentor
(`mb`), a student of group A (`s`) and another student (`t`), and an anonymous visitor. Every
probed row is A's, so `ma` and `s` are the ones a `taught`, `enrolled`, `addressed` or `own`
cell lets in. Each answer must be the status written here *and* agree with the table: allowed
(2xx, or a redirect elsewhere than the login page) exactly where the role's cell lets that
person in; refused (403, 404, 401, or sent to log in) everywhere else.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from models import MentorSubject, Occurrence, db
from services import permissions
from services.output import feeds as calendar_feeds
from services.people import tokens as api_tokens
from services.permissions import POLICY, ROLES
from services.requests.lifecycle import RequestInput, create_request
from services.storage.local import LocalStorage
from services.timetable.exceptions import find_occurrence
from services.timetable.generation import generate_occurrences
from services.tracking.attachments import attach_upload
from services.tracking.completion import complete_session
from services.tracking.notes import add_note
from tests import attachment_samples as samples
from tests.conftest import PINNED_TODAY, TEST_PASSWORD, browser, csrf_token_of

pytestmark = pytest.mark.usefixtures("pinned_clock")

PARIS = ZoneInfo("Europe/Paris")  # the test app's TIMEZONE
TODAY = PINNED_TODAY
PAST = TODAY - timedelta(days=2)
DONE_DAY = TODAY - timedelta(days=3)
FUTURE = TODAY + timedelta(days=14)
PARTIAL = {"HX-Request": "true", "HX-Request-Type": "partial"}

# The people who probe, in the order of a probe's statuses, and the role each has.
PEOPLE = ("admin", "coord", "ma", "mb", "s", "t", "anon")
ROLE_OF = {
    "admin": "admin",
    "coord": "coordinator",
    "ma": "mentor",
    "mb": "mentor",
    "s": "student",
    "t": "student",
    "anon": "anonymous",
}
# Group A's mentor and student: the people a row-bound cell lets in for A's rows.
INSIDERS, MA = frozenset({"ma", "s"}), frozenset({"ma"})
CELLS = frozenset({"all", "yes", "taught", "enrolled", "own", "addressed", "none", "login", "link"})


def allowed_by(cell: str, person: str, insiders: frozenset[str] = INSIDERS) -> bool:
    """Whether the table's `cell` lets `person` do that to a row of `insiders`."""
    words = {word.strip() for word in cell.split(",")}
    if words & {"all", "yes", "link"}:
        return True
    if words & {"taught", "enrolled", "addressed", "own"}:
        return person in insiders
    return False


# --- The probes ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Probe:
    row: tuple[str, str]  # (object, action) of a row of the table
    method: str
    url: str  # formatted with the world's ids (and `fresh`, see below)
    statuses: str  # one status per person, in the order of PEOPLE
    kind: str = "page"  # page, fragment (htmx) or api (bearer token, JSON)
    params: dict | None = None  # form fields or JSON body; "{...}" strings are formatted
    upload: bool = False
    # Makes the row the request consumes (a note to delete...), anew for each request.
    fresh: Callable[[dict], object] | None = None
    # For a 200 that may still withhold the thing: a test of the answer (a field left
    # null?), or the id key of the row a list must hold.
    granted: Callable[[object], bool] | str | None = None
    # Who a row-bound cell lets in: A's mentor and student, or only ma for ma's own things.
    insiders: frozenset[str] = INSIDERS

    def expected(self) -> dict[str, int]:
        return dict(zip(PEOPLE, map(int, self.statuses.split()), strict=True))


def page(row, url, statuses, **kw) -> Probe:
    return Probe(row, "GET", url, statuses, **kw)


def fragment(row, url, statuses, **kw) -> Probe:
    return Probe(row, "GET", url, statuses, kind="fragment", **kw)


def form(row, url, statuses, params=None, **kw) -> Probe:
    return Probe(row, "POST", url, statuses, kind="fragment", params=params or {}, **kw)


def api(row, method, url, statuses, body=None, **kw) -> Probe:
    return Probe(row, method, url, statuses, kind="api", params=body, **kw)


def fresh_note(world) -> int:
    people, occurrence = world["people"], db.session.get(Occurrence, world["ids"]["a_past"])
    note = add_note(people["ma"], occurrence, kind="general", body="To delete")
    db.session.commit()
    return note.id


def fresh_file(world) -> int:
    occurrence = db.session.get(Occurrence, world["ids"]["a_past"])
    attachment = _attach(world, occurrence, name="to-delete.pdf")
    db.session.commit()
    return attachment.id


def feed_token(world) -> str:
    return calendar_feeds.own_feed(world["people"]["ma"]).token


def _has(key: str) -> Callable[[object], bool]:
    return lambda response: response.json[key] is not None


SESSION = ("session", "see, list")
LIST_START, LIST_END = FUTURE.isoformat(), (FUTURE + timedelta(days=1)).isoformat()
SESSION_FORM = {"date": FUTURE.isoformat(), "start": "12:00", "end": "13:00", "room": "0"}

# Statuses in the order admin coord ma mb s t anon.
# fmt: off
PROBES: list[Probe] = [
    page(SESSION, "/sessions/{a_future}", "200 200 200 404 200 404 302"),
    api(SESSION, "GET", "/api/v1/sessions/{a_future}", "200 200 200 404 200 404 401"),
    api(SESSION, "GET", f"/api/v1/sessions?start={LIST_START}&end={LIST_END}",
        "200 200 200 200 200 200 401", granted="a_future"),
    api(("session", "see its conflicts"), "GET", "/api/v1/sessions/{a_future}",
        "200 200 200 404 200 404 401", granted=_has("conflicts")),
    page(("session", "create, change"), "/sessions/new", "200 200 403 403 403 403 302"),
    page(("session", "create, change"), "/sessions/{a_future}/edit",
         "200 200 403 404 403 404 302"),
    form(("session", "create, change"), "/sessions/{a_future}/edit",
         "200 200 403 404 403 404 401", SESSION_FORM | {"notes": "x"}),
    page(("school schedule", "see"), "/schedule/", "200 200 403 403 403 403 302"),
    fragment(("school schedule", "see"), "/schedule/sessions/{a_future}/card",
             "200 200 403 403 403 403 401"),
    api(("course group, series", "see, list"), "GET", "/api/v1/groups/{group_a}",
        "200 200 200 404 200 404 401"),
    api(("course group, series", "see, list"), "GET", "/api/v1/series/{series_a}",
        "200 200 200 404 200 404 401"),
    api(("course group, series", "see, list"), "GET", "/api/v1/groups",
        "200 200 200 200 200 200 401", granted="group_a"),
    api(("group's students", "see"), "GET", "/api/v1/groups/{group_a}",
        "200 200 200 404 200 404 401", granted=_has("students")),
    page(("course group, series", "create, change"), "/manage/groups/{group_a}/edit",
         "200 200 403 403 403 403 302"),
    api(("course group, series", "create, change"), "PATCH", "/api/v1/series/{series_a}",
        "200 200 403 404 403 404 401", body={"every_weeks": 2}),
    page(("request", "see, list"), "/requests/{request_a}", "200 200 200 404 200 404 302"),
    api(("request", "see, list"), "GET", "/api/v1/requests/{request_a}",
        "200 200 200 404 200 404 401"),
    api(("request", "see, list"), "GET", "/api/v1/requests",
        "200 200 200 200 200 200 401", granted="request_a"),
    page(("request", "create"), "/requests/new", "403 403 403 403 200 200 302"),
    page(("request", "approve, reject"), "/requests/{request_a}/reject",
         "200 403 200 404 403 404 302"),
    fragment(("request", "approve, reject"), "/requests/{request_a}/card",
             "200 403 200 404 403 404 401"),
    form(("request", "withdraw"), "/requests/{request_a}/withdraw",
         "403 403 403 404 200 404 401"),
    fragment(("note: general", "see"), "/notes/{note_a}", "200 200 200 404 200 404 401"),
    api(("note: general", "see"), "GET", "/api/v1/notes/{note_a}",
        "200 200 200 404 200 404 401"),
    fragment(("note: issue", "see"), "/notes/{issue_a}", "200 200 200 404 404 404 401"),
    api(("note: issue", "see"), "GET", "/api/v1/notes/{issue_a}",
        "200 200 200 404 404 404 401"),
    form(("note", "add"), "/notes/sessions/{a_past}", "200 200 200 404 403 404 401",
         {"kind": "general", "body": "Added"}),
    api(("note", "add"), "POST", "/api/v1/sessions/{a_past}/notes",
        "201 201 201 404 403 404 401", body={"kind": "general", "body": "Added by API"}),
    fragment(("note", "edit"), "/notes/{note_a}/edit", "403 403 200 404 403 404 401"),
    form(("note", "delete"), "/notes/{fresh}/delete", "200 200 200 404 403 404 401",
         fresh=fresh_note),
    page(("attachment", "see, download"), "/attachments/{file_a}/download",
         "200 200 200 404 200 404 302"),
    api(("attachment", "see, download"), "GET", "/api/v1/attachments/{file_a}",
        "200 200 200 404 200 404 401"),
    api(("attachment", "upload"), "POST", "/api/v1/sessions/{a_past}/attachments",
        "201 201 201 404 403 404 401", upload=True),
    form(("attachment", "delete"), "/attachments/{fresh}/delete",
         "200 200 200 404 403 404 401", fresh=fresh_file),
    fragment(("completion", "see"), "/tracking/sessions/{a_past}/completion",
             "200 200 200 404 200 404 401"),
    page(("completion", "complete, correct"), "/tracking/sessions/{a_past}/complete",
         "200 200 200 404 403 404 302"),
    page(("completion", "complete, correct"), "/tracking/sessions/{a_done}/correct",
         "200 200 200 404 403 404 302"),
    form(("rating", "rate"), "/dashboard/sessions/{a_done}/rating",
         "404 404 404 404 200 404 401", {"score": "5"}),
    fragment(("attendance register", "see"), "/attendance/sessions/{a_past}/register",
             "200 200 200 404 200 404 401"),
    api(("attendance register", "see"), "GET", "/api/v1/sessions/{a_past}/register",
        "200 200 200 404 200 404 401"),
    page(("attendance register", "take, correct"), "/attendance/sessions/{a_past}/register/take",
         "200 200 200 404 403 404 302"),
    api(("attendance register", "take, correct"), "PUT", "/api/v1/sessions/{a_past}/register",
        "200 200 200 404 403 404 401", body={"all_present": True}),
    page(("attendance report", "see, export"), "/attendance/", "200 200 403 403 403 403 302"),
    page(("attendance report", "see, export"), "/attendance/report.csv",
         "200 200 403 403 403 403 302"),
    api(("attendance report", "see, export"), "GET", "/api/v1/attendance/report",
        "200 200 403 403 403 403 401"),
    page(("tracking reports", "see, export"), "/tracking/", "200 200 403 403 403 403 302"),
    page(("tracking reports", "see, export"), "/tracking/hours.csv",
         "200 200 403 403 403 403 302"),
    page(("account, not admin's", "see, change"), "/manage/users/{user_t}/edit",
         "200 200 403 403 403 403 302"),
    page(("admin's account", "change"), "/manage/users/{user_admin}/edit",
         "200 403 403 403 403 403 302"),
    api(("room, subject", "list (API)"), "GET", "/api/v1/rooms", "200 200 200 200 200 200 401"),
    api(("room, subject", "list (API)"), "GET", "/api/v1/subjects",
        "200 200 200 200 200 200 401"),
    page(("room, subject", "create, change"), "/manage/rooms/{room_a}/edit",
         "200 200 403 403 403 403 302"),
    page(("room, subject", "create, change"), "/manage/subjects/{subject_a}/edit",
         "200 200 403 403 403 403 302"),
    page(("calendar feed", "read"), "/calendar/{fresh}.ics", "200 200 200 200 200 200 200",
         fresh=feed_token),
    form(("room or group feed", "create"), "/profile/feeds", "302 302 403 403 403 403 401",
         {"room": "{room_a}"}),
    form(("calendar feed", "regenerate"), "/profile/feeds/{own_feed_a}/regenerate",
         "404 404 302 404 404 404 401", insiders=MA),
    form(("API token", "revoke"), "/profile/tokens/{token_a}/revoke",
         "404 404 302 404 404 404 401", insiders=MA),
]
# fmt: on


# --- The school -----------------------------------------------------------------------------------


def at(day, clock: time) -> datetime:
    return datetime.combine(day, clock, tzinfo=PARIS).astimezone(UTC)


def one_time(group, day) -> Occurrence:
    occurrence = Occurrence(
        group_id=group.id,
        start_utc=at(day, time(10)),
        end_utc=at(day, time(11)),
        room_id=group.default_room_id,
    )
    db.session.add(occurrence)
    db.session.flush()
    return occurrence


def _attach(world, occurrence, name="slides.pdf"):
    return attach_upload(
        occurrence=occurrence,
        uploader=world["people"]["ma"],
        stream=io.BytesIO(samples.pdf()),
        original_name=name,
        description="",
        storage=LocalStorage(world["upload_folder"]),
        max_bytes=10 * 1024 * 1024,
    )


@pytest.fixture
def world(app, upload_folder, make_user, make_group, make_series):
    """Group A (mentor ma, student s) with a future series session, a past one-time session
    (a general and an issue note, a file by ma), a completed one, s's request to ma, ma's
    feed and API token; group B (mb, t); a coordinator and an admin."""
    people = {
        "ma": make_user("mentor"),
        "mb": make_user("mentor"),
        "s": make_user("student"),
        "t": make_user("student"),
        "coord": make_user("coordinator"),
        "admin": make_user("admin"),
    }
    group_a = make_group("Maths A", mentor=people["ma"], students=[people["s"]])
    make_group("Art B", mentor=people["mb"], students=[people["t"]])
    for enrolment in group_a.enrolments:
        # Enrolled since before the past sessions, so on their registers.
        enrolment.created_at = at(TODAY - timedelta(days=90), time(9))
    world = {"people": people, "upload_folder": upload_folder}
    series = make_series(group_a, weekdays=(FUTURE.weekday(),), first_date=TODAY)
    generate_occurrences(FUTURE, FUTURE + timedelta(days=1), tz=PARIS)
    past, done = one_time(group_a, PAST), one_time(group_a, DONE_DAY)
    ma = people["ma"]
    complete_session(done, actual_start=time(10), actual_end=time(11), actor=ma, tz=PARIS)
    db.session.add(MentorSubject(mentor_id=ma.id, subject_id=group_a.subject_id))
    db.session.flush()
    request = create_request(
        people["s"],
        RequestInput(
            mentor_id=ma.id,
            subject_id=group_a.subject_id,
            title="Help",
            description="Please",
            schedule_kind="single",
            day=FUTURE + timedelta(days=1),
            start=time(17),
            duration=60,
        ),
        tz=PARIS,
    )
    token_row, _token = api_tokens.create_token(ma, "ma's")
    world["ids"] = {
        "group_a": group_a.id,
        "series_a": series.id,
        "a_future": find_occurrence(series.id, FUTURE).id,
        "a_past": past.id,
        "a_done": done.id,
        "note_a": add_note(ma, past, kind="general", body="Fractions").id,
        "issue_a": add_note(ma, past, kind="issue", body="Late again").id,
        "file_a": _attach(world, past).id,
        "request_a": request.id,
        "own_feed_a": calendar_feeds.own_feed(ma).id,
        "token_a": token_row.id,
        "room_a": group_a.default_room_id,
        "subject_a": group_a.subject_id,
        "user_t": people["t"].id,
        "user_admin": people["admin"].id,
    }
    db.session.commit()
    return world


# --- Sending ------------------------------------------------------------------------------------


def client_of(app, world, person: str):
    """A browser logged in as `person` (anonymous: not logged in), its CSRF token, and an API
    token (None for the anonymous visitor)."""
    client = browser(app)
    if person == "anon":
        return client, csrf_token_of(client.get("/auth/login")), None
    user = world["people"][person]
    login = client.get("/auth/login").forms[0]
    login["email"], login["password"] = user.email, TEST_PASSWORD
    assert login.submit().status_int == 302
    _row, token = api_tokens.create_token(user, "probe")
    db.session.commit()
    return client, csrf_token_of(client.get("/notifications/")), token


def formatted(value, ids: dict):
    if isinstance(value, str):
        text = value.format(**ids)
        return int(text) if value.startswith("{") and text.isdigit() else text
    if isinstance(value, dict):
        return {k: formatted(v, ids) for k, v in value.items()}
    return value


def send(client, csrf: str, api_token: str | None, probe: Probe, ids: dict):
    url = probe.url.format(**ids)
    params = formatted(probe.params or {}, ids)
    if probe.kind == "api":
        headers = {"Authorization": f"Bearer {api_token}"} if api_token else {}
        if probe.upload:
            files = [("file", "notes.pdf", samples.pdf())]
            return client.post(url, {"description": "x"}, headers=headers, upload_files=files,
                               status="*")  # fmt: skip
        body = b""
        if probe.method in ("POST", "PUT", "PATCH"):
            body = json.dumps(params).encode()
            headers["Content-Type"] = "application/json"
        return client.request(url, method=probe.method, body=body, headers=headers, status="*")
    headers = dict(PARTIAL) if probe.kind == "fragment" else {}
    if probe.method == "GET":
        return client.get(url, headers=headers, status="*")
    form_fields = {k: str(v) for k, v in params.items()}
    return client.post(url, form_fields, headers=headers | {"X-CSRFToken": csrf}, status="*")


def allowed_answer(response) -> bool:
    if response.status_int in (200, 201, 204):
        return True
    location = response.headers.get("Location", "")
    return response.status_int in (302, 303) and "/auth/login" not in location


# --- The tests ----------------------------------------------------------------------------------


def _row_lines(doc: str) -> list[str]:
    return [line for line in doc.splitlines() if line.startswith("| ")]


def test_the_table_is_well_formed_and_every_row_has_probes():
    rows = {(rule.object, rule.action) for rule in POLICY}
    assert len(POLICY) == len(rows) >= 25, "each (object, action) once"
    # Every line of the docstring's table became a rule (the header and rule line aside).
    assert len(_row_lines(permissions.__doc__)) == len(POLICY) + 2
    for rule in POLICY:
        for role in ROLES:
            words = {word.strip() for word in rule.cell(role).split(",")}
            assert words <= CELLS, (rule, role)
        assert rule.anonymous in ("login", "link"), rule
    assert {probe.row for probe in PROBES} == rows
    for probe in PROBES:
        assert len(probe.expected()) == len(PEOPLE), probe


@pytest.mark.parametrize("person", PEOPLE)
def test_each_row_of_the_table_holds_on_its_routes(app, world, person):
    rules = {(rule.object, rule.action): rule for rule in POLICY}
    client, csrf, api_token = client_of(app, world, person)
    wrong = []
    for probe in PROBES:
        ids = dict(world["ids"])
        if probe.fresh is not None:
            ids["fresh"] = probe.fresh(world)
        response = send(client, csrf, api_token, probe, ids)
        expected = probe.expected()[person]
        allowed = allowed_answer(response)
        if allowed and isinstance(probe.granted, str):
            listed = [item["id"] for item in response.json["items"]]
            allowed = ids[probe.granted] in listed
        elif allowed and probe.granted is not None:
            allowed = probe.granted(response)
        cell = rules[probe.row].cell(ROLE_OF[person])
        if response.status_int != expected or allowed != allowed_by(cell, person, probe.insiders):
            wrong.append(
                (probe.row, probe.method, probe.url, probe.kind, cell, expected,
                 response.status_int, "allowed" if allowed else "refused")
            )  # fmt: skip
    assert not wrong, "\n".join(map(str, wrong))
