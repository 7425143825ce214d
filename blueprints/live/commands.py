"""`flask prune-live-events`: delete live events older than LIVE_EVENT_KEEP_HOURS (a periodic
job). A browser away for longer is told to refetch everything when it comes back."""

from __future__ import annotations

from datetime import timedelta

import click
from flask import Blueprint, current_app

from models import db
from services.common.wording import plural
from services.live.events import KEEP_HOURS, prune_events

bp = Blueprint("live_commands", __name__, cli_group=None)


@bp.cli.command("prune-live-events")
@click.option("--hours", type=click.IntRange(1, 24 * 365), default=None,
              help="Keep the last HOURS of events (default: LIVE_EVENT_KEEP_HOURS).")  # fmt: skip
def prune_live_events(hours: int | None) -> None:
    """Delete the live events older than the hours kept."""
    if hours is None:
        hours = current_app.config.get("LIVE_EVENT_KEEP_HOURS") or KEEP_HOURS
    removed = prune_events(keep=timedelta(hours=hours))
    db.session.commit()
    click.echo(f"Removed {plural(removed, 'live event')} older than {plural(hours, 'hour')}.")
