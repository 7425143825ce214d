"""The import-timetable, import-exceptions and seed-demo commands, as a script would use them."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa
from sqlalchemy import select

from models import CourseGroup, Occurrence, OccurrenceMode, Role, Series, User, db
from services.demo import DEMO_LOGINS, DEMO_PASSWORD

HEADER = (
    "group,subject,mentor_email,room,weekdays,start,end,first_date,last_date,every_weeks,mode,"
    "students"
)
# Far enough ahead that no session has started yet (started sessions are history, kept as is).
MATH = (
    "Math 7A,Mathematics,ada@school.test,Room A,Mon;Wed;Fri,10:00,11:00,2027-09-06,,,,"
    '"s1@school.test;s2@school.test"'
)


@pytest.fixture
def csv_file(tmp_path):
    def write(name, content: str | bytes):
        path = tmp_path / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8", newline="")
        return str(path)

    return write


def table_counts() -> dict[str, int]:
    db.session.expire_all()
    return {
        table.name: db.session.scalar(select(sa.func.count()).select_from(table))
        for table in db.metadata.sorted_tables
    }


def sessions(cli, start, end):
    result = cli("list-sessions", "--start", start, "--end", end)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_import_then_eight_weeks_of_mon_wed_fri_is_24_sessions(cli, csv_file):
    path = csv_file("term.csv", f"{HEADER}\n{MATH}\n")
    result = cli("import-timetable", path)
    assert result.exit_code == 0, result.output
    assert "groups      1 created, 0 updated, 0 unchanged" in result.stdout
    assert "created     3 accounts, 1 room, 1 subject" in result.stdout
    assert "New accounts cannot log in until a password is set." in result.stdout
    assert "Existing sessions were not changed" in result.stdout

    summary = json.loads(
        cli("generate-sessions", "--start", "2027-09-06", "--weeks", "8", "--json").stdout
    )
    assert summary["created"] == 24  # [start, start + 56 days): not 25
    rows = sessions(cli, "2027-09-06", "2027-11-01")
    assert len(rows) == 24
    assert {(r["group"], r["room"], r["start"], r["end"]) for r in rows} == {
        ("Math 7A", "Room A", "10:00", "11:00")
    }


def test_import_accepts_bom_and_crlf(cli, csv_file):
    path = csv_file("excel.csv", ("\ufeff" + HEADER + "\r\n" + MATH + "\r\n").encode("utf-8"))
    result = cli("import-timetable", path)
    assert result.exit_code == 0, result.output
    assert db.session.scalar(select(CourseGroup.name)) == "Math 7A"


def test_bad_file_lists_every_bad_line_on_stderr_and_changes_nothing(cli, csv_file):
    cli("import-timetable", csv_file("first.csv", f"{HEADER}\n{MATH}\n"))
    before = table_counts()
    bad = "\n".join(
        [
            HEADER,
            MATH.replace("10:00,11:00", "09:00,10:00"),  # a valid change, must not be applied
            MATH.replace("Math 7A", "Art").replace("2027-09-06", "2026-02-30"),
            MATH.replace("Math 7A", "Bio").replace("Mon;Wed;Fri", "Mon;Wdn"),
            MATH.replace("Math 7A", "Chem").replace("11:00", "10:00"),
            MATH.replace("Math 7A", "Drama").replace(",,,,", ",,0,,"),
            MATH.replace("Math 7A", "Eco").replace("ada@school.test", "ada.school.test"),
        ]
    )
    result = cli("import-timetable", csv_file("bad.csv", bad + "\n"))
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        "Import aborted, nothing was changed:",
        "line 3: invalid date 2026-02-30 in first_date",
        "line 4: unknown weekday Wdn (use Mon, Tue, Wed, Thu, Fri, Sat, Sun)",
        "line 5: end (10:00) must be after start (10:00)",
        "line 6: every_weeks must be a whole number from 1 to 52, not 0",
        "line 7: invalid e-mail ada.school.test in mentor_email",
    ]
    assert table_counts() == before
    assert db.session.scalar(select(Series.start_time)).hour == 10


def test_empty_file_is_refused(cli, csv_file):
    result = cli("import-timetable", csv_file("empty.csv", ""))
    assert result.exit_code == 1
    assert "line 1: the file is empty" in result.stderr


def test_reimport_keeps_session_identity(cli, csv_file):
    cli("import-timetable", csv_file("v1.csv", f"{HEADER}\n{MATH}\n"))
    cli("generate-sessions", "--start", "2027-09-06", "--weeks", "2")
    ids = {r["id"] for r in sessions(cli, "2027-09-06", "2027-09-20")}
    later = MATH.replace("10:00,11:00", "13:00,14:00")
    result = cli("import-timetable", csv_file("v2.csv", f"{HEADER}\n{later}\n"))
    assert result.exit_code == 0, result.output
    assert "series      0 created, 1 updated" in result.stdout

    forced = json.loads(
        cli(
            "generate-sessions", "--start", "2027-09-06", "--weeks", "2", "--force", "--json"
        ).stdout
    )
    assert (forced["updated"], forced["created"], forced["removed"]) == (6, 0, 0)
    rows = sessions(cli, "2027-09-06", "2027-09-20")
    assert {r["id"] for r in rows} == ids
    assert {r["start"] for r in rows} == {"13:00"}


def test_import_exceptions_cancel_applies_at_once(cli, csv_file):
    cli("import-timetable", csv_file("term.csv", f"{HEADER}\n{MATH}\n"))
    cli("generate-sessions", "--start", "2027-09-06", "--weeks", "1")
    path = csv_file(
        "exceptions.csv",
        "group,date,action,start,end,room,notes\r\nMath 7A,2027-09-08,cancel,,,,Trip\r\n",
    )
    result = cli("import-exceptions", path)
    assert result.exit_code == 0, result.output
    assert "cancelled        1" in result.stdout
    assert "sessions updated 1" in result.stdout
    statuses = {r["date"]: r["status"] for r in sessions(cli, "2027-09-06", "2027-09-13")}
    assert statuses == {
        "2027-09-06": "scheduled",
        "2027-09-08": "cancelled",
        "2027-09-10": "scheduled",
    }


def test_import_exceptions_refuses_non_occurrence_and_conflict_and_applies_nothing(cli, csv_file):
    art = "Art 8B,Art,bea@school.test,Room B,Wed,14:00,15:00,2027-09-06,,,,"
    cli("import-timetable", csv_file("term.csv", f"{HEADER}\n{MATH}\n{art}\n"))
    cli("generate-sessions", "--start", "2027-09-06", "--weeks", "1")
    before = table_counts()
    path = csv_file(
        "exceptions.csv",
        "group,date,action,start,end,room,notes\n"
        "Math 7A,2027-09-06,cancel,,,,\n"
        "Math 7A,2027-09-07,cancel,,,,\n"
        "Math 7A,2027-09-08,override,14:30,15:30,Room B,\n"
        "Math 7A,2027-09-10,override,,,Room B,\n",
    )
    result = cli("import-exceptions", path)
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        "Import aborted, nothing was changed:",
        "line 3: 2027-09-07 is not an occurrence of Math 7A",
        "line 4: Room B is already booked by Art 8B on Wed 08 Sep 2027 14:00-15:00.",
    ]
    assert table_counts() == before
    rows = [r for r in sessions(cli, "2027-09-06", "2027-09-13") if r["group"] == "Math 7A"]
    # Lines 2 and 5 were valid, but the import is all or nothing.
    assert {(r["status"], r["start"], r["room"]) for r in rows} == {
        ("scheduled", "10:00", "Room A")
    }


def test_seed_demo_builds_a_school_and_is_idempotent_with_if_empty(cli, web):
    result = cli("seed-demo")
    assert result.exit_code == 0, result.output
    assert "0 conflicts" in result.stdout
    for login in DEMO_LOGINS:
        assert login.email in result.stdout
    assert f"coordinator@demo.termtable.test          {DEMO_PASSWORD}" in result.stdout

    roles = dict(db.session.execute(select(User.role, sa.func.count()).group_by(User.role)).all())
    assert roles[Role.ADMIN] == 1 and roles[Role.COORDINATOR] == 1
    assert roles[Role.MENTOR] == 6 and roles[Role.STUDENT] == 40
    assert db.session.scalar(select(sa.func.count(CourseGroup.id))) >= 12
    assert db.session.scalar(select(sa.func.count(Series.id))) > 12
    modes = set(db.session.scalars(select(Series.mode)))
    assert OccurrenceMode.ONLINE in modes
    assert set(db.session.scalars(select(Series.every_weeks))) == {1, 2}
    statuses = [str(s) for s in db.session.scalars(select(Occurrence.status))]
    closed = db.session.scalars(select(Occurrence).where(Occurrence.closure_id.is_not(None))).all()
    # One cancelled by an exception, the others by the demo's staff day (a closure).
    assert len(statuses) > 300 and statuses.count("cancelled") == 1 + len(closed)
    assert closed and {str(o.status) for o in closed} == {"cancelled"}
    assert all(
        not r["conflict"] for r in sessions(cli, "2000-01-01", "2100-01-01")
    )  # the grid looks like a real timetable

    before = table_counts()
    again = cli("seed-demo", "--if-empty")
    assert again.exit_code == 0
    assert "demo data not loaded" in again.stdout and DEMO_LOGINS[1].email in again.stdout
    assert table_counts() == before
    refused = cli("seed-demo")
    assert refused.exit_code == 1 and "already has accounts" in refused.stderr
    assert table_counts() == before

    # The printed coordinator login really works.
    form = web.get("/auth/login").forms[0]
    form["email"], form["password"] = DEMO_LOGINS[1].email, DEMO_PASSWORD
    assert form.submit().status_int == 302
