"""The htmx conventions (DESIGN.md, "htmx (version 4, vendored)") across the app.

Every GET URL that answers both a page and a fragment is asked four ways, with the headers
htmx 4.0.1 really sends (static/vendor/htmx-4.0.1.min.js):

- a plain GET (a link, a reload): the full page;
- an htmx partial request (`HX-Request-Type: partial`, any target but <body>): the fragment;
- an htmx request that is not partial (`HX-Request-Type: full`: a target of <body>, an
  `hx-select`, a boosted navigation): the full page;
- a history restore (`HX-Request-Type: full` plus `HX-History-Restore-Request: true`, the
  page has no `hx-history-elt`): the full page;

and each answer says `Vary: HX-Request`. A URL whose page lives elsewhere (an inline row)
may answer a plain or full request with a redirect to that page instead.

htmx POSTs are sent the way htmx sends them, from the form as the page renders it (its
`hx-post`, its fields, the CSRF header), and a success never answers a 3xx: a fragment, or
`HX-Redirect` for a new page. (That templates carry nothing the CSP blocks is checked in
test_security.)

Fragment-only URLs (`/timetable/exceptions/<id>`, `/schedule/sessions/<id>/card`,
`/requests/<id>/card`, `/requests/new/subjects`, `/requests/new/date`, `/notifications/bell`,
the suggestions of every typed choice `/schedule/choices/<kind>` and the cell editor's
`/schedule/sessions/<id>/rooms`)
are never pushed to the history, so they are left out of the table.

Also checked: a view answers its fragment to a partial htmx request only (not to any htmx
request), the schedule reads htmx 4's `tag#id` `HX-Target`, and an error to a full htmx
request is the error page.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from models import MentorSubject, Occurrence, SessionNote, Subject, db
from services.requests.lifecycle import RequestInput, create_request
from services.timetable.exceptions import OverrideChange, find_occurrence, save_override
from services.timetable.generation import generate_occurrences, resolve_window
from tests.conftest import PINNED_TODAY, TEST_PASSWORD, csrf_token_of

PARIS = ZoneInfo("Europe/Paris")  # the test app's TIMEZONE
TODAY = PINNED_TODAY

# Dates are constants of the module: its clock is pinned, so they never go stale.
pytestmark = pytest.mark.usefixtures("pinned_clock")
# A Monday two to three weeks ahead: every date used is in the future and editable.
MONDAY = TODAY + timedelta(days=14 - TODAY.weekday())
PAST = TODAY - timedelta(days=2)

# What htmx 4.0.1 sends (its request builder and its history restore).
PLAIN: dict[str, str] = {}
PARTIAL = {"HX-Request": "true", "HX-Request-Type": "partial"}
FULL = {"HX-Request": "true", "HX-Request-Type": "full"}
RESTORE = {**FULL, "HX-History-Restore-Request": "true"}


def at(day: date, clock: time) -> datetime:
    return datetime.combine(day, clock, tzinfo=PARIS).astimezone(UTC)


@pytest.fixture
def world(make_user, make_group, make_series, make_room):
    """One of everything the pages show: a group with a weekly series (generated), an
    exception, a one-time session, a past session, a note, pending requests."""
    coordinator = make_user("coordinator", name="Cora Coordinator")
    mentor = make_user("mentor", name="Ada Mentor")
    student = make_user("student", name="Noah Student")
    other_student = make_user("student", name="Lea Student")
    maths = Subject(name="Mathematics")
    db.session.add(maths)
    db.session.flush()
    db.session.add(MentorSubject(mentor_id=mentor.id, subject_id=maths.id))
    room = make_room("Lab 1")
    group = make_group("Maths 7A", mentor=mentor, subject=maths, room=room, students=[student])
    for enrolment in group.enrolments:  # on the past session's register
        enrolment.created_at = at(PAST - timedelta(days=30), time(9))
    series = make_series(group, weekdays=(0, 2), first_date=MONDAY)
    first, end = resolve_window(MONDAY, weeks=2)
    generate_occurrences(first, end, tz=PARIS)
    override, _ = save_override(
        series,
        MONDAY + timedelta(days=2),
        OverrideChange(start_time=time(14), end_time=time(15), notes="Moved"),
        actor=None,
        tz=PARIS,
    )
    one_time = Occurrence(
        group_id=group.id,
        start_utc=at(MONDAY + timedelta(days=1), time(16)),
        end_utc=at(MONDAY + timedelta(days=1), time(17)),
        room_id=room.id,
    )
    past = Occurrence(
        group_id=group.id,
        start_utc=at(PAST, time(10)),
        end_utc=at(PAST, time(11)),
        room_id=room.id,
    )
    db.session.add_all([one_time, past])
    db.session.flush()
    note = SessionNote(occurrence_id=past.id, author_id=mentor.id, kind="general", body="Fractions")
    db.session.add(note)
    save_override(
        series, MONDAY + timedelta(days=7), OverrideChange(cancelled=True), actor=None, tz=PARIS
    )
    db.session.commit()
    requests = [
        create_request(
            student,
            RequestInput(
                mentor_id=mentor.id,
                subject_id=maths.id,
                title=f"Help {n}",
                description="Chapter 3.",
                schedule_kind="single",
                day=MONDAY + timedelta(days=3),
                start=time(8 + 2 * n),
                duration=60,
            ),
            tz=PARIS,
        )
        for n in range(2)
    ]
    db.session.commit()
    return {
        "coordinator": coordinator,
        "mentor": mentor,
        "student": student,
        "other_student": other_student,
        "room": room.id,
        "subject": maths.id,
        "group": group.id,
        "series": series.id,
        "occ": find_occurrence(series.id, MONDAY).id,
        "moved": find_occurrence(series.id, MONDAY + timedelta(days=2)).id,
        "override": override.id,
        "one_time": one_time.id,
        "cancelled": find_occurrence(series.id, MONDAY + timedelta(days=7)).id,
        "past": past.id,
        "note": note.id,
        "request": requests[0].id,
        "request2": requests[1].id,
    }


def log_in(web, user):
    web.reset()
    form = web.get("/auth/login").forms[0]
    form["email"], form["password"] = user.email, TEST_PASSWORD
    assert form.submit().status_int == 302


def is_page(response) -> bool:
    return "<html" in response.text


# --- GET: page, fragment, Vary ------------------------------------------------------------------

BOTH, INLINE = "both", "inline"  # INLINE: the plain and full answers may redirect to the page

GET_URLS = [
    # (role, url, kind)
    ("coordinator", "/sessions/today/", BOTH),
    ("coordinator", "/timetable/generate", BOTH),
    ("coordinator", "/timetable/exceptions", BOTH),
    # Sent by the exceptions' group filter (typed): resolved, then its canonical URL.
    ("coordinator", "/timetable/exceptions?group_q=Maths+7A&kind=", INLINE),
    ("coordinator", "/timetable/exceptions/{override}/edit", BOTH),
    ("coordinator", "/schedule/", BOTH),
    ("coordinator", "/schedule/day", BOTH),
    ("coordinator", "/schedule/month", BOTH),
    # Sent by the filter bar: resolved, then its canonical URL (a plain GET is redirected).
    ("coordinator", "/schedule/?room_q=Lab+1&mentor_q=", INLINE),
    ("coordinator", "/schedule/?layout=rooms&page=2&whole=1", BOTH),
    ("coordinator", "/schedule/sessions/{occ}/editor", BOTH),
    ("coordinator", "/sessions/{occ}", BOTH),
    ("coordinator", "/sessions/new", BOTH),
    ("coordinator", "/sessions/{one_time}/edit", BOTH),
    ("coordinator", "/sessions/{occ}/cancel", BOTH),
    ("coordinator", "/sessions/{one_time}/delete", BOTH),
    ("coordinator", "/manage/rooms", BOTH),
    ("coordinator", "/manage/rooms/{room}", INLINE),
    ("coordinator", "/manage/rooms/{room}/edit", BOTH),
    ("coordinator", "/manage/subjects", BOTH),
    ("coordinator", "/manage/subjects/{subject}", INLINE),
    ("coordinator", "/manage/subjects/{subject}/edit", BOTH),
    ("coordinator", "/manage/groups", BOTH),
    ("coordinator", "/manage/series/{series}", INLINE),
    ("coordinator", "/manage/series/{series}/edit", BOTH),
    ("coordinator", "/manage/groups/{group}/students/search?q=Lea", INLINE),
    ("coordinator", "/manage/groups/{group}/enrolments/pick?from_group={group}", INLINE),
    ("coordinator", "/manage/users", BOTH),
    ("coordinator", "/manage/users/{mentor_id}", BOTH),
    ("coordinator", "/manage/users/{mentor_id}/edit", BOTH),
    ("coordinator", "/notifications/", BOTH),
    ("coordinator", "/notes/sessions/{past}", BOTH),
    ("coordinator", "/attachments/sessions/{past}", BOTH),
    ("coordinator", "/tracking/", BOTH),
    # Sent by the monitoring filters (mentor and group typed): likewise.
    ("coordinator", "/tracking/?mentor_q=&group_q=Maths+7A&status=any", INLINE),
    # Sent by the staff filters of the request lists (mentor and student typed): likewise.
    ("coordinator", "/requests/?mentor_q=&student_q=&status=", INLINE),
    ("coordinator", "/requests/pending?mentor_q=&student_q=", INLINE),
    ("coordinator", "/tracking/verify?code=ABC", BOTH),
    ("coordinator", "/tracking/sessions/{past}/completion", INLINE),
    ("coordinator", "/attendance/", BOTH),
    ("coordinator", "/attendance/?group_q=Maths+7A&student_q=", INLINE),
    ("mentor", "/attendance/sessions/{past}/register", INLINE),
    ("mentor", "/attendance/sessions/{past}/register/take", BOTH),
    ("student", "/attendance/mine", BOTH),
    ("mentor", "/schedule/mine", BOTH),
    ("mentor", "/dashboard/completed", BOTH),
    ("mentor", "/dashboard/history", BOTH),
    ("mentor", "/requests/pending", BOTH),
    ("mentor", "/requests/{request}/reject", BOTH),
    ("mentor", "/notes/{note}", INLINE),
    ("mentor", "/notes/{note}/edit", BOTH),
    ("mentor", "/tracking/sessions/{past}/complete", BOTH),
    ("mentor", "/tracking/sessions/{past}/correct", BOTH),
    ("student", "/dashboard/", BOTH),
    ("student", "/dashboard/past", BOTH),
    ("student", "/requests/", BOTH),
    ("student", "/requests/mentors", BOTH),
]


def _get_params():
    for role, url, kind in GET_URLS:
        yield pytest.param(role, url, kind, id=f"{role}:{url}")


def _url(url: str, world) -> str:
    return url.format(**{**world, "mentor_id": world["mentor"].id})


def _expect_page(web, url, headers, kind, what):
    response = web.get(url, headers=headers, status="*")
    assert "HX-Request" in response.headers.get("Vary", ""), f"{what}: no Vary: HX-Request"
    if kind == INLINE and response.status_int in (302, 303):
        response = response.follow()
    assert response.status_int in (200, 409), f"{what}: {response.status}"
    assert is_page(response), f"{what}: a fragment, not the full page"


@pytest.mark.parametrize(("role", "url", "kind"), list(_get_params()))
def test_one_url_answers_the_page_except_to_an_htmx_partial_request(web, world, role, url, kind):
    log_in(web, world[role])
    url = _url(url, world)
    fragment = web.get(url, headers=PARTIAL, status="*")
    assert fragment.status_int in (200, 409), fragment.status
    assert not is_page(fragment) and fragment.text.strip(), "partial: not a fragment"
    assert "HX-Request" in fragment.headers.get("Vary", ""), "partial: no Vary: HX-Request"
    _expect_page(web, url, PLAIN, kind, "plain GET")
    _expect_page(web, url, FULL, kind, "HX-Request-Type: full")
    _expect_page(web, url, RESTORE, kind, "history restore")


# --- POST: htmx successes never answer a 3xx ---------------------------------------------------


def hx_form(web, page_url: str, target: str, page_headers=PARTIAL):
    """The form holding the element whose `hx-post` path matches `target` (a regex), on the
    page or fragment at `page_url`; returns (hx-post URL, the fields the form would send)."""
    page = web.get(page_url, headers=page_headers)
    for key, form in page.forms.items():
        if not isinstance(key, int):
            continue  # the same forms are listed by id too
        for element in form.html.find_all(attrs={"hx-post": True}):
            if re.fullmatch(target, element["hx-post"].split("?")[0]):
                return element["hx-post"], form.submit_fields()
    raise AssertionError(f"no hx-post {target!r} on {page_url}")


def hx_submit(web, page_url, target, overrides=None, page_headers=PARTIAL):
    """Submit that form as htmx does: its fields, the CSRF header, a partial request."""
    url, fields = hx_form(web, page_url, target, page_headers)
    overrides = overrides or {}
    params = [(k, v) for k, v in fields if k not in overrides]
    params += [(k, v) for k, values in overrides.items() for v in values]
    token = dict(fields).get("csrf_token") or csrf_token_of(web.get("/sessions/today/"))
    return web.post(url, params, headers={**PARTIAL, "X-CSRFToken": token}, status="*")


FRAGMENT, NEW_PAGE = "fragment", "HX-Redirect"


def hx_post_row(role, page, target, overrides=None, *, on=PARTIAL, answer=FRAGMENT):
    """A row of HTMX_POSTS: the form on `page` (fetched with `on` headers) posting to
    `target`, with `overrides` for some fields, and the answer a success must be."""
    return pytest.param(role, page, on, target, overrides or {}, answer, id=f"{role}:{target}")


HTMX_POSTS = [
    hx_post_row("coordinator", "/manage/rooms/{room}/edit", "/manage/rooms/{room}/edit"),
    hx_post_row("coordinator", "/manage/rooms", "/manage/rooms/{room}/active", on=PLAIN),
    hx_post_row(
        "coordinator", "/manage/subjects/{subject}/edit", "/manage/subjects/{subject}/edit"
    ),
    hx_post_row("coordinator", "/manage/subjects", "/manage/subjects/{subject}/active", on=PLAIN),
    hx_post_row(
        "coordinator",
        "/manage/groups/{group}",
        "/manage/groups/{group}/series",
        {"new-weekdays": ["4"], "new-start_time": ["12:00"], "new-end_time": ["13:00"]},
        on=PLAIN,
    ),
    hx_post_row("coordinator", "/manage/series/{series}/edit", "/manage/series/{series}/edit"),
    hx_post_row(
        "coordinator",
        "/manage/groups/{group}",
        "/manage/series/{series}/end",
        {"last_date": ["{last_date}"]},
        on=PLAIN,
    ),
    hx_post_row(
        "coordinator",
        "/manage/groups/{group}/students/search?q=Lea",
        "/manage/groups/{group}/enrolments",
    ),
    hx_post_row(
        "coordinator",
        "/manage/groups/{group}",
        r"/manage/groups/{group}/enrolments/\d+/delete",
        on=PLAIN,
    ),
    hx_post_row(
        "coordinator",
        "/manage/groups/{group}",
        "/manage/groups/{group}/enrolments/preview",
        {"entries": ["Lea Student"]},
        on=PLAIN,
    ),
    hx_post_row("coordinator", "/manage/users/{mentor_id}/edit", "/manage/users/{mentor_id}/edit"),
    hx_post_row(
        "coordinator", "/manage/users", "/manage/users/{other_student_id}/active", on=PLAIN
    ),
    hx_post_row(
        "coordinator",
        "/manage/users/{other_student_id}",
        "/manage/users/{other_student_id}/invitation",
        on=PLAIN,
    ),
    hx_post_row("coordinator", "/timetable/generate", "/timetable/generate", on=PLAIN),
    hx_post_row(
        "coordinator",
        "/timetable/exceptions/{override}/edit",
        "/timetable/exceptions/{override}/edit",
    ),
    hx_post_row(
        "coordinator", "/timetable/exceptions", "/timetable/exceptions/{override}/delete", on=PLAIN
    ),
    hx_post_row(
        "coordinator",
        "/schedule/sessions/{occ}/editor",
        "/schedule/sessions/{occ}/exception",
        {"start_time": ["12:00"], "end_time": ["13:00"]},
    ),
    hx_post_row(
        "coordinator", "/schedule/sessions/{moved}/editor", "/schedule/sessions/{moved}/restore"
    ),
    hx_post_row(
        "coordinator",
        "/sessions/new?group={group}&date={free_day}&start=18:00",
        "/sessions/new",
        answer=NEW_PAGE,
    ),
    hx_post_row("coordinator", "/sessions/{one_time}/edit", "/sessions/{one_time}/edit"),
    hx_post_row(
        "coordinator", "/sessions/{occ}", "/sessions/{occ}/cancel", {"reason": ["Ill"]}, on=PLAIN
    ),
    hx_post_row("coordinator", "/sessions/{cancelled}", "/sessions/{cancelled}/restore", on=PLAIN),
    hx_post_row(
        "coordinator", "/sessions/{one_time}/delete", "/sessions/{one_time}/delete", answer=NEW_PAGE
    ),
    hx_post_row(
        "mentor",
        "/notes/sessions/{past}",
        "/notes/sessions/{past}",
        {"kind": ["general"], "body": ["Went well"]},
    ),
    hx_post_row(
        "mentor", "/notes/{note}/edit", "/notes/{note}/edit", {"body": ["Fractions, decimals"]}
    ),
    hx_post_row("mentor", "/notes/sessions/{past}", "/notes/{note}/delete"),
    hx_post_row("mentor", "/notifications/", r"/notifications/\d+/read", on=PLAIN),
    hx_post_row("mentor", "/requests/pending", "/requests/{request}/approve", on=PLAIN),
    hx_post_row(
        "mentor",
        "/requests/{request2}/reject",
        "/requests/{request2}/reject",
        {"reason": ["No time"]},
    ),
    hx_post_row(
        "mentor", "/tracking/sessions/{past}/complete", "/tracking/sessions/{past}/complete"
    ),
    hx_post_row(
        "mentor",
        "/tracking/sessions/{one_time}/completion",
        "/tracking/sessions/{one_time}/cancel",
        {"tracking-reason": ["Ill"]},
    ),
    hx_post_row("student", "/requests/", "/requests/{request}/withdraw", on=PLAIN),
    hx_post_row(
        "mentor",
        "/attendance/sessions/{past}/register/take",
        "/attendance/sessions/{past}/register/take",
    ),
    hx_post_row(
        "mentor", "/sessions/{past}", "/attendance/sessions/{past}/register/take", on=PLAIN
    ),
]


def _fill(text: str, world) -> str:
    return text.format(
        **world,
        mentor_id=world["mentor"].id,
        other_student_id=world["other_student"].id,
        last_date=(MONDAY + timedelta(days=28)).isoformat(),
        free_day=(MONDAY + timedelta(days=4)).isoformat(),
    )


@pytest.mark.parametrize(
    ("role", "page", "page_headers", "target", "overrides", "answer"), HTMX_POSTS
)
def test_an_htmx_post_that_succeeds_answers_no_3xx(
    web, world, role, page, page_headers, target, overrides, answer
):
    log_in(web, world[role])
    overrides = {_fill(k, world): [_fill(v, world) for v in vs] for k, vs in overrides.items()}
    response = hx_submit(web, _fill(page, world), _fill(target, world), overrides, page_headers)
    assert response.status_int in (200, 204), f"{response.status}: {response.text[:300]}"
    assert "Location" not in response.headers
    if answer == NEW_PAGE:
        assert response.headers["HX-Redirect"].startswith("/")
    else:
        assert not is_page(response), "a whole page swapped into the target"


# --- What htmx 4 sends, and the views that read it differently ---------------------------------

HTMX_JS = Path(__file__).resolve().parents[2] / "static" / "vendor" / "htmx-4.0.1.min.js"


def test_the_vendored_htmx_sends_the_headers_this_audit_sends():
    source = HTMX_JS.read_text()
    # Partial unless the target is <body> or the response is filtered with hx-select.
    assert '["HX-Request-Type"]=e.target===document.body||e.select?"full":"partial"' in source
    assert '"HX-History-Restore-Request":"true"' in source
    # HX-Target names the target as tag#id (htmx 2 sent the bare id).
    assert '["HX-Target"]=this.#Y(l.target)' in source
    assert 'e.tagName.toLowerCase()}${e.id?"#"+encodeURI(e.id):""}' in source


@pytest.mark.parametrize(
    ("role", "url"), [("coordinator", "/schedule/"), ("mentor", "/schedule/mine")]
)
def test_the_schedule_answers_its_fragment_to_the_target_htmx_4_names(web, world, role, url):
    log_in(web, world[role])
    response = web.get(url, headers={**PARTIAL, "HX-Target": "section#schedule"})
    assert not is_page(response)
    assert response.html.find(id="schedule") is not None


@pytest.mark.parametrize("headers", [FULL, RESTORE], ids=["full", "history-restore"])
def test_an_error_to_a_full_htmx_request_is_the_error_page(web, world, headers):
    log_in(web, world["coordinator"])
    assert not is_page(web.get("/sessions/999999", headers=PARTIAL, status=404))
    response = web.get("/sessions/999999", headers=headers, status=404)
    assert is_page(response)
