from __future__ import annotations

import sys

import click
from flask import Blueprint, current_app

from models import Role, db
from services.accounts import create_user
from services.errors import ValidationError

bp = Blueprint("auth_commands", __name__, cli_group=None)


@bp.cli.command("create-user")
@click.option("--email", required=True, help="Login e-mail address.")
@click.option("--name", required=True, help="Display name.")
@click.option("--role", required=True, type=click.Choice([r.value for r in Role]))
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
