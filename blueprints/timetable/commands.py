"""Timetable command line: a documented, stable interface (see README)."""

from __future__ import annotations

import json
import sys
import tempfile
from datetime import date, timedelta

import click
from flask import Blueprint, current_app
from sqlalchemy import select

from models import MAX_ID, AcademicYear, Closure, ClosureKind, db
from services.closure_import import import_closures
from services.closures import add_closure, remove_closure
from services.common.errors import DomainError
from services.common.timeutil import date_outside, today_in, zone
from services.common.wording import plural
from services.day_changes import cancel_day, run_day_as
from services.demo import DEMO_LOGINS, has_accounts, seed_demo_school
from services.output.spreadsheets import sessions_csv
from services.public_holidays import add_public_holidays, public_holidays
from services.school_year import (
    ClosureData,
    TermData,
    YearData,
    group_ids_named,
    list_closures,
    list_years,
    save_term,
    save_year,
)
from services.timetable.clashes import rebuild_all
from services.timetable.conflicts import described_times
from services.timetable.csv_export import export_timetable
from services.timetable.csv_reading import ImportErrors
from services.timetable.exception_import import import_exceptions
from services.timetable.generation import generate_occurrences, resolve_window
from services.timetable.listing import list_occurrences
from services.timetable.timetable_import import import_timetable

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


