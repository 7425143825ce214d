"""Flask extensions, created unbound and bound to the app in the factory."""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import ScriptInfo
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_wtf.csrf import CSRFProtect

from models import db

csrf = CSRFProtect()
login_manager = LoginManager()
login_manager.login_view = "auth.login"
login_manager.login_message = "Please log in to see this page."
login_manager.login_message_category = "info"
# Remember-me cookies must not survive a change of IP/agent hijack attempt unnoticed.
login_manager.session_protection = "basic"


def init_migrations(app: Flask) -> None:
    """Bind Flask-Migrate to `app` (once): for what migrates the database, `flask db ...`
    and the tests' and benchmarks' `upgrade()`.

    Not done when the app is built: Flask-Migrate imports Alembic (about 50 ms of CPU), which
    no request and no other command needs (issue 14, item 5).
    """
    if "migrate" in app.extensions:
        return
    from flask_migrate import Migrate

    Migrate(
        app,
        db,
        directory=str(app.root_path) + "/migrations",
        render_as_batch=True,
        compare_type=True,
    )


class MigrationCommands(click.Group):
    """`flask db`: Flask-Migrate's group of commands, imported when it is run (its line in
    `flask --help` costs nothing). Once imported, Flask-Migrate's own group parses the
    arguments and runs, with its options (`flask db -d DIR upgrade`)."""

    def __init__(self) -> None:
        super().__init__("db", help="Perform database migrations (Flask-Migrate, Alembic).")

    @staticmethod
    def _flask_migrate_group(ctx: click.Context | None) -> click.Group:
        info = ctx.ensure_object(ScriptInfo) if ctx is not None else ScriptInfo()
        app = info.load_app()
        init_migrations(app)
        # Flask-Migrate registered its group under the same name.
        return app.cli.commands["db"]

    def make_context(self, info_name, args, parent=None, **extra) -> click.Context:
        return self._flask_migrate_group(parent).make_context(
            info_name, args, parent=parent, **extra
        )

    def list_commands(self, ctx: click.Context) -> list[str]:
        return self._flask_migrate_group(ctx).list_commands(ctx)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        return self._flask_migrate_group(ctx).get_command(ctx, name)


def init_limiter(app: Flask) -> Limiter:
    """A rate limiter of this app's own, found later as `app.extensions["termtable.limiter"]`.

    Flask-Limiter keeps its on/off switch and its storage on the `Limiter` object, so one
    module-level instance would let the last app created decide for every app in the process
    (tests build several, with and without limits).
    """
    limiter = Limiter(key_func=get_remote_address, default_limits=[])
    limiter.init_app(app)
    app.extensions["termtable.limiter"] = limiter
    return limiter
