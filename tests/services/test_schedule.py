"""The schedule's read side: filters, visibility, conflicts named, layouts, URL parameters."""

from __future__ import annotations

from datetime import date, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import event

from models import Occurrence, db
from services.common.errors import ValidationError
from services.timetable.exceptions import OverrideChange, find_occurrence, save_override
from services.timetable.generation import generate_occurrences, resolve_window
from services.timetable.schedule.entries import entries_affected_by, load_entries
from services.timetable.schedule.filter_choices import find_student
from services.timetable.schedule.layout import (
    FIRST_HOUR,
    LAST_HOUR,
    MONTH_CELL_LIMIT,
    build_grid,
    build_month,
)
from services.timetable.schedule.view import (
    ScheduleFilters,
    ScheduleView,
    parse_view,
    personal_filters,
)

PARIS = ZoneInfo("Europe/Paris")
TERM = date(2026, 9, 7)  # a Monday
WEEK = ScheduleView("week", "time", TERM + timedelta(days=2))


def generate(weeks=1, start=TERM):
    first, end = resolve_window(start, weeks=weeks)
    generate_occurrences(first, end, tz=PARIS)
    db.session.commit()


def week_entries(**filters):
    viewer = filters.pop("viewer", None)
    return load_entries(
        TERM, TERM + timedelta(days=7), tz=PARIS, filters=ScheduleFilters(**filters), viewer=viewer
    )


def names(entries):
    return sorted({e.occurrence.group.name for e in entries})


@pytest.fixture
def three_classes(make_user, make_room, make_group, make_series):
    """Two rooms, two mentors, three groups; Alice is in Maths and Art."""
    alice, bob = make_user("student", name="Alice Martin"), make_user("student", name="Bob Stone")
    ada, ben = make_user("mentor", name="Ada"), make_user("mentor", name="Ben")
    r101, lab = make_room("R101"), make_room("Lab")
    maths = make_group("Maths", mentor=ada, room=r101, students=[alice, bob])
    art = make_group("Art", mentor=ben, room=lab, students=[alice])
    music = make_group("Music", mentor=ben, room=r101, students=[bob])
    make_series(maths, weekdays=(0, 2), start=time(9), end=time(10))
    make_series(art, weekdays=(1,), start=time(14), end=time(15))
    make_series(music, weekdays=(3,), start=time(11), end=time(12))
    generate()
    return {
        "alice": alice, "bob": bob, "ada": ada, "ben": ben, "r101": r101, "lab": lab,
        "maths": maths, "art": art, "music": music,
    }  # fmt: skip


def test_filters_narrow_and_combine(three_classes):
    assert names(week_entries()) == ["Art", "Maths", "Music"]
    assert names(week_entries(room_id=three_classes["r101"].id)) == ["Maths", "Music"]
    assert names(week_entries(mentor_id=three_classes["ben"].id)) == ["Art", "Music"]
    assert names(week_entries(group_id=three_classes["art"].id)) == ["Art"]
    assert names(week_entries(student_id=three_classes["alice"].id)) == ["Art", "Maths"]
    both = week_entries(room_id=three_classes["r101"].id, mentor_id=three_classes["ben"].id)
    assert names(both) == ["Music"]
    assert week_entries(room_id=three_classes["lab"].id, mentor_id=three_classes["ada"].id) == []


def test_mentors_and_students_see_only_their_own_sessions(three_classes):
    assert names(week_entries(viewer=three_classes["ada"])) == ["Maths"]
    assert names(week_entries(viewer=three_classes["bob"])) == ["Maths", "Music"]
    # A filter cannot widen what a viewer may see.
    assert week_entries(viewer=three_classes["ada"], group_id=three_classes["art"].id) == []


def test_personal_filters_follow_the_role(three_classes):
    assert personal_filters(three_classes["ada"]) == ScheduleFilters(
        mentor_id=three_classes["ada"].id
    )
    assert personal_filters(three_classes["alice"]) == ScheduleFilters(
        student_id=three_classes["alice"].id
    )


def test_entries_are_ordered_by_start_in_local_time(three_classes):
    entries = week_entries()
    assert [e.start for e in entries] == sorted(e.start for e in entries)
    assert entries[0].start.time() == time(9) and entries[0].start.tzinfo is not None


