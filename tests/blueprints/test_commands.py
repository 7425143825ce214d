"""Every `flask` command (the blueprints' commands.py modules) as an operator meets it: help
text, bad input ending in one clear error (never a traceback) with nothing written, and useful
summaries. One table per convention, so that a new command is checked by all of them.

The main paths are in each blueprint's own test_*commands module (and create-user in test_auth,
create-token in test_token_profile); these tables add the edges.
"""

from __future__ import annotations

from datetime import date, time

import pytest
import sqlalchemy as sa
from sqlalchemy import select

from models import db
from services.common.timeutil import zone
from services.timetable.generation import generate_occurrences

COMMANDS = [
    "create-user",
    "create-token",
    "generate-sessions",
    "list-sessions",
    "import-timetable",
    "import-exceptions",
    "export-timetable",
    "seed-demo",
    "send-notifications",
    "expire-requests",
    "worker",
    "run-jobs",
    "sweep-uploads",
    "rebuild-clashes",
    "add-closure",
    "remove-closure",
    "list-closures",
    "import-closures",
    "add-public-holidays",
    "change-day",
    "record-absence",
    "cover-board",
    "assign-cover",
    "export-absences",
    "add-year",
    "add-term",
    "list-years",
    "export-attendance",
    "enrol-students",
    "prune-live-events",
]
TIMETABLE_HEADER = (
    "group,subject,mentor_email,room,weekdays,start,end,first_date,last_date,every_weeks,mode,"
    "students\n"
)
EXCEPTIONS_HEADER = "group,date,action,start,end,room,notes\n"
USER = ["--name", "Dee", "--role", "student", "--password", "a long password"]


def table_counts() -> dict[str, int]:
    db.session.expire_all()
    return {
        table.name: db.session.scalar(select(sa.func.count()).select_from(table))
        for table in db.metadata.sorted_tables
    }


@pytest.fixture
def files(tmp_path):
    """Paths named in the tables below, resolved under tmp_path."""
    (tmp_path / "latin1.csv").write_bytes(
        (EXCEPTIONS_HEADER + "Café,2027-01-04,cancel,,,,\n").encode("latin-1")
    )
    (tmp_path / "binary.csv").write_bytes(b"\x89PNG\r\n\x1a\n\xff\xfe")
    (tmp_path / "empty.csv").write_bytes(b"")
    (tmp_path / "far.csv").write_text(
        TIMETABLE_HEADER + "G,S,a@school.test,R,Mon,10:00,11:00,9999-12-31,,0,,\n"
    )
    (tmp_path / "far-exc.csv").write_text(EXCEPTIONS_HEADER + "G,9999-12-31,cancel,,,,\n")
    (tmp_path / "timetable.csv").write_text(TIMETABLE_HEADER)
    (tmp_path / "exceptions.csv").write_text(EXCEPTIONS_HEADER)
    (tmp_path / "closures.csv").write_text("name,first_day\nSnow,2026-02-30\n")
    (tmp_path / "holidays.csv").write_text("name,first_day\nSnow,2026-12-21\n")
    (tmp_path / "emails.txt").write_text("dee@school.test\n")

    def resolve(args):
        return [str(tmp_path / a[1:]) if a.startswith("@") else a for a in args]

    return resolve


# --- (a) help -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    COMMANDS,
)
def test_help_says_what_the_command_and_each_option_do(app, cli, name):
    import click

    result = cli(name, "--help")
    assert result.exit_code == 0, result.output
    command = app.cli.get_command(click.Context(app.cli), name)
    assert command.help and command.help.split("\n")[0] in " ".join(result.output.split())
    undocumented = [
        p.name for p in command.params if isinstance(p, click.Option) and not (p.help or "").strip()
    ]
    assert undocumented == [], f"options without help: {undocumented}"


def test_every_registered_command_is_audited(app):
    import click

    ours = set(app.cli.list_commands(click.Context(app.cli))) - {"db", "openapi", "routes"}
    ours -= {"run", "shell"}
    assert ours == set(COMMANDS)


