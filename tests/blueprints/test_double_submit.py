"""Double submits: every state-changing web form and htmx action sent twice in a row.

Users double-click, resubmit a form with Back, work in two tabs, and a flaky network retries.
Each case below sends the same valid request twice (same payload, same CSRF token, as the page
sends it: htmx actions with HX-Request and X-CSRFToken, plain forms with their hidden token; a
plain form's first redirect is followed, as the browser does, before it is sent again) and
checks what the second one does: no duplicate the user did not mean, no server error, and a
response that says what happened.

`test_a_second_submit_is_refused_or_idempotent` checks each route's second response (status,
message, no new row). The tests after it check that a repeat makes no duplicate (a note, a file,
a weekly series, an API token), that a repeated removal says it is already done rather than
Werkzeug's generic "URL not found" text (swapped by htmx in place of the section the button was
in), and that a second Log out leads to a page.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from flask import current_app
from sqlalchemy import func, select

from models import (
    ApiToken,
    Attachment,
    CalendarFeed,
    CourseGroup,
    DateOverride,
    Enrolment,
    MentorSubject,
    Notification,
    Occurrence,
    OccurrenceStatus,
    Rating,
    RequestedSlot,
    Room,
    Series,
    SessionEvent,
    SessionNote,
    SessionRequest,
    Subject,
    User,
    db,
)
from services.notifications.inbox import notify
from services.people.invitations import make_invitation
from services.requests.lifecycle import RequestInput, create_request
from services.timetable.generation import generate_occurrences
from tests import attachment_samples as samples
from tests.conftest import PINNED_TODAY, TEST_PASSWORD, csrf_token_of

PARIS = ZoneInfo("Europe/Paris")  # the test app's TIMEZONE
TODAY = PINNED_TODAY

# Dates are constants of the module: its clock is pinned, so they never go stale.
pytestmark = pytest.mark.usefixtures("pinned_clock")
MONDAY = TODAY + timedelta(days=14 - TODAY.weekday())  # 8 to 14 days ahead
PAST = TODAY - timedelta(days=2)
HX = {"HX-Request": "true", "HX-Request-Type": "partial"}
# Werkzeug's default 404 text: nothing a user who clicked a button can make sense of.
GENERIC_404 = "If you entered the URL manually"


def at(day: date, clock: time) -> datetime:
    return datetime.combine(day, clock, tzinfo=PARIS).astimezone(UTC)


def count(model) -> int:
    db.session.expire_all()
    if model is ApiToken:  # tokens that still work
        query = select(func.count()).where(ApiToken.revoked_at.is_(None))
        return db.session.scalar(query.select_from(ApiToken))
    return db.session.scalar(select(func.count()).select_from(model))


@dataclass
class Case:
    url: str
    params: dict = field(default_factory=dict)
    hx: bool = True  # an htmx action (else a plain form)
    page: str | None = "/sessions/today/"  # where the CSRF token is read
    counted: tuple = ()
    files: list | None = None


@dataclass
class Outcome:
    first: object
    second: object
    after_first: list
    after_second: list

    def said(self) -> str:
        """What the second response tells the user: its toast and its text (after a redirect,
        the page it leads to)."""
        response = self.second
        if response.status_int in (301, 302, 303):
            response = response.follow(expect_errors=True)
        parts = []
        if "HX-Trigger" in response.headers:
            parts.append(json.loads(response.headers["HX-Trigger"])["toast"]["message"])
        if response.content_type == "text/html" and response.body:
            parts.append(" ".join(response.html.get_text(" ").split()))
        return " ".join(parts)


def send_twice(web, case: Case) -> Outcome:
    token = csrf_token_of(web.get(case.page)) if case.page else None
    headers = {**HX, "X-CSRFToken": token} if case.hx else {}
    body = dict(case.params) if case.hx else {**case.params, "csrf_token": token}
    extra = {"upload_files": case.files} if case.files else {}

    def post():
        return web.post(case.url, body, headers=headers, expect_errors=True, **extra)

    first = post()
    assert first.status_int in (200, 201, 302), first.text
    if not case.hx and first.status_int == 302:
        first.follow()  # the browser shows the next page (and its flash) before Back
    after_first = [count(m) for m in case.counted]
    second = post()
    return Outcome(first, second, after_first, [count(m) for m in case.counted])


# --- The school ---------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _uploads(app, tmp_path, monkeypatch):
    monkeypatch.setitem(app.config, "UPLOAD_FOLDER", str(tmp_path / "uploads"))


@pytest.fixture
def one_class(make_user, make_room, make_group, make_series, login_as):
    mentor = make_user("mentor", name="Ms Curie")
    student = make_user("student", name="Noah Bernard")
    room = make_room("Lab 1")
    group = make_group(
        "Math 101", mentor=mentor, subject="Mathematics", room=room, students=[student]
    )
    series = make_series(group, weekdays=(0,), first_date=MONDAY)
    generate_occurrences(MONDAY, MONDAY + timedelta(days=7), tz=PARIS)
    db.session.commit()
    return School(
        coordinator=make_user("coordinator", name="Cora Ordinator"),
        mentor=mentor,
        student=student,
        other=make_user("student", name="Lea Martin"),
        room=room,
        group=group,
        series=series,
        occurrence=db.session.scalars(select(Occurrence)).one(),
        login=login_as,
    )


@dataclass
class School:
    coordinator: User
    mentor: User
    student: User
    other: User
    room: Room
    group: CourseGroup
    series: Series
    occurrence: Occurrence  # the series' session on MONDAY
    login: Callable

    @property
    def subject(self) -> Subject:
        return self.group.subject

    def one_time(self, day=MONDAY + timedelta(days=1), **kwargs) -> Occurrence:
        occurrence = Occurrence(
            group_id=self.group.id,
            start_utc=at(day, time(14)),
            end_utc=at(day, time(15)),
            room_id=self.room.id,
            **kwargs,
        )
        db.session.add(occurrence)
        db.session.commit()
        return occurrence

    def cancelled_monday(self) -> DateOverride:
        override = DateOverride(
            series_id=self.series.id, original_date=MONDAY, cancelled=True, notes="Trip"
        )
        self.occurrence.status = OccurrenceStatus.CANCELLED
        db.session.add(override)
        db.session.commit()
        return override

    def note(self) -> SessionNote:
        now = datetime.now(UTC)
        note = SessionNote(
            occurrence_id=self.occurrence.id,
            author_id=self.mentor.id,
            kind="general",
            body="Old text",
            created_at=now,
            updated_at=now,
        )
        db.session.add(note)
        db.session.commit()
        return note

    def request(self) -> SessionRequest:
        db.session.add(MentorSubject(mentor_id=self.mentor.id, subject_id=self.subject.id))
        db.session.commit()
        data = RequestInput(
            mentor_id=self.mentor.id,
            subject_id=self.subject.id,
            title="Algebra",
            description="",
            schedule_kind="single",
            day=MONDAY + timedelta(days=3),
            start=time(16),
            duration=60,
        )
        created = create_request(self.student, data, tz=PARIS)
        db.session.commit()
        return created


def staff(s: School) -> None:
    s.login(s.coordinator)


def plain_post(web, url, params=None, **kwargs):
    token = csrf_token_of(web.get("/sessions/today/"))
    return web.post(url, {**(params or {}), "csrf_token": token}, **kwargs)


# --- Scenarios: one per route (name -> builder(school, web) -> Case) ----------------------------

SESSION_ROWS = (Occurrence, DateOverride, Notification, SessionEvent)


def room_create(s, web):
    staff(s)
    params = {"new-name": "Lab 9", "new-capacity": "20", "new-active": "y"}
    return Case("/manage/rooms", params, hx=False, counted=(Room,))


def subject_create(s, web):
    staff(s)
    params = {"new-name": "Physics", "new-active": "y"}
    return Case("/manage/subjects", params, hx=False, counted=(Subject,))


def room_edit(s, web):
    staff(s)
    params = {"name": "Lab One", "capacity": "30", "active": "y"}
    return Case(f"/manage/rooms/{s.room.id}/edit", params, counted=(Room,))


def room_active(s, web):
    staff(s)
    return Case(f"/manage/rooms/{s.room.id}/active", {"active": "0"}, counted=(Room,))


def subject_edit(s, web):
    staff(s)
    params = {"name": "Maths", "active": "y"}
    return Case(f"/manage/subjects/{s.subject.id}/edit", params, counted=(Subject,))


def subject_active(s, web):
    staff(s)
    return Case(f"/manage/subjects/{s.subject.id}/active", {"active": "0"}, counted=(Subject,))


def _group_params(s, name):
    return {
        "name": name,
        "subject": s.subject.id,
        "mentor": s.mentor.id,
        "default_room": s.room.id,
        "active": "y",
    }


def group_new(s, web):
    staff(s)
    params = _group_params(s, "Physics 1")
    return Case("/manage/groups/new", params, hx=False, counted=(CourseGroup,))


def group_edit(s, web):
    staff(s)
    params = _group_params(s, "Math 102")
    return Case(f"/manage/groups/{s.group.id}/edit", params, hx=False, counted=(CourseGroup,))


def _series_params(s, prefix="", weekday="2"):
    values = {
        "weekdays": weekday,
        "every_weeks": "1",
        "start_time": "14:00",
        "end_time": "15:00",
        "room": s.room.id,
        "mode": "in_person",
        "first_date": MONDAY.isoformat(),
    }
    return {prefix + k: v for k, v in values.items()}


def series_create(s, web):
    staff(s)
    params = _series_params(s, "new-")
    return Case(f"/manage/groups/{s.group.id}/series", params, counted=(Series,))


def series_edit(s, web):
    staff(s)
    params = _series_params(s, weekday="0")
    return Case(f"/manage/series/{s.series.id}/edit", params, counted=(Series,))


def series_end(s, web):
    staff(s)
    params = {"last_date": (MONDAY + timedelta(days=63)).isoformat()}
    return Case(f"/manage/series/{s.series.id}/end", params, counted=(Series,))


def enrol(s, web):
    staff(s)
    params = {"student": s.other.id, "q": "Lea"}
    return Case(f"/manage/groups/{s.group.id}/enrolments", params, counted=(Enrolment,))


def unenrol(s, web):
    staff(s)
    enrolment = db.session.scalars(select(Enrolment)).one()
    url = f"/manage/groups/{s.group.id}/enrolments/{enrolment.id}/delete"
    return Case(url, {"q": ""}, counted=(Enrolment,))


def user_create(s, web):
    staff(s)
    params = {
        "new-email": "zoe@school.test",
        "new-name": "Zoe Quinn",
        "new-role": "student",
        "new-password": "",
        "new-confirm": "",
    }
    return Case("/manage/users", params, hx=False, counted=(User,))


def user_edit(s, web):
    staff(s)
    params = {"name": "Lea M", "role": "student"}
    return Case(f"/manage/users/{s.other.id}/edit", params, counted=(User,))


def user_active(s, web):
    staff(s)
    return Case(f"/manage/users/{s.other.id}/active", {"active": "0"}, counted=(User,))


def mentor_subjects(s, web):
    staff(s)
    params = {"subjects": s.subject.id}
    url = f"/manage/users/{s.mentor.id}/subjects"
    return Case(url, params, hx=False, counted=(MentorSubject,))


def user_password(s, web):
    staff(s)
    params = {"password": "a brand new secret", "confirm": "a brand new secret"}
    return Case(f"/manage/users/{s.other.id}/password", params, hx=False, counted=(User,))


def invite(s, web):
    staff(s)
    return Case(f"/manage/users/{s.other.id}/invitation", {}, counted=(User,))


def invitation_accept(s, web):
    token = make_invitation(s.coordinator, s.other, secret_key=current_app.config["SECRET_KEY"])
    url = f"/auth/invitation/{token}"
    params = {"password": "a brand new secret", "confirm": "a brand new secret"}
    return Case(url, params, hx=False, page=url, counted=(User,))


def login(s, web):
    params = {"email": s.student.email, "password": TEST_PASSWORD}
    return Case("/auth/login", params, hx=False, page="/auth/login")


def session_new(s, web):
    staff(s)
    params = {
        "group": s.group.id,
        "date": (MONDAY + timedelta(days=1)).isoformat(),
        "start": "14:00",
        "end": "15:00",
        "room": s.room.id,
        "mode": "in_person",
        "title": "",
    }
    return Case("/sessions/new", params, hx=False, page="/sessions/new", counted=SESSION_ROWS)


def session_edit(s, web):
    staff(s)
    occurrence = s.one_time()
    params = {
        "date": (MONDAY + timedelta(days=2)).isoformat(),
        "start": "14:00",
        "end": "15:00",
        "room": s.room.id,
        "mode": "in_person",
        "title": "Extra",
    }
    return Case(f"/sessions/{occurrence.id}/edit", params, counted=SESSION_ROWS)


def session_cancel(s, web):
    staff(s)
    return Case(f"/sessions/{s.occurrence.id}/cancel", {"reason": "Ill"}, counted=SESSION_ROWS)


def session_cancel_one_time(s, web):
    staff(s)
    url = f"/sessions/{s.one_time().id}/cancel"
    return Case(url, {"reason": "Ill"}, counted=SESSION_ROWS)


def session_restore(s, web):
    staff(s)
    occurrence = s.one_time(status=OccurrenceStatus.CANCELLED, cancel_reason="Ill")
    return Case(f"/sessions/{occurrence.id}/restore", {}, counted=SESSION_ROWS)


def session_delete(s, web):
    staff(s)  # the confirmation page's form, without JavaScript (Back + resubmit)
    url = f"/sessions/{s.one_time().id}/delete"
    return Case(url, {}, hx=False, counted=SESSION_ROWS)


def schedule_exception(s, web):
    staff(s)
    url = f"/schedule/sessions/{s.occurrence.id}/exception?date={MONDAY}"
    return Case(url, {"action": "cancel", "notes": "Holiday"}, counted=SESSION_ROWS)


def schedule_restore(s, web):
    staff(s)
    s.cancelled_monday()
    url = f"/schedule/sessions/{s.occurrence.id}/restore?date={MONDAY}"
    return Case(url, {}, counted=SESSION_ROWS)


def generate(s, web):
    staff(s)
    params = {"start": MONDAY.isoformat(), "span": "weeks", "weeks": "3"}
    return Case("/timetable/generate", params, counted=SESSION_ROWS)


def exception_create(s, web):
    staff(s)
    params = {
        "series": s.series.id,
        "original_date": MONDAY.isoformat(),
        "action": "cancel",
        "notes": "Holiday",
        "room": "0",
    }
    return Case("/timetable/exceptions", params, hx=False, counted=SESSION_ROWS)


def exception_edit(s, web):
    staff(s)
    override = s.cancelled_monday()
    params = {
        "action": "override",
        "start_time": "11:00",
        "end_time": "12:00",
        "room": "0",
        "notes": "Later",
    }
    return Case(f"/timetable/exceptions/{override.id}/edit", params, counted=SESSION_ROWS)


def exception_delete(s, web):
    staff(s)
    override = s.cancelled_monday()
    return Case(f"/timetable/exceptions/{override.id}/delete", {}, counted=SESSION_ROWS)


def note_add(s, web):
    s.login(s.mentor)
    params = {"kind": "general", "body": "Bring a calculator"}
    return Case(f"/notes/sessions/{s.occurrence.id}", params, counted=(SessionNote,))


def note_edit(s, web):
    s.login(s.mentor)
    params = {"kind": "issue", "body": "New text"}
    return Case(f"/notes/{s.note().id}/edit", params, counted=(SessionNote, SessionEvent))


def note_delete(s, web):
    s.login(s.mentor)
    return Case(f"/notes/{s.note().id}/delete", {}, counted=(SessionNote,))


def upload(s, web):
    s.login(s.mentor)
    return Case(
        f"/attachments/sessions/{s.occurrence.id}",
        {"description": "Week 1"},
        files=[("file", "slides.pdf", samples.pdf())],
        counted=(Attachment,),
    )


def attachment_delete(s, web):
    s.login(s.mentor)
    token = csrf_token_of(web.get("/sessions/today/"))
    web.post(
        f"/attachments/sessions/{s.occurrence.id}",
        {"description": "Week 1"},
        upload_files=[("file", "slides.pdf", samples.pdf())],
        headers={**HX, "X-CSRFToken": token},
    )
    attachment = db.session.scalars(select(Attachment)).one()
    return Case(f"/attachments/{attachment.id}/delete", {}, counted=(Attachment,))


def complete(s, web):
    s.login(s.mentor)
    occurrence = s.one_time(day=PAST)
    params = {
        "completion-actual_start": "14:05",
        "completion-actual_end": "15:00",
        "completion-code": "",
        "completion-notes": "Fractions",
    }
    return Case(f"/tracking/sessions/{occurrence.id}/complete", params, counted=SESSION_ROWS)


def correct(s, web):
    s.login(s.mentor)
    occurrence = s.one_time(
        day=PAST,
        status=OccurrenceStatus.COMPLETED,
        actual_start_utc=at(PAST, time(14)),
        actual_end_utc=at(PAST, time(15)),
        completion_code="MATH101-ABC",
        completed_at=datetime.now(UTC),
        completed_by_id=s.mentor.id,
    )
    params = {
        "completion-actual_start": "14:10",
        "completion-actual_end": "15:00",
        "completion-code": "MATH101-ABC",
        "completion-notes": "Fractions",
    }
    return Case(f"/tracking/sessions/{occurrence.id}/correct", params, counted=SESSION_ROWS)


def tracking_cancel(s, web):
    s.login(s.mentor)
    url = f"/tracking/sessions/{s.occurrence.id}/cancel"
    return Case(url, {"tracking-reason": "Ill"}, counted=SESSION_ROWS)


def request_new(s, web):
    db.session.add(MentorSubject(mentor_id=s.mentor.id, subject_id=s.subject.id))
    db.session.commit()
    s.login(s.student)
    params = {
        "mentor": s.mentor.id,
        "subject": s.subject.id,
        "title": "Algebra",
        "description": "",
        "mode": "online",
        "schedule_kind": "single",
        "day": (MONDAY + timedelta(days=3)).isoformat(),
        "start": "16:00",
        "duration": "60",
    }
    counted = (SessionRequest, RequestedSlot, Notification)
    return Case("/requests/new", params, hx=False, page="/requests/new", counted=counted)


def approve(s, web):
    request_ = s.request()
    s.login(s.mentor)
    return Case(f"/requests/{request_.id}/approve", {}, counted=SESSION_ROWS)


def reject(s, web):
    request_ = s.request()
    s.login(s.mentor)
    return Case(f"/requests/{request_.id}/reject", {"reason": "Busy"}, counted=(Notification,))


def withdraw(s, web):
    request_ = s.request()
    s.login(s.student)
    return Case(f"/requests/{request_.id}/withdraw", {}, counted=(Notification,))


def rate(s, web):
    occurrence = s.one_time(day=PAST, status=OccurrenceStatus.COMPLETED)
    s.login(s.student)
    url = f"/dashboard/sessions/{occurrence.id}/rating"
    return Case(url, {"score": "4", "tab": "past"}, counted=(Rating,))


def read(s, web):
    notification = notify(s.student.id, "test", "Hello")[0]
    db.session.commit()
    s.login(s.student)
    return Case(f"/notifications/{notification.id}/read", {}, counted=(Notification,))


def read_all(s, web):
    notify(s.student.id, "test", "Hello")
    db.session.commit()
    s.login(s.student)
    return Case("/notifications/read-all", {}, hx=False, counted=(Notification,))


def feed_add(s, web):
    staff(s)
    params = {"room": s.room.id, "group": "0"}
    return Case("/profile/feeds", params, hx=False, counted=(CalendarFeed,))


def feed_regenerate(s, web):
    staff(s)
    web.get("/profile/")  # makes the user's own feed
    feed = db.session.scalars(select(CalendarFeed)).one()
    return Case(f"/profile/feeds/{feed.id}/regenerate", {}, hx=False, counted=(CalendarFeed,))


def feed_delete(s, web):
    staff(s)
    plain_post(web, "/profile/feeds", {"room": s.room.id, "group": "0"})
    feed = db.session.scalars(select(CalendarFeed).where(CalendarFeed.room_id.is_not(None))).one()
    return Case(f"/profile/feeds/{feed.id}/delete", {}, hx=False, counted=(CalendarFeed,))


def token_create(s, web):
    staff(s)
    return Case("/profile/tokens", {"label": "Backup script"}, hx=False, counted=(ApiToken,))


def token_revoke(s, web):
    staff(s)
    plain_post(web, "/profile/tokens", {"label": "Backup script"})
    token = db.session.scalars(select(ApiToken)).one()
    return Case(f"/profile/tokens/{token.id}/revoke", {}, hx=False, counted=(ApiToken,))


# --- The routes that behave well ----------------------------------------------------------------

# builder, second response's status, what it says (None: nothing to check beyond status).
WELL_BEHAVED = [
    # Refused with a message next to the field or in place: no second row.
    (room_create, 422, "A room named Lab 9 already exists."),
    (subject_create, 422, "A subject named Physics already exists."),
    (group_new, 422, "A group named Physics 1 already exists."),
    (user_create, 422, "An account with zoe@school.test already exists."),
    (enrol, 422, "Lea Martin is already in Math 101."),
    (session_new, 409, "Lab 1 (room) is already booked by Math 101 on"),
    (session_cancel, 409, "This session is already cancelled."),
    (session_cancel_one_time, 409, "This session is already cancelled."),
    (session_restore, 409, "This session is not cancelled."),
    (complete, 409, "This session is already completed: correct its record instead."),
    (tracking_cancel, 409, "This session is already cancelled."),
    (request_new, 422, "You already asked Ms Curie for these sessions"),
    (approve, 409, "This request is approved already: nothing was changed."),
    (reject, 409, "This request is rejected already: nothing was changed."),
    (withdraw, 409, "This request is withdrawn already: nothing was changed."),
    (rate, 409, "You have already rated this session (4/5)."),
    (invitation_accept, 410, "This invitation link has already been used"),
    (login, 302, None),  # already logged in: home
    # Idempotent: the same values saved again, nothing new written (nor notified).
    (room_edit, 200, "Lab One (room) saved."),
    (room_active, 200, "Lab 1 (room) deactivated."),
    (subject_edit, 200, "Maths (subject) saved."),
    (subject_active, 200, "Mathematics (subject) deactivated."),
    (group_edit, 302, "Math 102 (group) saved."),
    (series_edit, 200, "Series saved."),
    (series_end, 200, "Series ends on"),
    (user_edit, 200, "Lea M saved."),
    (user_active, 200, "Lea Martin's account is deactivated"),
    (mentor_subjects, 302, "Subjects offered by Ms Curie saved."),
    (user_password, 302, "Password set for Lea Martin"),
    (invite, 200, "Send this link to Lea Martin"),  # another signed link, no row
    (session_edit, 200, "Nothing to change: the session already had these values."),
    (schedule_exception, 200, "Cancelled Math 101 on"),
    (generate, 200, "Created 0"),
    (exception_create, 302, "Exception saved for Math 101 on"),
    (exception_edit, 200, "Later"),
    (note_edit, 200, "Nothing changed."),
    (correct, 200, "Nothing to correct: no change."),
    (read, 200, None),
    (read_all, 302, "Nothing unread."),
    (feed_add, 302, "Feed added."),  # the existing room feed, not a second one
    # A repeated delete, restore, revoke or regenerate: no harm; what the second response says
    # is checked by test_a_repeated_removal_says_it_is_already_done.
    (unenrol, 404, None),
    (session_delete, 404, None),
    (schedule_restore, 404, None),
    (exception_delete, 404, None),
    (note_delete, 404, None),
    (attachment_delete, 404, None),
    (feed_regenerate, 404, None),
    (feed_delete, 404, None),
    (token_revoke, 404, None),
]


@pytest.mark.parametrize(
    ("build", "status", "message"), WELL_BEHAVED, ids=[b.__name__ for b, *_ in WELL_BEHAVED]
)
def test_a_second_submit_is_refused_or_idempotent(web, one_class, build, status, message):
    case = build(one_class, web)
    outcome = send_twice(web, case)
    assert outcome.second.status_int == status, outcome.said()
    assert outcome.after_second == outcome.after_first, "the second submit wrote rows"
    if message is not None:
        assert message in outcome.said()


def test_the_second_exception_tells_nobody_again(web, one_class):
    outcome = send_twice(web, schedule_exception(one_class, web))
    notified = db.session.scalar(select(func.count()).select_from(Notification))
    assert notified == 2  # the mentor and the student, once
    assert outcome.after_second == outcome.after_first


# --- A repeat makes no duplicate, and says so ----------------------------------------------------


def _refused_as_a_repeat(outcome: Outcome) -> None:
    assert outcome.after_second == outcome.after_first, "the second submit made a duplicate"
    assert outcome.second.status_int < 500
    assert re.search(r"already|no longer", outcome.said()), outcome.said()


def test_the_same_note_added_twice_is_one_note(web, one_class):
    _refused_as_a_repeat(send_twice(web, note_add(one_class, web)))


def test_the_same_file_uploaded_twice_is_one_attachment(web, one_class):
    _refused_as_a_repeat(send_twice(web, upload(one_class, web)))


def test_the_same_series_added_twice_is_one_series(web, one_class):
    outcome = send_twice(web, series_create(one_class, web))
    _refused_as_a_repeat(outcome)


def test_the_same_token_created_twice_is_one_token(web, one_class):
    _refused_as_a_repeat(send_twice(web, token_create(one_class, web)))


REPEATED_REMOVALS = [
    unenrol,
    session_delete,
    schedule_restore,
    exception_delete,
    note_delete,
    attachment_delete,
    feed_regenerate,
    feed_delete,
    token_revoke,
]


@pytest.mark.parametrize("build", REPEATED_REMOVALS, ids=[b.__name__ for b in REPEATED_REMOVALS])
def test_a_repeated_removal_says_it_is_already_done(web, one_class, build):
    outcome = send_twice(web, build(one_class, web))
    said = outcome.said()
    assert GENERIC_404 not in said
    assert re.search(r"already|no longer", said), said


def test_logging_out_twice_then_in_lands_on_a_page(web, one_class):
    staff(one_class)
    token = csrf_token_of(web.get("/sessions/today/"))
    web.post("/auth/logout", {"csrf_token": token}).follow()
    second = web.post("/auth/logout", {"csrf_token": token})
    form = second.follow().forms[0]
    form["email"], form["password"] = one_class.coordinator.email, TEST_PASSWORD
    landed = form.submit().maybe_follow(expect_errors=True)
    assert landed.status_int == 200, landed.status
