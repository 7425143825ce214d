"""Access control of every web route: role and row checks, anonymous visitors, CSRF.

One small school (`world`) with two of everything (mentors, students, groups, sessions,
notes, files, requests, notifications, feeds, tokens) so that every id probed belongs to a
row that exists but is someone else's. `CASES` lists, per route, who is refused and with
what status; each role replays its refusals as a page, as an htmx fragment (GET) or as an
htmx and a plain form post with a valid CSRF token and valid input (POST), and nothing in
the database may change. `test_every_route_is_audited` keeps `CASES` complete.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from models import GenerationRun, MentorSubject, Notification, Occurrence, Role, db
from services.cover import AbsenceData, record_absence
from services.output import feeds as calendar_feeds
from services.people import tokens as api_tokens
from services.requests.lifecycle import RequestInput, create_request
from services.school_year import (
    ClosureData,
    TermData,
    YearData,
    save_closure_record,
    save_term,
    save_year,
)
from services.storage.local import LocalStorage
from services.timetable.exceptions import OverrideChange, find_occurrence, save_override
from services.timetable.generation import generate_occurrences
from services.tracking.attachments import attach_upload
from services.tracking.completion import complete_session
from services.tracking.notes import add_note
from tests import attachment_samples as samples
from tests.conftest import PINNED_TODAY, TEST_PASSWORD, browser, csrf_token_of

PARIS = ZoneInfo("Europe/Paris")  # the test app's TIMEZONE
TODAY = PINNED_TODAY

# Dates are constants of the module: its clock is pinned, so they never go stale.
pytestmark = pytest.mark.usefixtures("pinned_clock")
PAST = TODAY - timedelta(days=2)
DONE_DAY = TODAY - timedelta(days=3)
# A series date two weeks ahead (inside every date policy, never history).
FUTURE = TODAY + timedelta(days=14)
PARTIAL = {"HX-Request": "true", "HX-Request-Type": "partial"}


def at(day, clock: time) -> datetime:
    return datetime.combine(day, clock, tzinfo=PARIS).astimezone(UTC)


def one_time(group, day, start=time(10), end=time(11)) -> Occurrence:
    occurrence = Occurrence(
        group_id=group.id,
        start_utc=at(day, start),
        end_utc=at(day, end),
        room_id=group.default_room_id,
    )
    db.session.add(occurrence)
    db.session.flush()
    return occurrence


@pytest.fixture
def world(app, upload_folder, make_user, make_group, make_room, make_series):
    """Two mentors (ma, mb), each with a class of one student (s in A, t in B), a weekly
    series, a past session (notes, a file), a completed session; requests, notifications,
    feeds and tokens of each; a coordinator and an admin."""
    people = {
        "ma": make_user("mentor", name="Ada Mentor"),
        "mb": make_user("mentor", name="Ben Mentor"),
        "s": make_user("student", name="Sam Student"),
        "t": make_user("student", name="Tom Student"),
        "coord": make_user("coordinator", name="Cora Coordinator"),
        "admin": make_user("admin", name="Abe Admin"),
    }
    group_a = make_group("Maths A", mentor=people["ma"], students=[people["s"]])
    group_b = make_group("Art B", mentor=people["mb"], students=[people["t"]])
    ids: dict[str, int] = {"group_a": group_a.id, "group_b": group_b.id}
    for enrolment in [*group_a.enrolments, *group_b.enrolments]:
        # Enrolled since well before the past sessions, so they are on their registers.
        enrolment.created_at = at(TODAY - timedelta(days=90), time(9))
    for key, group in (("a", group_a), ("b", group_b)):
        series = make_series(group, weekdays=(FUTURE.weekday(),), first_date=TODAY)
        ids[f"series_{key}"] = series.id
        generate_occurrences(FUTURE, FUTURE + timedelta(days=8), tz=PARIS)
        ids[f"{key}_future"] = find_occurrence(series.id, FUTURE).id
        ids[f"{key}_moved"] = find_occurrence(series.id, FUTURE + timedelta(days=7)).id
        override, _ = save_override(
            series,
            FUTURE + timedelta(days=7),
            OverrideChange(start_time=time(15), end_time=time(16), notes="moved"),
            actor=None,
            tz=PARIS,
        )
        ids[f"override_{key}"] = override.id
        past = one_time(group, PAST)
        ids[f"{key}_past"] = past.id
        done = one_time(group, DONE_DAY)
        ids[f"{key}_done"] = done.id
        mentor = group.mentor
        complete_session(done, actual_start=time(10), actual_end=time(11), actor=mentor, tz=PARIS)
        ids[f"{key}_done_code"] = done.completion_code
        ids[f"note_{key}"] = add_note(mentor, past, kind="general", body="Fractions").id
        ids[f"issue_{key}"] = add_note(mentor, past, kind="issue", body="Late again").id
        attachment = attach_upload(
            occurrence=past,
            uploader=mentor,
            stream=io.BytesIO(samples.pdf()),
            original_name="slides.pdf",
            description="",
            storage=LocalStorage(upload_folder),
            max_bytes=10 * 1024 * 1024,
        )
        ids[f"file_{key}"] = attachment.id
        ids[f"enrolment_{key}"] = group.enrolments[0].id
        db.session.add(MentorSubject(mentor_id=mentor.id, subject_id=group.subject_id))
    db.session.flush()
    for key, student, mentor, group in (
        ("a", people["s"], people["ma"], group_a),
        ("b", people["t"], people["mb"], group_b),
    ):
        data = RequestInput(
            mentor_id=mentor.id,
            subject_id=group.subject_id,
            title=f"Help {key}",
            description="Please",
            schedule_kind="single",
            day=FUTURE + timedelta(days=1),
            start=time(17),
            duration=60,
        )
        ids[f"request_{key}"] = create_request(student, data, tz=PARIS).id
    db.session.flush()
    for key, mentor in (("a", people["ma"]), ("b", people["mb"])):
        ids[f"notification_{key}"] = db.session.scalar(
            select(Notification.id).where(Notification.user_id == mentor.id)
        )
        ids[f"own_feed_{key}"] = calendar_feeds.own_feed(mentor).id
        row, _token = api_tokens.create_token(mentor, f"token {key}")
        ids[f"token_{key}"] = row.id
    ids["room_feed"] = calendar_feeds.staff_feed(
        people["admin"], room_id=group_a.default_room_id
    ).id
    far = FUTURE + timedelta(days=60)  # no session on it
    ids["closure"] = save_closure_record(
        ClosureData("Staff day", far, far, group_ids=[group_a.id])
    ).id
    year = save_year(YearData("Next year", far, far + timedelta(days=300)))
    ids["year"] = year.id
    ids["term"] = save_term(year, TermData("First", far, far + timedelta(days=90))).id
    # A's mentor reports an absence (pending: they may still withdraw it).
    ids["absence"] = record_absence(
        AbsenceData(people["ma"].id, far + timedelta(days=3)), actor=people["ma"], tz=PARIS
    ).id
    run = GenerationRun(start=far, end=far + timedelta(days=7), sessions=30_000)
    db.session.add(run)
    db.session.flush()
    ids["generation_run"] = run.id
    ids["room_a"] = group_a.default_room_id
    ids["subject_a"], ids["subject_b"] = group_a.subject_id, group_b.subject_id
    for role, user in people.items():
        ids[f"user_{role}"] = user.id
    db.session.commit()
    return {"people": people, "ids": ids}


@pytest.fixture
def api_token_of():
    def make(user) -> str:
        _row, token = api_tokens.create_token(user)
        db.session.commit()
        return token

    return make


def logged_in(app, user):
    client = browser(app)
    form = client.get("/auth/login").forms[0]
    form["email"], form["password"] = user.email, TEST_PASSWORD
    assert form.submit().status_int == 302
    return client


# --- The table ----------------------------------------------------------------------------------

STUDENT, OTHER_STUDENT = "s", "t"  # s attends A's class, t attends B's
MENTOR, OTHER_MENTOR = "ma", "mb"  # ma teaches A, mb teaches B
ROLES = ("s", "t", "ma", "mb", "coord", "admin")
# The rows probed are A's: t and mb see none of them (404); s and ma see them.
STRANGERS = (OTHER_STUDENT, OTHER_MENTOR)
NOT_STAFF = (STUDENT, MENTOR)


@dataclass(frozen=True)
class Case:
    method: str
    url: str  # formatted with the world's ids
    refused: dict[str, int]  # role -> the status of the refusal
    params: dict = field(default_factory=dict)
    upload: bool = False


def refuse(status: int, *roles: str) -> dict[str, int]:
    return dict.fromkeys(roles, status)


def get(url: str, *refusals: dict[str, int]) -> Case:
    return Case("GET", url, {k: v for r in refusals for k, v in r.items()})


def post(url: str, params=None, *refusals: dict[str, int], upload=False) -> Case:
    return Case("POST", url, {k: v for r in refusals for k, v in r.items()}, params or {}, upload)


STAFF_ONLY = refuse(403, *NOT_STAFF)
# A session of A: 404 for who cannot see it, 403 for who sees it but may not act.
SESSION_ACTION = refuse(404, *STRANGERS) | refuse(403, *NOT_STAFF)
TRACKING_ACTION = refuse(404, *STRANGERS) | refuse(403, STUDENT)
HIDDEN = refuse(404, *STRANGERS)
FUTURE_TEXT = FUTURE.isoformat()
SESSION_FORM = {"date": FUTURE_TEXT, "start": "12:00", "end": "13:00", "room": "0"}
COMPLETE_FORM = {"completion-actual_start": "10:00", "completion-actual_end": "10:50"}
PASSWORD = {"password": "another long password", "confirm": "another long password"}
AVAILABILITY_FORM = {
    "mentor": "{user_ma}",
    "hours_0": "09:00-12:00",
    "timezone": "Europe/Paris",
    "buffer_before_minutes": "0",
    "buffer_after_minutes": "0",
    "minimum_notice_hours": "24",
    "booking_horizon_days": "60",
    "slot_step_minutes": "30",
}

# fmt: off
CASES: dict[str, list[Case]] = {
    # Staff only (403 for students and mentors): the catalogue, groups, users.
    "manage.index": [get("/manage/", STAFF_ONLY)],
    "manage.groups": [get("/manage/groups", STAFF_ONLY)],
    "manage.group": [get("/manage/groups/{group_a}", STAFF_ONLY)],
    "manage.new_group": [
        get("/manage/groups/new", STAFF_ONLY),
        post("/manage/groups/new", {"name": "X", "subject": "{subject_a}",
             "mentor": "{user_ma}", "default_room": "{room_a}"}, STAFF_ONLY),
    ],
    "manage.edit_group": [
        get("/manage/groups/{group_a}/edit", STAFF_ONLY),
        post("/manage/groups/{group_a}/edit", {"name": "Renamed", "subject": "{subject_a}",
             "mentor": "{user_mb}", "default_room": "{room_a}"}, STAFF_ONLY),
    ],
    "manage.create_series": [
        post("/manage/groups/{group_a}/series", {"new-weekdays": "1", "new-every_weeks": "1",
             "new-start_time": "08:00", "new-end_time": "09:00", "new-room": "{room_a}",
             "new-first_date": FUTURE_TEXT}, STAFF_ONLY),
    ],
    "manage.search_group_students": [
        get("/manage/groups/{group_a}/students/search?q=Tom", STAFF_ONLY)
    ],
    "manage.enrol": [post("/manage/groups/{group_a}/enrolments", {"student": "{user_t}"},
                          STAFF_ONLY)],
    "manage.pick_students": [
        get("/manage/groups/{group_a}/enrolments/pick?from_group={group_b}", STAFF_ONLY)
    ],
    "manage.preview_enrolment": [
        post("/manage/groups/{group_a}/enrolments/preview", {"entries": "Tom Student"},
             STAFF_ONLY),
    ],
    "manage.enrol_many": [
        post("/manage/groups/{group_a}/enrolments/bulk", {"student": "{user_t}"}, STAFF_ONLY)
    ],
    "manage.move_enrolments": [
        post("/manage/groups/{group_a}/enrolments/move",
             {"student": "{user_s}", "to_group": "{group_b}"}, STAFF_ONLY),
    ],
    "manage.unenrol": [
        post("/manage/groups/{group_a}/enrolments/{enrolment_a}/delete", {}, STAFF_ONLY),
        # B's enrolment through A's URL: not A's row.
        post("/manage/groups/{group_a}/enrolments/{enrolment_b}/delete", {},
             refuse(404, "coord", "admin")),
    ],
    "manage.rooms": [get("/manage/rooms", STAFF_ONLY)],
    "manage.create_room_route": [post("/manage/rooms", {"new-name": "Attic"}, STAFF_ONLY)],
    "manage.room_row": [get("/manage/rooms/{room_a}", STAFF_ONLY)],
    "manage.edit_room": [
        get("/manage/rooms/{room_a}/edit", STAFF_ONLY),
        post("/manage/rooms/{room_a}/edit", {"name": "Renamed"}, STAFF_ONLY),
    ],
    "manage.set_room_active": [post("/manage/rooms/{room_a}/active", {"active": "0"}, STAFF_ONLY)],
    "manage.series_row": [get("/manage/series/{series_a}", STAFF_ONLY)],
    "manage.edit_series": [
        get("/manage/series/{series_a}/edit", STAFF_ONLY),
        post("/manage/series/{series_a}/edit", {"weekdays": "1", "every_weeks": "2",
             "start_time": "08:00", "end_time": "09:00", "room": "{room_a}",
             "first_date": FUTURE_TEXT}, STAFF_ONLY),
    ],
    "manage.end_series_route": [
        post("/manage/series/{series_a}/end", {"last_date": FUTURE_TEXT}, STAFF_ONLY)
    ],
    "manage.subjects": [get("/manage/subjects", STAFF_ONLY)],
    "manage.create_subject_route": [post("/manage/subjects", {"new-name": "Latin"}, STAFF_ONLY)],
    "manage.subject_row": [get("/manage/subjects/{subject_a}", STAFF_ONLY)],
    "manage.edit_subject": [
        get("/manage/subjects/{subject_a}/edit", STAFF_ONLY),
        post("/manage/subjects/{subject_a}/edit", {"name": "Renamed"}, STAFF_ONLY),
    ],
    "manage.set_subject_active": [
        post("/manage/subjects/{subject_a}/active", {"active": "0"}, STAFF_ONLY)
    ],
    "manage.users": [get("/manage/users", STAFF_ONLY)],
    "manage.create_user_route": [
        post("/manage/users", {"new-email": "x@school.test", "new-name": "X",
             "new-role": "admin"}, STAFF_ONLY),
    ],
    "manage.user": [get("/manage/users/{user_t}", STAFF_ONLY)],
    # A coordinator may not change an admin's account (403); nobody else may change any.
    "manage.edit_user": [
        get("/manage/users/{user_t}/edit", STAFF_ONLY),
        get("/manage/users/{user_admin}/edit", refuse(403, "coord")),
        post("/manage/users/{user_t}/edit", {"name": "X", "role": "mentor"}, STAFF_ONLY),
        post("/manage/users/{user_admin}/edit", {"name": "X", "role": "student"},
             refuse(403, "coord")),
    ],
    "manage.set_user_active": [
        post("/manage/users/{user_t}/active", {"active": "0"}, STAFF_ONLY),
        post("/manage/users/{user_admin}/active", {"active": "0"}, refuse(403, "coord")),
    ],
    "manage.set_user_password": [
        post("/manage/users/{user_t}/password", PASSWORD, STAFF_ONLY),
        post("/manage/users/{user_admin}/password", PASSWORD, refuse(403, "coord")),
    ],
    "manage.invite_user": [
        post("/manage/users/{user_t}/invitation", {}, STAFF_ONLY),
        post("/manage/users/{user_admin}/invitation", {}, refuse(403, "coord")),
    ],
    "manage.set_mentor_subjects_route": [
        post("/manage/users/{user_ma}/subjects", {"subjects": "{subject_b}"}, STAFF_ONLY),
        # Only mentors offer subjects: a student's account has no such form.
        post("/manage/users/{user_t}/subjects", {"subjects": "{subject_a}"},
             refuse(404, "coord", "admin")),
    ],
    # Staff only: the timetable.
    "timetable.groups": [get("/timetable/groups", STAFF_ONLY)],
    "timetable.generate": [
        get("/timetable/generate", STAFF_ONLY),
        post("/timetable/generate", {"start": FUTURE_TEXT, "span": "weeks", "weeks": "3"},
             STAFF_ONLY),
    ],
    "timetable.generation_run": [get("/timetable/generations/{generation_run}", STAFF_ONLY)],
    "timetable.exceptions": [get("/timetable/exceptions", STAFF_ONLY)],
    "timetable.create_exception": [
        post("/timetable/exceptions", {"series": "{series_a}", "action": "cancel",
             "original_date": (FUTURE + timedelta(days=14)).isoformat()}, STAFF_ONLY),
    ],
    "timetable.exception_row": [get("/timetable/exceptions/{override_a}", STAFF_ONLY)],
    "timetable.edit_exception": [
        get("/timetable/exceptions/{override_a}/edit", STAFF_ONLY),
        post("/timetable/exceptions/{override_a}/edit", {"action": "cancel"}, STAFF_ONLY),
    ],
    "timetable.delete_exception": [
        post("/timetable/exceptions/{override_a}/delete", {}, STAFF_ONLY)
    ],
    "timetable.closures": [get("/timetable/closures", STAFF_ONLY)],
    "timetable.create_closure": [
        post("/timetable/closures", {"name": "Holiday", "kind": "holiday", "scope": "school",
             "first_day": (FUTURE + timedelta(days=90)).isoformat(),
             "last_day": (FUTURE + timedelta(days=90)).isoformat()}, STAFF_ONLY),
    ],
    "timetable.delete_closure": [post("/timetable/closures/{closure}/delete", {}, STAFF_ONLY)],
    "timetable.import_closures_route": [post("/timetable/closures/import", {}, STAFF_ONLY)],
    "timetable.imports": [get("/timetable/imports", STAFF_ONLY)],
    "timetable.preview_import": [
        post("/timetable/imports/timetable/preview", {}, STAFF_ONLY, upload=True),
        post("/timetable/imports/exceptions/preview", {}, STAFF_ONLY, upload=True),
    ],
    "timetable.apply_import": [
        post("/timetable/imports/timetable/apply", {"timetable-sha256": "0" * 64}, STAFF_ONLY),
    ],
    "timetable.years": [get("/timetable/years", STAFF_ONLY)],
    "timetable.create_year": [
        post("/timetable/years", {"year-name": "Later", "year-first_day": "2040-09-01",
             "year-last_day": "2041-07-01"}, STAFF_ONLY),
    ],
    "timetable.create_term": [
        post("/timetable/years/{year}/terms", {"name": "Second"}, STAFF_ONLY),
    ],
    "timetable.delete_year_route": [post("/timetable/years/{year}/delete", {}, STAFF_ONLY)],
    "timetable.delete_term_route": [post("/timetable/terms/{term}/delete", {}, STAFF_ONLY)],
    "timetable.public_holidays_page": [get("/timetable/closures/public-holidays", STAFF_ONLY)],
    "timetable.add_public_holidays_route": [
        post("/timetable/closures/public-holidays", {"country": "FR", "first_day": "2040-01-01",
             "last_day": "2040-01-02", "day": "2040-01-01"}, STAFF_ONLY),
    ],
    "timetable.day_changes": [get("/timetable/day-changes", STAFF_ONLY)],
    "timetable.change_day": [
        post("/timetable/day-changes", {"action": "cancel", "first_day": "2040-01-02",
             "confirm": "yes"}, STAFF_ONLY),
    ],
    "timetable.closure_row": [get("/timetable/closures/{closure}", STAFF_ONLY)],
    "timetable.edit_closure": [
        get("/timetable/closures/{closure}/edit", STAFF_ONLY),
        post("/timetable/closures/{closure}/edit", {}, STAFF_ONLY),
    ],
    "timetable.year_heading": [get("/timetable/years/{year}", STAFF_ONLY)],
    "timetable.edit_year": [
        get("/timetable/years/{year}/edit", STAFF_ONLY),
        post("/timetable/years/{year}/edit", {}, STAFF_ONLY),
    ],
    "timetable.term_row": [get("/timetable/terms/{term}", STAFF_ONLY)],
    "timetable.edit_term": [
        get("/timetable/terms/{term}/edit", STAFF_ONLY),
        post("/timetable/terms/{term}/edit", {}, STAFF_ONLY),
    ],
    # Staff only: the school's schedule and its inline editor.
    "schedule.week": [get("/schedule/", STAFF_ONLY)],
    "schedule.day": [get("/schedule/day", STAFF_ONLY)],
    "schedule.month": [get("/schedule/month", STAFF_ONLY)],
    "schedule.editor": [get("/schedule/sessions/{a_future}/editor", STAFF_ONLY)],
    "schedule.card": [get("/schedule/sessions/{a_future}/card", STAFF_ONLY)],
    "schedule.save_exception": [
        post("/schedule/sessions/{a_future}/exception", {"action": "cancel"}, STAFF_ONLY)
    ],
    "schedule.restore": [post("/schedule/sessions/{a_moved}/restore", {}, STAFF_ONLY)],
    # What the filter bar and the cell editor suggest as you type.
    "schedule.choices": [
        get("/schedule/choices/room?room_q=a", STAFF_ONLY),
        get("/schedule/choices/student?student_q=a", STAFF_ONLY),
        get("/schedule/choices/series?list=series_q-list&series_q=a", STAFF_ONLY),
    ],
    "schedule.editor_rooms": [get("/schedule/sessions/{a_future}/rooms?room_q=a", STAFF_ONLY)],
    "schedule.live_cells": [get("/schedule/live-cells?session={a_future}", STAFF_ONLY)],
    # Sessions: staff act; the others who see the session get 403, strangers 404.
    "sessions.new": [
        get("/sessions/new", STAFF_ONLY),
        post("/sessions/new", SESSION_FORM | {"group": "{group_a}", "room": "{room_a}"},
             STAFF_ONLY),
    ],
    "sessions.detail": [get("/sessions/{a_future}", HIDDEN)],
    "sessions.edit": [
        get("/sessions/{a_future}/edit", SESSION_ACTION),
        get("/sessions/{a_past}/edit", SESSION_ACTION),
        post("/sessions/{a_future}/edit", SESSION_FORM | {"notes": "x"}, SESSION_ACTION),
        post("/sessions/{a_past}/edit", SESSION_FORM | {"mode": "in_person", "room": "{room_a}"},
             SESSION_ACTION),
    ],
    "sessions.cancel": [
        get("/sessions/{a_future}/cancel", SESSION_ACTION),
        post("/sessions/{a_future}/cancel", {"reason": "ill"}, SESSION_ACTION),
    ],
    "sessions.restore": [post("/sessions/{a_moved}/restore", {}, SESSION_ACTION)],
    "sessions.delete": [
        get("/sessions/{a_past}/delete", SESSION_ACTION),
        post("/sessions/{a_past}/delete", {}, SESSION_ACTION),
    ],
    # Tracking: monitoring is for staff; completing for the session's mentor and staff.
    "tracking.monitor": [get("/tracking/", STAFF_ONLY)],
    "tracking.verify": [get("/tracking/verify?code={a_done_code}", STAFF_ONLY)],
    "tracking.hours": [get("/tracking/hours", STAFF_ONLY)],
    "tracking.hours_csv": [get("/tracking/hours.csv", STAFF_ONLY)],
    "tracking.completion_section": [get("/tracking/sessions/{a_past}/completion", HIDDEN)],
    "tracking.complete": [
        get("/tracking/sessions/{a_past}/complete", TRACKING_ACTION),
        post("/tracking/sessions/{a_past}/complete", COMPLETE_FORM, TRACKING_ACTION),
    ],
    "tracking.correct": [
        get("/tracking/sessions/{a_done}/correct", TRACKING_ACTION),
        post("/tracking/sessions/{a_done}/correct",
             COMPLETE_FORM | {"completion-notes": "rewritten"}, TRACKING_ACTION),
    ],
    "tracking.cancel": [
        post("/tracking/sessions/{a_future}/cancel", {"tracking-reason": "ill"}, TRACKING_ACTION)
    ],
    # A mentor's own availability (another mentor's id: 404); staff set any mentor's.
    "availability.index": [
        get("/availability/", refuse(403, STUDENT, OTHER_STUDENT)),
        get("/availability/?mentor={user_ma}",
            refuse(404, OTHER_MENTOR) | refuse(403, STUDENT, OTHER_STUDENT)),
    ],
    "availability.save": [
        post("/availability/", AVAILABILITY_FORM,
             refuse(404, OTHER_MENTOR) | refuse(403, STUDENT, OTHER_STUDENT)),
    ],
    "availability.add_override": [
        post("/availability/overrides", {"mentor": "{user_ma}", "day": FUTURE_TEXT, "hours": ""},
             refuse(404, OTHER_MENTOR) | refuse(403, STUDENT, OTHER_STUDENT)),
    ],
    "availability.remove_override": [
        post("/availability/overrides/clear", {"mentor": "{user_ma}", "day": FUTURE_TEXT},
             refuse(404, OTHER_MENTOR) | refuse(403, STUDENT, OTHER_STUDENT)),
    ],
    # Attendance: the register is seen by the session's mentor, staff and (their own line)
    # its students; taken by its mentor and staff; the report is for staff; a student's own
    # page is for students (staff are sent to the report).
    # Cover: the board and absences are staff's; a mentor reports and withdraws their own
    # (another's absence is 404 to them and to students).
    "cover.board": [get("/cover/", STAFF_ONLY)],
    "cover.assign": [post("/cover/sessions/{a_future}/assign", {"mentor": ""}, STAFF_ONLY)],
    "cover.cancel": [post("/cover/sessions/{a_future}/cancel", {}, STAFF_ONLY)],
    "cover.absences_page": [get("/cover/absences", STAFF_ONLY)],
    "cover.record": [
        post("/cover/absences", {"mentor": "{user_mb}", "first_day": "2040-01-02"}, STAFF_ONLY)
    ],
    "cover.absence": [get("/cover/absences/{absence}", STAFF_ONLY)],
    "cover.edit_absence": [
        get("/cover/absences/{absence}/edit", STAFF_ONLY),
        post("/cover/absences/{absence}/edit", {"first_day": "2040-01-05"}, STAFF_ONLY),
    ],
    "cover.decide": [
        post("/cover/absences/{absence}/decision", {"decision": "confirm"}, STAFF_ONLY)
    ],
    "cover.remove": [
        post("/cover/absences/{absence}/delete", {},
             refuse(404, STUDENT, OTHER_STUDENT, OTHER_MENTOR)),
    ],
    "cover.absences_export": [get("/cover/absences.csv", STAFF_ONLY)],
    "cover.mine": [
        get("/cover/mine", refuse(403, STUDENT, OTHER_STUDENT, "coord", "admin")),
        post("/cover/mine", {"first_day": "2040-01-02"},
             refuse(403, STUDENT, OTHER_STUDENT, "coord", "admin")),
    ],
    "attendance.section": [get("/attendance/sessions/{a_past}/register", HIDDEN)],
    "attendance.take": [
        get("/attendance/sessions/{a_past}/register/take", TRACKING_ACTION),
        post("/attendance/sessions/{a_past}/register/take", {"all_present": "1"},
             TRACKING_ACTION),
    ],
    "attendance.report": [get("/attendance/", STAFF_ONLY)],
    "attendance.report_csv": [get("/attendance/report.csv", STAFF_ONLY)],
    "attendance.mine": [
        get("/attendance/mine", refuse(403, MENTOR, OTHER_MENTOR) | refuse(302, "coord", "admin"))
    ],
    # Notes: strangers 404; a student reads general notes (403 to change them) and never
    # sees an issue note (404); only the author edits (403 for staff too).
    "notes.section": [get("/notes/sessions/{a_past}", HIDDEN)],
    "notes.add": [
        post("/notes/sessions/{a_past}", {"kind": "general", "body": "x"},
             HIDDEN | refuse(403, STUDENT)),
    ],
    "notes.row": [
        get("/notes/{note_a}", HIDDEN),
        get("/notes/{issue_a}", HIDDEN | refuse(404, STUDENT)),
    ],
    "notes.edit": [
        get("/notes/{note_a}/edit", HIDDEN | refuse(403, STUDENT, "coord", "admin")),
        get("/notes/{issue_a}/edit", HIDDEN | refuse(404, STUDENT)),
        post("/notes/{note_a}/edit", {"kind": "issue", "body": "changed"},
             HIDDEN | refuse(403, STUDENT, "coord", "admin")),
        post("/notes/{issue_a}/edit", {"kind": "general", "body": "changed"},
             HIDDEN | refuse(404, STUDENT)),
    ],
    "notes.delete": [
        post("/notes/{note_a}/delete", {}, HIDDEN | refuse(403, STUDENT)),
        post("/notes/{issue_a}/delete", {}, HIDDEN | refuse(404, STUDENT)),
    ],
    # Files: strangers 404; students download but neither upload nor delete (403).
    "attachments.section": [get("/attachments/sessions/{a_past}", HIDDEN)],
    "attachments.upload": [
        post("/attachments/sessions/{a_past}", {"description": "x"},
             HIDDEN | refuse(403, STUDENT), upload=True),
    ],
    "attachments.download": [get("/attachments/{file_a}/download", HIDDEN)],
    "attachments.delete": [post("/attachments/{file_a}/delete", {}, HIDDEN | refuse(403, STUDENT))],
    # Dashboards: mentors' tabs send students to their dashboard and staff to the schedule;
    # only a student of the session rates it (404 for everyone else).
    "dashboard.completed": [get("/dashboard/completed", refuse(302, STUDENT, "coord"))],
    "dashboard.history": [get("/dashboard/history", refuse(302, STUDENT, "coord"))],
    "dashboard.rate": [
        post("/dashboard/sessions/{a_done}/rating", {"score": "5"},
             refuse(404, OTHER_STUDENT, MENTOR, OTHER_MENTOR, "coord", "admin")),
    ],
    # Requests: students ask; the addressed mentor (or an admin) decides; only the student
    # who asked withdraws; everyone else who may see a request gets 403, strangers 404.
    "requests.mentors": [get("/requests/mentors", refuse(403, MENTOR))],
    "requests.new": [
        get("/requests/new", refuse(403, MENTOR, "coord", "admin")),
        post("/requests/new", {"mentor": "{user_ma}", "subject": "{subject_a}",
             "title": "Sneaky", "mode": "online", "schedule_kind": "single",
             "day": FUTURE_TEXT, "start": "18:00", "duration": "60"},
             refuse(403, MENTOR, "coord", "admin")),
    ],
    "requests.subject_options": [
        get("/requests/new/subjects?mentor={user_ma}", refuse(403, MENTOR, "coord", "admin"))
    ],
    "requests.date_input": [get("/requests/new/date", refuse(403, MENTOR, "coord", "admin"))],
    # Everyone has a list of requests: their own, those addressed to them, every one (staff).
    "requests.mine": [get("/requests/")],
    # Coordinators oversee every pending request (read-only).
    "requests.pending": [get("/requests/pending", refuse(403, STUDENT))],
    "requests.detail": [get("/requests/{request_a}", HIDDEN)],
    "requests.card": [get("/requests/{request_a}/card", HIDDEN | refuse(403, STUDENT, "coord"))],
    "requests.approve": [
        post("/requests/{request_a}/approve", {"view": "pending"},
             HIDDEN | refuse(403, STUDENT, "coord")),
    ],
    "requests.reject": [
        get("/requests/{request_a}/reject", HIDDEN | refuse(403, STUDENT, "coord")),
        post("/requests/{request_a}/reject", {"reason": "no"},
             HIDDEN | refuse(403, STUDENT, "coord")),
    ],
    "requests.withdraw": [
        post("/requests/{request_a}/withdraw", {}, HIDDEN | refuse(403, MENTOR, "coord", "admin"))
    ],
    # Notifications are their owner's only: anyone else's id does not exist (404).
    "notifications.read": [
        post("/notifications/{notification_a}/read", {},
             refuse(404, STUDENT, OTHER_STUDENT, OTHER_MENTOR, "coord", "admin")),
    ],
    "notifications.open_link": [
        get("/notifications/{notification_a}/open",
            refuse(404, STUDENT, OTHER_STUDENT, OTHER_MENTOR, "coord", "admin")),
        post("/notifications/{notification_a}/open", {},
             refuse(404, STUDENT, OTHER_STUDENT, OTHER_MENTOR, "coord", "admin")),
    ],
    # Profile: room and group feeds are for staff (403); another's feed or token is 404, and
    # one's own-sessions feed is regenerated, never deleted (404).
    "profile.add_staff_feed": [post("/profile/feeds", {"room": "{room_a}"}, STAFF_ONLY)],
    "profile.regenerate_feed": [
        post("/profile/feeds/{own_feed_a}/regenerate", {},
             refuse(404, STUDENT, OTHER_MENTOR, "coord", "admin")),
        post("/profile/feeds/{room_feed}/regenerate", {}, refuse(404, MENTOR, "coord")),
    ],
    "profile.delete_feed": [
        post("/profile/feeds/{own_feed_a}/delete", {},
             refuse(404, MENTOR, OTHER_MENTOR, "coord", "admin")),
        post("/profile/feeds/{room_feed}/delete", {}, refuse(404, MENTOR, "coord")),
    ],
    "profile.revoke_token": [
        post("/profile/tokens/{token_a}/revoke", {},
             refuse(404, STUDENT, OTHER_MENTOR, "coord", "admin")),
    ],
}

# Any logged-in user may use these (each shows or changes only the user's own things):
# only anonymous visitors are refused, in `test_anonymous_visitors_are_sent_to_log_in`.
ANY_USER = {
    "main.today", "auth.logout", "dashboard.index", "dashboard.past", "notifications.index",
    "notifications.read_all", "profile.index", "profile.create_token", "schedule.mine",
    "schedule.export", "profile.change_password", "profile.logout_everywhere",
    "profile.save_reminders",
    # The stream sends each user only their own events (tests/blueprints/test_live.py).
    "live.stream",
}
# fmt: on
# Public by design: the home page (redirects), logging in, invitation and calendar links
# (the token in the URL is the secret), the bell (a "log in again" link once logged out),
# static files, the health checks; /metrics answers allowed networks or its bearer token
# only, and is 404 for everyone else, signed in or not (tests/blueprints/test_metrics.py).
PUBLIC = {
    "main.index",
    "auth.login",
    "invitations.accept",
    "calendar.feed",
    "notifications.bell",
    "static",
    "ops.healthz",
    "ops.readyz",
    "ops.metrics",
}
# Example URLs for the rules with parameters that are not ids.
ANONYMOUS_URLS = {"schedule.export": "/schedule/export.csv"}


# --- Helpers ------------------------------------------------------------------------------------


def database_state() -> dict:
    """Every row of every table, to prove a refused request changed nothing."""
    db.session.expire_all()
    return {
        table.name: db.session.execute(select(table).order_by(*table.primary_key.columns)).all()
        for table in db.metadata.sorted_tables
    }


def files_in(upload_folder) -> list[str]:
    return (
        sorted(str(p.relative_to(upload_folder)) for p in upload_folder.rglob("*"))
        if upload_folder.exists()
        else []
    )


def send(client, case: Case, ids: dict, variant: str, token: str | None):
    """One request of `case`: GET as a page or an htmx fragment; POST from htmx (CSRF header)
    or a plain form (CSRF field); `token=None` sends no CSRF token at all."""
    url = case.url.format(**ids)
    if case.method == "GET":
        headers = PARTIAL if variant == "fragment" else {}
        return client.get(url, headers=headers, status="*", expect_errors=True)
    params = {k: v.format(**ids) for k, v in case.params.items()}
    headers = {}
    if variant == "htmx":
        headers = dict(PARTIAL) | ({"X-CSRFToken": token} if token else {})
    elif token:
        params["csrf_token"] = token
    files = [("file", "notes.pdf", samples.pdf())] if case.upload else None
    return client.post(url, params, headers=headers, upload_files=files, status="*")


def messages_in(response) -> list[str]:
    """The error messages a refused form shows (next to its fields, or above it)."""
    found = response.html.select('[id$="-error"], [role="alert"], .error, .errors')
    return [" ".join(element.text.split()) for element in found] or [response.text[:300]]


def variants(case: Case) -> tuple[str, ...]:
    return ("page", "fragment") if case.method == "GET" else ("htmx", "form")


# --- Completeness -------------------------------------------------------------------------------


def web_rules(app):
    return [r for r in app.url_map.iter_rules() if not r.rule.startswith("/api/")]


def test_every_route_is_audited(app):
    """A new route must say who may use it: a refusal in CASES, or ANY_USER, or PUBLIC."""
    endpoints = {rule.endpoint for rule in web_rules(app)}
    assert endpoints == set(CASES) | ANY_USER | PUBLIC, endpoints ^ (set(CASES) | ANY_USER | PUBLIC)
    assert not (set(CASES) & ANY_USER) and not (set(CASES) & PUBLIC) and not ANY_USER & PUBLIC
    for rule in web_rules(app):
        if rule.endpoint in CASES:
            methods = {case.method for case in CASES[rule.endpoint]}
            assert methods == rule.methods - {"HEAD", "OPTIONS"}, rule.endpoint


# --- Refusals by role and row -------------------------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
def test_each_role_is_refused_what_it_may_not_do_and_nothing_changes(
    app, world, upload_folder, role
):
    ids = world["ids"]
    client = logged_in(app, world["people"][role])
    token = csrf_token_of(client.get("/notifications/"))
    before, files_before = database_state(), files_in(upload_folder)
    wrong = []
    checked = 0
    for endpoint, cases in CASES.items():
        for case in cases:
            expected = case.refused.get(role)
            if expected is None:
                continue
            for variant in variants(case):
                response = send(client, case, ids, variant, token)
                checked += 1
                if response.status_int != expected:
                    wrong.append(
                        (endpoint, case.method, variant, case.url, expected, response.status_int)
                    )
                elif expected == 302:
                    assert "/auth/login" not in response.headers["Location"], case.url
    assert not wrong, "\n".join(map(str, wrong))
    assert checked > 10
    assert database_state() == before
    assert files_in(upload_folder) == files_before
    # Still logged in, as the same person: no refusal logged anyone out.
    assert world["people"][role].name in client.get("/notifications/").text


# --- Anonymous visitors -------------------------------------------------------------------------


def example_url(rule) -> str:
    if rule.endpoint in ANONYMOUS_URLS:
        return ANONYMOUS_URLS[rule.endpoint]
    return re.sub(r"<[^>]+>", "1", rule.rule)


def test_anonymous_visitors_are_sent_to_log_in_on_every_route(app, world, upload_folder):
    """Pages redirect to the login page (coming back afterwards); htmx gets 401 with
    HX-Redirect; a post, even with a valid CSRF token, changes nothing."""
    client = browser(app)
    login_page = client.get("/auth/login")
    token = login_page.html.find("input", {"name": "csrf_token"})["value"]
    before, files_before = database_state(), files_in(upload_folder)
    wrong = []
    for rule in web_rules(app):
        if rule.endpoint in PUBLIC:
            continue
        url = example_url(rule)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            if method == "GET":
                page = client.get(url, status="*")
                fragment = client.get(url, headers=PARTIAL, status="*")
            else:
                page = client.post(url, {"csrf_token": token}, status="*")
                fragment = client.post(
                    url, {}, headers=PARTIAL | {"X-CSRFToken": token}, status="*"
                )
            location = page.headers.get("Location", "")
            # A page comes back after logging in (next=); a form sent logged out is not resent.
            login = "/auth/login?next=" if method == "GET" else "/auth/login"
            if page.status_int != 302 or login not in location:
                wrong.append((method, url, "page", page.status_int, location))
            if fragment.status_int != 401 or "/auth/login" not in fragment.headers.get(
                "HX-Redirect", ""
            ):
                wrong.append((method, url, "fragment", fragment.status_int))
    assert not wrong, "\n".join(map(str, wrong))
    assert database_state() == before
    assert files_in(upload_folder) == files_before


# --- Controls: the same requests succeed for who may make them, and only with a CSRF token ------

# (endpoint, index in CASES[endpoint], a role allowed to make that request)
ALLOWED = [
    ("notes.add", 0, MENTOR),
    ("notes.edit", 2, MENTOR),
    ("notes.delete", 0, "coord"),
    ("attachments.upload", 0, MENTOR),
    ("attachments.delete", 0, MENTOR),
    ("tracking.complete", 1, MENTOR),
    ("tracking.correct", 1, "coord"),
    ("tracking.cancel", 0, MENTOR),
    ("attendance.take", 1, MENTOR),
    ("dashboard.rate", 0, STUDENT),
    ("requests.new", 1, STUDENT),
    ("requests.approve", 0, MENTOR),
    ("requests.reject", 1, "admin"),
    ("requests.withdraw", 0, STUDENT),
    ("notifications.read", 0, MENTOR),
    ("sessions.new", 1, "coord"),
    ("sessions.edit", 2, "coord"),
    ("sessions.cancel", 1, "coord"),
    ("sessions.delete", 1, "admin"),
    ("timetable.generate", 1, "coord"),
    ("timetable.create_exception", 0, "coord"),
    ("manage.edit_group", 1, "coord"),
    ("manage.create_series", 0, "coord"),
    ("manage.enrol", 0, "coord"),
    ("manage.enrol_many", 0, "coord"),
    ("manage.move_enrolments", 0, "coord"),
    ("manage.unenrol", 0, "coord"),
    ("manage.edit_user", 2, "coord"),
    ("manage.set_user_active", 0, "coord"),
    ("profile.regenerate_feed", 0, MENTOR),
    ("profile.revoke_token", 0, MENTOR),
    ("profile.add_staff_feed", 0, "coord"),
]


@pytest.mark.parametrize(("endpoint", "index", "role"), ALLOWED, ids=[a[0] for a in ALLOWED])
def test_the_refused_requests_are_valid_ones_and_need_the_csrf_token(
    app, world, upload_folder, endpoint, index, role
):
    """The input the refusals above send is valid: the role allowed to make the request
    succeeds with it, but only with its CSRF token (without, 400 and nothing changes)."""
    case = CASES[endpoint][index]
    assert case.method == "POST" and role not in case.refused
    ids = world["ids"]
    client = logged_in(app, world["people"][role])
    before, files_before = database_state(), files_in(upload_folder)
    for variant in variants(case):
        response = send(client, case, ids, variant, token=None)
        assert response.status_int == 400, (variant, response.status)
        assert "security token" in response.text
    assert database_state() == before and files_in(upload_folder) == files_before
    token = csrf_token_of(client.get("/notifications/"))
    response = send(client, case, ids, "htmx", token)
    assert response.status_int in (200, 201, 302), messages_in(response)
    assert database_state() != before


# --- What a student may not see stays hidden everywhere; a demoted role loses its rights ---------


def put_in_same_room(ids) -> None:
    """B's future session moves into A's room at the same time: a room conflict."""
    b = db.session.get(Occurrence, ids["b_future"])
    b.room_id = db.session.get(Occurrence, ids["a_future"]).room_id
    db.session.commit()


def test_a_students_timetable_names_no_session_they_may_not_see(app, world):
    ids = world["ids"]
    put_in_same_room(ids)
    client = logged_in(app, world["people"][STUDENT])
    # The session page shows the student no conflict (the rule the grid should follow).
    assert "Art B" not in client.get(f"/sessions/{ids['a_future']}").text
    client.get(f"/sessions/{ids['b_future']}", status=404)
    day = FUTURE.isoformat()
    for url in (
        f"/schedule/mine?date={day}",
        f"/schedule/mine?view=day&date={day}",
        f"/schedule/mine?view=month&date={day}",
    ):
        for headers in ({}, PARTIAL):
            page = client.get(url, headers=headers)
            assert "Maths A" in page.text
            assert "Art B" not in page.text, (url, headers)


def test_a_students_export_flags_no_conflict_the_api_hides(app, world, api_token_of):
    ids = world["ids"]
    put_in_same_room(ids)
    student = world["people"][STUDENT]
    api = browser(app).get(
        f"/api/v1/sessions/{ids['a_future']}",
        headers={"Authorization": f"Bearer {api_token_of(student)}"},
    )
    assert api.json["conflict"] is None  # hidden from students by the API
    client = logged_in(app, student)
    export = client.get(f"/schedule/export.csv?date={FUTURE.isoformat()}")
    rows = list(csv.DictReader(io.StringIO(export.text.lstrip("\ufeff"))))
    assert [row["group"] for row in rows] == ["Maths A"]
    assert rows[0].get("conflict") != "true"


def test_a_room_feed_stops_when_its_owner_is_no_longer_staff(app, world):
    from services.people.users import update_account

    people, ids = world["people"], world["ids"]
    feed = calendar_feeds.staff_feed(people["coord"], room_id=ids["room_a"])
    db.session.commit()
    url = f"/calendar/{feed.token}.ics"
    anyone = browser(app)
    assert "Maths A" in anyone.get(url).text
    update_account(people["admin"], people["coord"], name="Cora", role="student")
    db.session.commit()
    # Now a student of no group: no page shows them the room's sessions...
    student = logged_in(app, people["coord"])
    student.get(f"/sessions/{ids['a_future']}", status=404)
    # ...and neither may the feed.
    response = anyone.get(url, status="*")
    assert response.status_int == 404 or "Maths A" not in response.text


def test_a_demoted_mentor_may_no_longer_act_as_the_sessions_mentor(app, world, upload_folder):
    people, ids = world["people"], world["ids"]
    # The manage pages refuse this while Ada teaches an active group; her groups may be
    # reactivated later, or the role changed before that rule: her sessions stay hers by name.
    people[MENTOR].role = Role.STUDENT
    db.session.commit()
    client = logged_in(app, people[MENTOR])
    token = csrf_token_of(client.get("/notifications/"))
    before, files_before = database_state(), files_in(upload_folder)
    # No longer her session at all: hidden (404) or refused (403), and nothing changes.
    assert send(client, CASES["notes.add"][0], ids, "htmx", token).status_int in (403, 404)
    statuses = {
        (endpoint, index): send(client, CASES[endpoint][index], ids, "htmx", token).status_int
        for endpoint, index in (
            ("tracking.complete", 1),
            ("tracking.correct", 1),
            ("tracking.cancel", 0),
            ("attendance.take", 1),
            ("attachments.upload", 0),
            ("attachments.delete", 0),
        )
    }
    assert set(statuses.values()) <= {403, 404}, statuses
    assert database_state() == before and files_in(upload_folder) == files_before


def test_a_substitute_opens_and_completes_the_session_they_cover_and_no_other(
    app, world, make_user
):
    people, ids = world["people"], world["ids"]
    # Ben covers Ada's past session of A: he teaches it, though A is not his group.
    db.session.get(Occurrence, ids["a_past"]).cover_mentor_id = people[OTHER_MENTOR].id
    db.session.commit()
    ben = logged_in(app, people[OTHER_MENTOR])
    page = ben.get(f"/sessions/{ids['a_past']}")
    assert "Taught by Ben Mentor (cover for Ada Mentor)" in page.text
    token = csrf_token_of(page)
    complete = CASES["tracking.complete"][1]
    assert send(ben, complete, ids, "htmx", token).status_int == 200
    completed = db.session.get(Occurrence, ids["a_past"])
    db.session.refresh(completed)
    assert completed.is_completed and completed.completed_by_id == people[OTHER_MENTOR].id
    # Only that session: A's others stay hidden from him.
    ben.get(f"/sessions/{ids['a_future']}", status=404)
    ben.get(f"/sessions/{ids['a_done']}", status=404)
    # Ada keeps it (her group's session), and a mentor who neither teaches nor covers it
    # still finds nothing there.
    logged_in(app, people[MENTOR]).get(f"/sessions/{ids['a_past']}")
    stranger = logged_in(app, make_user("mentor", name="Cleo Mentor"))
    stranger.get(f"/sessions/{ids['a_past']}", status=404)
    stranger.get(f"/tracking/sessions/{ids['a_past']}/completion", status=404)
