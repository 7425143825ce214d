"""Access control of every JSON API route: the same school as the pages' table
(tests/blueprints/test_route_access.py), probed with each user's bearer token.

`CASES` lists, per endpoint, who is refused (403 problem+json for a role that may not, 404 for
a row the user may not see, exactly as for a missing one) with a valid body, and nothing may
change; `test_every_api_route_is_audited` keeps it complete. Anonymous requests (and a login
cookie alone) are 401 on every route; list filters naming other users' rows find nothing.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import timedelta

import pytest

from models import Role, db
from services.people import tokens as api_tokens
from tests import attachment_samples as samples
from tests.api.conftest import PROBLEM
from tests.blueprints import test_route_access as web_access
from tests.conftest import browser

# The pages' school, as a fixture of this module too.
world = web_access.world
database_state, files_in = web_access.database_state, web_access.files_in
FUTURE, TODAY = web_access.FUTURE, web_access.TODAY
ROLES = web_access.ROLES
STUDENT, OTHER_STUDENT, MENTOR, OTHER_MENTOR = "s", "t", "ma", "mb"
STRANGERS, NOT_STAFF = (OTHER_STUDENT, OTHER_MENTOR), (STUDENT, MENTOR)


@dataclass(frozen=True)
class Call:
    method: str
    url: str  # formatted with the world's ids
    refused: dict[str, int]
    body: dict | None = None  # JSON; values that are "{...}" strings are formatted too
    upload: bool = False


def refuse(status: int, *roles: str) -> dict[str, int]:
    return dict.fromkeys(roles, status)


def call(method: str, url: str, *refusals: dict[str, int], body=None, upload=False) -> Call:
    return Call(method, url, {k: v for r in refusals for k, v in r.items()}, body, upload)


STAFF_ONLY = refuse(403, *NOT_STAFF)
HIDDEN = refuse(404, *STRANGERS)
SESSION_ACTION = HIDDEN | refuse(403, *NOT_STAFF)
MENTOR_ACTION = HIDDEN | refuse(403, STUDENT)
DAY = FUTURE.isoformat()
LATER = (FUTURE + timedelta(days=21)).isoformat()
SERIES = {"weekdays": ["tue"], "start": "08:00", "end": "09:00", "first_date": DAY}

# fmt: off
CASES: dict[str, list[Call]] = {
    "api_timetable.list_exceptions": [call("GET", "/api/v1/exceptions", STAFF_ONLY)],
    "api_timetable.create_exception": [
        call("POST", "/api/v1/exceptions", STAFF_ONLY,
             body={"series": "{series_a}", "original_date": LATER, "cancelled": True}),
    ],
    "api_timetable.get_exception": [call("GET", "/api/v1/exceptions/{override_a}", STAFF_ONLY)],
    "api_timetable.delete_exception": [
        call("DELETE", "/api/v1/exceptions/{override_a}", STAFF_ONLY)
    ],
    "api_timetable.get_generation": [
        call("GET", "/api/v1/generations/{generation_run}", STAFF_ONLY)
    ],
    "api_timetable.list_closures": [call("GET", "/api/v1/closures", STAFF_ONLY)],
    "api_timetable.create_closure": [
        call("POST", "/api/v1/closures", STAFF_ONLY,
             body={"name": "Holiday", "first_day": LATER, "last_day": LATER}),
    ],
    "api_timetable.get_closure": [call("GET", "/api/v1/closures/{closure}", STAFF_ONLY)],
    "api_timetable.delete_closure": [call("DELETE", "/api/v1/closures/{closure}", STAFF_ONLY)],
    "api_timetable.patch_closure": [
        call("PATCH", "/api/v1/closures/{closure}", STAFF_ONLY, body={"name": "Holiday"}),
    ],
    "api_timetable.change_day": [
        call("POST", "/api/v1/day-changes", STAFF_ONLY, body={"action": "cancel", "day": LATER}),
    ],
    "api_cover.list_absences": [
        call("GET", "/api/v1/absences", refuse(403, STUDENT, OTHER_STUDENT))
    ],
    "api_cover.create_absence": [
        call("POST", "/api/v1/absences", refuse(403, STUDENT, OTHER_STUDENT),
             body={"first_day": "2040-01-02"}),
    ],
    "api_cover.get_absence": [
        call("GET", "/api/v1/absences/{absence}", refuse(404, STUDENT, OTHER_STUDENT, OTHER_MENTOR))
    ],
    "api_cover.decide": [
        call("PATCH", "/api/v1/absences/{absence}", STAFF_ONLY, body={"status": "confirmed"})
    ],
    "api_cover.delete": [
        call("DELETE", "/api/v1/absences/{absence}",
             refuse(404, STUDENT, OTHER_STUDENT, OTHER_MENTOR)),
    ],
    "api_cover.absence_sessions": [call("GET", "/api/v1/absences/{absence}/sessions", STAFF_ONLY)],
    "api_cover.board": [call("GET", "/api/v1/cover?date=" + DAY, STAFF_ONLY)],
    "api_cover.put_cover": [
        call("PUT", "/api/v1/sessions/{a_future}/cover", SESSION_ACTION, body={"mentor": None})
    ],
    "api_timetable.list_years": [call("GET", "/api/v1/years")],
    "api_timetable.get_year": [call("GET", "/api/v1/years/{year}")],
    "api_timetable.create_year": [
        call("POST", "/api/v1/years", STAFF_ONLY,
             body={"name": "Later", "first_day": "2040-09-01", "last_day": "2041-07-01"}),
    ],
    "api_timetable.patch_year": [
        call("PATCH", "/api/v1/years/{year}", STAFF_ONLY, body={"name": "Renamed"})
    ],
    "api_timetable.delete_year_route": [call("DELETE", "/api/v1/years/{year}", STAFF_ONLY)],
    "api_timetable.create_term": [
        call("POST", "/api/v1/years/{year}/terms", STAFF_ONLY,
             body={"name": "Second", "first_day": "2040-09-01", "last_day": "2040-12-01"}),
    ],
    "api_timetable.get_term": [call("GET", "/api/v1/terms/{term}")],
    "api_timetable.patch_term": [
        call("PATCH", "/api/v1/terms/{term}", STAFF_ONLY, body={"name": "Renamed"})
    ],
    "api_timetable.delete_term_route": [call("DELETE", "/api/v1/terms/{term}", STAFF_ONLY)],
    "api_timetable.generate": [
        call("POST", "/api/v1/generate", STAFF_ONLY, body={"start": DAY, "weeks": 3})
    ],
    "api_timetable.get_group": [call("GET", "/api/v1/groups/{group_a}", HIDDEN)],
    "api_timetable.add_group_students": [
        call("POST", "/api/v1/groups/{group_a}/enrolments", STAFF_ONLY,
             body={"students": ["Tom Student"]}),
    ],
    "api_timetable.create_series": [
        call("POST", "/api/v1/series", STAFF_ONLY, body={"group": "{group_a}", **SERIES})
    ],
    "api_timetable.get_series": [call("GET", "/api/v1/series/{series_a}", HIDDEN)],
    "api_timetable.patch_series": [
        call("PATCH", "/api/v1/series/{series_a}", SESSION_ACTION, body={"every_weeks": 2})
    ],
    "api_timetable.delete_series": [call("DELETE", "/api/v1/series/{series_a}", SESSION_ACTION)],
    "api_timetable.create_session": [
        call("POST", "/api/v1/sessions", STAFF_ONLY,
             body={"group": "{group_a}", "date": DAY, "start": "12:00", "end": "13:00",
                   "room": "{room_a}"}),
    ],
    "api_timetable.get_session": [call("GET", "/api/v1/sessions/{a_future}", HIDDEN)],
    "api_timetable.reschedule": [
        call("PATCH", "/api/v1/sessions/{a_future}", SESSION_ACTION, body={"start": "12:00",
             "end": "13:00"}),
    ],
    "api_timetable.delete_session": [
        call("DELETE", "/api/v1/sessions/{a_past}", SESSION_ACTION)
    ],
    "api_timetable.cancel": [
        call("POST", "/api/v1/sessions/{a_future}/cancel", SESSION_ACTION, body={"reason": "ill"})
    ],
    "api_timetable.restore": [call("POST", "/api/v1/sessions/{a_moved}/restore", SESSION_ACTION)],
    "api_tracking.complete": [
        call("POST", "/api/v1/sessions/{a_past}/complete", MENTOR_ACTION,
             body={"actual_start": "10:00", "actual_end": "10:50"}),
    ],
    "api_attendance.get_register": [call("GET", "/api/v1/sessions/{a_past}/register", HIDDEN)],
    "api_attendance.put_register": [
        call("PUT", "/api/v1/sessions/{a_past}/register", MENTOR_ACTION,
             body={"all_present": True}),
    ],
    "api_attendance.report": [call("GET", "/api/v1/attendance/report", STAFF_ONLY)],
    "api_tracking.list_notes": [call("GET", "/api/v1/sessions/{a_past}/notes", HIDDEN)],
    "api_tracking.create_note": [
        call("POST", "/api/v1/sessions/{a_past}/notes", MENTOR_ACTION,
             body={"kind": "general", "body": "x"}),
    ],
    "api_tracking.get_note": [
        call("GET", "/api/v1/notes/{note_a}", HIDDEN),
        call("GET", "/api/v1/notes/{issue_a}", HIDDEN | refuse(404, STUDENT)),
    ],
    "api_tracking.list_attachments": [
        call("GET", "/api/v1/sessions/{a_past}/attachments", HIDDEN)
    ],
    "api_tracking.upload": [
        call("POST", "/api/v1/sessions/{a_past}/attachments", MENTOR_ACTION, upload=True)
    ],
    "api_tracking.download": [call("GET", "/api/v1/attachments/{file_a}", HIDDEN)],
    "api_requests.create": [
        call("POST", "/api/v1/requests", refuse(403, MENTOR, "coord", "admin"),
             body={"mentor": "{user_ma}", "subject": "{subject_a}", "title": "Sneaky",
                   "schedule": {"kind": "single", "date": DAY, "start": "18:00",
                                "duration": 60}}),
    ],
    "api_requests.get_request": [call("GET", "/api/v1/requests/{request_a}", HIDDEN)],
    "api_requests.approve": [
        call("POST", "/api/v1/requests/{request_a}/approve", HIDDEN | refuse(403, STUDENT, "coord"))
    ],
    "api_requests.reject": [
        call("POST", "/api/v1/requests/{request_a}/reject", HIDDEN | refuse(403, STUDENT, "coord"),
             body={"reason": "no"}),
    ],
    "api_requests.withdraw": [
        call("POST", "/api/v1/requests/{request_a}/withdraw",
             HIDDEN | refuse(403, MENTOR, "coord", "admin")),
    ],
}
# Lists every user may read: each holds only what the user may see (see
# test_list_filters_naming_other_users_rows_find_nothing).
ANY_USER = {
    "api_timetable.list_rooms", "api_timetable.list_subjects", "api_timetable.list_groups",
    "api_timetable.list_series", "api_timetable.list_sessions", "api_requests.list_requests",
}
# fmt: on
# The API's reference, public.
PUBLIC = {"api-docs.openapi_json", "reference.docs"}


def api_rules(app):
    return [r for r in app.url_map.iter_rules() if r.rule.startswith("/api/")]


def formatted(value, ids):
    if isinstance(value, str):
        return value.format(**ids)
    if isinstance(value, dict):
        return {k: formatted(v, ids) for k, v in value.items()}
    if isinstance(value, list):
        return [formatted(v, ids) for v in value]
    return value


def as_number(value):
    """ "{group_a}" became "1": ids in JSON bodies are numbers."""
    if isinstance(value, str) and value.isdigit():
        return int(value)
    if isinstance(value, dict):
        return {k: as_number(v) for k, v in value.items()}
    return value


def send(client, token: str | None, case: Call, ids: dict):
    url = case.url.format(**ids)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    if case.upload:
        return client.post(
            url,
            {"description": "x"},
            upload_files=[("file", "notes.pdf", samples.pdf())],
            headers=headers,
            status="*",
        )
    body = b""
    if case.body is not None or case.method in ("POST", "PATCH"):
        body = json.dumps(as_number(formatted(case.body or {}, ids))).encode()
        headers["Content-Type"] = "application/json"
    return client.request(
        url, method=case.method, body=body, headers=headers, status="*", expect_errors=True
    )


def token_of(user) -> str:
    _row, token = api_tokens.create_token(user)
    db.session.commit()
    return token


def test_every_api_route_is_audited(app):
    endpoints = {rule.endpoint for rule in api_rules(app)}
    assert endpoints == set(CASES) | ANY_USER | PUBLIC, endpoints ^ (set(CASES) | ANY_USER | PUBLIC)
    for rule in api_rules(app):
        if rule.endpoint in CASES:
            methods = {case.method for case in CASES[rule.endpoint]}
            assert methods == rule.methods - {"HEAD", "OPTIONS"}, rule.endpoint


@pytest.mark.parametrize("role", ROLES)
def test_each_token_is_refused_what_its_user_may_not_do_and_nothing_changes(
    app, world, upload_folder, role
):
    ids = world["ids"]
    client, token = browser(app), token_of(world["people"][role])
    client.get("/api/v1/rooms", headers={"Authorization": f"Bearer {token}"})  # last used: now
    before, files_before = database_state(), files_in(upload_folder)
    wrong = []
    for endpoint, cases in CASES.items():
        for case in cases:
            expected = case.refused.get(role)
            if expected is None:
                continue
            response = send(client, token, case, ids)
            if response.status_int != expected or response.content_type != PROBLEM:
                wrong.append(
                    (
                        endpoint,
                        case.method,
                        case.url,
                        expected,
                        response.status_int,
                        response.text[:200],
                    )
                )
    assert not wrong, "\n".join(map(str, wrong))
    assert database_state() == before
    assert files_in(upload_folder) == files_before


def test_anonymous_requests_and_login_cookies_are_401_on_every_route(app, world, upload_folder):
    ids = world["ids"]
    logged_in = web_access.logged_in(app, world["people"]["coord"])
    before, files_before = database_state(), files_in(upload_folder)
    wrong = []
    for rule in api_rules(app):
        if rule.endpoint in PUBLIC:
            continue
        url = re.sub(r"<[^>]+>", "1", rule.rule)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            for client in (browser(app), logged_in):
                case = Call(method, url, {}, body={} if method in ("POST", "PATCH") else None)
                response = send(client, None, case, ids)
                if response.status_int != 401 or response.content_type != PROBLEM:
                    wrong.append((method, url, response.status_int))
                elif "Bearer" not in response.headers.get("WWW-Authenticate", ""):
                    wrong.append((method, url, "no challenge"))
    assert not wrong, "\n".join(map(str, wrong))
    assert database_state() == before and files_in(upload_folder) == files_before


def test_the_reference_is_public(app):
    client = browser(app)
    assert client.get("/api/v1/openapi.json").json["openapi"].startswith("3.")
    assert client.get("/api/v1/docs").status_int == 200


def items(client, token, url) -> list[dict]:
    response = client.get(url, headers={"Authorization": f"Bearer {token}"})
    return response.json["items"]


def test_list_filters_naming_other_users_rows_find_nothing(app, world):
    """A filter is applied within what the user may see: B's group, series, sessions,
    student and mentor give A's mentor and A's student nothing of B's."""
    ids, people = world["ids"], world["people"]
    client = browser(app)
    span = f"start={TODAY.isoformat()}&end={(FUTURE + timedelta(days=20)).isoformat()}"
    for role in (STUDENT, MENTOR):
        token = token_of(people[role])
        for url in (
            "/api/v1/groups?mentor={user_mb}",
            "/api/v1/series?group={group_b}",
            "/api/v1/sessions?" + span + "&group={group_b}",
            "/api/v1/sessions?" + span + "&student={user_t}",
            "/api/v1/sessions?" + span + "&mentor={user_mb}",
        ):
            assert items(client, token, url.format(**ids)) == [], (role, url)
        everything = [
            *items(client, token, "/api/v1/groups"),
            *items(client, token, "/api/v1/series"),
            *items(client, token, "/api/v1/sessions?" + span),
        ]
        assert everything and "Art B" not in json.dumps(everything), role
        requests = items(client, token, "/api/v1/requests")
        assert [r["id"] for r in requests] == [ids["request_a"]], role
    # A student reads their group, not its roster.
    group = client.get(
        f"/api/v1/groups/{ids['group_a']}",
        headers={"Authorization": f"Bearer {token_of(people[STUDENT])}"},
    ).json
    assert group["students"] is None


