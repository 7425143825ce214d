"""Session requests: each schedule kind makes exactly the right slots and sessions; approval
is all or nothing and happens once, even racing; rejection needs a reason; expiry;
visibility; notifications in the same transaction."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError

import services.requests.lifecycle as requests_service
from models import (
    AvailabilityOverride,
    BookingRules,
    Closure,
    CourseGroup,
    DateOverride,
    Enrolment,
    GroupKind,
    MentorSubject,
    Notification,
    Occurrence,
    OccurrenceMode,
    OccurrenceStatus,
    RequestStatus,
    Series,
    SessionRequest,
    Subject,
    User,
    WorkingHours,
    db,
)
from services.common.errors import ConflictError, InvalidTransition, NotFoundError, ValidationError
from services.permissions import can_decide
from services.requests.lifecycle import (
    RequestInput,
    approve_request,
    create_request,
    effective_status,
    expire_requests,
    get_visible_request,
    reject_request,
    slot_clashes,
    withdraw_request,
)
from services.timetable.generation import generate_occurrences
from services.timetable.sessions import (
    update_one_time_session,
)
from services.timetable.video_rooms import ROOM_ID
from tests.conftest import AKL
from tests.services.conftest import bodies
from tests.services.test_concurrency import run_together

PARIS = ZoneInfo("Europe/Paris")
NOW = datetime(2026, 9, 1, 8, tzinfo=UTC)  # Tuesday 1 September 2026, 10:00 in Paris
MONDAY = date(2026, 9, 7)


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


@pytest.fixture
def people(make_user):
    maths = Subject(name="Mathematics")
    db.session.add(maths)
    mentor = make_user("mentor", name="Ada Lovelace")
    db.session.add(MentorSubject(mentor_id=mentor.id, subject_id=maths.id))
    db.session.commit()
    return {
        "mentor": mentor,
        "student": make_user("student", name="Noah Bernard"),
        "other": make_user("student", name="Lea Martin"),
        "maths": maths,
    }


def ask(people, student=None, **fields) -> SessionRequest:
    data = RequestInput(
        mentor_id=people["mentor"].id,
        subject_id=people["maths"].id,
        title=fields.pop("title", "Help with algebra"),
        **fields,
    )
    request = create_request(student or people["student"], data, tz=PARIS, now=NOW)
    db.session.commit()
    return request


def single(people, day=MONDAY, start=time(10), duration=60, **kw) -> SessionRequest:
    return ask(people, schedule_kind="single", day=day, start=start, duration=duration, **kw)


def weekly(people, weekdays=(0, 2, 4), weeks=8, **kw) -> SessionRequest:
    return ask(
        people, schedule_kind="weekly", weekdays=list(weekdays), start=time(16), end=time(17),
        first_date=kw.pop("first_date", MONDAY), weeks=weeks, **kw,
    )  # fmt: skip


def refused(data_fields, people, student=None) -> dict:
    data = RequestInput(mentor_id=people["mentor"].id, subject_id=people["maths"].id)
    for name, value in data_fields.items():
        setattr(data, name, value)
    with pytest.raises(ValidationError) as caught:
        create_request(student or people["student"], data, tz=PARIS, now=NOW)
    db.session.rollback()
    assert count(SessionRequest) == 0 and count(Notification) == 0
    return caught.value.errors


# --- Creating -----------------------------------------------------------------------------


def test_one_session_is_a_date_a_start_and_a_duration(people):
    request = single(people, duration=90)
    [slot] = request.slots
    assert slot.local_date == MONDAY
    assert slot.start_utc == datetime(2026, 9, 7, 8, tzinfo=UTC)  # 10:00 CEST
    assert slot.end_utc - slot.start_utc == timedelta(minutes=90)
    assert (request.start_time, request.end_time) == (time(10), time(11, 30))
    assert request.status == RequestStatus.PENDING
    assert request.first_start_utc == slot.start_utc


def test_specific_dates_share_one_time_and_duplicates_count_once(people):
    days = [MONDAY + timedelta(days=9), MONDAY, MONDAY + timedelta(days=9)]
    request = ask(people, schedule_kind="dates", dates=days, start=time(14), end=time(15))
    assert [s.local_date for s in request.slots] == [MONDAY, MONDAY + timedelta(days=9)]


def test_weekly_mon_wed_fri_for_eight_weeks_is_24_sessions(people):
    request = weekly(people)
    assert len(request.slots) == 24
    assert request.slots[-1].local_date == MONDAY + timedelta(weeks=7, days=4)
    # Local 16:00 on both sides of the October DST change.
    local = {s.start_utc.astimezone(PARIS).time() for s in request.slots}
    assert local == {time(16)}


def test_creating_tells_the_mentor(people):
    request = single(people)
    [note] = db.session.scalars(select(Notification)).all()
    assert note.user_id == people["mentor"].id and note.kind == "request_new"
    assert "Noah Bernard" in note.title and note.link == f"/requests/{request.id}"


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"schedule_kind": "single", "day": MONDAY, "start": time(10), "duration": 45},
         "duration", "Choose 30, 60, 90 or 120 minutes."),
        ({"schedule_kind": "dates", "dates": [MONDAY], "start": time(17), "end": time(9)},
         "end", "The end (09:00) must be after the start (17:00), or at most 12 hours later "
         "on the next day."),
        ({"schedule_kind": "single", "start": time(10), "duration": 60},
         "day", "Choose a date."),
        ({"schedule_kind": "single", "day": date(2026, 9, 1), "start": time(9), "duration": 60},
         "day", "Choose a date and time in the future."),
        ({"schedule_kind": "dates", "start": time(10), "end": time(11)},
         "dates", "Add at least one date."),
        ({"schedule_kind": "dates", "dates": [MONDAY], "start": time(11), "end": time(11)},
         "end", "The end (11:00) must be after the start (11:00)."),
        ({"schedule_kind": "dates", "dates": [MONDAY, date(2026, 8, 31)], "start": time(10),
          "end": time(11)}, "dates",
         "Choose a date and time in the future: Mon 31 Aug 2026 10:00 has passed."),
        ({"schedule_kind": "weekly", "start": time(10), "end": time(11), "first_date": MONDAY,
          "weeks": 4}, "weekdays", "Choose at least one weekday."),
        ({"schedule_kind": "weekly", "weekdays": [0], "start": time(10), "end": time(11),
          "first_date": MONDAY, "weeks": 27}, "weeks", "Choose between 1 and 26 weeks."),
        ({"schedule_kind": "weekly", "weekdays": [0], "start": time(10), "end": time(11),
          "weeks": 2}, "first_date", "Choose the first date."),
        # Two years ahead at most (1 Sep 2026 + 732 days), and never before the calendar.
        ({"schedule_kind": "single", "day": date(2028, 9, 4), "start": time(9), "duration": 60},
         "day", "Choose dates up to 02 Sep 2028."),
        ({"schedule_kind": "single", "day": date(1, 1, 1), "start": time(0), "duration": 60},
         "day", "Choose a date and time in the future."),
        ({"schedule_kind": "dates", "dates": [MONDAY, date(2030, 1, 7)], "start": time(10),
          "end": time(11)}, "dates",
         "Choose dates up to 02 Sep 2028: Mon 07 Jan 2030 is too far ahead."),
        ({"schedule_kind": "weekly", "weekdays": [0], "start": time(10), "end": time(11),
          "first_date": date(2028, 8, 28), "weeks": 2}, "weeks",
         "Choose dates up to 02 Sep 2028: Mon 04 Sep 2028 is too far ahead."),
        ({"schedule_kind": "weekly", "weekdays": [4], "start": time(10), "end": time(11),
          "first_date": date(9999, 12, 31), "weeks": 2}, "first_date",
         "Choose dates up to 02 Sep 2028."),
        ({"schedule_kind": "monthly"}, "schedule_kind",
         "Choose one session, specific dates or a weekly schedule."),
        ({"schedule_kind": "single", "day": MONDAY, "start": time(10), "duration": 60,
          "mode": "carrier pigeon"}, "mode", "Choose online or in person."),
    ],
)  # fmt: skip
def test_each_bad_schedule_is_refused_by_field_and_nothing_is_saved(people, fields, field, message):
    fields = {"title": "Algebra", **fields}
    assert refused(fields, people)[field] == message


def test_an_empty_form_is_refused_field_by_field(people):
    data = RequestInput()
    with pytest.raises(ValidationError) as caught:
        create_request(people["student"], data, tz=PARIS, now=NOW)
    assert {"mentor", "subject", "title", "day", "start", "duration"} <= set(caught.value.errors)
    db.session.rollback()
    assert count(SessionRequest) == 0


def test_at_most_200_sessions_per_request(people):
    days = [MONDAY + timedelta(days=n) for n in range(201)]
    errors = refused(
        {"title": "Daily", "schedule_kind": "dates", "dates": days, "start": time(10),
         "end": time(11)}, people,
    )  # fmt: skip
    assert errors["schedule_kind"] == "That is 201 sessions; one request can ask for at most 200."


def test_the_mentor_must_teach_the_subject_and_be_an_active_mentor(people, make_user):
    physics = Subject(name="Physics")
    db.session.add(physics)
    db.session.commit()
    fields = {"title": "T", "schedule_kind": "single", "day": MONDAY, "start": time(10),
              "duration": 60}  # fmt: skip
    assert refused(fields | {"subject_id": physics.id}, people)["subject"] == (
        "Ada Lovelace does not teach Physics."
    )
    student = make_user("student")
    assert refused(fields | {"mentor_id": student.id}, people)["mentor"] == "Choose a mentor."
    people["mentor"].is_active_account = False
    db.session.commit()
    assert refused(fields, people)["mentor"] == "Choose a mentor."


def test_a_title_is_required(people):
    fields = {"title": "   ", "schedule_kind": "single", "day": MONDAY, "start": time(10),
              "duration": 60}  # fmt: skip
    assert refused(fields, people)["title"] == "Give the request a title."


def test_every_mistake_is_reported_at_once(people):
    # An empty title and yesterday's date: both messages, not one per submit.
    yesterday = {"title": "", "schedule_kind": "single", "day": date(2026, 8, 31),
                 "start": time(10), "duration": 60}  # fmt: skip
    assert refused(yesterday, people) == {
        "title": "Give the request a title.",
        "day": "Choose a date and time in the future.",
    }
    weekly_past = {"title": "", "schedule_kind": "weekly", "weekdays": [0],
                   "first_date": date(2026, 8, 31), "weeks": 2, "start": time(10),
                   "end": time(11), "mode": "fax"}  # fmt: skip
    assert refused(weekly_past, people) == {
        "title": "Give the request a title.",
        "mode": "Choose online or in person.",
        "first_date": "Choose a date and time in the future: Mon 31 Aug 2026 10:00 has passed.",
    }


# --- Approving ------------------------------------------------------------------------------


def approve(request, people, actor=None):
    result = approve_request(request, actor=actor or people["mentor"], tz=PARIS, now=NOW)
    db.session.commit()
    return result


def test_approving_one_session_enrols_the_student_and_creates_it_with_a_video_room(people):
    request = single(people, mode="online")
    result = approve(request, people)
    [session] = result.sessions
    assert session.title == "Help with algebra" and session.series_id is None
    assert session.mode == OccurrenceMode.ONLINE and ROOM_ID.match(session.video_room_id)
    group = result.group
    assert group.kind == GroupKind.TUTORING and group.mentor_id == people["mentor"].id
    assert [e.student_id for e in group.enrolments] == [people["student"].id]
    assert request.status == RequestStatus.APPROVED and request.group_id == group.id
    assert request.decided_by_id == people["mentor"].id
    approved = db.session.scalars(
        select(Notification).where(Notification.kind == "request_approved")
    ).all()
    assert [n.user_id for n in approved] == [people["student"].id]
    assert "1 session created" in approved[0].body


def test_approving_specific_dates_in_person_creates_one_time_sessions_without_video(people):
    days = [MONDAY, MONDAY + timedelta(days=3)]
    request = ask(
        people, schedule_kind="dates", dates=days, start=time(14), end=time(15), mode="in_person"
    )
    sessions = approve(request, people).sessions
    assert [s.start_utc.astimezone(PARIS).date() for s in sessions] == days
    assert all(s.video_room_id is None and s.series_id is None for s in sessions)


def test_approving_weekly_creates_a_series_whose_sessions_the_engine_recognises(people):
    request = weekly(people)
    result = approve(request, people)
    assert len(result.sessions) == 24
    series = db.session.get(Series, request.series_id)
    assert series.group_id == result.group.id and series.every_weeks == 1
    assert series.last_date == MONDAY + timedelta(weeks=8, days=-1)
    summary = generate_occurrences(MONDAY, MONDAY + timedelta(weeks=8), tz=PARIS, now=NOW)
    assert (summary.created, summary.unchanged) == (0, 24)


def test_a_second_request_of_the_same_student_and_subject_reuses_their_group(people):
    first = approve(single(people), people).group
    second = approve(single(people, day=MONDAY + timedelta(days=1)), people).group
    assert first.id == second.id
    # Another student gets a group of their own: tutoring sessions are not shared.
    third = approve(single(people, student=people["other"], day=MONDAY + timedelta(days=2)),
                    people).group  # fmt: skip
    assert third.id != first.id
    assert count(Enrolment) == 2


def test_approving_twice_creates_nothing_the_second_time(people):
    request = single(people)
    approve(request, people)
    with pytest.raises(InvalidTransition, match="approved already"):
        approve_request(request, actor=people["mentor"], tz=PARIS, now=NOW)
    db.session.rollback()
    assert count(Occurrence) == 1 and count(CourseGroup) == 1


def test_a_clash_with_the_mentors_sessions_refuses_everything_naming_the_dates(
    people, make_group, make_series
):
    make_series(make_group("Maths 7A", mentor=people["mentor"]), weekdays=(2,), start=time(16),
                end=time(17), first_date=MONDAY)  # fmt: skip
    generate_occurrences(MONDAY, MONDAY + timedelta(weeks=2), tz=PARIS, now=NOW)
    db.session.commit()
    request = weekly(people, weeks=2)
    before = (count(Occurrence), count(CourseGroup), count(Notification))
    with pytest.raises(ConflictError) as caught:
        approve_request(request, actor=people["mentor"], tz=PARIS, now=NOW)
    db.session.rollback()
    message = caught.value.message
    assert "2 requested dates clash" in message
    assert "Wed 09 Sep 2026 16:00 (Maths 7A 16:00-17:00)" in message
    assert "Wed 16 Sep 2026 16:00" in message
    db.session.expire_all()
    assert (count(Occurrence), count(CourseGroup), count(Notification)) == before
    assert db.session.get(SessionRequest, request.id).status == RequestStatus.PENDING


def test_a_failure_midway_leaves_nothing_behind(people, monkeypatch):
    request = weekly(people, weeks=2)
    before = (count(Occurrence), count(CourseGroup), count(Series), count(Notification))

    def broken(*_args, **_kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(requests_service, "_decline_clashing", broken)
    with pytest.raises(RuntimeError):
        approve_request(request, actor=people["mentor"], tz=PARIS, now=NOW)
    db.session.rollback()
    db.session.expire_all()
    after = (count(Occurrence), count(CourseGroup), count(Series), count(Notification))
    assert after == before
    assert db.session.get(SessionRequest, request.id).status == RequestStatus.PENDING


def test_approval_declines_the_mentors_other_pending_requests_that_now_clash(people):
    chosen = single(people, start=time(10))
    clashing = single(people, student=people["other"], start=time(10, 30), title="Geometry")
    elsewhere = single(people, student=people["other"], start=time(14), title="Calculus")
    result = approve(chosen, people)
    assert [r.id for r in result.declined] == [clashing.id]
    db.session.expire_all()
    declined = db.session.get(SessionRequest, clashing.id)
    # Declined (by the system), not rejected (which is the mentor's own decision).
    assert declined.status == RequestStatus.DECLINED
    assert declined.rejection_reason == (
        "Declined automatically: Mon 07 Sep 2026 10:30 is now taken by “Help with algebra”, "
        "which Ada Lovelace approved."
    )
    assert db.session.get(SessionRequest, elsewhere.id).status == RequestStatus.PENDING
    told = db.session.scalars(
        select(Notification).where(Notification.kind == "request_declined")
    ).all()
    assert [n.user_id for n in told] == [people["other"].id]
    assert told[0].title == "“Geometry” was declined automatically"
    assert told[0].body == declined.rejection_reason


def test_approving_one_session_keeps_a_bigger_request_pending_with_that_date_marked(people):
    # The demo's case: a 12-date weekly request, and another student's 90 minutes on one of
    # its Tuesdays. Approving the short one used to decline all 12 dates.
    big = ask(people, schedule_kind="weekly", weekdays=[1, 3], start=time(16, 30),
              end=time(17, 30), first_date=MONDAY, weeks=6, title="Exam revision")  # fmt: skip
    short = single(people, student=people["other"], day=MONDAY + timedelta(days=8),
                   start=time(16), duration=90, title="Catch-up")  # fmt: skip
    result = approve(short, people)
    assert result.declined == [] and [r.id for r in result.now_clashing] == [big.id]
    db.session.expire_all()
    big = db.session.get(SessionRequest, big.id)
    assert big.status == RequestStatus.PENDING and big.rejection_reason is None
    marks = [(c.slot.local_date, bool(c.sessions)) for c in slot_clashes([big])[big.id]]
    assert len(marks) == 12
    assert [day for day, clash in marks if clash] == [MONDAY + timedelta(days=8)]
    assert count_kind("request_declined") == 0
    # Its student hears that one date is taken and that the request still waits.
    [told] = db.session.scalars(
        select(Notification).where(Notification.kind == "request_dates_taken")
    ).all()
    assert (told.user_id, told.link) == (people["student"].id, f"/requests/{big.id}")
    assert told.title == "“Exam revision”: 1 date no longer free"
    assert told.body == (
        "Ada Lovelace approved another request for Tue 15 Sep 2026 16:30. Yours is still "
        "pending; Ada Lovelace may approve its other dates."
    )
    # Only once none of its dates can be held is a request declined: a second approval
    # taking its last free date declines it.
    lone = single(people, day=MONDAY + timedelta(days=1), start=time(16, 30), title="Lone")
    last = ask(people, student=people["other"], schedule_kind="dates", title="Both days",
               dates=[MONDAY + timedelta(days=1), MONDAY + timedelta(days=8)],
               start=time(16, 30), end=time(17, 30))  # fmt: skip
    assert [r.id for r in approve(lone, people).declined] == [last.id]
    db.session.expire_all()
    last = db.session.get(SessionRequest, last.id)
    assert last.status == RequestStatus.DECLINED
    assert last.rejection_reason == (
        "Declined automatically: none of its 2 dates is free any more (Tue 08 Sep 2026 16:30 "
        "is now taken by “Lone”, which Ada Lovelace approved)."
    )
    assert db.session.get(SessionRequest, big.id).status == RequestStatus.PENDING


def count_kind(kind: str) -> int:
    return db.session.scalar(
        select(func.count()).select_from(Notification).where(Notification.kind == kind)
    )


def test_approving_dates_in_part_declines_the_others_with_a_reason_and_says_which(
    people, make_group, make_series
):
    make_series(make_group("Maths 7A", mentor=people["mentor"]), weekdays=(2,), start=time(16),
                end=time(17), first_date=MONDAY)  # fmt: skip
    generate_occurrences(MONDAY, MONDAY + timedelta(weeks=1), tz=PARIS, now=NOW)
    db.session.commit()
    days = [MONDAY, MONDAY + timedelta(days=2), MONDAY + timedelta(days=4)]
    request = ask(people, schedule_kind="dates", dates=days, start=time(16), end=time(17))
    before = count(Occurrence)
    result = approve_request(request, actor=people["mentor"], tz=PARIS, now=NOW,
                             dates=[days[0], days[2]])  # fmt: skip
    db.session.commit()
    assert [s.start_utc.astimezone(PARIS).date() for s in result.sessions] == [days[0], days[2]]
    assert count(Occurrence) == before + 2
    db.session.expire_all()
    request = db.session.get(SessionRequest, request.id)
    assert request.status == RequestStatus.APPROVED
    assert [(s.local_date, s.declined_reason) for s in request.slots] == [
        (days[0], None),
        (days[1], "Ada Lovelace has another session at that time."),
        (days[2], None),
    ]
    [told] = db.session.scalars(
        select(Notification).where(Notification.kind == "request_approved")
    ).all()
    assert told.user_id == people["student"].id
    assert told.title == "Ada Lovelace approved “Help with algebra” in part (2 of 3 dates)"
    assert told.body == (
        "2 sessions created, the first on Mon 07 Sep 2026 16:00. Declined: 1 date "
        "(Wed 09 Sep 2026 16:00: Ada Lovelace has another session at that time.)."
    )
    assert told.link == f"/requests/{request.id}"


def test_a_date_left_out_without_a_clash_gets_the_mentors_reason(people):
    days = [MONDAY, MONDAY + timedelta(days=1)]
    request = ask(people, schedule_kind="dates", dates=days, start=time(9), end=time(10))
    approve_request(request, actor=people["mentor"], tz=PARIS, now=NOW, dates=[days[1]])
    db.session.commit()
    assert (
        request.slots[0].declined_reason == "Not chosen when Ada Lovelace approved the other dates."
    )
    other = ask(people, schedule_kind="dates", dates=days, start=time(11), end=time(12))
    approve_request(other, actor=people["mentor"], tz=PARIS, now=NOW, dates=[days[0]],
                    reason="  I am away that Tuesday.  ")  # fmt: skip
    db.session.commit()
    assert other.slots[1].declined_reason == "I am away that Tuesday."


def test_approving_a_weekly_request_in_part_cancels_the_left_out_dates_in_its_series(
    people, make_group, make_series
):
    make_series(make_group("Maths 7A", mentor=people["mentor"]), weekdays=(2,), start=time(16),
                end=time(17), first_date=MONDAY, last_date=MONDAY + timedelta(days=6))  # fmt: skip
    generate_occurrences(MONDAY, MONDAY + timedelta(weeks=2), tz=PARIS, now=NOW)
    db.session.commit()
    request = weekly(people, weeks=2)  # Mon, Wed, Fri 16:00-17:00: the first Wednesday clashes
    clashing = MONDAY + timedelta(days=2)
    wanted = [s.local_date for s in request.slots if s.local_date != clashing]
    with pytest.raises(ConflictError) as caught:  # all of it: refused, as before
        approve_request(request, actor=people["mentor"], tz=PARIS, now=NOW)
    db.session.rollback()
    assert caught.value.message.endswith(
        "Approve the other dates only (leave these out), or reject it."
    )
    result = approve_request(request, actor=people["mentor"], tz=PARIS, now=NOW, dates=wanted)
    db.session.commit()
    assert [s.start_utc.astimezone(PARIS).date() for s in result.sessions] == wanted
    [override] = db.session.scalars(select(DateOverride)).all()
    assert (override.series_id, override.original_date) == (request.series_id, clashing)
    assert override.cancelled and "Ada Lovelace has another session" in override.notes
    cancelled = db.session.scalar(
        select(Occurrence).where(Occurrence.series_id == request.series_id,
                                 Occurrence.original_date == clashing)
    )  # fmt: skip
    assert cancelled.status == OccurrenceStatus.CANCELLED
    # The engine plans exactly what approval made: nothing to create, update or remove.
    summary = generate_occurrences(MONDAY, MONDAY + timedelta(weeks=2), tz=PARIS, now=NOW)
    assert (summary.created, summary.updated, summary.out_of_date) == (0, 0, 0)
    assert summary.conflicts == []


def test_a_partial_approval_is_refused_whole_when_a_chosen_date_clashes_or_is_not_requested(
    people, make_class_on_wednesday
):
    days = [MONDAY, MONDAY + timedelta(days=2)]
    request = ask(people, schedule_kind="dates", dates=days, start=time(16), end=time(17))
    before = (count(Occurrence), count(Notification))
    for dates, error, message in (
        ([], ValidationError, "Choose at least one date to approve, or reject the request."),
        ([MONDAY + timedelta(days=1)], ValidationError, "Not a requested date: Tue 08 Sep 2026."),
        (days, ConflictError, "Leave them out to approve the other dates."),
    ):
        with pytest.raises(error) as caught:
            approve_request(request, actor=people["mentor"], tz=PARIS, now=NOW, dates=dates)
        db.session.rollback()
        assert message in caught.value.message
    db.session.expire_all()
    assert (count(Occurrence), count(Notification)) == before
    request = db.session.get(SessionRequest, request.id)
    assert request.status == RequestStatus.PENDING
    assert all(s.declined_reason is None for s in request.slots)


@pytest.fixture
def make_class_on_wednesday(people, make_group, make_series):
    make_series(make_group("Maths 7A", mentor=people["mentor"]), weekdays=(2,), start=time(16),
                end=time(17), first_date=MONDAY)  # fmt: skip
    generate_occurrences(MONDAY, MONDAY + timedelta(weeks=1), tz=PARIS, now=NOW)
    db.session.commit()


def test_only_the_mentor_asked_or_an_admin_decides(people, make_user):
    request = single(people)
    coordinator, admin = make_user("coordinator"), make_user("admin")
    other_mentor = make_user("mentor")
    assert can_decide(people["mentor"], request) and can_decide(admin, request)
    assert not can_decide(coordinator, request) and not can_decide(other_mentor, request)
    for actor in (coordinator, other_mentor, people["student"]):
        with pytest.raises(InvalidTransition):
            approve_request(request, actor=actor, tz=PARIS, now=NOW)
        with pytest.raises(InvalidTransition):
            reject_request(request, "No", actor=actor, now=NOW)
    db.session.rollback()
    approve(request, people, actor=admin)
    assert request.decided_by_id == admin.id


def test_clashes_are_listed_per_requested_date(people, make_group, make_series):
    make_series(make_group("Maths 7A", mentor=people["mentor"]), weekdays=(0,), start=time(10),
                end=time(11), first_date=MONDAY)  # fmt: skip
    generate_occurrences(MONDAY, MONDAY + timedelta(weeks=1), tz=PARIS, now=NOW)
    db.session.commit()
    request = ask(people, schedule_kind="dates", dates=[MONDAY, MONDAY + timedelta(days=1)],
                  start=time(10, 30), end=time(11, 30))  # fmt: skip
    clashes = slot_clashes([request])[request.id]
    assert [[o.group.name for o in c.sessions] for c in clashes] == [["Maths 7A"], []]


# --- Rejecting, withdrawing, expiring -------------------------------------------------------


def test_rejecting_needs_a_reason_which_the_student_receives(people):
    request = single(people)
    for blank in ("", "   \n"):
        with pytest.raises(ValidationError, match="Say why"):
            reject_request(request, blank, actor=people["mentor"], now=NOW)
        db.session.rollback()
    reject_request(request, "  Fully booked that week.  ", actor=people["mentor"], now=NOW)
    db.session.commit()
    assert request.status == RequestStatus.REJECTED
    assert request.rejection_reason == "Fully booked that week."
    note = db.session.scalar(select(Notification).where(Notification.kind == "request_rejected"))
    assert note.user_id == people["student"].id and note.body == "Fully booked that week."
    with pytest.raises(InvalidTransition, match="rejected already"):
        approve_request(request, actor=people["mentor"], tz=PARIS, now=NOW)


def test_the_database_itself_refuses_a_rejection_without_a_real_reason(people):
    request = single(people)
    for sql in (
        "UPDATE session_request SET status = 'rejected' WHERE id = :id",
        "UPDATE session_request SET status = 'rejected', rejection_reason = '  ' WHERE id = :id",
    ):
        with pytest.raises(IntegrityError):
            db.session.execute(text(sql), {"id": request.id})
        db.session.rollback()


def test_only_the_student_who_asked_withdraws_and_the_mentor_is_told(people):
    request = single(people)
    for actor in (people["mentor"], people["other"]):
        with pytest.raises(InvalidTransition):
            withdraw_request(request, actor=actor, now=NOW)
    withdraw_request(request, actor=people["student"], now=NOW)
    db.session.commit()
    assert request.status == RequestStatus.WITHDRAWN
    note = db.session.scalar(select(Notification).where(Notification.kind == "request_withdrawn"))
    assert note.user_id == people["mentor"].id
    with pytest.raises(InvalidTransition, match="withdrawn already"):
        approve_request(request, actor=people["mentor"], tz=PARIS, now=NOW)


def test_a_request_expires_when_its_first_session_starts(people):
    request = single(people)  # Monday 7 September 10:00 Paris
    start = datetime(2026, 9, 7, 8, tzinfo=UTC)
    assert effective_status(request, start - timedelta(seconds=1)) == RequestStatus.PENDING
    assert effective_status(request, start) == RequestStatus.EXPIRED
    with pytest.raises(InvalidTransition, match="expired already"):
        approve_request(request, actor=people["mentor"], tz=PARIS, now=start)
    db.session.rollback()
    assert expire_requests(start - timedelta(minutes=1)) == 0
    assert expire_requests(start) == 1
    db.session.commit()
    db.session.expire_all()
    assert db.session.get(SessionRequest, request.id).status == RequestStatus.EXPIRED


def test_each_user_sees_only_their_requests_others_get_not_found(people, make_user):
    request = single(people)
    assert get_visible_request(people["student"], request.id) == request
    assert get_visible_request(people["mentor"], request.id) == request
    assert get_visible_request(make_user("coordinator"), request.id) == request
    for stranger in (people["other"], make_user("mentor")):
        with pytest.raises(NotFoundError):
            get_visible_request(stranger, request.id)
    for bad in (0, -1, 2**63):
        with pytest.raises(NotFoundError):
            get_visible_request(people["student"], bad)


# --- Racing -----------------------------------------------------------------------------------


def test_two_approvals_at_once_approve_once_and_create_the_sessions_once(app, people):
    request = weekly(people, weeks=2)
    request_id, mentor_id = request.id, people["mentor"].id
    db.session.remove()

    def approve_job():
        from models import User

        return approve_request(
            db.session.get(SessionRequest, request_id),
            actor=db.session.get(User, mentor_id),
            tz=PARIS,
            now=NOW,
        )

    results = run_together(app, approve_job, approve_job)
    errors = [r for r in results if isinstance(r, Exception)]
    assert len(errors) == 1 and isinstance(errors[0], InvalidTransition), results
    assert count(Occurrence) == 6 and count(Series) == 1 and count(CourseGroup) == 1
    approved = db.session.scalars(
        select(Notification).where(Notification.kind == "request_approved")
    ).all()
    assert len(approved) == 1


def _approving(app, request_id, mentor_id, dates=None):
    def job():
        from models import User

        return approve_request(
            db.session.get(SessionRequest, request_id),
            actor=db.session.get(User, mentor_id),
            tz=PARIS,
            now=NOW,
            dates=dates,
        )

    return job


def test_eight_approvals_of_one_slot_at_once_give_one_session(app, people, make_user):
    # Eight students ask for the same hour; the mentor's eight clicks race (two tabs, two
    # workers): one request wins, the others are declined, one session exists.
    ids = [single(people, student=make_user("student"), title=f"Ask {n}").id for n in range(8)]
    mentor_id = people["mentor"].id
    db.session.remove()
    results = run_together(app, *(_approving(app, i, mentor_id) for i in ids))
    wins = [r for r in results if not isinstance(r, Exception)]
    assert len(wins) == 1, results
    assert all(isinstance(r, InvalidTransition) for r in results if r not in wins), results
    statuses = sorted(str(db.session.get(SessionRequest, i).status) for i in ids)
    assert statuses == ["approved"] + ["declined"] * 7
    assert count(Occurrence) == 1 and count_kind("request_approved") == 1
    assert count_kind("request_declined") == 7


def test_eight_approvals_in_part_at_once_never_double_book(app, people, make_user):
    # Each request shares Monday 10:00 with the others and has a date of its own; each is
    # approved in part (Monday and its own date) at the same moment: one gets Monday.
    own = [MONDAY + timedelta(weeks=n + 1) for n in range(8)]
    ids = [
        ask(people, student=make_user("student"), schedule_kind="dates", title=f"Ask {n}",
            dates=[MONDAY, MONDAY + timedelta(days=1), day], start=time(10), end=time(11)).id
        for n, day in enumerate(own)
    ]  # fmt: skip
    mentor_id = people["mentor"].id
    db.session.remove()
    jobs = [_approving(app, i, mentor_id, dates=[MONDAY, d]) for i, d in zip(ids, own, strict=True)]
    results = run_together(app, *jobs)
    assert sum(not isinstance(r, Exception) for r in results) == 1, results
    assert all(isinstance(r, ConflictError) for r in results if isinstance(r, Exception))
    sessions = db.session.scalars(select(Occurrence).order_by(Occurrence.start_utc)).all()
    assert len(sessions) == 2
    assert sessions[0].start_utc.astimezone(PARIS).date() == MONDAY
    # The losers stay pending (Tuesday and their own date can still be held), Monday marked.
    statuses = sorted(str(db.session.get(SessionRequest, i).status) for i in ids)
    assert statuses == ["approved"] + ["pending"] * 7


def test_the_sessions_remember_their_request_even_once_moved(people):
    from services.requests.lists import sessions_of_request

    request = ask(people, schedule_kind="dates", dates=[MONDAY, MONDAY + timedelta(days=1)],
                  start=time(14), end=time(15))  # fmt: skip
    sessions = approve(request, people).sessions
    assert {s.request_id for s in sessions} == {request.id}
    update_one_time_session(
        sessions[0], day=MONDAY + timedelta(days=2), start=time(9), end=time(10), room_id=None,
        mode="online", title=None, actor=people["mentor"], tz=PARIS, today=MONDAY,
    )  # fmt: skip
    db.session.commit()
    assert [s.id for s in sessions_of_request(request)] == [sessions[1].id, sessions[0].id]
    weekly_request = weekly(people, first_date=MONDAY + timedelta(weeks=3), weeks=1)
    created = approve(weekly_request, people).sessions
    assert [s.id for s in sessions_of_request(weekly_request)] == [s.id for s in created]


def test_the_same_request_sent_twice_is_one_request(people):
    # A double-clicked Send or a second tab: the copy is refused, saying which request waits.
    first = single(people, title="Algebra")
    with pytest.raises(ValidationError) as caught:
        single(people, title="Algebra again")
    db.session.rollback()
    assert caught.value.errors == {
        "schedule_kind": "You already asked Ada Lovelace for these sessions: “Algebra” is "
        "waiting for an answer."
    }
    assert count(SessionRequest) == 1
    # Other times, or another student, are other requests; so is asking again once answered.
    single(people, start=time(11))
    single(people, student=people["other"])
    withdraw_request(first, actor=people["student"], now=NOW)
    db.session.commit()
    single(people, title="Algebra, once more")
    assert count(SessionRequest) == 4


def sessions() -> list[Occurrence]:
    return list(db.session.scalars(select(Occurrence).order_by(Occurrence.start_utc)))


def test_a_weekly_request_clashing_only_in_its_last_week_is_refused_naming_that_date(
    people, make_group
):
    request = ask(
        people,
        schedule_kind="weekly",
        weekdays=[0],
        start=time(16),
        end=time(17),
        first_date=MONDAY,
        weeks=26,
    )
    assert len(request.slots) == 26
    last = MONDAY + timedelta(weeks=25)  # Monday 1 March 2027
    group = make_group("Maths 7A", mentor=people["mentor"])
    start = datetime.combine(last, time(16, 30), tzinfo=PARIS).astimezone(UTC)
    db.session.add(
        Occurrence(
            group_id=group.id,
            start_utc=start,
            end_utc=start + timedelta(hours=1),
            room_id=group.default_room_id,
        )
    )
    db.session.commit()
    before = (count(Occurrence), count(Notification))
    with pytest.raises(ConflictError) as caught:
        approve_request(request, actor=people["mentor"], tz=PARIS, now=NOW)
    db.session.rollback()
    assert "1 requested date clashes" in caught.value.message
    assert "Mon 01 Mar 2027 16:00 (Maths 7A 16:30-17:30)" in caught.value.message
    db.session.expire_all()
    assert (count(Occurrence), count(Notification)) == before
    assert db.session.get(SessionRequest, request.id).status == RequestStatus.PENDING


def test_two_overlapping_requests_approved_at_once_only_one_goes_through(app, people):
    first = ask(people, schedule_kind="single", day=MONDAY, start=time(10), duration=60)
    second = ask(
        people,
        student=people["other"],
        schedule_kind="single",
        day=MONDAY,
        start=time(10, 30),
        duration=60,
    )
    ids, mentor_id = (first.id, second.id), people["mentor"].id
    db.session.remove()

    def approving(request_id):
        def job():
            return approve_request(
                db.session.get(SessionRequest, request_id),
                actor=db.session.get(User, mentor_id),
                tz=PARIS,
                now=NOW,
            )

        return job

    results = run_together(app, approving(ids[0]), approving(ids[1]))
    errors = [r for r in results if isinstance(r, Exception)]
    assert len(errors) == 1 and isinstance(errors[0], InvalidTransition | ConflictError), results
    statuses = sorted(str(db.session.get(SessionRequest, i).status) for i in ids)
    assert statuses == ["approved", "declined"]
    [created] = sessions()
    assert created.start_utc.astimezone(PARIS).date() == MONDAY


def test_request_messages_name_local_dates_and_times(auckland_term):
    ada, noah, before, after = (
        auckland_term["ada"],
        auckland_term["noah"],
        auckland_term["before"],
        auckland_term["after"],
    )
    db.session.add(MentorSubject(mentor_id=ada.id, subject_id=auckland_term["maths"].id))
    db.session.commit()

    def ask(title, **fields):
        data = RequestInput(
            mentor_id=ada.id, subject_id=auckland_term["maths"].id, title=title, description="",
            **fields,
        )  # fmt: skip
        return create_request(noah, data, tz=AKL)

    clashing = ask("Clashing", schedule_kind="dates", dates=[before, after], start=time(8),
                   end=time(9))  # fmt: skip
    wednesday = after + timedelta(days=2)
    wanted = ask("Wanted", schedule_kind="single", day=wednesday, start=time(7), duration=120)
    overlapping = ask("Overlapping", schedule_kind="single", day=wednesday, start=time(8),
                      duration=60)  # fmt: skip
    db.session.commit()
    assert bodies(ada)[0] == f"2 sessions, from {before:%a %d %b %Y} 08:00."

    with pytest.raises(ConflictError) as refused:
        approve_request(clashing, actor=ada, tz=AKL)
    db.session.rollback()
    assert (
        f"{before:%a %d %b %Y} 08:00 (Maths 7A 08:00-09:00); "
        f"{after:%a %d %b %Y} 08:00 (Maths 7A 08:00-09:00)"
    ) in refused.value.message

    approve_request(wanted, actor=ada, tz=AKL)
    db.session.commit()
    declined = (
        f"Declined automatically: {wednesday:%a %d %b %Y} 08:00 is now taken by “Wanted”, "
        "which Ada Lovelace approved."
    )
    assert bodies(noah)[-2:] == [
        declined,
        f"1 session created, the first on {wednesday:%a %d %b %Y} 07:00.",
    ]
    assert overlapping.rejection_reason == declined


# --- The mentor's availability (issue 17) -------------------------------------------------------


def available(people, *ranges_by_weekday, **settings):
    """The mentor's hours: (weekday, "09:00-12:00") pairs, and booking rules."""
    mentor = people["mentor"]
    settings.setdefault("minimum_notice_minutes", 24 * 60)
    db.session.add(BookingRules(mentor_id=mentor.id, timezone="Europe/Paris", **settings))
    for weekday, span in ranges_by_weekday:
        start, end = (time.fromisoformat(part) for part in span.split("-"))
        db.session.add(
            WorkingHours(mentor_id=mentor.id, weekday=weekday, start_time=start, end_time=end)
        )
    db.session.commit()


