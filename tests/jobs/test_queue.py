"""The job queue in one process: its settings, jobs queued only once their transaction has
committed, the queue's depth and age, and the recovery of generation runs left by dead
workers (the worker processes themselves: test_worker_process.py)."""

from __future__ import annotations

import os
import time
from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from app import ConfigurationError, create_app
from models import GenerationRun, GenerationRunStatus, db
from services.jobs.queue import (
    enqueue_after_commit,
    jobs,
    queue_stats,
    run_queued_jobs,
    storage_for,
)
from services.jobs.tasks import deliver_mail, expire_requests
from services.timetable import generation_jobs
from services.timetable.generation_jobs import execute_run, queue_run, stalled_runs

AHEAD = date(2030, 9, 2)


def test_a_jobs_url_that_names_no_storage_is_a_start_up_error(tmp_path):
    with pytest.raises(ConfigurationError, match="names no job storage"):
        create_app({"TESTING": True, "JOBS_URL": "ftp://example.org/jobs"})


def test_the_default_queue_is_a_sqlite_file_in_the_instance_folder(app):
    fresh = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": "sqlite://"})
    try:
        assert fresh.config["JOBS_URL"] == "sqlite:///" + os.path.join(
            fresh.instance_path, "jobs.sqlite3"
        )
    finally:
        from services.jobs.queue import configure_jobs

        configure_jobs(app)  # the module's app queues in memory again


def test_a_job_is_queued_when_its_transaction_commits_and_once(app, make_user):
    enqueue_after_commit(expire_requests)
    enqueue_after_commit(expire_requests)
    assert queue_stats()["waiting"] == 0  # not before the commit
    make_user("student")  # commits
    assert queue_stats()["waiting"] == 1


def test_a_rolled_back_savepoint_keeps_the_jobs_of_its_transaction(app, make_user):
    enqueue_after_commit(expire_requests)
    savepoint = db.session.begin_nested()
    enqueue_after_commit(deliver_mail)
    savepoint.rollback()
    db.session.commit()
    assert queue_stats()["waiting"] == 2
    enqueue_after_commit(expire_requests)
    db.session.rollback()
    db.session.commit()
    assert queue_stats()["waiting"] == 2


def test_the_periodic_jobs_run_on_their_schedule_with_no_cron(app):
    """huey's scheduler (in `flask worker`) reads which periodic jobs are due each minute:
    over one day, how often each is queued."""
    from datetime import datetime

    midnight = datetime(2027, 3, 10)
    runs: dict[str, int] = {}
    for minute in range(24 * 60):
        for task in jobs.read_periodic(midnight + timedelta(minutes=minute)):
            runs[task.name] = runs.get(task.name, 0) + 1
    assert runs == {
        "deliver_mail_every_minute": 1440,  # retries, and leases that ran out
        "recover_every_minute": 1440,
        "expire_requests_every_five_minutes": 288,
        "prune_live_events_hourly": 24,
        "sweep_uploads_nightly": 1,
        "send_reminders_every_minute": 1440,
    }


def test_the_queue_says_its_depth_and_the_age_of_its_oldest_job(app):
    assert queue_stats() == {"waiting": 0, "oldest_age": 0.0}
    enqueue_after_commit(expire_requests)
    db.session.commit()
    stats = queue_stats(now=time.time() + 30)
    assert stats["waiting"] == 1 and 29 <= stats["oldest_age"] <= 31
    assert run_queued_jobs() == 1
    assert queue_stats()["waiting"] == 0


def test_postgresql_can_hold_the_queue_beside_the_app_tables(app):
    url = os.environ.get("TEST_DATABASE_URL")
    if not url:
        pytest.skip("the PostgreSQL pass runs this (TEST_DATABASE_URL)")
    database = str(db.engine.url.set(drivername="postgresql").render_as_string(False))
    storage = storage_for(database, "pg-test")
    try:
        storage.enqueue(b"payload", 0)
        assert storage.queue_size() == 1 and storage.dequeue() == b"payload"
        # huey's tables are not the app's schema: `flask db check` does not ask to drop them.
        result = app.test_cli_runner().invoke(args=["db", "check"])
        assert result.exit_code == 0, result.output
        with db.engine.connect() as conn:
            assert conn.execute(sa.text("SELECT to_regclass('huey_task')")).scalar()
    finally:
        storage.flush_queue()
        storage.close()


def a_run(**values) -> GenerationRun:
    run = queue_run(actor=None, start=AHEAD, end=AHEAD + timedelta(days=7), group_id=None,
                    force=False, dry_run=False, sessions=3)  # fmt: skip
    for name, value in values.items():
        setattr(run, name, value)
    db.session.commit()
    return run


def test_a_run_whose_worker_stopped_beating_is_queued_again(app, make_series):
    make_series(weekdays=(0, 2, 4), first_date=AHEAD)
    started = time.time() - 600
    run = a_run(status=GenerationRunStatus.RUNNING, attempts=1)
    run.started_at = run.created_at
    db.session.commit()
    assert stalled_runs(now=started + 600 + 120) == [run.id]
    assert run.status is GenerationRunStatus.QUEUED
    db.session.commit()
    done = execute_run(run.id)
    assert done.status is GenerationRunStatus.DONE and done.attempts == 2
    assert done.summary["created"] == 3


def test_a_run_with_a_live_heartbeat_is_left_to_its_worker(app):
    run = a_run(status=GenerationRunStatus.RUNNING, attempts=1)
    run.started_at = run.created_at
    db.session.commit()
    jobs.storage.put_data(f"generation-run:{run.id}:heartbeat", str(time.time()).encode())
    assert stalled_runs() == []
    assert run.status is GenerationRunStatus.RUNNING


def test_a_run_whose_worker_died_three_times_fails_with_why(app):
    run = a_run(status=GenerationRunStatus.RUNNING, attempts=3)
    run.started_at = run.created_at
    db.session.commit()
    assert stalled_runs(now=time.time() + 3600) == []
    assert run.status is GenerationRunStatus.FAILED
    assert "stopped 3 times; nothing was written" in run.error


def test_a_queued_run_whose_message_was_lost_is_queued_again_and_runs_once(app):
    run = a_run()
    assert stalled_runs() == []  # just queued: its message is on its way
    assert stalled_runs(now=time.time() + 3600) == [run.id]
    db.session.commit()
    assert execute_run(run.id).status is GenerationRunStatus.DONE
    assert execute_run(run.id) is None  # a second message for it finds it taken


def test_a_run_that_fails_says_why_and_writes_nothing(app, make_series, monkeypatch):
    make_series(weekdays=(0, 2, 4), first_date=AHEAD)

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(generation_jobs, "generate_occurrences", broken)
    run = a_run()
    done = execute_run(run.id)
    assert done.status is GenerationRunStatus.FAILED
    assert done.error == "The generation stopped on an unexpected error; nothing was written."
