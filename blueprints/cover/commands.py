"""Cover on the command line: record an absence, print a day's cover board, assign a
substitute, export the absences as CSV (a coordinator's scripts)."""

from __future__ import annotations

import sys
from datetime import datetime, timedelta

import click
from flask import Blueprint, current_app
from sqlalchemy import func, select

from blueprints.timetable.commands import ISO_DATE
from models import MAX_ID, Occurrence, User, db
from services.common.errors import DomainError
from services.common.timeutil import today_in, zone
from services.cover import (
    AbsenceData,
    absences_csv,
    assign_cover,
    cover_board,
    describe_absence,
    record_absence,
)

bp = Blueprint("cover_commands", __name__, cli_group=None)


def _tz():
    return zone(current_app.config["TIMEZONE"])


def _fail(message: str) -> None:
    db.session.rollback()
    click.echo(f"Error: {message}", err=True)
    sys.exit(1)


def _user(email: str) -> User:
    user = db.session.scalar(select(User).where(func.lower(User.email) == email.strip().lower()))
    if user is None:
        _fail(f"No user has the e-mail {email}.")
    return user


def _clock(value: str | None, option: str):
    if value is None:
        return None
    try:
        return datetime.strptime(value.strip(), "%H:%M").time()
    except ValueError:
        _fail(f"{option}: {value!r} is not a time (HH:MM).")


@bp.cli.command("record-absence")
@click.option("--mentor", "email", required=True, help="The mentor's e-mail.")
@click.option("--first", "first_day", type=ISO_DATE, required=True, help="First day.")
@click.option("--last", "last_day", type=ISO_DATE, help="Last day, included (default: the first).")
@click.option("--from", "start", help="Part of a day: from HH:MM (with --to).")
@click.option("--to", "end", help="Part of a day: to HH:MM.")
@click.option("--reason", default="", help="Why (shown to staff).")
def record_absence_command(email, first_day, last_day, start, end, reason):
    """Record a mentor's absence (confirmed): the sessions it touches appear on the cover
    board with their substitutes."""
    mentor = _user(email)
    data = AbsenceData(
        mentor.id, first_day, last_day, _clock(start, "--from"), _clock(end, "--to"), reason
    )
    try:
        # The command line acts as staff (no actor): the absence is confirmed at once.
        absence = record_absence(data, actor=None, tz=_tz())
        db.session.commit()
    except DomainError as err:
        _fail(err.message)
    needs = len(cover_board(first_day, _tz()))
    click.echo(
        f"Recorded absence #{absence.id}: {mentor.name}, {describe_absence(absence, _tz())}"
        f" ({needs} sessions on the first day's cover board)."
    )


@bp.cli.command("cover-board")
@click.option("--date", "day", type=ISO_DATE, help="The day (default: today).")
def cover_board_command(day):
    """Print a day's cover board: each session an absence touches, its state, and the best
    substitute for the open ones."""
    day = day or today_in(_tz())
    needs = cover_board(day, _tz())
    for need in needs:
        s = need.session
        state = (
            "cancelled"
            if need.cancelled
            else f"covered by {s.mentor.name}"
            if need.covered
            else "OPEN"
        )
        best = (
            f"  best: {need.substitutes[0].mentor.name}"
            if need.is_open and need.substitutes
            else ""
        )
        click.echo(
            f"#{s.id}  {s.start_utc.astimezone(_tz()):%H:%M}-{s.end_utc.astimezone(_tz()):%H:%M}"
            f"  {s.group.name}  ({need.absence.mentor.name} away)  {state}{best}"
        )
    open_needs = sum(1 for n in needs if n.is_open)
    click.echo(f"{day:%a %d %b %Y}: {len(needs)} sessions touched, {open_needs} open.")


@bp.cli.command("assign-cover")
@click.option(
    "--session",
    "session_id",
    type=click.IntRange(1, MAX_ID),
    required=True,
    help="The session's id (from cover-board).",
)
@click.option("--mentor", "email", required=True, help="The substitute's e-mail, or 'none'.")
def assign_cover_command(session_id, email):
    """Have a substitute teach a session (for its date only), or give it back (--mentor none)."""
    session = db.session.get(Occurrence, session_id)
    if session is None:
        _fail(f"No session #{session_id}.")
    mentor_id = None if email.strip().lower() == "none" else _user(email).id
    try:
        assign_cover(session, mentor_id, actor=None, tz=_tz())
        db.session.commit()
    except DomainError as err:
        _fail(err.message)
    click.echo(f"Session #{session.id} {session.group.name}: taught by {session.mentor.name}.")


@bp.cli.command("export-absences")
@click.argument("csv_file", metavar="FILE.csv", type=click.File("w", encoding="utf-8"))
@click.option("--start", type=ISO_DATE, help="First day (default: a year ago).")
@click.option("--end", type=ISO_DATE, help="Last day, included (default: in a year).")
def export_absences_command(csv_file, start, end):
    """Write the absences overlapping the days as CSV ("-" for standard output):
    mentor,email,first_day,last_day,start,end,status,reason."""
    today = today_in(_tz())
    start = start or today - timedelta(days=365)
    end = end or today + timedelta(days=365)
    if end < start:
        _fail("--end: the last day cannot be before the first day.")
    csv_file.write(absences_csv(start, end, _tz()))
