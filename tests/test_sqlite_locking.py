"""On SQLite, pages that only read take no write lock: they render while another
connection holds it (writers still queue, see models/__init__.py)."""

from __future__ import annotations

import sqlite3

import pytest

from models import db


@pytest.fixture
def sqlite_path(app):
    if db.engine.dialect.name != "sqlite":
        pytest.skip("SQLite's locking only")
    return db.engine.url.database


def test_a_page_renders_while_a_writer_holds_the_lock(web, login_as, sqlite_path):
    login_as("coordinator")
    db.session.commit()
    writer = sqlite3.connect(sqlite_path, isolation_level=None, timeout=0)
    writer.execute("BEGIN IMMEDIATE")
    try:
        # With BEGIN IMMEDIATE for reads too, this would wait for the writer (and fail).
        db.engine.dispose()
        page = web.get("/schedule/")
        assert page.status_int == 200 and "Schedule" in page.text
    finally:
        writer.rollback()
        writer.close()


def test_a_post_takes_the_write_lock_up_front(app, sqlite_path):
    """The transaction of a state-changing request starts with BEGIN IMMEDIATE."""
    statements = []

    def record(_conn, _cursor, statement, *_args):
        statements.append(statement)

    from sqlalchemy import event

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        with app.test_request_context("/x", method="POST"):
            db.session.remove()
            db.session.execute(db.select(1))
            db.session.rollback()
        with app.test_request_context("/schedule/", method="GET"):
            app.preprocess_request()
            db.session.remove()
            db.session.execute(db.select(1))
            db.session.rollback()
    finally:
        event.remove(db.engine, "before_cursor_execute", record)
    begins = [s for s in statements if s.startswith("BEGIN")]
    assert begins == ["BEGIN IMMEDIATE", "BEGIN"]