# --- (b) + (d) bad input: one clear error, non-zero, no traceback, nothing written -----------

BAD_INPUT = [
    # create-user (test_auth covers e-mail, short password, blank name, unknown role)
    (["create-user", *USER], "Missing option '--email'"),
    (["create-user", "--email", "dee@school.test", "--role", "student"], "Missing option '--name'"),
    (["create-user", "--email", "dee@school.test", "--name", "Dee"], "Missing option '--role'"),
    (["create-user", "--email", "dee@school.test", *USER[:-1], "x" * 9], "at least 10"),
    (["create-user", "--email", "dee@school.test", "--name", "D" * 121, *USER[2:]], "120"),
    (["create-user", "--email", "d" * 300 + "@school.test", *USER], "too long"),
    (["create-user", "--email", "dee@school.test", "--role", "Teacher", *USER[:2]], "--role"),
    # create-token (test_profile_pages covers unknown account and invalid e-mail)
    (["create-token"], "Missing option '--email'"),
    (["create-token", "--email", "ada@school.test", "--label", "L" * 500], "label under"),
    (["create-token", "--email", "ada@school.test", "--label", "cron"], "already have a token"),
    (["create-token", "--email", "gone@school.test"], "deactivated"),
    # generate-sessions (test_timetable_commands covers weeks 0/-1/text, bad dates, windows)
    (["generate-sessions", "--start", "9999-12-31", "--weeks", "1"], "Choose a date between"),
    (["generate-sessions", "--start", "0001-01-01", "--weeks", "1"], "Choose a date between"),
    (["generate-sessions", "--start", "2100-12-30", "--weeks", "1"], "must end by"),
    (["generate-sessions", "--start", "2026-09-07", "--end", "9999-12-31"], "at most"),
    (["generate-sessions", "--start", "2026-09-07", "--weeks", "9" * 30], "At most"),
    (["generate-sessions", "--start", "2026-09-07", "--end", "tomorrow"], "'tomorrow' is not"),
    (["generate-sessions", "--start", "", "--weeks", "1"], "not a valid date"),
    # list-sessions
    (["list-sessions", "--end", "2026-02-01"], "Missing option '--start'"),
    (["list-sessions", "--start", "2026-01-01"], "Missing option '--end'"),
    (["list-sessions", "--start", "2026-13-01", "--end", "2027-01-01"], "2026-13-01"),
    (["list-sessions", "--start", "2026-01-01", "--end", "2026-01-01"], "--end must be after"),
    (["list-sessions", "--start", "2026-01-01", "--end", "2027-01-01", "--format", "xml"], "xml"),
    (["list-sessions", "--start", "0001-01-01", "--end", "0001-01-02"], "Choose a date between"),
    (["list-sessions", "--start", "0001-01-01", "--end", "9999-12-31"], "Choose a date between"),
    # import-timetable / import-exceptions (test_import_commands covers bad rows, empty file)
    (["import-timetable"], "Missing argument 'FILE.csv'"),
    (["import-timetable", "@missing.csv"], "No such file or directory"),
    (["import-timetable", "@"], "Is a directory"),
    (["import-timetable", "@latin1.csv"], "not UTF-8"),
    (["import-timetable", "@binary.csv"], "not UTF-8"),
    (["import-timetable", "@far.csv"], "out of range"),
    (["import-exceptions"], "Missing argument 'FILE.csv'"),
    (["import-exceptions", "@missing.csv"], "No such file or directory"),
    (["import-exceptions", "@"], "Is a directory"),
    (["import-exceptions", "@empty.csv"], "the file is empty"),
    (["import-exceptions", "@latin1.csv"], "not UTF-8"),
    (["import-exceptions", "@binary.csv"], "not UTF-8"),
    (["import-exceptions", "@far-exc.csv"], "out of range"),
    # export-timetable
    (["export-timetable"], "Missing argument 'FILE.csv'"),
    (["export-timetable", "@"], "Is a directory"),
    (["export-timetable", "@no/such/dir.csv"], "No such file or directory"),
    # the others
    (["send-notifications", "--limit", "0"], "not in the range"),
    (["send-notifications", "--limit", "-1"], "not in the range"),
    (["send-notifications", "--limit", "10001"], "not in the range"),
    (["send-notifications", "--limit", "ten"], "'ten' is not"),
    (["expire-requests", "now"], "unexpected extra argument"),
    (["worker", "--workers", "0"], "not in the range"),
    (["worker", "--workers", "many"], "'many' is not"),
    (["run-jobs", "now"], "unexpected extra argument"),
    (["rebuild-clashes", "now"], "unexpected extra argument"),
    (["add-closure", "--first", "2026-12-21"], "Missing option '--name'"),
    (["add-closure", "--name", "Snow", "--first", "2026-02-30"], "2026-02-30"),
    (
        ["add-closure", "--name", "Snow", "--first", "2026-12-21", "--last", "2026-12-20"],
        "The last day cannot be before the first day.",
    ),
    (
        ["add-closure", "--name", "Trip", "--first", "2026-12-21", "--group", "Nobody"],
        "No group is named Nobody.",
    ),
    (["add-closure", "--name", "Snow", "--first", "2026-12-21", "--kind", "party"], "party"),
    (["remove-closure", "99"], "No closure #99"),
    (["remove-closure", "x"], "'x' is not"),
    (["list-closures", "all"], "unexpected extra argument"),
    (["import-closures", "@closures.csv"], "line 2: invalid date 2026-02-30 in first_day"),
    (["import-closures", "@nowhere.csv"], "No such file or directory"),
    (["seed-demo", "--force"], "No such option"),
    (
        ["add-public-holidays", "--country", "XX", "--from", "2027-01-01", "--to", "2027-02-01"],
        "country: Choose a country from the list.",
    ),
    (
        ["add-public-holidays", "--country", "FR", "--from", "2027-01-01", "--to", "2026-02-01"],
        "last_day: The last day cannot be before the first day.",
    ),
    (["add-public-holidays", "--country", "FR", "--from", "2027-01-01"], "Missing option '--to'"),
    (
        ["add-year", "--name", "2027", "--first", "2027-09-01", "--last", "2026-07-01"],
        "The last day cannot be before the first day.",
    ),
    (
        [
            "add-term",
            "--year",
            "Nope",
            "--name",
            "Spring",
            "--first",
            "2027-01-04",
            "--last",
            "2027-03-26",
        ],
        "No year is named Nope",
    ),
    (["list-years", "all"], "unexpected extra argument"),
    (["change-day", "--date", "2027-01-13"], "Give either --cancel or --run-as DAY."),
    (
        ["change-day", "--date", "2027-01-13", "--cancel", "--run-as", "2027-01-11"],
        "Give either --cancel or --run-as DAY.",
    ),
    (
        ["change-day", "--date", "2027-01-13", "--run-as", "2027-01-13"],
        "runs_as: Choose another day than the one it runs on.",
    ),
    (["change-day", "--date", "2027-02-30", "--cancel"], "2027-02-30"),
    (["export-attendance"], "Missing argument 'FILE.csv'"),
    (["export-attendance", "@"], "Is a directory"),
    (["export-attendance", "@out.csv", "--group", "Nobody"], "No course group is named Nobody."),
    (["export-attendance", "@out.csv", "--student", "no@school.test"], "No student has the"),
    (["export-attendance", "@out.csv", "--start", "2026-02-30"], "not a valid date"),
    (["export-attendance", "@out.csv", "--start", "0001-01-01"], "Choose a date between"),
    (["export-attendance", "-", "--start", "2027-03-10", "--end", "2027-03-01"], "must not be"),
    (["export-attendance", "@out.csv", "--threshold", "101"], "not in the range"),
    (["export-attendance", "@out.csv", "--threshold", "ninety"], "'ninety' is not"),
    (["enrol-students", "Maths"], "Missing option '--file'"),
    (["enrol-students", "--file", "@emails.txt"], "Missing argument 'GROUP'"),
    (["enrol-students", "Nobody", "--file", "@emails.txt"], "No group is named Nobody."),
    (["enrol-students", "Nobody", "--file", "@nowhere.txt"], "does not exist"),
    (["prune-live-events", "--hours", "0"], "not in the range 1<=x<=8760"),
    (["prune-live-events", "--hours", "a day"], "'a day' is not a valid integer"),
]