def test_conflict_with_a_filtered_out_session_is_still_named(three_classes, make_series):
    # Music meets in Maths' Wednesday slot in R101: a room conflict, and Bob's (in both).
    music = three_classes["music"]
    series = make_series(music, weekdays=(2,), start=time(9, 30), end=time(10, 30))
    generate()
    only_maths = week_entries(group_id=three_classes["maths"].id)
    wednesday = next(e for e in only_maths if e.start.date() == TERM + timedelta(days=2))
    other = find_occurrence(series.id, TERM + timedelta(days=2)).id
    assert [(n.kind, n.other_id) for n in wednesday.conflicts] == [
        ("room", other),
        ("student", other),
    ]
    assert wednesday.conflict_text == (
        "Room conflict with Music Wed 09 Sep 09:30-10:30; "
        "Student conflict with Music Wed 09 Sep 09:30-10:30"
    )
    monday = next(e for e in only_maths if e.start.date() == TERM)
    assert monday.conflicts == []


def test_student_conflict_is_named_for_both_sessions(three_classes, make_series):
    # Art (Alice) on Monday 09:30 overlaps Maths (Alice, Bob): a student conflict, other rooms
    # and mentors.
    make_series(three_classes["art"], weekdays=(0,), start=time(9, 30), end=time(10, 30))
    generate()
    monday = [e for e in week_entries() if e.start.date() == TERM]
    assert {e.occurrence.group.name: [n.kind for n in e.conflicts] for e in monday} == {
        "Maths": ["student"],
        "Art": ["student"],
    }


def test_cancelled_sessions_are_listed_but_never_conflict(three_classes, make_series):
    series = make_series(three_classes["music"], weekdays=(2,), start=time(9, 30), end=time(10, 30))
    generate()
    wednesday = TERM + timedelta(days=2)
    save_override(series, wednesday, OverrideChange(cancelled=True), actor=None, tz=PARIS)
    db.session.commit()
    entries = [e for e in week_entries() if e.start.date() == wednesday]
    assert {e.occurrence.group.name: (e.cancelled, e.conflicts) for e in entries} == {
        "Maths": (False, []),
        "Music": (True, []),
    }
    music = next(e for e in entries if e.cancelled)
    assert music.override is not None and not music.moved


def test_moved_session_carries_its_exception(three_classes, make_room):
    maths = three_classes["maths"].series[0]
    save_override(
        maths, TERM, OverrideChange(start_time=time(16), end_time=time(17)), actor=None, tz=PARIS
    )
    db.session.commit()
    moved = [e for e in week_entries() if e.moved]
    assert len(moved) == 1 and moved[0].start.time() == time(16)
    assert moved[0].editable


def test_time_grid_always_shows_the_school_day_and_grows_for_early_and_late_sessions(
    three_classes, make_series
):
    grid = build_grid(WEEK, week_entries())
    assert grid.row_keys == tuple(range(FIRST_HOUR, LAST_HOUR + 1))
    assert len(grid.days) == 7 and grid.days[0] == TERM
    cell = grid.cell(f"cell-{TERM:%Y%m%d}-09")
    assert [e.occurrence.group.name for e in cell.entries] == ["Maths"]

    make_series(three_classes["music"], weekdays=(4,), start=time(6, 30), end=time(7, 15))
    make_series(three_classes["art"], weekdays=(4,), start=time(21, 30), end=time(22, 30))
    generate()
    grid = build_grid(WEEK, week_entries())
    assert grid.row_keys[0] == 6 and grid.row_keys[-1] == 21


def test_room_grid_has_a_row_per_room_used_then_no_room(three_classes, make_series):
    make_series(three_classes["art"], weekdays=(4,), start=time(10), end=time(11), room=None)
    generate()
    view = ScheduleView("week", "rooms", TERM)
    grid = build_grid(view, week_entries())
    assert [row.label for row in grid.rows] == ["Lab", "R101", "No room (online)"]
    r101 = grid.rows[1]
    assert r101.cells[0].id == f"cell-r{three_classes['r101'].id}-{TERM:%Y%m%d}"
    assert [e.occurrence.group.name for e in r101.cells[0].entries] == ["Maths"]
    # A room filtered on is a row even on an empty week.
    empty = build_grid(view, [], [three_classes["lab"]])
    assert [row.label for row in empty.rows] == ["Lab"]


def test_day_view_is_one_column():
    day = ScheduleView("day", "time", TERM)
    assert (day.first_day, day.last_day) == (TERM, TERM + timedelta(days=1))
    assert len(build_grid(day, []).days) == 1


def test_month_covers_whole_weeks_and_limits_each_day(make_series):
    view = ScheduleView("month", "time", date(2026, 9, 17))
    assert view.first_day == date(2026, 8, 31)  # the Monday before 1 September
    assert view.last_day == date(2026, 10, 5)  # the Monday after 30 September
    for n in range(MONTH_CELL_LIMIT + 2):
        make_series(weekdays=(0,), start=time(8 + n), end=time(8 + n, 45))
    generate(weeks=1)
    entries = load_entries(view.first_day, view.last_day, tz=PARIS)
    weeks = build_month(view, entries)
    assert len(weeks) == 5 and all(len(week) == 7 for week in weeks)
    monday = weeks[1][0]
    assert monday.day == TERM and monday.in_month
    assert len(monday.shown) == MONTH_CELL_LIMIT and monday.hidden_count == 2
    assert not weeks[0][0].in_month  # 31 August


