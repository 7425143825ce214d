"""The generate-sessions and list-sessions commands: a stable interface scripts rely on."""

from __future__ import annotations

import csv
import io
import json
from datetime import date, time

import pytest
import sqlalchemy as sa

from models import (
    Occurrence,
    Series,
    db,
)


def test_generate_json_summary_for_eight_weeks_of_mon_wed_fri(cli, make_series):
    make_series(weekdays=(0, 2, 4))
    result = cli("generate-sessions", "--start", "2026-09-07", "--weeks", "8", "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["created"] == 24
    assert {k: summary[k] for k in ("updated", "removed", "unchanged", "kept", "out_of_date")} == {
        "updated": 0,
        "removed": 0,
        "unchanged": 0,
        "kept": 0,
        "out_of_date": 0,
    }
    assert summary["conflicts"] == []
    again = json.loads(
        cli("generate-sessions", "--start", "2026-09-07", "--weeks", "8", "--json").output
    )
    assert again["created"] == 0 and again["unchanged"] == 24


def test_generate_human_summary_names_conflicts(cli, make_group, make_series, make_room):
    room = make_room("Studio")
    make_series(make_group("Dance A", room=room), weekdays=(0,))
    make_series(
        make_group("Dance B", room=room), weekdays=(0,), start=time(10, 30), end=time(11, 30)
    )
    result = cli("generate-sessions", "--start", "2026-09-07", "--end", "2026-09-14")
    assert result.exit_code == 0
    assert "created      2" in result.output
    assert "room (Studio)" in result.output and "Dance A" in result.output


def test_generate_says_why_a_window_holds_nothing(cli, make_series):
    make_series(weekdays=(0,), last_date=date(2027, 3, 14))
    result = cli("generate-sessions", "--start", "2027-03-15", "--weeks", "2")
    assert result.exit_code == 0, result.output
    assert "every series of these groups ends by 14 Mar 2027" in result.output


def test_generate_conflicts_in_json_are_objects(cli, make_group, make_series, make_room):
    room = make_room("Studio")
    make_series(make_group("Dance A", room=room), weekdays=(0,))
    make_series(
        make_group("Dance B", room=room), weekdays=(0,), start=time(10, 30), end=time(11, 30)
    )
    summary = json.loads(
        cli("generate-sessions", "--start", "2026-09-07", "--weeks", "1", "--json").output
    )
    [conflict] = summary["conflicts"]
    assert conflict["kind"] == "room" and conflict["shared"] == ["Studio"]
    assert [s["group"] for s in conflict["sessions"]] == ["Dance A", "Dance B"]
    assert conflict["sessions"][0]["start"] == "10:00"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--weeks", "0"], "0"),
        (["--weeks", "-1"], "-1"),
        (["--weeks", "three"], "three"),
        (["--weeks", "3.5"], "3.5"),
        (["--start", "2026-02-30", "--weeks", "1"], "2026-02-30"),
        (["--start", "05/01/2026", "--weeks", "1"], "05/01/2026"),
        (["--start", "2026-09-07", "--end", "2026-09-07"], "after the start"),
        (["--start", "2026-09-07", "--end", "2026-09-01"], "after the start"),
        (["--start", "2026-09-07"], "either a number of weeks or an end date"),
        (["--start", "2026-09-07", "--weeks", "1", "--end", "2026-10-01"], "either"),
        (["--start", "2026-09-07", "--weeks", "5000"], "at a time"),
    ],
)
def test_generate_refuses_bad_input_clearly_and_writes_nothing(cli, make_series, args, message):
    make_series()
    result = cli("generate-sessions", *args)
    assert result.exit_code != 0
    assert message in result.output
    listed = cli("list-sessions", "--start", "2026-01-01", "--end", "2027-01-01")
    assert json.loads(listed.output) == []


