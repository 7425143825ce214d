"""Timetable command line: a documented, stable interface (see README)."""

from __future__ import annotations

import csv
import json
import sys
from datetime import date

import click
from flask import Blueprint, current_app

from models import db
from services.errors import DomainError
from services.generation import generate_occurrences, resolve_window
from services.listing import list_occurrences
from services.timeutil import today_in, zone

bp = Blueprint("timetable_commands", __name__, cli_group=None)


def _tz():
    return zone(current_app.config["TIMEZONE"])


def _fail(message: str) -> None:
    db.session.rollback()
    click.echo(f"Error: {message}", err=True)
    sys.exit(1)


class IsoDate(click.ParamType):
    name = "YYYY-MM-DD"

    def convert(self, value, param, ctx):
        if isinstance(value, date):
            return value
        try:
            return date.fromisoformat(value.strip())
        except (ValueError, AttributeError):
            self.fail(f"{value!r} is not a valid date (YYYY-MM-DD)", param, ctx)


ISO_DATE = IsoDate()


def csv_cell(value) -> str:
    """A CSV cell a spreadsheet will not run: formula-like text gets a leading apostrophe."""
    if isinstance(value, bool):
        return "true" if value else "false"
    text = "" if value is None else str(value)
    if text[:1] in FORMULA_PREFIXES:
        return "'" + text
    return text


FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def print_summary(summary) -> None:
    click.echo(
        f"Sessions {summary.start} to {summary.end} (end excluded)"
        + (" with --force" if summary.force else "")
        + ("; dry run, nothing written" if summary.dry_run else "")
    )
    for key in ("created", "updated", "removed", "unchanged", "kept", "out_of_date"):
        click.echo(f"  {key.replace('_', ' '):<12} {getattr(summary, key)}")
    if summary.out_of_date and not summary.force:
        click.echo("  Run again with --force to update out-of-date sessions.")
    for shift in summary.shifted:
        click.echo(
            f"  DST: series {shift['series_id']} on {shift['date']} moved past a missing hour"
        )
    click.echo(f"  conflicts    {len(summary.conflicts)}")
    for conflict in summary.conflicts:
        a, b = conflict["sessions"]
        click.echo(
            f"    {conflict['kind']} ({', '.join(conflict['shared'])}): "
            f"#{a['id']} {a['group']} {a['date']} {a['start']}-{a['end']} and "
            f"#{b['id']} {b['group']} {b['date']} {b['start']}-{b['end']}"
        )


@bp.cli.command("generate-sessions")
@click.option("--start", type=ISO_DATE, help="First date (default: today in TIMEZONE).")
@click.option(
    "--weeks", type=click.IntRange(min=1), help="Number of weeks: [start, start+7N days)."
)
@click.option("--end", type=ISO_DATE, help="End date, excluded.")
@click.option("--force", is_flag=True, help="Update out-of-date sessions and remove stale ones.")
@click.option("--dry-run", is_flag=True, help="Report what would change; write nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def generate_sessions_command(start, weeks, end, force, dry_run, as_json):
    """Create the dated sessions of every active series over a window."""
    tz = _tz()
    start = start or today_in(tz)
    try:
        start, end = resolve_window(
            start, weeks=weeks, end=end, max_days=current_app.config["MAX_GENERATION_DAYS"]
        )
        summary = generate_occurrences(start, end, tz=tz, force=force, dry_run=dry_run)
        db.session.commit()
    except DomainError as err:
        _fail(err.message)
    if as_json:
        click.echo(json.dumps(summary.as_dict()))
    else:
        print_summary(summary)


@bp.cli.command("list-sessions")
@click.option("--start", type=ISO_DATE, required=True)
@click.option("--end", type=ISO_DATE, required=True, help="Excluded.")
@click.option("--group", help="Course group name.")
@click.option("--room", help="Room name.")
@click.option("--format", "fmt", type=click.Choice(["json", "csv"]), default="json")
def list_sessions_command(start, end, group, room, fmt):
    """List sessions starting in [start, end), cancelled ones included."""
    if end <= start:
        _fail("--end must be after --start.")
    tz = _tz()
    rows = [
        item.as_dict(tz) for item in list_occurrences(start, end, tz=tz, group=group, room=room)
    ]
    if fmt == "json":
        click.echo(json.dumps(rows, indent=2))
        return
    columns = [
        "id",
        "group",
        "subject",
        "mentor",
        "room",
        "date",
        "start",
        "end",
        "status",
        "mode",
        "conflict",
        "start_utc",
        "end_utc",
    ]
    writer = csv.DictWriter(
        sys.stdout, fieldnames=columns, extrasaction="ignore", lineterminator="\n"
    )
    writer.writeheader()
    for row in rows:
        writer.writerow({key: csv_cell(value) for key, value in row.items()})