def test_without_availability_set_a_mentor_may_be_asked_for_any_time(people):
    assert single(people, day=MONDAY + timedelta(days=6), start=time(3)).status == (
        RequestStatus.PENDING
    )


def test_a_time_outside_the_mentors_availability_is_refused_with_the_reason(people):
    available(people, (0, "09:00-12:00"), (2, "14:00-18:00"))
    # Sunday 03:00, and Monday 14:00: not in the hours.
    errors = refused({"schedule_kind": "single", "day": MONDAY + timedelta(days=6),
                      "start": time(3), "duration": 60}, people)  # fmt: skip
    assert errors["day"] == (
        "Ada Lovelace cannot be booked on Sun 13 Sep 2026 03:00: it is outside the mentor's "
        "working hours."
    )
    # Monday 7 September 10:00 is in the hours, and more than a day away.
    assert single(people, start=time(10)).status == RequestStatus.PENDING


def test_a_weekly_request_names_the_first_date_that_cannot_be_booked(people):
    available(people, (0, "15:00-18:00"), (2, "15:00-18:00"), (4, "15:00-18:00"))
    db.session.add(Closure(name="Autumn break", first_day=date(2026, 10, 19),
                           last_day=date(2026, 10, 23)))  # fmt: skip
    db.session.commit()
    errors = refused({"schedule_kind": "weekly", "weekdays": [0, 2, 4], "start": time(16),
                      "end": time(17), "first_date": MONDAY, "weeks": 8}, people)  # fmt: skip
    assert errors["first_date"] == (
        "Ada Lovelace cannot be booked on Mon 19 Oct 2026 16:00 (and 2 other dates): the "
        "school is closed (Autumn break)."
    )


