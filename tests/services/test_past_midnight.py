"""Sessions past midnight across the services that are not about one session: a request for a
late slot and its approval, the timetable CSV import, the exports and the calendar feed's
shared rule (`services.common.timeutil`). The clock is always given (`now`, `today`)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import pytest
from sqlalchemy import select

from models import Occurrence, Series, db
from services.common.errors import ConflictError
from services.common.timeutil import (
    clock_label,
    clock_span,
    ends_next_day,
    span_label,
    times_refused,
)
from services.output.spreadsheets import sessions_csv
from services.timetable.conflicts import describe_occurrence, described_times
from services.timetable.csv_reading import ImportErrors
from services.timetable.listing import list_occurrences, todays_sessions_by_room
from services.timetable.sessions import session_conflicts
from services.timetable.timetable_import import import_timetable
from tests.services import test_requests
from tests.services.test_requests import MONDAY, NOW, PARIS, approve, ask, single
from tests.services.test_timetable_import import BEFORE_TERM, timetable

TUESDAY = MONDAY + timedelta(days=1)
people = test_requests.people  # the fixture: a mentor of Mathematics and two students


def local(instant: datetime) -> datetime:
    return instant.astimezone(PARIS)


# --- The rule -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "end", "next_day", "refused", "length"),
    [
        (time(10), time(11), False, False, timedelta(hours=1)),
        (time(23, 30), time(0, 30), True, False, timedelta(hours=1)),
        (time(20), time(8), True, False, timedelta(hours=12)),
        (time(20), time(8, 1), False, True, timedelta(hours=12, minutes=1)),
        (time(17), time(9), False, True, timedelta(hours=16)),
        (time(10), time(10), False, True, timedelta(hours=24)),
    ],
)
def test_an_end_earlier_on_the_clock_is_the_next_day_up_to_twelve_hours(
    start, end, next_day, refused, length
):
    assert ends_next_day(start, end) is next_day
    assert times_refused(start, end) is refused
    if not refused:
        assert clock_span(start, end) == length


def test_labels_say_when_a_session_ends_the_next_day():
    start = datetime(2026, 9, 7, 23, 30, tzinfo=PARIS)
    assert span_label(start, start + timedelta(hours=1), PARIS) == "23:30\u201300:30 (+1 day)"
    assert span_label(start, start + timedelta(minutes=20), PARIS) == "23:30\u201323:50"
    assert clock_label(time(23, 30), time(0, 30), "-") == "23:30-00:30 (+1 day)"


# --- Requests -----------------------------------------------------------------------------------


def test_a_single_request_for_a_late_slot_ends_the_next_day_and_is_approved(people):
    request = single(people, start=time(23, 30), duration=60)
    [slot] = request.slots
    assert (local(slot.start_utc), local(slot.end_utc)) == (
        datetime(2026, 9, 7, 23, 30, tzinfo=PARIS),
        datetime(2026, 9, 8, 0, 30, tzinfo=PARIS),
    )
    [session] = approve(request, people).sessions
    assert (session.start_utc, session.end_utc) == (slot.start_utc, slot.end_utc)


def test_a_weekly_request_past_midnight_becomes_a_series_ending_the_next_day(people):
    request = ask(
        people, schedule_kind="weekly", weekdays=[0], start=time(23), end=time(0, 30),
        first_date=MONDAY, weeks=2,
    )  # fmt: skip
    assert [local(s.end_utc).date() for s in request.slots] == [TUESDAY, TUESDAY + timedelta(7)]
    result = approve(request, people)
    series = db.session.get(Series, request.series_id)
    assert (series.start_time, series.end_time) == (time(23), time(0, 30))
    assert [local(s.end_utc) for s in result.sessions] == [
        datetime(2026, 9, 8, 0, 30, tzinfo=PARIS),
        datetime(2026, 9, 15, 0, 30, tzinfo=PARIS),
    ]


def test_a_late_request_clashes_with_a_session_after_midnight(people, make_group):
    group = make_group(mentor=people["mentor"])
    db.session.add(
        Occurrence(
            group_id=group.id,
            start_utc=datetime(2026, 9, 8, 0, 0, tzinfo=PARIS),
            end_utc=datetime(2026, 9, 8, 1, 0, tzinfo=PARIS),
            room_id=group.default_room_id,
        )
    )
    db.session.commit()
    request = single(people, start=time(23, 30), duration=60)
    with pytest.raises(ConflictError):
        approve(request, people)


# --- The timetable import -----------------------------------------------------------------------


def test_the_timetable_import_takes_a_series_past_midnight(make_user, make_room):
    make_user("mentor", email="ada@school.test")
    make_room("Room A")
    row = "Night owls,Mathematics,ada@school.test,,Fri,23:30,00:30,2026-09-11,,,online,"
    summary = import_timetable(timetable(row), tz=PARIS, today=BEFORE_TERM)
    db.session.commit()
    assert summary.series_created == 1
    series = db.session.scalar(select(Series))
    assert (series.start_time, series.end_time) == (time(23, 30), time(0, 30))


def test_the_timetable_import_still_refuses_an_end_too_early(make_user):
    make_user("mentor", email="ada@school.test")
    row = "Night owls,Mathematics,ada@school.test,,Fri,17:00,09:00,2026-09-11,,,online,"
    with pytest.raises(ImportErrors) as caught:
        import_timetable(timetable(row), tz=PARIS, today=BEFORE_TERM)
    db.session.rollback()
    assert caught.value.messages == [
        "line 2: end (09:00) must be after start (17:00), or at most 12 hours later on the next day"
    ]


# --- Exports ------------------------------------------------------------------------------------


def test_the_csv_export_gives_the_end_date_of_a_session_past_midnight(make_group):
    group = make_group("Night owls")
    db.session.add(
        Occurrence(
            group_id=group.id,
            start_utc=datetime(2026, 9, 7, 23, 30, tzinfo=PARIS),
            end_utc=datetime(2026, 9, 8, 0, 30, tzinfo=PARIS),
            room_id=group.default_room_id,
        )
    )
    db.session.commit()
    rows = [o.as_dict(PARIS) for o in list_occurrences(MONDAY, TUESDAY, tz=PARIS)]
    text = sessions_csv(rows)
    header, line = text.splitlines()
    cells = dict(zip(header.split(","), line.split(","), strict=True))
    assert (cells["date"], cells["start"], cells["end"], cells["end_date"]) == (
        "2026-09-07",
        "23:30",
        "00:30",
        "2026-09-08",
    )
    assert datetime.fromisoformat(cells["end_utc"]) > NOW  # the instant, unambiguous
    assert date.fromisoformat(cells["end_date"]) == TUESDAY


def test_a_conflict_names_the_other_session_as_ending_the_next_day(make_group, make_user):
    mentor = make_user("mentor")
    late, other = make_group("Night owls", mentor=mentor), make_group("Insomniacs", mentor=mentor)
    for group, start, end in ((late, time(23, 30), time(0, 30)), (other, time(23), time(23, 45))):
        db.session.add(
            Occurrence(
                group_id=group.id,
                start_utc=datetime.combine(MONDAY, start, tzinfo=PARIS),
                end_utc=datetime.combine(
                    MONDAY + timedelta(days=1) if end < start else MONDAY, end, tzinfo=PARIS
                ),
                room_id=group.default_room_id,
            )
        )
    db.session.commit()
    night = db.session.scalar(select(Occurrence).where(Occurrence.group_id == other.id))
    described = describe_occurrence(
        db.session.scalar(select(Occurrence).where(Occurrence.group_id == late.id)), PARIS
    )
    assert (described["date"], described["end_date"]) == ("2026-09-07", "2026-09-08")
    assert described_times(described) == "23:30-00:30 (+1 day)"
    (conflict,) = [c for c in session_conflicts(night, PARIS) if c.kind == "mentor"]
    assert conflict.other_label == "Night owls on Mon 07 Sep 2026 23:30-00:30 (+1 day)" + (
        f" ({late.default_room.name})"
    )


# --- Today's board ------------------------------------------------------------------------------


def test_todays_board_shows_last_nights_session_while_it_runs(make_group, make_user):
    group = make_group("Night owls")
    late = Occurrence(
        group_id=group.id,
        start_utc=datetime(2026, 9, 7, 23, 30, tzinfo=PARIS),
        end_utc=datetime(2026, 9, 8, 0, 30, tzinfo=PARIS),
        room_id=group.default_room_id,
    )
    db.session.add(late)
    db.session.commit()
    staff = make_user("coordinator")
    at_ten_past = datetime(2026, 9, 8, 0, 10, tzinfo=PARIS)
    [board] = todays_sessions_by_room(staff, tz=PARIS, now=at_ten_past)
    assert [o.id for o in board.now] == [late.id]
    assert todays_sessions_by_room(staff, tz=PARIS, now=at_ten_past + timedelta(hours=1)) == []
