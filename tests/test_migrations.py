"""Every migration runs on an empty database, and the models match the migrated schema."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade

from models import Occurrence, db

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


def test_upgrading_a_database_with_data_gives_online_sessions_video_rooms(app):
    """0003 rebuilds tables that other rows point at, and fills in the new video rooms."""
    import sqlalchemy as sa

    directory = str(ROOT / "migrations")
    with app.app_context():
        downgrade(directory=directory, revision="0002_occurrence_date_index")
        with db.engine.begin() as conn:
            conn.execute(sa.text("INSERT INTO user_account (id, email, name, role, active, "
                                 "session_token, created_at) VALUES (1, 'm@s.test', 'M', "
                                 "'mentor', true, 't', '2026-01-01 00:00:00')"))  # fmt: skip
            conn.execute(sa.text("INSERT INTO subject (id, name, active) VALUES (1, 'S', true)"))
            conn.execute(sa.text("INSERT INTO course_group (id, name, subject_id, mentor_id, "
                                 "active, created_at) VALUES (1, 'G', 1, 1, true, "
                                 "'2026-01-01 00:00:00')"))  # fmt: skip
            for n, mode in enumerate(["online", "online", "in_person"], start=1):
                conn.execute(
                    sa.text(
                        "INSERT INTO occurrence (id, group_id, start_utc, end_utc, mode, status, "
                        "edited_by_hand, sequence, created_at, updated_at) VALUES (:id, 1, "
                        ":start, :end, :mode, 'scheduled', false, 0, :start, :start)"
                    ),
                    {
                        "id": n,
                        "mode": mode,
                        "start": f"2026-09-0{n} 08:00:00",
                        "end": f"2026-09-0{n} 09:00:00",
                    },
                )
        upgrade(directory=directory)
        with db.engine.connect() as conn:
            rows = conn.execute(
                sa.text("SELECT mode, video_room_id, group_id FROM occurrence ORDER BY id")
            ).all()
            kinds = conn.execute(sa.text("SELECT kind FROM course_group")).scalars().all()
        assert [r.group_id for r in rows] == [1, 1, 1] and kinds == ["class"]
        online = [r.video_room_id for r in rows if r.mode == "online"]
        assert len(set(online)) == 2 and all(re.match(r"^room-[a-z0-9]{8}$", i) for i in online)
        assert rows[2].video_room_id is None


def test_upgrading_moves_automatic_rejections_to_declined(app):
    """0008: a request rejected by "Declined automatically" reads "declined"; one the mentor
    rejected stays "rejected"; requested dates gain `declined_reason` (empty)."""
    import sqlalchemy as sa

    directory = str(ROOT / "migrations")
    with app.app_context():
        downgrade(directory=directory, revision="0007_access_tokens")
        with db.engine.begin() as conn:
            for n, role in ((1, "mentor"), (2, "student")):
                conn.execute(
                    sa.text(
                        "INSERT INTO user_account (id, email, name, role, active, session_token, "
                        "created_at) VALUES (:id, :email, 'U', :role, true, :token, "
                        "'2026-01-01 00:00:00')"
                    ),
                    {"id": n, "email": f"u{n}@s.test", "role": role, "token": f"t{n}"},
                )
            conn.execute(sa.text("INSERT INTO subject (id, name, active) VALUES (1, 'S', true)"))
            for n, reason in ((1, "Declined automatically: Mon 07 Sep 2026 10:00 is now taken."),
                              (2, "I am away.")):  # fmt: skip
                conn.execute(
                    sa.text(
                        "INSERT INTO session_request (id, student_id, mentor_id, subject_id, "
                        "title, description, mode, schedule_kind, start_time, end_time, status, "
                        "rejection_reason, first_start_utc, created_at) VALUES (:id, 2, 1, 1, "
                        "'T', '', 'online', 'single', '10:00:00', '11:00:00', 'rejected', "
                        ":reason, '2026-09-07 08:00:00', '2026-09-01 08:00:00')"
                    ),
                    {"id": n, "reason": reason},
                )
                conn.execute(
                    sa.text(
                        "INSERT INTO requested_slot (request_id, local_date, start_utc, end_utc) "
                        "VALUES (:id, '2026-09-07', '2026-09-07 08:00:00', '2026-09-07 09:00:00')"
                    ),
                    {"id": n},
                )
        upgrade(directory=directory)
        with db.engine.connect() as conn:
            statuses = (
                conn.execute(sa.text("SELECT status FROM session_request ORDER BY id"))
                .scalars()
                .all()
            )
            reasons = conn.execute(sa.text("SELECT declined_reason FROM requested_slot")).all()
        assert statuses == ["declined", "rejected"]
        assert [r[0] for r in reasons] == [None, None]


def test_flask_db_commands_migrate_an_app_built_without_them(tmp_path):
    """`flask db ...` binds Flask-Migrate when it runs (the app is built without it, as for a
    request), with the group's own options."""
    from app import create_app

    url = "sqlite:///" + str(tmp_path / "fresh.db")
    app = create_app({"TESTING": True, "SECRET_KEY": "x", "SQLALCHEMY_DATABASE_URI": url})
    assert "migrate" not in app.extensions
    runner = app.test_cli_runner()

    def tables() -> list[str]:
        with app.app_context(), db.engine.connect() as conn:
            return db.inspect(conn).get_table_names()

    result = runner.invoke(args=["db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert "occurrence" in tables()
    result = runner.invoke(args=["db", "-d", str(ROOT / "migrations"), "downgrade", "base"])
    assert result.exit_code == 0, result.output
    assert "occurrence" not in tables()
    assert "upgrade" in runner.invoke(args=["db", "--help"]).output


def test_upgrading_fills_the_stored_clashes_from_the_sessions(app):
    """0012 stores every clash of the sessions already there, as the app would have."""
    from datetime import timedelta

    from services.timetable.clashes import computed_clashes, stored_clashes
    from tests.services.test_clashes import build_school, generate_term

    directory = str(ROOT / "migrations")
    with app.app_context():
        groups, *_ = build_school()
        generate_term()
        # A session past midnight in the first session's room, overlapping its start.
        first = db.session.scalars(db.select(Occurrence).order_by(Occurrence.start_utc)).first()
        late = Occurrence(
            group_id=groups[2].id,
            start_utc=first.start_utc - timedelta(hours=12),
            end_utc=first.start_utc + timedelta(minutes=5),
            room_id=first.room_id,
        )
        db.session.add(late)
        db.session.commit()
        made = stored_clashes()
        kinds = {kind for _, _, kind in made}
        assert kinds == {"room", "mentor", "student"} and made == computed_clashes()
        assert (late.id, first.id, "room") in made
        db.session.remove()
        downgrade(directory=directory, revision="0011_windowed_indexes")
        upgrade(directory=directory)
        assert stored_clashes() == made
