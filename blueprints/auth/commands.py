from __future__ import annotations

import sys

import click
from flask import Blueprint, current_app
from sqlalchemy import select

from models import Role, User, db
from services.common.errors import ValidationError
from services.common.timeutil import zone
from services.people.accounts import create_user, normalise_email
from services.people.tokens import create_token

bp = Blueprint("auth_commands", __name__, cli_group=None)


@bp.cli.command("create-user")
@click.option("--email", required=True, help="Login e-mail address.")
@click.option("--name", required=True, help="Display name.")
@click.option(
    "--role",
    required=True,
    type=click.Choice([r.value for r in Role], case_sensitive=False),
    help="What the account may do.",
)
@click.option("--password", help="Prompted (hidden, twice) when omitted.")
def create_user_command(email, name, role, password):
    """Create an account that can log in."""
    if password is None:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        user = create_user(
            email,
            name,
            role,
            password=password,
            hash_method=current_app.config["PASSWORD_HASH_METHOD"],
        )
        db.session.commit()
    except ValidationError as err:
        db.session.rollback()
        click.echo(f"Error: {err.message}", err=True)
        sys.exit(1)
    click.echo(f"Created {user.role} {user.name} <{user.email}> (id {user.id}).")


@bp.cli.command("create-token")
@click.option("--email", required=True, help="The account the token acts as.")
@click.option("--label", default="", help="What uses it (shown on the profile page).")
@click.option(
    "--expires",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="Last day it works (YYYY-MM-DD, the organisation's zone); default: until revoked.",
)
@click.option("--read-only", is_flag=True, help="Only GET and HEAD requests; no changes.")
def create_token_command(email, label, expires, read_only):
    """Print a new personal API token (shown once; only its hash is stored)."""
    try:
        user = db.session.scalar(select(User).where(User.email == normalise_email(email)))
        if user is None:
            raise ValidationError(f"no account with the e-mail {email}.", field="email")
        _row, token = create_token(
            user,
            label,
            expires_on=expires.date() if expires else None,
            read_only=read_only,
            tz=zone(current_app.config["TIMEZONE"]),
        )
        db.session.commit()
    except ValidationError as err:
        db.session.rollback()
        click.echo(f"Error: {err.message}", err=True)
        sys.exit(1)
    click.echo(token)
