"""Attendance on the command line: the staff report as CSV, for a coordinator's scripts."""

from __future__ import annotations

import sys
from datetime import date

import click
from flask import Blueprint, current_app
from sqlalchemy import func, select

from models import CourseGroup, Role, User, db
from services.common.errors import ValidationError
from services.common.timeutil import date_outside, zone
from services.tracking.attendance_report import (
    DEFAULT_THRESHOLD,
    ReportFilters,
    attendance_csv,
    attendance_report,
)

bp = Blueprint("attendance_commands", __name__, cli_group=None)


def _fail(message: str) -> None:
    click.echo(f"Error: {message}", err=True)
    sys.exit(1)


def _day(value: str | None, option: str) -> date | None:
    if value is None:
        return None
    try:
        day = date.fromisoformat(value.strip())
    except ValueError:
        _fail(f"{option}: {value!r} is not a valid date (YYYY-MM-DD).")
    if outside := date_outside(day):
        _fail(f"{option}: {outside}")
    return day


@bp.cli.command("export-attendance")
@click.argument("csv_file", metavar="FILE.csv", type=click.File("w", encoding="utf-8"))
@click.option("--group", "group_name", help="Only this course group (its exact name).")
@click.option("--student", "student_email", help="Only this student (their e-mail).")
@click.option("--start", help="First date included (YYYY-MM-DD, local).")
@click.option("--end", help="Last date included (YYYY-MM-DD, local).")
@click.option(
    "--threshold",
    type=click.IntRange(0, 100),
    default=DEFAULT_THRESHOLD,
    show_default=True,
    help="Rate (%) under which a student is flagged in the below_threshold column.",
)
def export_attendance_command(csv_file, group_name, student_email, start, end, threshold):
    """Write the attendance report (one line per student: sessions, present, late, absent,
    excused, rate) as CSV ("-" for standard output)."""
    group_id = student_id = None
    if group_name is not None:
        group_id = db.session.scalar(select(CourseGroup.id).where(CourseGroup.name == group_name))
        if group_id is None:
            _fail(f"No course group is named {group_name}.")
    if student_email is not None:
        student_id = db.session.scalar(
            select(User.id).where(
                func.lower(User.email) == student_email.strip().lower(),
                User.role == Role.STUDENT,
            )
        )
        if student_id is None:
            _fail(f"No student has the e-mail {student_email}.")
    filters = ReportFilters(
        group_id=group_id,
        student_id=student_id,
        start=_day(start, "--start"),
        end=_day(end, "--end"),
        threshold=threshold,
    )
    try:
        report = attendance_report(filters, zone(current_app.config["TIMEZONE"]))
    except ValidationError as err:
        _fail(" ".join(err.errors.values()))
    csv_file.write(attendance_csv(report))
    if csv_file.name != "<stdout>":
        below = len(report.below)
        click.echo(
            f"Exported the attendance of {len(report.students)} students"
            f" ({report.registers} registers, {below} below {threshold}%) to {csv_file.name}"
        )