@pytest.mark.parametrize(
    ("day", "steps", "expected"),
    [
        (date(2026, 12, 15), 1, date(2027, 1, 1)),
        (date(2026, 1, 31), -1, date(2025, 12, 1)),
        (date(2026, 3, 31), 1, date(2026, 4, 1)),
    ],
)
def test_month_navigation_crosses_years(day, steps, expected):
    assert ScheduleView("month", "time", day).shifted(steps) == expected


def test_week_navigation_keeps_the_weekday_and_day_view_moves_a_day():
    assert ScheduleView("week", "time", TERM).shifted(-1) == TERM - timedelta(weeks=1)
    assert ScheduleView("day", "time", TERM).shifted(1) == TERM + timedelta(days=1)


def test_parse_view_reads_every_parameter():
    view, errors = parse_view(
        {"view": "day", "layout": "rooms", "date": "2026-09-09", "room": "3", "student": "7"},
        today=TERM,
    )
    assert errors == {}
    assert (view.view, view.layout, view.day) == ("day", "rooms", date(2026, 9, 9))
    assert view.filters == ScheduleFilters(room_id=3, student_id=7)
    assert view.query_args() == {
        "view": "day", "layout": "rooms", "date": "2026-09-09", "room": 3, "student": 7,
    }  # fmt: skip


@pytest.mark.parametrize(
    ("args", "field"),
    [
        ({"view": "year"}, "view"),
        ({"layout": "diagonal"}, "layout"),
        ({"date": "2026-02-30"}, "date"),
        ({"date": "yesterday"}, "date"),
        ({"date": "0001-01-01"}, "date"),
        ({"room": "-1"}, "room"),
        ({"mentor": "abc"}, "mentor"),
        ({"group": "99999999999999999999999"}, "group"),
    ],
)
def test_parse_view_falls_back_and_says_why(args, field):
    view, errors = parse_view(args, today=TERM)
    assert list(errors) == [field]
    assert view.day == TERM if field == "date" else True
    assert view.view in ("week", "day", "month") and view.layout in ("time", "rooms")


def test_find_student_by_email_or_unique_part_of_the_name(three_classes, make_user):
    assert find_student("  " + three_classes["alice"].email.upper() + " ") == three_classes["alice"]
    assert find_student("alice") == three_classes["alice"]
    make_user("student", name="Alice Stone")
    with pytest.raises(ValidationError, match="Several students match 'alice'"):
        find_student("alice")
    with pytest.raises(ValidationError, match="No student matches"):
        find_student("Zed")
    # Wildcards are literal: '%' matches nobody, not everybody.
    with pytest.raises(ValidationError, match="No student matches"):
        find_student("%")
    # Mentors are not students.
    with pytest.raises(ValidationError, match="No student matches"):
        find_student("Ada")


def test_affected_sessions_include_conflict_partners_before_and_after(three_classes, make_series):
    series = make_series(three_classes["music"], weekdays=(2,), start=time(9, 30), end=time(10, 30))
    generate()
    before = week_entries()
    music = find_occurrence(series.id, TERM + timedelta(days=2))
    maths = find_occurrence(three_classes["maths"].series[0].id, TERM + timedelta(days=2))
    save_override(series, music.original_date, OverrideChange(cancelled=True), actor=None, tz=PARIS)
    db.session.commit()
    assert entries_affected_by(music.id, before, week_entries()) == {music.id, maths.id}


def test_a_filtered_week_costs_the_same_number_of_queries_whatever_its_size(
    three_classes, make_series, make_group
):
    room_id = three_classes["r101"].id
    # Art (in the Lab, not shown) clashes with Maths for Alice: the other session is named.
    make_series(three_classes["art"], weekdays=(0,), start=time(9, 30), end=time(10, 30))

    def statements_for_room_week() -> tuple[int, int]:
        count = 0

        def counter(*_args):
            nonlocal count
            count += 1

        engine = db.engine
        event.listen(engine, "before_cursor_execute", counter)
        try:
            db.session.expire_all()
            entries = week_entries(room_id=room_id)
            build_grid(WEEK, entries)
        finally:
            event.remove(engine, "before_cursor_execute", counter)
        return count, len(entries)

    generate()
    few, shown_few = statements_for_room_week()
    for hour in range(7, 19):
        group = make_group(room=three_classes["r101"], students=[three_classes["alice"]])
        make_series(group, weekdays=(0, 1, 2, 3, 4), start=time(hour), end=time(hour, 50))
    generate()
    many, shown_many = statements_for_room_week()
    assert shown_many > shown_few + 50
    # Sessions, exceptions, candidate slots, enrolments, names of unshown sessions (and the
    # transaction's BEGIN on SQLite).
    assert many == few <= 6


