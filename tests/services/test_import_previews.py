"""What the timetable and exceptions imports say line by line, and their dry runs (a preview
writes nothing, and says exactly what the real import then does)."""

from __future__ import annotations

from datetime import date
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from sqlalchemy import select

from models import CourseGroup, Notification, db
from services.timetable.csv_reading import ImportErrors, ImportLine, preview_lines
from services.timetable.exception_import import import_exceptions
from services.timetable.timetable_import import import_timetable

PARIS = ZoneInfo("Europe/Paris")
BEFORE_TERM = date(2026, 9, 1)
HEADER = (
    "group,subject,mentor_email,room,weekdays,start,end,first_date,last_date,every_weeks,mode,"
    "students"
)
FIRST = "\n".join(
    [
        HEADER,
        "Maths 7A,Maths,ada@school.test,Lab,Mon;Wed,10:00,11:00,2026-09-07,,,,s1@school.test",
        "Maths 7A,Maths,ada@school.test,Lab,Fri,14:00,15:00,2026-09-07,,,,",
    ]
)


def table_counts() -> dict[str, int]:
    db.session.expire_all()
    return {
        t.name: db.session.scalar(select(sa.func.count()).select_from(t))
        for t in db.metadata.sorted_tables
    }


def said(lines: list[ImportLine]) -> list[tuple[int, str, str]]:
    return [(i.line, i.change, i.text) for i in lines]


def test_a_first_import_says_what_each_line_creates(app):
    summary = import_timetable(FIRST, tz=PARIS, today=BEFORE_TERM)
    db.session.commit()
    assert said(summary.lines) == [
        (2, "created", "mentor account ada@school.test (cannot log in yet)"),
        (2, "created", "student account s1@school.test (cannot log in yet)"),
        (2, "created", "subject Maths"),
        (2, "created", "room Lab"),
        (2, "created", "group Maths 7A (Maths, ada@school.test)"),
        (2, "created", "series Maths 7A Mon;Wed 10:00-11:00 from 2026-09-07"),
        (2, "changed", "Maths 7A: enrols s1@school.test"),
        (3, "created", "series Maths 7A Fri 14:00-15:00 from 2026-09-07"),
    ]


def test_a_second_import_says_what_changed_ended_and_stayed(app):
    import_timetable(FIRST, tz=PARIS, today=BEFORE_TERM)
    db.session.commit()
    second = "\n".join(
        [
            HEADER,
            "Maths 7A,Maths,ada@school.test,Lab,Mon;Wed,10:00,11:30,2026-09-07,,,,",
        ]
    )
    summary = import_timetable(second, tz=PARIS, today=date(2026, 9, 20))
    assert said(summary.lines) == [
        (2, "changed", "series Maths 7A Mon;Wed 10:00-11:30: end 11:00 → 11:30"),
        (2, "ended", "series Maths 7A Fri 14:00-15:00 (not in the file) ends on 2026-09-19"),
        (2, "changed", "Maths 7A: removes s1@school.test"),
    ]
    db.session.rollback()


def test_a_dry_run_writes_nothing_and_matches_the_real_import(app):
    before = table_counts()
    preview = import_timetable(FIRST, tz=PARIS, today=BEFORE_TERM, dry_run=True)
    db.session.commit()
    assert table_counts() == before
    real = import_timetable(FIRST, tz=PARIS, today=BEFORE_TERM)
    db.session.commit()
    assert said(real.lines) == said(preview.lines)
    assert db.session.scalar(select(CourseGroup.name)) == "Maths 7A"


def test_exceptions_say_each_line_and_refusals_keep_the_other_lines(app):
    import_timetable(FIRST, tz=PARIS, today=BEFORE_TERM)
    db.session.commit()
    good = "\n".join(
        [
            "group,date,action,start,end,room,notes",
            "Maths 7A,2026-09-07,cancel,,,,Trip",
            "Maths 7A,2026-09-09,override,12:00,13:00,,",
        ]
    )
    before = table_counts()
    preview = import_exceptions(good, tz=PARIS, dry_run=True)
    db.session.commit()
    assert table_counts() == before
    assert said(preview.lines) == [
        (2, "created", "Maths 7A on Mon 2026-09-07 (10:00): cancelled; applies when generated"),
        (3, "created", "Maths 7A on Wed 2026-09-09 (10:00): moved to 12:00-13:00; applies when "
         "generated"),
    ]  # fmt: skip
    bad = good + "\nMaths 7A,2026-09-08,cancel,,,,\n"
    with pytest.raises(ImportErrors) as err:
        import_exceptions(bad, tz=PARIS)
    db.session.rollback()
    assert table_counts() == before
    assert [(i.line, i.change) for i in preview_lines(err.value.lines, err.value.messages)] == [
        (2, "created"),
        (3, "created"),
        (4, "refused"),
    ]
    assert db.session.scalar(select(Notification.id)) is None


def test_refusals_become_preview_lines_by_number():
    lines = preview_lines(
        [ImportLine(3, "created", "room Lab")],
        ["line 5: invalid date 2026-02-30 in first_date", "the file is empty"],
    )
    assert said(lines) == [
        (0, "refused", "the file is empty"),
        (3, "created", "room Lab"),
        (5, "refused", "invalid date 2026-02-30 in first_date"),
    ]