def test_a_demoted_mentors_token_may_no_longer_act_as_the_sessions_mentor(
    app, world, upload_folder
):
    people, ids = world["people"], world["ids"]
    # The manage pages refuse this while Ada teaches an active group; her groups may be
    # reactivated later, or the role changed before that rule: her sessions stay hers by name.
    people[MENTOR].role = Role.STUDENT
    db.session.commit()
    client, token = browser(app), token_of(people[MENTOR])
    client.get("/api/v1/rooms", headers={"Authorization": f"Bearer {token}"})
    before, files_before = database_state(), files_in(upload_folder)
    note = send(client, token, CASES["api_tracking.create_note"][0], ids)
    assert note.status_int in (403, 404)  # no longer hers: hidden or refused
    statuses = [
        send(client, token, CASES[endpoint][0], ids).status_int
        for endpoint in (
            "api_tracking.complete",
            "api_tracking.upload",
            "api_attendance.put_register",
        )
    ]
    assert set(statuses) <= {403, 404}, statuses
    assert database_state() == before and files_in(upload_folder) == files_before


# (endpoint, a role allowed to make its first call)
ALLOWED = [
    ("api_timetable.create_exception", "coord"),
    ("api_timetable.delete_exception", "admin"),
    ("api_timetable.generate", "coord"),
    ("api_timetable.add_group_students", "coord"),
    ("api_timetable.create_series", "coord"),
    ("api_timetable.patch_series", "coord"),
    ("api_timetable.create_session", "admin"),
    ("api_timetable.reschedule", "coord"),
    ("api_timetable.delete_session", "coord"),
    ("api_timetable.cancel", "coord"),
    ("api_tracking.complete", MENTOR),
    ("api_tracking.create_note", MENTOR),
    ("api_tracking.upload", "coord"),
    ("api_attendance.put_register", MENTOR),
    ("api_requests.create", STUDENT),
    ("api_requests.approve", MENTOR),
    ("api_requests.reject", "admin"),
    ("api_requests.withdraw", STUDENT),
]


@pytest.mark.parametrize(("endpoint", "role"), ALLOWED, ids=[a[0] for a in ALLOWED])
def test_the_refused_calls_are_valid_ones(app, world, endpoint, role):
    """The bodies the refusals above send are valid: the role allowed succeeds with them."""
    case = CASES[endpoint][0]
    assert role not in case.refused
    client, token = browser(app), token_of(world["people"][role])
    client.get("/api/v1/rooms", headers={"Authorization": f"Bearer {token}"})
    before = database_state()
    response = send(client, token, case, world["ids"])
    assert response.status_int in (200, 201, 204), response.text
    assert database_state() != before