def test_one_time_sessions_are_not_editable_on_the_grid(three_classes):
    from datetime import UTC, datetime

    one_time = Occurrence(
        group_id=three_classes["art"].id,
        start_utc=datetime(2026, 9, 11, 12, tzinfo=UTC),
        end_utc=datetime(2026, 9, 11, 13, tzinfo=UTC),
        room_id=three_classes["lab"].id,
    )
    db.session.add(one_time)
    db.session.commit()
    [entry] = [e for e in week_entries() if e.id == one_time.id]
    assert not entry.editable and entry.override is None


def test_a_long_session_starting_the_day_before_still_conflicts(
    three_classes, make_group, make_series
):
    # Art runs all Sunday in the Lab; Music (Ben teaches both) meets there at 23:00. The
    # long session started 15 hours before: still found, shown or filtered out.
    make_series(three_classes["art"], weekdays=(6,), start=time(8), end=time(23, 59))
    make_series(
        three_classes["music"],
        weekdays=(6,),
        start=time(23),
        end=time(23, 30),
        room=three_classes["lab"],
    )
    generate()
    sunday = [e for e in week_entries() if e.start.date() == TERM + timedelta(days=6)]
    late = next(e for e in sunday if e.start.time() == time(23))
    assert [n.kind for n in late.conflicts] == ["mentor", "room"]
    only_late = week_entries(group_id=three_classes["music"].id)
    late = next(e for e in only_late if e.start.time() == time(23))
    assert "Art Sun 13 Sep 08:00-23:59" in late.conflict_text


def test_one_session_alone_gets_the_same_conflicts_as_in_its_week(
    three_classes, make_series, make_group
):
    # A room clash (Music in R101 with Maths), a student clash (Art with Maths for Alice),
    # a mentor clash (Ben's Art and Music), and two sessions of one group overlapping
    # (a mentor conflict, not a student one).
    make_series(three_classes["music"], weekdays=(0,), start=time(9, 30), end=time(10, 30))
    make_series(three_classes["art"], weekdays=(0,), start=time(9, 45), end=time(10, 15))
    make_series(three_classes["maths"], weekdays=(0,), start=time(9, 15), end=time(9, 45))
    generate()
    from services.timetable.schedule.entries import load_entry

    week = week_entries()
    assert any(e.conflicts for e in week)
    for entry in week:
        alone = load_entry(entry.id, tz=PARIS)
        assert alone.conflicts == entry.conflicts, entry.occurrence.group.name
    maths = [e for e in week if e.occurrence.group.name == "Maths" and e.start.date() == TERM]
    kinds = {(n.kind, n.other_id) for n in maths[0].conflicts}
    assert ("student", maths[1].id) not in kinds and ("mentor", maths[1].id) in kinds


def test_each_filtered_week_names_the_conflicts_the_whole_week_names(three_classes, make_series):
    # Clashes of every kind on several days: each filtered week names exactly what the whole
    # week names, shown or not.
    make_series(three_classes["music"], weekdays=(0, 2), start=time(9, 30), end=time(10, 30))
    make_series(three_classes["art"], weekdays=(0, 3), start=time(9, 45), end=time(11, 15))
    make_series(three_classes["maths"], weekdays=(3, 4), start=time(11), end=time(11, 45))
    # Online (no room): Ben's Music on Thursday overlaps his Art.
    online = make_series(
        three_classes["music"], weekdays=(3,), start=time(9), end=time(10), room=None
    )
    generate()
    filters = [
        {"room_id": three_classes["r101"].id},
        {"room_id": three_classes["lab"].id},
        {"mentor_id": three_classes["ben"].id},
        {"group_id": three_classes["maths"].id},
        {"group_id": three_classes["music"].id},
        {"student_id": three_classes["alice"].id},
    ]

    def conflicts_by_id(entries):
        return {e.id: e.conflicts for e in entries}

    whole = conflicts_by_id(week_entries())
    default = [conflicts_by_id(week_entries(**f)) for f in filters]
    assert sum(len(c) for c in whole.values()) >= 10
    online_id = find_occurrence(online.id, TERM + timedelta(days=3)).id
    assert [n.kind for n in default[4][online_id]] == ["mentor"]
    assert all(part == {i: whole[i] for i in part} for part in default)