def test_force_flag_updates_out_of_date_sessions(cli, make_series):

    # In the future: sessions that have already started are history and are kept.
    series = make_series(weekdays=(0,))
    cli("generate-sessions", "--start", "2027-09-06", "--weeks", "2")
    series.start_time, series.end_time = time(15), time(16)
    db.session.commit()
    plain = json.loads(
        cli("generate-sessions", "--start", "2027-09-06", "--weeks", "2", "--json").output
    )
    assert plain["out_of_date"] == 2 and plain["updated"] == 0
    forced = json.loads(
        cli(
            "generate-sessions", "--start", "2027-09-06", "--weeks", "2", "--force", "--json"
        ).output
    )
    assert forced["updated"] == 2 and forced["out_of_date"] == 0


def _without_ids(summary: dict) -> dict:
    """A --json summary whose conflicts are named without session ids, in a fixed order."""
    conflicts = [
        {**c, "sessions": [{k: v for k, v in s.items() if k != "id"} for s in c["sessions"]]}
        for c in summary["conflicts"]
    ]
    return {**summary, "conflicts": sorted(conflicts, key=lambda c: json.dumps(c, sort_keys=True))}


@pytest.mark.parametrize("dry_run", [False, True])
def test_generate_in_small_windows_says_what_one_window_says(
    app, cli, make_group, make_series, make_room, monkeypatch, dry_run
):
    # The command works a few days at a time (its memory follows a window, not the term):
    # two days per window here, against the whole range at once.
    room = make_room("Studio")
    make_series(make_group("Dance A", room=room), weekdays=(0, 3))
    make_series(
        make_group("Dance B", room=room), weekdays=(0,), start=time(10, 30), end=time(11, 30)
    )
    make_series(make_group("Late", room=room), weekdays=(6,), start=time(23), end=time(1))
    make_series(make_group("Later", room=room), weekdays=(6,), start=time(23, 30), end=time(0, 30))
    args = ["generate-sessions", "--start", "2026-09-07", "--weeks", "3"]
    args += ["--dry-run"] if dry_run else []
    outputs = []
    for days in (2, 366):
        monkeypatch.setitem(app.config, "GENERATION_WINDOW_DAYS", days)
        result = cli(*args, "--json")
        assert result.exit_code == 0, result.output
        outputs.append(json.loads(result.output))
        text = cli(*args)
        assert "conflicts    6" in text.output and "room (Studio)" in text.output
        if not dry_run:
            db.session.execute(sa.delete(Occurrence))
            db.session.commit()
    windows, whole = outputs
    assert whole["created"] == 15 and len(whole["conflicts"]) == 6
    assert _without_ids(windows) == _without_ids(whole)


def test_list_sessions_json_fields_and_cancelled_rows(cli, make_group, make_series):
    from services.common.timeutil import zone
    from services.timetable.exceptions import OverrideChange, save_override

    series = make_series(make_group("Math 7A"), weekdays=(0,))
    cli("generate-sessions", "--start", "2026-09-07", "--weeks", "2")
    from datetime import date

    save_override(
        db.session.get(Series, series.id),
        date(2026, 9, 14),
        OverrideChange(cancelled=True),
        actor=None,
        tz=zone("Europe/Paris"),
    )
    db.session.commit()
    result = cli("list-sessions", "--start", "2026-09-07", "--end", "2026-09-21")
    rows = json.loads(result.output)
    assert [r["status"] for r in rows] == ["scheduled", "cancelled"]
    first = rows[0]
    for key in (
        "id",
        "group",
        "subject",
        "mentor",
        "room",
        "date",
        "start",
        "end",
        "status",
        "conflict",
        "start_utc",
        "end_utc",
    ):
        assert key in first
    assert (first["group"], first["date"], first["start"], first["end"]) == (
        "Math 7A",
        "2026-09-07",
        "10:00",
        "11:00",
    )
    assert first["start_utc"] == "2026-09-07T08:00:00+00:00"  # Paris is UTC+2 in September
    assert first["conflict"] is False