def test_too_soon_is_refused_when_asked_but_not_when_approved(people):
    available(people, (0, "09:00-12:00"), (2, "09:00-12:00"), minimum_notice_minutes=48 * 60)
    wednesday = date(2026, 9, 2)  # NOW is Tuesday 1 September, 10:00 in Paris
    errors = refused({"schedule_kind": "single", "day": wednesday, "start": time(9),
                      "duration": 60}, people)  # fmt: skip
    assert errors["day"].endswith(": it is less than 2 days away.")
    request = single(people, start=time(10))  # Monday 7 September: far enough
    # Approved on Sunday evening, less than 48 hours before: asked in time, so approved.
    approve_request(request, actor=people["mentor"], tz=PARIS,
                    now=datetime(2026, 9, 6, 18, tzinfo=UTC))  # fmt: skip
    db.session.commit()
    assert request.status == RequestStatus.APPROVED


def test_approval_re_checks_what_changed_since_the_request(people):
    available(people, (0, "09:00-12:00"))
    request = single(people, start=time(10))
    db.session.add(AvailabilityOverride(mentor_id=people["mentor"].id, day=MONDAY))  # day off
    db.session.commit()
    with pytest.raises(ConflictError) as caught:
        approve(request, people)
    db.session.rollback()
    assert str(caught.value) == (
        "Not approved: Ada Lovelace cannot be booked on Mon 07 Sep 2026 10:00: it is outside "
        "the mentor's working hours. Reject it, or ask the student for another time."
    )
    assert db.session.get(SessionRequest, request.id).status == RequestStatus.PENDING
    assert count(Occurrence) == 0
