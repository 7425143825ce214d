"""flask export-timetable writes what import-timetable reads: export, import into an empty
database, export again: the same file."""

from __future__ import annotations

import csv
import io

import pytest
from sqlalchemy import select

from models import (
    CourseGroup,
    db,
)
from services.timetable.timetable_import import TIMETABLE_COLUMNS


def empty_the_database():
    db.session.remove()
    with db.engine.begin() as conn:
        for table in reversed(db.metadata.sorted_tables):
            conn.execute(table.delete())


def test_export_import_export_round_trip_is_identical(app, tmp_path):
    runner = app.test_cli_runner()
    assert runner.invoke(args=["seed-demo"]).exit_code == 0
    first = tmp_path / "first.csv"
    result = runner.invoke(args=["export-timetable", str(first)])
    assert result.exit_code == 0, result.output
    text = first.read_text(encoding="utf-8")
    rows = list(csv.reader(io.StringIO(text)))
    assert tuple(rows[0]) == TIMETABLE_COLUMNS
    assert len(rows) > 10
    assert all(len(row) == len(TIMETABLE_COLUMNS) for row in rows)
    assert {row[10] for row in rows[1:]} <= {"in_person", "online"}

    empty_the_database()
    imported = runner.invoke(args=["import-timetable", str(first)])
    assert imported.exit_code == 0, imported.output
    second = tmp_path / "second.csv"
    assert runner.invoke(args=["export-timetable", str(second)]).exit_code == 0
    assert second.read_text(encoding="utf-8") == text


def test_export_to_standard_output(app):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["export-timetable", "-"])
    assert result.exit_code == 0
    assert result.output.splitlines() == [",".join(TIMETABLE_COLUMNS)]


FORMULA_STARTS = ("=", "+", "-", "@")


@pytest.mark.usefixtures("pinned_clock")
def test_the_timetable_export_neutralises_formula_like_names_and_still_round_trips(
    app, formula_names, tmp_path
):
    runner = app.test_cli_runner()
    exported = runner.invoke(args=["export-timetable", "-"])
    assert exported.exit_code == 0, exported.output
    cells = [cell for row in csv.reader(io.StringIO(exported.output)) for cell in row]
    assert not [cell for cell in cells if cell.startswith(FORMULA_STARTS)], cells
    db.session.remove()
    with db.engine.begin() as conn:
        for table in reversed(db.metadata.sorted_tables):
            conn.execute(table.delete())
    path = tmp_path / "timetable.csv"
    path.write_text(exported.output, encoding="utf-8")
    assert runner.invoke(args=["import-timetable", str(path)]).exit_code == 0
    assert db.session.scalar(select(CourseGroup.name)) == "+Group"
