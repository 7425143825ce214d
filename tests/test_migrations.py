"""Every migration runs on an empty database, and the models match the migrated schema."""

from __future__ import annotations

import hashlib
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade

from models import db

ROOT = Path(__file__).resolve().parent.parent


def test_models_match_migrations(app):
    with app.app_context(), db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(context, db.metadata)
    assert diff == [], f"models and migrations differ: {diff}"


def test_downgrade_to_base_and_upgrade_again(app):
    with app.app_context():
        directory = str(ROOT / "migrations")
        downgrade(directory=directory, revision="base")
        with db.engine.connect() as conn:
            assert "occurrence" not in db.inspect(conn).get_table_names()
        upgrade(directory=directory)
        with db.engine.connect() as conn:
            assert "occurrence" in db.inspect(conn).get_table_names()


def test_vendored_htmx_is_the_pinned_release():
    data = (ROOT / "static/vendor/htmx-4.0.1.min.js").read_bytes()
    assert hashlib.sha256(data).hexdigest() == (
        "a0abb04f2f45a1f89d1d4844023245537e5e6014c87b144553e0607b4cc32130"
    )
