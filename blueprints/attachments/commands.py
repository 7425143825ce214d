"""Sweeping the upload folder: `flask sweep-uploads`, and the same sweep when a server starts.

A process killed while receiving an upload leaves its staging file (`.upload-<hex>.part`);
one killed between renaming an upload into place and committing its row leaves a stored
file that no attachment refers to. Both are removed once an hour old (see
services/tracking/attachments.py).
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path

import click
from flask import Blueprint, Flask, current_app
from sqlalchemy.exc import SQLAlchemyError

from models import db
from services.common.wording import plural
from services.storage import StorageError, storage_for
from services.storage.local import LocalStorage
from services.tracking.attachments import (
    SweptFile,
    UnmatchedUploadFolder,
    format_size,
    sweep_staging_files,
    sweep_unreferenced_files,
)

bp = Blueprint("attachments_commands", __name__, cli_group=None)


def _describe(swept: SweptFile) -> str:
    return (
        f"{swept.name}: {swept.reason}, {format_size(swept.size_bytes)}, "
        f"last written {swept.modified:%Y-%m-%d %H:%M} UTC"
    )


@bp.cli.command("sweep-uploads")
@click.option("--dry-run", is_flag=True, help="List what would be removed; remove nothing.")
@click.option(
    "--even-if-none-match",
    is_flag=True,
    help=(
        "Remove unreferenced stored files even when not one stored file has an attachment "
        "in this database (refused otherwise: a wrong DATABASE_URL looks like that)."
    ),
)
def sweep_uploads_command(dry_run: bool, even_if_none_match: bool):
    """Remove unfinished uploads and stored files no attachment refers to, older than an hour."""
    folder = Path(current_app.config["UPLOAD_FOLDER"])
    storage = storage_for(current_app)
    now = datetime.now(UTC)
    verb = "Would remove" if dry_run else "Removed"
    swept = sweep_staging_files(folder, now=now, dry_run=dry_run)
    for one in swept:
        click.echo(f"{verb} {_describe(one)}.")
    try:
        unreferenced = sweep_unreferenced_files(
            storage, now=now, dry_run=dry_run, even_if_none_match=even_if_none_match
        )
    except UnmatchedUploadFolder as err:
        click.echo(f"Error: {err.message} If they do, --even-if-none-match removes them.", err=True)
        sys.exit(1)
    except StorageError as err:
        click.echo(f"Error: {err.message}", err=True)
        sys.exit(1)
    finally:
        db.session.rollback()  # it only read
    for one in unreferenced:
        click.echo(f"{verb} {_describe(one)}.")
    swept += unreferenced
    if not swept:
        local = isinstance(storage, LocalStorage)
        where = folder if local else f"{folder} or {storage.description}"
        click.echo(f"Nothing to remove in {where}.")
        return
    total = format_size(sum(one.size_bytes for one in swept))
    count = plural(len(swept), "file")
    if dry_run:
        click.echo(f"Would remove {count} ({total}); nothing was removed (--dry-run).")
    else:
        click.echo(f"Removed {count} ({total}).")


def sweep_uploads_at_start(app: Flask) -> None:
    """The sweep, logged, when a server starts the app. Only if the upload folder exists (no
    upload yet, nothing to do: no database query). It never stops the app from starting: a
    database it cannot read (down, or not migrated yet) leaves stored files for next time.
    With a bucket (STORAGE_BACKEND=s3) only the staging files are swept here: listing a
    bucket at every start of every host costs too much; `flask sweep-uploads` does it."""
    folder = Path(app.config["UPLOAD_FOLDER"])
    if not folder.is_dir():
        return
    now = datetime.now(UTC)
    storage = storage_for(app)
    with app.app_context():
        swept = sweep_staging_files(folder, now=now)
        try:
            if isinstance(storage, LocalStorage):
                swept += sweep_unreferenced_files(storage, now=now)
        except UnmatchedUploadFolder as err:
            app.logger.warning("upload sweep: %s", err.message)
        except SQLAlchemyError as err:
            app.logger.warning(
                "upload sweep: could not check stored files against the database (%s); "
                "run `flask sweep-uploads` later",
                err.__class__.__name__,
            )
        finally:
            db.session.remove()
            # No pooled connection outlives start-up: a server that forks its workers after
            # loading the app (gunicorn --preload) must not share one between them.
            db.engine.dispose()
    for one in swept:
        app.logger.warning("upload sweep at start-up removed %s", _describe(one))
