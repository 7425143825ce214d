"""Management command line: enrolling many students at once (see README)."""

from __future__ import annotations

import sys

import click
from flask import Blueprint
from sqlalchemy import select

from models import CourseGroup, db
from services.catalogue.bulk_enrolment import REFUSED, enrol_students, plan_enrolment
from services.common.errors import DomainError
from services.timetable.csv_reading import ByName

bp = Blueprint("manage_commands", __name__, cli_group=None)

OUTCOME_WORDS = {"enrol": "enrol", "already": "already in", "twice": "listed twice"}


def _fail(message: str) -> None:
    db.session.rollback()
    click.echo(f"Error: {message}", err=True)
    sys.exit(1)


@bp.cli.command("enrol-students")
@click.argument("group_name", metavar="GROUP")
@click.option(
    "--file",
    "source",
    required=True,
    # A path, opened once the arguments are all read (a click.File left open on a usage error).
    type=click.Path(exists=True, dir_okay=False, allow_dash=True),
    help="E-mails or names, one per line or separated by commas or semicolons ('-': stdin).",
)
@click.option("--dry-run", is_flag=True, help="Say what would happen; enrol nobody.")
def enrol_students_command(group_name, source, dry_run):
    """Enrol the students a file names in GROUP, all or nothing; each is told.

    A line that names nobody, a name two students share, a mentor or a deactivated account
    stops the whole enrolment (every such line is listed); students already in GROUP are
    left as they are.
    """
    with click.open_file(source, "rb") as stream:
        data = stream.read()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        _fail(f"{source} is not UTF-8 text.")
    group = ByName(db.session.scalars(select(CourseGroup)).all()).get(group_name.strip())
    if group is None:
        _fail(f"No group is named {group_name}.")
    try:
        plan = plan_enrolment(group, text)
    except DomainError as err:
        _fail(" ".join(getattr(err, "errors", {}).values()) or err.message)
    if plan.refused:
        db.session.rollback()
        click.echo("Nothing was enrolled:", err=True)
        for message in plan.refusals():
            click.echo(message, err=True)
        sys.exit(1)
    for entry in plan.entries:
        if entry.outcome != REFUSED:
            said = OUTCOME_WORDS[entry.outcome]
            click.echo(f"line {entry.line}: {entry.text}: {said} {entry.student.name}")
    if dry_run:
        db.session.rollback()
        click.echo(
            f"Would enrol {len(plan.to_enrol)} in {group.name} ({len(plan.already)} already in "
            "it); dry run, nothing written."
        )
        return
    try:
        done = enrol_students(group, [e.student.id for e in plan.to_enrol])
        db.session.commit()
    except DomainError as err:
        _fail(" ".join(getattr(err, "errors", {}).values()) or err.message)
    click.echo(
        f"Enrolled {len(done.enrolled)} in {group.name} ({len(plan.already)} already in it)."
    )