def test_list_sessions_filters_and_csv(cli, make_group, make_series, make_room):
    make_series(make_group("Art", room=make_room("Atelier")), weekdays=(0,))
    make_series(make_group("Music", room=make_room("Auditorium")), weekdays=(0,))
    cli("generate-sessions", "--start", "2026-09-07", "--weeks", "1")
    by_group = json.loads(
        cli(
            "list-sessions", "--start", "2026-09-07", "--end", "2026-09-14", "--group", "Art"
        ).output
    )
    assert [r["group"] for r in by_group] == ["Art"]
    by_room = json.loads(
        cli(
            "list-sessions", "--start", "2026-09-07", "--end", "2026-09-14", "--room", "Auditorium"
        ).output
    )
    assert [r["group"] for r in by_room] == ["Music"]
    result = cli("list-sessions", "--start", "2026-09-07", "--end", "2026-09-14", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(result.output)))
    assert sorted(r["group"] for r in rows) == ["Art", "Music"]
    assert rows[0]["conflict"] == "false"


def test_list_sessions_csv_neutralises_spreadsheet_formulas(cli, make_group, make_series):
    make_series(make_group('=HYPERLINK("http://evil.example")'), weekdays=(0,))
    cli("generate-sessions", "--start", "2026-09-07", "--weeks", "1")
    result = cli("list-sessions", "--start", "2026-09-07", "--end", "2026-09-14", "--format", "csv")
    [row] = list(csv.DictReader(io.StringIO(result.output)))
    assert row["group"].startswith("'=")


@pytest.mark.usefixtures("pinned_clock")
def test_generate_sessions_at_the_end_of_the_calendar_says_what_is_wrong(app, make_series):
    make_series()
    result = app.test_cli_runner().invoke(
        args=["generate-sessions", "--start", "9999-12-31", "--weeks", "1"]
    )
    assert result.exit_code != 0
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Error:" in result.output


def test_rebuild_clashes_checks_and_mends_a_table_written_behind_the_apps_back(
    cli, make_group, make_series, make_room
):
    room = make_room("Studio")
    make_series(make_group("Dance A", room=room), weekdays=(0,))
    make_series(
        make_group("Dance B", room=room), weekdays=(0,), start=time(10, 30), end=time(11, 30)
    )
    assert cli("generate-sessions", "--start", "2026-09-07", "--weeks", "2").exit_code == 0
    result = cli("rebuild-clashes", "--check")
    assert result.exit_code == 0 and "current" in result.output
    # A restore from elsewhere, or an SQL session by hand, left the table empty.
    db.session.execute(sa.text("DELETE FROM session_clash"))
    db.session.commit()
    result = cli("rebuild-clashes", "--check")
    assert result.exit_code == 1 and "4 missing, 0 extra" in result.output
    assert db.session.scalar(sa.text("SELECT count(*) FROM session_clash")) == 0  # only checked
    result = cli("rebuild-clashes")
    assert result.exit_code == 0 and "4 added, 0 removed" in result.output
    assert cli("rebuild-clashes", "--check").exit_code == 0


def test_closures_from_the_command_line(cli, make_group, make_series, clock):
    # The clock is pinned on Wed 10 Mar 2027: the sessions below are still to come.
    make_series(make_group("Dance A"), weekdays=(0,), first_date=date(2027, 3, 15))
    make_series(
        make_group("Dance B"), weekdays=(0,), start=time(14), end=time(15),
        first_date=date(2027, 3, 15),
    )  # fmt: skip
    assert cli("generate-sessions", "--start", "2027-03-15", "--weeks", "2").exit_code == 0
    result = cli("add-closure", "--name", "Trip", "--first", "2027-03-22", "--group", "dance b")
    assert result.exit_code == 0, result.output
    assert "Added closure #1 Trip: 1 session cancelled, 0 kept" in result.output
    listed = cli("list-closures").output
    assert "#1  2027-03-22 to 2027-03-22  holiday  Trip  (Dance B)" in listed
    result = cli("remove-closure", "1")
    assert result.exit_code == 0 and "1 session back, 0 sessions made." in result.output
    statuses = db.session.scalars(sa.select(Occurrence.status)).all()
    assert {str(s) for s in statuses} == {"scheduled"}