def print_summary(summary, conflicts=None) -> None:
    """The summary in words; `conflicts` (described conflicts, e.g. read back from a spool)
    instead of the summary's own."""
    conflicts = summary.conflicts if conflicts is None else conflicts
    click.echo(
        f"Sessions {summary.start} to {summary.end} (end excluded)"
        + (" with --force" if summary.force else "")
        + ("; dry run, nothing written" if summary.dry_run else "")
    )
    for key in ("created", "updated", "removed", "unchanged", "kept", "out_of_date", "closed"):
        click.echo(f"  {key.replace('_', ' '):<12} {getattr(summary, key)}")
    if summary.nothing_because:  # e.g. every series ended before the window
        click.echo(f"  {summary.nothing_because}")
    if summary.out_of_date and not summary.force:
        click.echo("  Run again with --force to update out-of-date sessions.")
    for shift in summary.shifted:
        click.echo(
            f"  adjusted: series {shift['series_id']} on {shift['date']}: time in a"
            " daylight-saving gap or end not after start; moved forward"
        )
    click.echo(f"  conflicts    {len(conflicts)}")
    for conflict in conflicts:
        a, b = conflict["sessions"]
        click.echo(
            f"    {conflict['kind']} ({', '.join(conflict['shared'])}): "
            f"#{a['id']} {a['group']} {a['date']} {described_times(a)} and "
            f"#{b['id']} {b['group']} {b['date']} {described_times(b)}"
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
    except DomainError as err:
        _fail(err.message)
    # A large school's term has tens of thousands of conflicts: they wait in a file, not in
    # memory, as the run finds them window by window.
    with tempfile.TemporaryFile("w+", encoding="utf-8") as spool:
        conflicts = _Spooled(spool)
        try:
            summary = generate_occurrences(
                start,
                end,
                tz=tz,
                force=force,
                dry_run=dry_run,
                window_days=current_app.config["GENERATION_WINDOW_DAYS"],
                on_conflicts=conflicts.add,
            )
            db.session.commit()
        except DomainError as err:
            _fail(err.message)
        if as_json:
            _echo_json(summary, conflicts)
        else:
            print_summary(summary, conflicts)


class _Spooled:
    """Described conflicts kept one JSON line each in a file; read back in order."""

    def __init__(self, spool) -> None:
        self.spool = spool
        self.count = 0

    def add(self, conflicts: list[dict]) -> None:
        for conflict in conflicts:
            self.spool.write(json.dumps(conflict) + "\n")
        self.count += len(conflicts)

    def __len__(self) -> int:
        return self.count

    def lines(self):
        self.spool.seek(0)
        return (line.rstrip("\n") for line in self.spool)

    def __iter__(self):
        return (json.loads(line) for line in self.lines())


def _echo_json(summary, conflicts: _Spooled) -> None:
    """`json.dumps(summary.as_dict())` written piece by piece, the conflicts from the spool."""
    data = summary.as_dict()
    data["conflicts"] = []
    head, tail = json.dumps(data).split('"conflicts": []', 1)
    click.echo(head + '"conflicts": [', nl=False)
    for n, line in enumerate(conflicts.lines()):
        click.echo(line if n == 0 else ", " + line, nl=False)
    click.echo("]" + tail)


@bp.cli.command("list-sessions")
@click.option("--start", type=ISO_DATE, required=True, help="First date (YYYY-MM-DD), included.")
@click.option("--end", type=ISO_DATE, required=True, help="Last date (YYYY-MM-DD), excluded.")
@click.option("--group", help="Course group name.")
@click.option("--room", help="Room name.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["json", "csv"]),
    default="json",
    show_default=True,
    help="Output format.",
)
def list_sessions_command(start, end, group, room, fmt):
    """List sessions starting in [start, end), cancelled ones included."""
    if end <= start:
        _fail("--end must be after --start.")
    if message := date_outside(start) or date_outside(end - timedelta(days=1)):
        _fail(message)
    tz = _tz()
    rows = [
        item.as_dict(tz) for item in list_occurrences(start, end, tz=tz, group=group, room=room)
    ]
    if fmt == "json":
        click.echo(json.dumps(rows, indent=2))
        return
    click.echo(sessions_csv(rows), nl=False)


@bp.cli.command("rebuild-clashes")
@click.option(
    "--check", is_flag=True, help="Only compare; exit 1 if the stored clashes are not current."
)
def rebuild_clashes_command(check):
    """Recompute the stored clashes (session_clash) from the sessions, in one transaction:
    needed only after sessions, groups or enrolments were written outside the app."""
    added, removed = rebuild_all()
    if check:
        db.session.rollback()
        if added or removed:
            click.echo(f"Stored clashes out of date: {added} missing, {removed} extra.", err=True)
            sys.exit(1)
        click.echo("Stored clashes are current.")
        return
    db.session.commit()
    click.echo(f"Stored clashes rebuilt: {added} added, {removed} removed.")


@bp.cli.command("add-closure")
@click.option("--name", required=True, help="What it is called (e.g. Winter break).")
@click.option("--first", "first_day", type=ISO_DATE, required=True, help="First day.")
@click.option(
    "--last", "last_day", type=ISO_DATE, help="Last day, included (default: the first day)."
)
@click.option(
    "--kind",
    type=click.Choice([kind.value for kind in ClosureKind]),
    default=ClosureKind.HOLIDAY.value,
    show_default=True,
    help="Holiday, the school closed, or a staff day.",
)
@click.option("--group", "groups", multiple=True, help="A group it closes (repeat; default: all).")
def add_closure_command(name, first_day, last_day, kind, groups):
    """Add a closure: no session is made on its days, and those already made are cancelled
    (completed, hand-edited, started ones and those with notes or files are kept)."""
    try:
        group_ids = group_ids_named("\n".join(groups)) if groups else None
        data = ClosureData(name, first_day, last_day or first_day, ClosureKind(kind), group_ids)
        outcome = add_closure(data, actor=None, tz=_tz())
        db.session.commit()
    except DomainError as err:
        _fail(err.message)
    click.echo(
        f"Added closure #{outcome.closure.id} {outcome.closure.name}: "
        f"{plural(len(outcome.cancelled), 'session')} cancelled, {len(outcome.kept)} kept, "
        f"{plural(outcome.notified, 'notification')}."
    )


@bp.cli.command("import-closures")
@click.argument("closure_file", metavar="FILE.csv|FILE.ics", type=click.File("rb"))
def import_closures_command(closure_file):
    """Import closures from a CSV file (name,kind,first_day,last_day,groups) or an iCalendar
    file (each event a whole-school holiday), all or nothing; their days' sessions are
    cancelled as add-closure does."""
    try:
        summary = import_closures(closure_file.read(), closure_file.name, tz=_tz())
        db.session.commit()
    except ImportErrors as err:
        _fail_import(err)
    click.echo(f"Imported {closure_file.name}")
    click.echo(
        f"  closures    {summary.closures} added, {summary.cancelled} sessions cancelled,"
        f" {summary.kept} kept"
    )


@bp.cli.command("remove-closure")
@click.argument("closure_id", metavar="ID", type=click.IntRange(1, MAX_ID))
def remove_closure_command(closure_id):
    """Remove a closure (its id, from list-closures): the sessions it cancelled come back,
    and those it kept from being made are made."""
    closure = db.session.get(Closure, closure_id)
    if closure is None:
        _fail(f"No closure #{closure_id}: see flask list-closures.")
    name = closure.name
    outcome = remove_closure(closure, tz=_tz())
    db.session.commit()
    click.echo(
        f"Removed closure #{closure_id} {name}: {plural(len(outcome.restored), 'session')} back,"
        f" {plural(outcome.created, 'session')} made."
    )


@bp.cli.command("list-closures")
def list_closures_command():
    """List the closures, by first day: id, days, kind, name and what they close."""
    closures = list_closures()
    for closure in closures:
        scope = (
            "whole school"
            if closure.whole_school
            else ", ".join(group.name for group in closure.groups)
        )
        click.echo(
            f"#{closure.id}  {closure.first_day} to {closure.last_day}  {closure.kind}  "
            f"{closure.name}  ({scope})"
        )
    if not closures:
        click.echo("No closures.")


@bp.cli.command("add-public-holidays")
@click.option("--country", required=True, help="ISO 3166 code (FR, GB, DE...).")
@click.option("--region", default="", help="The country's region code (GB: ENG, SCT...).")
@click.option("--from", "first_day", type=ISO_DATE, required=True, help="First day.")
@click.option("--to", "last_day", type=ISO_DATE, required=True, help="Last day, included.")
@click.option("--skip", type=ISO_DATE, multiple=True, help="A holiday to leave out (repeat).")
@click.option("--dry-run", is_flag=True, help="List the holidays; add nothing.")
def add_public_holidays_command(country, region, first_day, last_day, skip, dry_run):
    """Add a country's public holidays between two days as whole-school holiday closures
    (one per day; their sessions are cancelled), but those skipped and those already closed.
    Run with --dry-run first to review them."""
    try:
        offered = public_holidays(country.upper(), region.upper(), first_day, last_day)
        left_out = set(skip)
        chosen = [h.day for h in offered if h.day not in left_out and h.closed_by is None]
        for holiday in offered:
            state = (
                f"already closed: {holiday.closed_by}" if holiday.closed_by
                else "skipped" if holiday.day in left_out
                else "listed" if dry_run
                else "added"
            )  # fmt: skip
            click.echo(f"{holiday.day}  {holiday.name}  ({state})")
        if dry_run or not chosen:
            click.echo("Nothing added." if not dry_run else "Dry run: nothing added.")
            return
        added = add_public_holidays(
            country.upper(), region.upper(), first_day, last_day, chosen, actor=None, tz=_tz()
        )
        db.session.commit()
    except DomainError as err:
        _fail(err.message)
    cancelled = sum(len(o.cancelled) for o in added)
    click.echo(f"Added {plural(len(added), 'closure')}: {plural(cancelled, 'session')} cancelled.")


@bp.cli.command("change-day")
@click.option("--date", "day", type=ISO_DATE, required=True, help="The day to change.")
@click.option("--cancel", is_flag=True, help="Cancel every session of the day (a snow day).")
@click.option(
    "--run-as", "runs_as", type=ISO_DATE, help="Run this day's timetable on it (a make-up day)."
)
@click.option("--name", default="", help="What people are told (e.g. Snow day).")
@click.option("--dry-run", is_flag=True, help="Say what it would do; change nothing.")
def change_day_command(day, cancel, runs_as, name, dry_run):
    """Cancel every session of a day (--cancel), or run another day's timetable on it
    (--run-as DAY: its own sessions are cancelled). The people concerned are told; remove
    the closure it makes (remove-closure) to undo it."""
    if cancel == bool(runs_as):
        _fail("Give either --cancel or --run-as DAY.")
    try:
        if runs_as:
            change = run_day_as(day, runs_as, name, actor=None, tz=_tz(), preview=dry_run)
        else:
            change = cancel_day(day, name or "Closed", actor=None, tz=_tz(), preview=dry_run)
        if not dry_run:
            db.session.commit()
    except DomainError as err:
        _fail(err.message)
    for heading, lines in (
        ("cancelled", change.cancelled), ("made", change.made), ("kept", change.kept)
    ):  # fmt: skip
        for line in lines:
            clash = f"  clashes with {line.clashes_with}" if line.clashes_with else ""
            click.echo(f"{heading:<9}  {line.when}  {line.group}  ({line.room}){clash}")
    summary = (
        f"{plural(len(change.cancelled), 'session')} cancelled, {len(change.made)} made,"
        f" {len(change.kept)} kept"
    )
    if dry_run:
        click.echo(f"Dry run, nothing changed: {summary}.")
    else:
        click.echo(
            f"Closure #{change.closure.id} {change.closure.name}: {summary};"
            f" {plural(change.notified, 'notification')}."
        )


@bp.cli.command("add-year")
@click.option("--name", required=True, help="What it is called (e.g. 2026-2027).")
@click.option("--first", "first_day", type=ISO_DATE, required=True, help="First day.")
@click.option("--last", "last_day", type=ISO_DATE, required=True, help="Last day, included.")
def add_year_command(name, first_day, last_day):
    """Add an academic year (at most 400 days, apart from the others)."""
    try:
        year = save_year(YearData(name, first_day, last_day))
        db.session.commit()
    except DomainError as err:
        _fail(err.message)
    click.echo(f"Added year #{year.id} {year.name}: {year.first_day} to {year.last_day}.")


@bp.cli.command("add-term")
@click.option("--year", "year_name", required=True, help="The year's name.")
@click.option("--name", required=True, help="What it is called (e.g. Autumn term).")
@click.option("--first", "first_day", type=ISO_DATE, required=True, help="First day.")
@click.option("--last", "last_day", type=ISO_DATE, required=True, help="Last day, included.")
def add_term_command(year_name, name, first_day, last_day):
    """Add a term to a year: within it, apart from its other terms."""
    year = db.session.scalar(select(AcademicYear).where(AcademicYear.name == year_name.strip()))
    if year is None:
        _fail(f"No year is named {year_name}: see flask list-years.")
    try:
        term = save_term(year, TermData(name, first_day, last_day))
        db.session.commit()
    except DomainError as err:
        _fail(err.message)
    click.echo(
        f"Added term #{term.id} {term.name} to {year.name}: {term.first_day} to {term.last_day}."
    )


@bp.cli.command("list-years")
def list_years_command():
    """List the academic years and their terms, latest first."""
    years = list_years()
    for year in years:
        click.echo(f"#{year.id}  {year.first_day} to {year.last_day}  {year.name}")
        for term in year.terms:
            click.echo(f"    term #{term.id}  {term.first_day} to {term.last_day}  {term.name}")
    if not years:
        click.echo("No years.")


def _fail_import(err: ImportErrors) -> None:
    """Print every bad line on its own to stderr and exit non-zero; nothing was written."""
    db.session.rollback()
    click.echo("Import aborted, nothing was changed:", err=True)
    for message in err.messages:
        click.echo(message, err=True)
    sys.exit(1)


def _import_all_or_nothing(run_import, csv_file):
    """Run one CSV import and commit it, or print why not and exit non-zero (nothing written)."""
    try:
        summary = run_import(csv_file, tz=_tz())
        db.session.commit()
    except ImportErrors as err:
        _fail_import(err)
    except DomainError as err:
        _fail(err.message)
    click.echo(f"Imported {csv_file.name}")
    return summary


@bp.cli.command("export-timetable")
@click.argument("csv_file", metavar="FILE.csv", type=click.File("w", encoding="utf-8"))
def export_timetable_command(csv_file):
    """Write the active classes' weekly series in the format import-timetable reads
    ("-" for standard output)."""
    csv_file.write(export_timetable())
    if csv_file.name != "<stdout>":
        click.echo(f"Exported the timetable to {csv_file.name}")


@bp.cli.command("import-timetable")
@click.argument("csv_file", metavar="FILE.csv", type=click.File("rb"))
def import_timetable_command(csv_file):
    """Import course groups and their weekly series from a CSV file (all or nothing).

    Columns: group,subject,mentor_email,room,weekdays,start,end,first_date,last_date,
    every_weeks,mode,students. The file is the source of truth for the groups it names.
    """
    summary = _import_all_or_nothing(import_timetable, csv_file)
    labels = {
        "groups": ("created", "updated", "unchanged"),
        "series": ("created", "updated", "unchanged", "ended", "removed"),
        "enrolments": ("added", "removed"),
    }
    for noun, verbs in labels.items():
        counts = ", ".join(f"{getattr(summary, f'{noun}_{verb}')} {verb}" for verb in verbs)
        click.echo(f"  {noun:<11} {counts}")
    click.echo(
        f"  created     {plural(summary.users_created, 'account')}, "
        f"{plural(summary.rooms_created, 'room')}, {plural(summary.subjects_created, 'subject')}"
    )
    if summary.users_created:
        click.echo("  New accounts cannot log in until a password is set.")
    if summary.series_changed:
        click.echo(
            "  Existing sessions were not changed: run `flask generate-sessions` "
            "(with --force to update or remove out-of-date ones)."
        )


@bp.cli.command("import-exceptions")
@click.argument("csv_file", metavar="FILE.csv", type=click.File("rb"))
def import_exceptions_command(csv_file):
    """Import per-date exceptions (cancel or override) from a CSV file (all or nothing).

    Columns: group,date,action,start,end,room,notes; action is cancel or override.
    """
    summary = _import_all_or_nothing(import_exceptions, csv_file)
    click.echo(f"  cancelled        {summary.cancelled}")
    click.echo(f"  overridden       {summary.overridden}")
    click.echo(
        f"  exceptions       {summary.exceptions_created} created, "
        f"{summary.exceptions_updated} updated"
    )
    click.echo(f"  sessions updated {summary.sessions_updated}")


@bp.cli.command("seed-demo")
@click.option(
    "--if-empty", is_flag=True, help="Do nothing (but print the logins) if any account exists."
)
def seed_demo_command(if_empty):
    """Load a demo school with generated sessions for the current term."""
    if has_accounts():
        if not if_empty:
            _fail(
                "The database already has accounts; seed-demo only fills an empty database "
                "(use --if-empty to skip quietly)."
            )
        click.echo("Accounts exist already: demo data not loaded.")
    else:
        try:
            summary = seed_demo_school(
                tz=_tz(), hash_method=current_app.config["PASSWORD_HASH_METHOD"]
            )
            db.session.commit()
        except DomainError as err:
            _fail(err.message)
        click.echo(
            f"Demo school loaded: {plural(summary.groups, 'course group')}, {summary.series} "
            f"series, {plural(summary.accounts, 'account')}, {plural(summary.sessions, 'session')} "
            f"from {summary.term_start} to {summary.term_end} (end excluded), "
            f"{plural(summary.conflicts, 'conflict')}, "
            f"{plural(summary.registers, 'register')} taken this week."
        )
    click.echo("Demo logins (if this database holds the demo school):")
    for login in DEMO_LOGINS:
        click.echo(f"  {login.role:<12} {login.email:<40} {login.password}")
