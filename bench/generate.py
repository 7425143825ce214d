"""Benchmark: generate a 15-week term for a school of 1,000 series, then re-run it unchanged.

Run with `.venv/bin/python bench/generate.py` (or `make bench`). It builds a fresh, migrated
SQLite file database in a temporary directory, fills it in bulk with a seeded random school,
then times `generate_occurrences` (including the commit) twice and counts the SQL statements
each run issues. The physical floor is measured in the same run: a raw `sqlite3.executemany`
of the same rows into a fresh WAL database file with one commit. Targets (issue 2):

- first run <= 10x the floor,
- unchanged re-run <= 4x the floor,
- SQL statements independent of the number of series (checked against a smaller school).

This is a measurement, not a test: it prints PASS/MISS per target and exits 0 unless
something crashes.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from school import (
    SEED,
    TERM_START,
    TIMEZONE,
    build_school,
    measure_floor,
    migrated_app,
    occurrence_rows,
    timed_generation,
)

from models import db

FIRST_RUN_TARGET = 10.0  # x floor
RERUN_TARGET = 4.0  # x floor


def bench_school(n_series: int, weeks: int, seed: int, *, floor: bool):
    with tempfile.TemporaryDirectory(prefix="termtable-bench-") as tmp:
        directory = Path(tmp)
        app = migrated_app("sqlite:///" + str(directory / "bench.db"), {"TESTING": True})
        school = build_school(app, n_series, seed)
        first = timed_generation(app, weeks)
        again = timed_generation(app, weeks)
        floor_seconds = None
        if floor:
            names, kinds, rows = occurrence_rows(directory / "bench.db")
            floor_seconds = measure_floor(directory, names, kinds, rows)
        with app.app_context():
            db.engine.dispose()
    return school, first, again, floor_seconds


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--series", type=int, default=1000, help="series in the school")
    parser.add_argument("--weeks", type=int, default=15, help="weeks in the term")
    parser.add_argument(
        "--small", type=int, default=100, help="series in the school used to compare counts"
    )
    parser.add_argument("--seed", type=int, default=SEED)
    args = parser.parse_args(argv)
    os.environ.pop("DATABASE_URL", None)  # always a fresh temporary SQLite file

    school, first, again, floor = bench_school(args.series, args.weeks, args.seed, floor=True)
    small, small_first, small_again, _ = bench_school(
        args.small, args.weeks, args.seed, floor=False
    )

    print(
        f"School: {school.series} series, {school.groups} groups, {school.rooms} rooms, "
        f"{school.mentors} mentors, {school.students} students, {school.enrolments} enrolments "
        f"(set up in {school.setup_seconds:.2f} s); {args.weeks} weeks from {TERM_START}, "
        f"{TIMEZONE}, SQLite {sqlite3.sqlite_version}, Python {sys.version.split()[0]}."
    )
    print(
        f"First run: created {first.created}, conflicts {first.conflicts} ({first.kinds}). "
        f"Re-run: unchanged {again.unchanged}, created {again.created}, "
        f"updated {again.updated}, removed {again.removed}."
    )
    print()
    print(f"{'measure':<34}{'seconds':>9}{'x floor':>9}{'target':>9}{'SQL':>6}  result")
    print("-" * 75)
    print(f"{'floor (raw sqlite3 executemany)':<34}{floor:>9.3f}{1:>9.1f}{'':>9}{'':>6}")
    first_ratio, again_ratio = first.seconds / floor, again.seconds / floor
    first_ok = first_ratio <= FIRST_RUN_TARGET
    again_ok = again_ratio <= RERUN_TARGET
    print(
        f"{'first run (incl. commit)':<34}{first.seconds:>9.3f}{first_ratio:>9.1f}"
        f"{'<= ' + str(int(FIRST_RUN_TARGET)):>9}{first.statements:>6}  {verdict(first_ok)}"
    )
    print(
        f"{'unchanged re-run (incl. commit)':<34}{again.seconds:>9.3f}{again_ratio:>9.1f}"
        f"{'<= ' + str(int(RERUN_TARGET)):>9}{again.statements:>6}  {verdict(again_ok)}"
    )
    print()
    same = (first.statements, again.statements) == (small_first.statements, small_again.statements)
    print(
        f"SQL statements, first run / re-run: {school.series} series "
        f"{first.statements} / {again.statements}; {small.series} series "
        f"{small_first.statements} / {small_again.statements} "
        f"(created {small_first.created}, conflicts {small_first.conflicts})  "
        f"{verdict(same)} independent of the number of series"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