@pytest.mark.parametrize(("args", "message"), BAD_INPUT)
def test_bad_input_ends_in_one_clear_error_and_writes_nothing(cli, files, make_user, args, message):
    ada = make_user("mentor", email="ada@school.test")
    make_user("mentor", email="gone@school.test", active=False)
    assert cli("create-token", "--email", ada.email, "--label", "cron").exit_code == 0
    before = table_counts()
    result = cli(*files(args))
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    assert result.exit_code != 0
    assert "Traceback" not in result.output
    assert message in result.output
    errors = [line for line in result.output.splitlines() if line.startswith("Error: ")]
    assert len(errors) == 1 or result.output.startswith("Import aborted, nothing was changed:")
    assert table_counts() == before


@pytest.mark.parametrize(
    "args",
    [
        ["create-user", "--email", "nul@school.test", "--name", "Ada\x00", *USER[2:]],
        ["create-token", "--email", "ada@school.test", "--label", "cron\x00"],
    ],
)
def test_control_characters_are_refused(cli, make_user, args):
    make_user("mentor", email="ada@school.test")
    before = table_counts()
    result = cli(*args)
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    assert result.exit_code != 0 and "Error: " in result.output
    assert table_counts() == before


# --- (c) success: a useful summary, exit 0 ---------------------------------------------------


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["import-timetable", "@timetable.csv"], ["Imported ", "groups      0 created"]),
        (["import-exceptions", "@exceptions.csv"], ["Imported ", "cancelled        0"]),
        (["export-timetable", "@out.csv"], ["Exported the timetable to "]),
        (["generate-sessions", "--weeks", "1", "--dry-run"], ["dry run, nothing written"]),
        (["generate-sessions", "--start", "2026-09-07", "--end", "2026-09-14"], ["created      0"]),
        (["list-sessions", "--start", "2026-09-07", "--end", "2026-09-14"], ["[]"]),
        (["list-sessions", "--start", "2026-09-07", "--end", "2026-09-14", "--format", "csv"], []),
        (["expire-requests"], ["0 requests expired."]),
        (["run-jobs"], ["Ran 0 jobs (0 were waiting)."]),
        (["prune-live-events"], ["Removed 0 live events older than 24 hours."]),
        (["prune-live-events", "--hours", "1"], ["Removed 0 live events older than 1 hour."]),
        (["rebuild-clashes"], ["Stored clashes rebuilt: 0 added, 0 removed."]),
        (["rebuild-clashes", "--check"], ["Stored clashes are current."]),
        (["list-closures"], ["No closures."]),
        (["import-closures", "@holidays.csv"], ["Imported ", "closures    1 added"]),
        (
            ["add-closure", "--name", "Snow", "--first", "2026-12-21"],
            ["Added closure #1 Snow: 0 sessions cancelled, 0 kept, 0 notifications."],
        ),
        (["send-notifications"], ["MAIL_SERVER is not set"]),
        (
            [
                "add-public-holidays",
                "--country",
                "fr",
                "--from",
                "2027-03-01",
                "--to",
                "2027-05-02",
                "--skip",
                "2027-05-01",
            ],
            [
                "2027-03-29  Easter Monday  (added)",
                "2027-05-01  Labor Day  (skipped)",
                "Added 1 closure: 0 sessions cancelled.",
            ],
        ),
        (
            [
                "add-public-holidays",
                "--country",
                "GB",
                "--region",
                "sct",
                "--from",
                "2027-11-01",
                "--to",
                "2027-11-30",
                "--dry-run",
            ],
            ["2027-11-30  Saint Andrew's Day  (listed)", "Dry run: nothing added."],
        ),
        (
            ["add-year", "--name", "2026-2027", "--first", "2026-09-01", "--last", "2027-07-09"],
            ["Added year #1 2026-2027: 2026-09-01 to 2027-07-09."],
        ),
        (["list-years"], ["No years."]),
        (["cover-board", "--date", "2027-01-11"], ["Mon 11 Jan 2027: 0 sessions touched, 0 open."]),
        (["export-absences", "-"], ["mentor,email,first_day,last_day,start,end,status,reason"]),
        (
            ["change-day", "--date", "2027-01-13", "--cancel", "--name", "Snow day", "--dry-run"],
            ["Dry run, nothing changed: 0 sessions cancelled, 0 made, 0 kept."],
        ),
        (
            ["change-day", "--date", "2027-01-13", "--run-as", "2027-01-11"],
            ["Closure #1 Monday 11 Jan's timetable: 0 sessions cancelled, 0 made, 0 kept;"],
        ),
        (
            ["export-attendance", "@out.csv", "--threshold", "75"],
            ["Exported the attendance of 0 students (0 registers, 0 below 75%) to "],
        ),
        (["export-attendance", "-"], ["student,email,sessions,present,late,absent,excused"]),
    ],
)
def test_success_prints_a_summary_and_exits_zero(cli, files, args, expected):
    result = cli(*files(args))
    assert result.exit_code == 0, result.output
    assert result.exception is None
    for text in expected:
        assert text in result.output


