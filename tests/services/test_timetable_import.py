"""CSV imports: the timetable (source of truth for the groups it names) and per-date exceptions.

Both are all-or-nothing and list every bad line as `line N: ...` (the header is line 1).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from sqlalchemy import select

from models import (
    CourseGroup,
    DateOverride,
    Enrolment,
    Occurrence,
    OccurrenceMode,
    OccurrenceStatus,
    Role,
    Room,
    Series,
    Subject,
    User,
    db,
)
from models.series import weekdays_to_mask
from services.people.accounts import find_user_by_email
from services.timetable.csv_reading import ImportErrors
from services.timetable.exception_import import import_exceptions
from services.timetable.generation import generate_occurrences
from services.timetable.timetable_import import import_timetable

PARIS = ZoneInfo("Europe/Paris")
TERM = date(2026, 9, 7)  # a Monday
BEFORE_TERM = date(2026, 9, 1)
HEADER = (
    "group,subject,mentor_email,room,weekdays,start,end,first_date,last_date,every_weeks,mode,"
    "students"
)
TIME_HINT = "(use HH:MM from 00:00 to 23:59)"


def timetable(*rows: str, header: str = HEADER) -> str:
    return "\n".join([header, *rows]) + "\n"


def run_import(text, today=BEFORE_TERM):
    summary = import_timetable(text, tz=PARIS, today=today)
    db.session.commit()
    return summary


def errors_of(text, today=BEFORE_TERM) -> list[str]:
    with pytest.raises(ImportErrors) as caught:
        import_timetable(text, tz=PARIS, today=today)
    db.session.rollback()
    return caught.value.messages


def group_named(name) -> CourseGroup:
    return db.session.scalar(select(CourseGroup).where(CourseGroup.name == name))


def series_of(name) -> list[Series]:
    return list(
        db.session.scalars(
            select(Series).join(CourseGroup).where(CourseGroup.name == name).order_by(Series.id)
        )
    )


def students_of(name) -> list[str]:
    return sorted(e.student.email for e in group_named(name).enrolments)


def table_counts() -> dict[str, int]:
    return {
        table.name: db.session.scalar(select(sa.func.count()).select_from(table))
        for table in db.metadata.sorted_tables
    }


MATH = (
    "Math 7A,Mathematics,ada@school.test,Room A,Mon;Wed,10:00,11:00,2026-09-07,,,,"
    '"s1@school.test;s2@school.test"'
)
MATH_THU = "Math 7A,Mathematics,ada@school.test,Room B,thu,14:00,15:30,2026-09-07,2026-12-18,2,,"
ART = "Art 8B,Art,bea@school.test,,Fri,09:00,10:00,2026-09-11,,,online,s2@school.test"


# --- happy path ------------------------------------------------------------------------------


def test_import_creates_groups_series_accounts_rooms_subjects_and_enrolments(app):
    summary = run_import(timetable(MATH, MATH_THU, ART))

    assert (summary.groups_created, summary.series_created) == (2, 3)
    assert (summary.users_created, summary.rooms_created, summary.subjects_created) == (4, 2, 2)
    assert summary.enrolments_added == 3
    assert summary.series_changed  # the summary says generation is needed

    math = group_named("Math 7A")
    assert math.subject.name == "Mathematics" and math.default_room.name == "Room A"
    assert math.mentor.email == "ada@school.test" and math.mentor.role == Role.MENTOR
    weekly, fortnightly = series_of("Math 7A")
    assert weekly.weekday_mask == weekdays_to_mask([0, 2]) and weekly.every_weeks == 1
    assert (weekly.start_time, weekly.end_time) == (time(10), time(11))
    assert weekly.room.name == "Room A" and weekly.last_date is None
    assert weekly.mode == OccurrenceMode.IN_PERSON
    assert fortnightly.weekday_mask == weekdays_to_mask([3])  # "thu": case-insensitive
    assert (fortnightly.every_weeks, fortnightly.last_date) == (2, date(2026, 12, 18))
    assert fortnightly.room.name == "Room B"

    [art] = series_of("Art 8B")
    assert art.mode == OccurrenceMode.ONLINE and art.room_id is None
    assert students_of("Math 7A") == ["s1@school.test", "s2@school.test"]
    assert students_of("Art 8B") == ["s2@school.test"]

    student = find_user_by_email("s1@school.test")
    assert student.role == Role.STUDENT and student.name == "S1"
    assert not student.can_log_in  # no password until someone sets one
    assert not find_user_by_email("ada@school.test").can_log_in
    tokens = {u.session_token for u in db.session.scalars(select(User))}
    assert len(tokens) == 4  # each account its own login token


def test_header_only_is_nothing_to_do(app):
    before = table_counts()
    summary = run_import(HEADER + "\n")
    assert summary.groups_created == 0 and not summary.series_changed
    assert table_counts() == before


def test_existing_accounts_rooms_and_subjects_are_reused(app, make_user, make_room):
    mentor = make_user("mentor", email="ada@school.test")
    student = make_user("student", email="s1@school.test")
    room = make_room("Room A")
    db.session.add(Subject(name="Mathematics"))
    db.session.commit()
    summary = run_import(
        timetable(MATH.replace("ada@school.test", "ADA@School.test").replace("Room A", "room a"))
    )
    assert (summary.users_created, summary.rooms_created, summary.subjects_created) == (1, 0, 0)
    group = group_named("Math 7A")
    assert group.mentor_id == mentor.id and group.default_room_id == room.id
    assert find_user_by_email("s1@school.test").id == student.id
    assert find_user_by_email("s1@school.test").can_log_in  # its password was not touched


def test_utf8_bom_and_crlf_line_ends(app):
    data = ("\ufeff" + timetable(MATH, ART).replace("\n", "\r\n")).encode("utf-8")
    summary = run_import(data)
    assert summary.groups_created == 2
    assert group_named("Math 7A") is not None  # the BOM is not part of the first column name
    assert students_of("Math 7A") == ["s1@school.test", "s2@school.test"]


def test_quoted_cells_with_commas_and_newlines(app):
    text = timetable(
        '"Math, advanced",Mathematics,ada@school.test,"Room A, east wing",Mon,10:00,11:00,'
        '2026-09-07,,,,"s1@school.test;\r\ns2@school.test"',
        ART,
    )
    run_import(text)
    assert group_named("Math, advanced").default_room.name == "Room A, east wing"
    assert students_of("Math, advanced") == ["s1@school.test", "s2@school.test"]


def test_line_numbers_count_physical_lines_after_a_multiline_cell(app):
    text = timetable(
        'Math 7A,Mathematics,ada@school.test,Room A,Mon,10:00,11:00,2026-09-07,,,,"s1@school.test;'
        '\ns2@school.test"',
        "Art 8B,Art,bea@school.test,,Fri,09:00,10:00,2026-02-30,,,,",
    )
    # The Math record spans lines 2-3, so the Art record starts on line 4.
    assert errors_of(text) == ["line 4: invalid date 2026-02-30 in first_date"]


def test_semicolon_separated_file_from_a_spreadsheet(app):
    text = (
        "group;subject;mentor_email;room;weekdays;start;end;first_date;last_date;every_weeks;"
        'mode;students\nMath 7A;Mathematics;ada@school.test;Room A;"Mon;Wed";10:00;11:00;'
        '2026-09-07;;;;"s1@school.test;s2@school.test"\n'
    )
    run_import(text)
    assert series_of("Math 7A")[0].weekday_mask == weekdays_to_mask([0, 2])
    assert students_of("Math 7A") == ["s1@school.test", "s2@school.test"]


def test_columns_in_any_order_and_optional_columns_left_out(app, make_group, make_user):
    student = make_user("student")
    make_group("Math 7A", students=[student])
    text = (
        "weekdays,group,start,end,subject,mentor_email,room,first_date\n"
        "Tue,Math 7A,08:00,09:00,Mathematics,ada@school.test,Room A,2026-09-08\n"
    )
    run_import(text)
    [series] = series_of("Math 7A")
    assert series.weekday_mask == weekdays_to_mask([1]) and series.every_weeks == 1
    # No students column: the file says nothing about enrolments, so they stay.
    assert students_of("Math 7A") == [student.email]


def test_formula_like_cells_are_stored_as_plain_text(app):
    run_import(
        timetable(
            '"=HYPERLINK(""http://evil.example"")",+Sum,ada@school.test,@Room,Mon,10:00,11:00,'
            "2026-09-07,,,,",
            "-Minus,Art,bea@school.test,,Fri,09:00,10:00,2026-09-11,,,,",
        )
    )
    group = group_named('=HYPERLINK("http://evil.example")')
    assert group.subject.name == "+Sum" and group.default_room.name == "@Room"
    assert group_named("-Minus") is not None


# --- re-import -------------------------------------------------------------------------------


def test_reimport_updates_series_in_place_ends_unlisted_ones_and_leaves_other_groups(
    app, make_group, make_series
):
    run_import(timetable(MATH, MATH_THU))
    other = make_series(make_group("Physics 9C"), weekdays=(0,))
    weekly, fortnightly = series_of("Math 7A")
    today = date(2026, 10, 14)

    changed = MATH.replace("10:00,11:00", "10:30,11:30").replace(
        '"s1@school.test;s2@school.test"', '"s2@school.test;s3@school.test"'
    )
    summary = run_import(timetable(changed), today=today)

    assert (summary.series_updated, summary.series_ended, summary.series_created) == (1, 1, 0)
    assert (summary.groups_updated, summary.groups_created) == (1, 0)
    assert (summary.enrolments_added, summary.enrolments_removed) == (1, 1)
    updated, ended = series_of("Math 7A")
    assert updated.id == weekly.id  # matched by weekday set: same identity
    assert (updated.start_time, updated.end_time) == (time(10, 30), time(11, 30))
    assert ended.id == fortnightly.id
    assert ended.last_date == today - timedelta(days=1)  # the past stays history
    assert students_of("Math 7A") == ["s2@school.test", "s3@school.test"]
    untouched = db.session.get(Series, other.id)
    assert untouched.last_date is None and untouched.start_time == time(10)


def test_reimport_of_the_same_file_changes_nothing(app):
    run_import(timetable(MATH, MATH_THU, ART))
    before = table_counts()
    summary = run_import(timetable(MATH, MATH_THU, ART))
    assert (summary.groups_unchanged, summary.series_unchanged) == (2, 3)
    assert summary.series_updated == summary.series_ended == summary.users_created == 0
    assert not summary.series_changed
    assert table_counts() == before


def test_next_term_file_ends_old_series_the_day_before_it_starts(app):
    run_import(timetable(MATH))
    [old] = series_of("Math 7A")
    next_term = "Math 7A,Mathematics,ada@school.test,Room A,Tue,10:00,11:00,2027-01-04,,,,"
    run_import(timetable(next_term), today=date(2026, 10, 1))
    ended, new = series_of("Math 7A")
    assert ended.id == old.id and ended.last_date == date(2027, 1, 3)
    assert new.weekday_mask == weekdays_to_mask([1]) and new.first_date == date(2027, 1, 4)


def test_unlisted_series_that_never_began_is_removed_with_its_untouched_sessions(app):
    upcoming = "Math 7A,Mathematics,ada@school.test,Room A,Mon,10:00,11:00,2026-11-02,,,,"
    run_import(timetable(upcoming))
    generate_occurrences(
        TERM, TERM + timedelta(weeks=12), tz=PARIS, now=datetime(2026, 9, 1, tzinfo=UTC)
    )
    db.session.commit()
    assert db.session.scalar(select(sa.func.count(Occurrence.id))) == 4

    # The new Tuesday series starts on the same date: the old one would end before it began.
    moved = upcoming.replace(",Mon,", ",Tue,")
    summary = import_timetable(
        timetable(moved), tz=PARIS, today=BEFORE_TERM, now=datetime(2026, 9, 1, tzinfo=UTC)
    )
    db.session.commit()
    assert (summary.series_removed, summary.series_created) == (1, 1)
    [series] = series_of("Math 7A")
    assert series.weekday_mask == weekdays_to_mask([1])
    assert db.session.scalar(select(sa.func.count(Occurrence.id))) == 0


# --- bad input -------------------------------------------------------------------------------

GOOD = "Math 7A,Mathematics,ada@school.test,Room A,Mon,10:00,11:00,2026-09-07,,,,"


@pytest.mark.parametrize(
    ("bad_row", "message"),
    [
        (GOOD.replace("Mon", "Mun"), "unknown weekday Mun (use Mon, Tue, Wed, Thu, Fri, Sat, Sun)"),
        (
            GOOD.replace("Mon", "Monday"),
            "unknown weekday Monday (use Mon, Tue, Wed, Thu, Fri, Sat, Sun)",
        ),
        (GOOD.replace(",Mon,", ",,"), "weekdays is required (for example Mon;Wed;Fri)"),
        (GOOD.replace("2026-09-07", "2026-02-30"), "invalid date 2026-02-30 in first_date"),
        (GOOD.replace("2026-09-07", "2026-13-01"), "invalid date 2026-13-01 in first_date"),
        (GOOD.replace("2026-09-07", "2027-02-29"), "invalid date 2027-02-29 in first_date"),
        (
            GOOD.replace("2026-09-07", "05/01/2026"),
            "invalid date 05/01/2026 in first_date (use YYYY-MM-DD)",
        ),
        (
            GOOD.replace("2026-09-07", "0001-01-01"),
            "date 0001-01-01 in first_date is out of range (2000 to 2100)",
        ),
        (GOOD.replace("2026-09-07", " "), "first_date is required"),
        (
            GOOD.replace("10:00,11:00", "10:00,24:00"),
            "invalid time 24:00 in end (use HH:MM from 00:00 to 23:59)",
        ),
        (GOOD.replace("10:00,11:00", "10.00,11:00"), "invalid time 10.00 in start " + TIME_HINT),
        (GOOD.replace("10:00,11:00", "10:00,23:60"), "invalid time 23:60 in end " + TIME_HINT),
        (GOOD.replace("10:00,11:00", "-01:00,11:00"), "invalid time -01:00 in start " + TIME_HINT),
        (GOOD.replace("10:00,11:00", "10:00,10:00"), "end (10:00) must be after start (10:00)"),
        (
            GOOD.replace("10:00,11:00", "11:00,10:00"),
            "end (10:00) must be after start (11:00), or at most 12 hours later on the next day",
        ),
        (
            GOOD.replace(",,,,", ",,0,,"),
            "every_weeks must be a whole number from 1 to 52, not 0",
        ),
        (GOOD.replace(",,,,", ",,-1,,"), "every_weeks must be a whole number from 1 to 52, not -1"),
        (
            GOOD.replace(",,,,", ",,3.5,,"),
            "every_weeks must be a whole number from 1 to 52, not 3.5",
        ),
        (
            GOOD.replace(",,,,", ",,two,,"),
            "every_weeks must be a whole number from 1 to 52, not two",
        ),
        (
            GOOD.replace(",,,,", f",,{2**63},,"),
            f"every_weeks must be a whole number from 1 to 52, not {2**63}",
        ),
        (
            GOOD.replace("2026-09-07,,", "2026-09-07,2026-09-01,"),
            "last_date 2026-09-01 is before first_date 2026-09-07",
        ),
        (GOOD.replace("ada@school.test", "ada@"), "invalid e-mail ada@ in mentor_email"),
        (GOOD + "bob@@school.test", "invalid e-mail bob@@school.test in students"),
        (GOOD.replace(",,,,", ",,,hybrid,"), "unknown mode hybrid (use in_person or online)"),
        (GOOD.replace("Math 7A", ""), "group is required"),
        (GOOD.replace("Math 7A", "M" * 81), "group is longer than 80 characters"),
        (GOOD + ",extra", "13 cells but the header has 12 columns"),
    ],
)
def test_each_bad_row_is_reported_with_its_line(app, bad_row, message):
    ok = "Art 8B,Art,bea@school.test,,Fri,09:00,10:00,2026-09-11,,,,"
    assert errors_of(timetable(ok, ok.replace("Art 8B", "Art 8C"), bad_row)) == [
        f"line 4: {message}"
    ]


def test_two_rows_of_a_group_with_the_same_weekday_set(app):
    text = timetable(GOOD.replace("Mon", "Mon;Wed"), GOOD.replace("Mon", "wed;MON"))
    assert errors_of(text) == ["line 3: Math 7A already has a row for Mon;Wed on line 2"]


def test_rows_of_a_group_must_agree_on_subject_and_mentor(app):
    text = timetable(
        GOOD,
        GOOD.replace("Mon", "Tue").replace("Mathematics", "Physics"),
        GOOD.replace("Mon", "Wed").replace("ada@", "bea@"),
    )
    assert errors_of(text) == [
        "line 3: Math 7A has subject Mathematics on line 2, not Physics",
        "line 4: Math 7A has mentor ada@school.test on line 2, not bea@school.test",
    ]


def test_existing_accounts_must_have_the_right_role(app, make_user):
    make_user("student", email="stu@school.test")
    make_user("mentor", email="men@school.test")
    make_user("admin", email="boss@school.test")
    text = timetable(
        GOOD.replace("ada@", "stu@"),
        GOOD.replace("Math 7A", "Art 8A").replace("ada@", "boss@"),
        GOOD.replace("Math 7A", "Art 8B").replace("ada@", "bea@") + "men@school.test",
        GOOD.replace("Math 7A", "Art 8C").replace("ada@", "cy@") + "cy@school.test",
    )
    assert errors_of(text) == [
        "line 2: stu@school.test is a student, not a mentor",
        "line 3: boss@school.test is an admin, not a mentor",
        "line 4: men@school.test is a mentor, not a student",
        "line 5: cy@school.test cannot be both a mentor and a student",
    ]


def test_every_bad_line_is_listed_in_order(app):
    text = timetable(
        GOOD,
        GOOD.replace("Math 7A", "Art").replace("Mon", "Mun"),
        GOOD.replace("Math 7A", "Bio").replace("2026-09-07", "2026-02-30"),
        GOOD.replace("Math 7A", "Chem"),
        GOOD.replace("Math 7A", "Drama").replace("11:00", "09:00").replace(",,,,", ",,0,,"),
    )
    assert errors_of(text) == [
        "line 3: unknown weekday Mun (use Mon, Tue, Wed, Thu, Fri, Sat, Sun)",
        "line 4: invalid date 2026-02-30 in first_date",
        "line 6: end (09:00) must be after start (10:00), or at most 12 hours later "
        "on the next day",
        "line 6: every_weeks must be a whole number from 1 to 52, not 0",
    ]


@pytest.mark.parametrize(
    ("text", "messages"),
    [
        (
            "",
            [
                "line 1: the file is empty; expected the header group,subject,mentor_email,room,"
                "weekdays,start,end,first_date,last_date,every_weeks,mode,students"
            ],
        ),
        ("\ufeff\r\n  \r\n", ["line 1: the file is empty; expected the header " + HEADER]),
        (
            HEADER.replace(",weekdays", "") + "\n",
            ["line 1: missing column weekdays", "line 1: the expected columns are " + HEADER],
        ),
        (
            HEADER + ",group\n",
            ["line 1: duplicated column group", "line 1: the expected columns are " + HEADER],
        ),
        (
            HEADER.replace("weekdays", "weekday") + "\n" + GOOD + "\n",
            [
                "line 1: unknown column weekday",
                "line 1: missing column weekdays",
                "line 1: the expected columns are " + HEADER,
            ],
        ),
        (GOOD + "\n", [f"line 1: unknown column {c}" for c in ("math_7a", "mathematics")]),
        (
            b"\xef\xbb\xbf" + HEADER.encode() + b"\nCaf\xe9,x\n",
            ["line 2: the file is not UTF-8 text"],
        ),
    ],
)
def test_bad_files(app, text, messages):
    found = errors_of(text)
    assert found[: len(messages)] == messages


def test_a_failed_import_leaves_every_table_exactly_as_it_was(app, make_user):
    run_import(timetable(MATH, ART))
    make_user("student", email="stu@school.test")
    before = table_counts()
    [weekly] = series_of("Math 7A")
    # Valid rows that would change, create and end things, then one bad row at the very end.
    text = timetable(
        MATH.replace("10:00,11:00", "12:00,13:00").replace("s1@", "new1@"),
        ART.replace("Fri", "Thu"),
        "New group,New subject,new-mentor@school.test,New room,Tue,10:00,11:00,2026-09-08,,,,",
        GOOD.replace("Math 7A", "Last").replace("ada@", "stu@"),
    )
    assert errors_of(text) == ["line 5: stu@school.test is a student, not a mentor"]
    assert table_counts() == before
    assert db.session.get(Series, weekly.id).start_time == time(10)
    assert find_user_by_email("new1@school.test") is None
    assert db.session.scalar(select(Room).where(Room.name == "New room")) is None


def test_no_user_can_log_in_through_an_import(app):
    run_import(timetable(MATH, ART))
    assert all(u.password_hash is None for u in db.session.scalars(select(User)))


# --- exceptions ------------------------------------------------------------------------------

EXC_HEADER = "group,date,action,start,end,room,notes"


def exceptions(*rows: str) -> str:
    return "\n".join([EXC_HEADER, *rows]) + "\n"


def exception_errors(text) -> list[str]:
    with pytest.raises(ImportErrors) as caught:
        import_exceptions(text, tz=PARIS)
    db.session.rollback()
    return caught.value.messages


@pytest.fixture
def math_term(app):
    """Math 7A meets Mon and Wed 10:00-11:00 in Room A from 7 Sept 2026, generated 4 weeks."""
    run_import(timetable(MATH))
    generate_occurrences(
        TERM, TERM + timedelta(weeks=4), tz=PARIS, now=datetime(2026, 9, 1, tzinfo=UTC)
    )
    db.session.commit()
    return series_of("Math 7A")[0]


def occurrence_on(series, day) -> Occurrence:
    db.session.expire_all()
    return db.session.scalar(
        select(Occurrence).where(Occurrence.series_id == series.id, Occurrence.original_date == day)
    )


def test_cancel_applies_at_once_to_the_generated_session(math_term):
    summary = import_exceptions(exceptions("Math 7A,2026-09-09,cancel,,,,Teacher ill"), tz=PARIS)
    db.session.commit()
    assert (summary.cancelled, summary.sessions_updated, summary.exceptions_created) == (1, 1, 1)
    assert occurrence_on(math_term, date(2026, 9, 9)).status == OccurrenceStatus.CANCELLED
    override = db.session.scalar(select(DateOverride))
    assert override.cancelled and override.notes == "Teacher ill"


def test_override_moves_the_session_to_another_room_and_time(math_term, make_room):
    make_room("Library")
    import_exceptions(exceptions("Math 7A,2026-09-14,override,14:00,15:00,library,"), tz=PARIS)
    db.session.commit()
    moved = occurrence_on(math_term, date(2026, 9, 14))
    assert moved.room.name == "Library" and moved.status == OccurrenceStatus.SCHEDULED
    assert moved.start_utc == datetime(2026, 9, 14, 12, tzinfo=UTC)  # 14:00 in Paris (UTC+2)


def test_exception_for_a_date_that_is_not_an_occurrence_is_refused(math_term):
    assert exception_errors(exceptions("Math 7A,2026-09-08,cancel,,,,")) == [
        "line 2: 2026-09-08 is not an occurrence of Math 7A"
    ]
    assert db.session.scalar(select(sa.func.count(DateOverride.id))) == 0


def test_conflicting_override_is_refused_naming_the_other_session(math_term):
    run_import(
        timetable(
            MATH,
            "Art 8B,Art,bea@school.test,Room B,Mon,14:00,15:00,2026-09-07,,,,",
        )
    )
    generate_occurrences(
        TERM, TERM + timedelta(weeks=1), tz=PARIS, now=datetime(2026, 9, 1, tzinfo=UTC)
    )
    db.session.commit()
    [message] = exception_errors(exceptions("Math 7A,2026-09-07,override,14:30,15:30,Room B,"))
    # The room's name says "Room" already: not "Room Room B".
    assert message.startswith("line 2: Room B is already booked by Art 8B on Mon 07 Sep 2026")
    assert occurrence_on(math_term, date(2026, 9, 7)).room.name == "Room A"


def test_a_group_meeting_twice_that_day_needs_the_start_time(app):
    run_import(
        timetable(
            MATH.replace("Mon;Wed", "Mon"),
            "Math 7A,Mathematics,ada@school.test,Room A,Mon;Fri,14:00,15:00,2026-09-07,,,,",
        )
    )
    assert exception_errors(exceptions("Math 7A,2026-09-07,cancel,,,,")) == [
        "line 2: Math 7A meets 2 times on 2026-09-07 (10:00, 14:00); "
        "give the start time of the one to change"
    ]
    import_exceptions(exceptions("Math 7A,2026-09-07,cancel,14:00,,,"), tz=PARIS)
    db.session.commit()
    override = db.session.scalar(select(DateOverride))
    assert override.series.start_time == time(14) and override.cancelled


def test_bad_exception_rows_are_all_listed_and_nothing_is_applied(math_term):
    text = exceptions(
        "Math 7A,2026-09-09,cancel,,,,",  # valid, but must be rolled back
        "Physics,2026-09-09,cancel,,,,",
        "Math 7A,2026-02-30,cancel,,,,",
        "Math 7A,2026-09-14,postpone,,,,",
        "Math 7A,2026-09-14,override,,,,",
        "Math 7A,2026-09-16,override,,,Attic,",
        "Math 7A,2026-09-21,override,12:00,11:00,,",
        "Math 7A,2026-09-09,override,,,Room A,",
        "Math 7A,2026-09-23,override,,09:00,,",
    )
    assert exception_errors(text) == [
        "line 3: no group named Physics",
        "line 4: invalid date 2026-02-30 in date",
        "line 5: unknown action postpone (use cancel or override)",
        "line 6: an override needs a new start, end or room",
        "line 7: no room named Attic",
        "line 8: end (11:00) must be after start (12:00), or at most 12 hours later "
        "on the next day",
        "line 9: Math 7A on 2026-09-09 already has a row on line 2",
        "line 10: The end (09:00) must be after the start (10:00), or at most 12 hours later "
        "on the next day.",
    ]
    assert db.session.scalar(select(sa.func.count(DateOverride.id))) == 0
    assert occurrence_on(math_term, date(2026, 9, 9)).status == OccurrenceStatus.SCHEDULED


def test_exceptions_file_with_missing_column(app):
    assert (
        exception_errors("group,date\nMath 7A,2026-09-07\n")[0] == "line 1: missing column action"
    )


def test_exceptions_import_keeps_the_callers_earlier_work(math_term):
    """The savepoint rolls back the import only, not what the caller did before it."""
    db.session.add(Room(name="Gym"))
    db.session.flush()
    with pytest.raises(ImportErrors):
        import_exceptions(exceptions("Math 7A,2026-09-08,cancel,,,,"), tz=PARIS)
    assert db.session.scalar(select(Room).where(Room.name == "Gym")) is not None
    db.session.rollback()


def test_enrolments_are_removed_when_the_students_cell_is_emptied(app):
    run_import(timetable(MATH))
    summary = run_import(timetable(MATH.replace('"s1@school.test;s2@school.test"', "")))
    assert summary.enrolments_removed == 2
    assert db.session.scalar(select(sa.func.count(Enrolment.id))) == 0


def test_100000_rows_with_one_bad_row_at_the_end_write_nothing_and_name_its_line(app):
    days = ("Mon", "Tue", "Wed", "Thu", "Fri")
    rows = [HEADER]
    for n in range(100_000):
        group, day = divmod(n, 5)
        rows.append(
            f"G{group},Maths,m{group % 500}@school.test,Room {group % 300},{days[day]},"
            "10:00,11:00,2026-09-07,,,,"
        )
    rows[-1] = rows[-1].replace("10:00,11:00", "25:00,11:00")
    with pytest.raises(ImportErrors) as caught:
        import_timetable("\n".join(rows) + "\n", tz=PARIS, today=date(2026, 9, 1))
    db.session.rollback()
    assert caught.value.messages == [
        "line 100001: invalid time 25:00 in start (use HH:MM from 00:00 to 23:59)"
    ]
    counts = {
        table.name: db.session.scalar(select(sa.func.count()).select_from(table))
        for table in db.metadata.sorted_tables
    }
    assert set(counts.values()) == {0}, counts
