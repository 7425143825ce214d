"""Request commands for cron: `flask expire-requests`."""

from __future__ import annotations

import click
from flask import Blueprint

from models import db
from services.requests.lifecycle import expire_requests

bp = Blueprint("requests_commands", __name__, cli_group=None)


@bp.cli.command("expire-requests")
def expire_requests_command():
    """Mark as expired every pending request whose first session has started."""
    count = expire_requests()
    db.session.commit()
    click.echo(f"{count} request{'' if count == 1 else 's'} expired.")
