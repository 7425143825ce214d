"""`flask send-notifications`: mail the notification outbox (for cron)."""

from __future__ import annotations

import sys

import click
from flask import current_app

from services.common.wording import plural
from services.notifications.mail import send_pending


@click.command("send-notifications")
@click.option("--limit", default=100, show_default=True, type=click.IntRange(1, 10_000),
              help="Most e-mails sent in this run.")  # fmt: skip
def send_notifications(limit: int) -> None:
    """Send the notifications waiting for e-mail, and retry failed ones (3 attempts in all)."""
    if not current_app.config.get("MAIL_SERVER"):
        click.echo("MAIL_SERVER is not set: no e-mail is sent.")
        return
    summary = send_pending(limit=limit)
    click.echo(f"Sent {plural(summary.sent, 'e-mail')}, {summary.failed} failed.")
    if summary.failed:
        sys.exit(1)