def test_a_year_and_its_terms_are_scripted_and_listed(cli):
    assert cli("add-year", "--name", "2026-2027", "--first", "2026-09-01",
               "--last", "2027-07-09").exit_code == 0  # fmt: skip
    added = cli("add-term", "--year", "2026-2027", "--name", "Spring", "--first", "2027-01-04",
                "--last", "2027-03-26")  # fmt: skip
    assert added.exit_code == 0 and "Added term #1 Spring to 2026-2027" in added.output
    overlap = cli("add-term", "--year", "2026-2027", "--name", "Late spring",
                  "--first", "2027-03-01", "--last", "2027-04-01")  # fmt: skip
    assert overlap.exit_code == 1 and "These days overlap Spring" in overlap.output
    listed = cli("list-years").output.splitlines()
    assert listed == [
        "#1  2026-09-01 to 2027-07-09  2026-2027",
        "    term #1  2027-01-04 to 2027-03-26  Spring",
    ]


def test_an_absence_is_recorded_and_covered_from_the_command_line(
    cli, make_user, make_group, make_series
):

    ada = make_user("mentor", name="Ada", email="ada@school.test")
    make_user("mentor", name="Dee", email="dee@school.test")
    maths = make_group("Maths", mentor=ada)
    make_series(maths, weekdays=(0,), start=time(9), end=time(10), first_date=date(2027, 1, 11))
    generate_occurrences(date(2027, 1, 11), date(2027, 1, 12), tz=zone("Europe/Paris"))
    db.session.commit()
    recorded = cli("record-absence", "--mentor", "ADA@school.test", "--first", "2027-01-11",
                   "--reason", "Ill")  # fmt: skip
    assert recorded.exit_code == 0, recorded.output
    assert "Ada, Mon 11 Jan 2027 (1 sessions on the first day's cover board)" in recorded.output
    board = cli("cover-board", "--date", "2027-01-11").output
    assert "Maths  (Ada away)  OPEN  best: Dee" in board
    session_id = board.split()[0].lstrip("#")
    done = cli("assign-cover", "--session", session_id, "--mentor", "dee@school.test")
    assert done.exit_code == 0 and f"Session #{session_id} Maths: taught by Dee." in done.output
    assert "covered by Dee" in cli("cover-board", "--date", "2027-01-11").output


def test_enrol_students_prints_a_summary_and_exits_zero(cli, files, make_user, make_group):
    make_user("student", name="Dee", email="dee@school.test")
    make_group("Maths 7A")
    result = cli(*files(["enrol-students", "maths 7a", "--file", "@emails.txt"]))
    assert result.exit_code == 0, result.output
    assert "line 1: dee@school.test: enrol Dee" in result.output
    assert "Enrolled 1 in Maths 7A (0 already in it)." in result.output
