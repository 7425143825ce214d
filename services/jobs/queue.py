"""The job queue: huey (https://huey.readthedocs.io), its storage chosen by `JOBS_URL`.

- `sqlite:///path` (the default: `<instance>/jobs.sqlite3`): jobs kept in a SQLite file of
  their own, beside the app's database, so the embedded default needs no other server;
- `redis://host:6379/0`: Redis, for several app hosts and workers;
- `postgresql://...`: huey's PostgreSQL storage (its own `huey_*` tables, woken by
  LISTEN/NOTIFY), for a site that runs PostgreSQL and no Redis;
- `memory://`: in this process only (tests: `run_queued_jobs` works the queue).

Huey takes a job off the queue when a worker starts it, so a worker killed mid-job loses
that message. What must not be lost is therefore kept in the app's own tables (an e-mail's
lease on its notification, a generation's run row), and the queue only says "there is work":
`services.jobs.tasks.recover` (at every worker's start and each minute) queues again whatever
a dead worker left half done.
"""

from __future__ import annotations

import functools
import logging
import time
from pathlib import Path

from flask import Flask, current_app, has_app_context
from huey import Huey
from huey.storage import MemoryStorage
from sqlalchemy import event
from sqlalchemy.orm import Session

logger = logging.getLogger(__name__)

# Every job carries when it was queued (the queue's age, for the metrics).
ENQUEUED_AT = "enqueued_at"


class JobQueue(Huey):
    """The app's one huey, whose storage `configure_jobs` sets from the app's settings (the
    tasks register on it at import, before any app exists)."""

    def __init__(self) -> None:
        super().__init__("termtable", results=False, utc=True, storage_class=MemoryStorage)
        self.app: Flask | None = None

    def use_storage(self, url: str) -> None:
        """Queue into `url` from now on (a new, empty one for memory://)."""
        old = self.storage
        self.storage = storage_for(url, self.name)
        old.close()


jobs = JobQueue()


def storage_for(url: str, name: str):
    """The huey storage `url` names (see the module's docstring)."""
    if url.startswith("memory://"):
        return MemoryStorage(name)
    if url.startswith("sqlite:///"):
        from huey.storage import SqliteStorage

        path = Path(url[len("sqlite:///") :])
        path.parent.mkdir(parents=True, exist_ok=True)
        # WAL: the web processes enqueue while a worker reads, without waiting on each other.
        return SqliteStorage(name, filename=str(path), journal_mode="wal", timeout=10)
    if url.startswith(("redis://", "rediss://", "unix://")):
        from huey.storage import RedisStorage

        return RedisStorage(name, url=url)
    if url.startswith(("postgresql://", "postgres://", "postgresql+psycopg://")):
        from huey.storage import PostgresStorage

        dsn = "postgresql://" + url.split("://", 1)[1]
        return PostgresStorage(name, dsn=dsn)
    raise ValueError(
        f"JOBS_URL={url!r} names no job storage: use sqlite:///path/jobs.sqlite3, "
        "redis://host:6379/0, postgresql://host/db or memory://."
    )


def default_jobs_url(app: Flask) -> str:
    return "sqlite:///" + str(Path(app.instance_path) / "jobs.sqlite3")


def configure_jobs(app: Flask) -> None:
    """Point the queue at the app's storage; the tasks run in this app."""
    jobs.app = app
    jobs.use_storage(app.config["JOBS_URL"])


def job(**settings):
    """A huey task that runs inside the app (its own app context and database session in a
    worker; the caller's when run in place by `run_queued_jobs`)."""

    def decorate(function):
        @functools.wraps(function)
        def in_app(*args, **kwargs):
            kwargs.pop(ENQUEUED_AT, None)
            if has_app_context():
                return function(*args, **kwargs)
            app = jobs.app
            if app is None:
                raise RuntimeError("The job queue has no app: call configure_jobs(app) first.")
            with app.app_context():
                from models import db

                try:
                    return function(*args, **kwargs)
                finally:
                    db.session.remove()

        return jobs.task(name=function.__name__, **settings)(in_app)

    return decorate


def enqueue(task, *args, **kwargs) -> bool:
    """Queue `task` now. False (and logged) when the queue cannot be reached: the work is in
    the database, and the next recovery sweep queues it again."""
    try:
        task(*args, **{ENQUEUED_AT: time.time(), **kwargs})
    except Exception:
        logger.exception("Could not queue the job %s", getattr(task, "name", task))
        return False
    return True


def run_queued_jobs(limit: int = 1000) -> int:
    """Work the queue in this process until it is empty (tests, and `flask run-jobs`): what a
    worker would do, one job after another. Returns how many ran."""
    ran = 0
    while ran < limit:
        task = jobs.dequeue()
        if task is None:
            break
        jobs.execute(task)
        ran += 1
    return ran


def queue_stats(now: float | None = None) -> dict:
    """How many jobs wait, and for how long the oldest has (seconds; 0 when none)."""
    now = time.time() if now is None else now
    waiting = jobs.storage.queue_size()
    oldest = None
    if waiting:
        for data in jobs.storage.enqueued_items(limit=200):
            try:
                stamp = jobs.deserialize_task(data).kwargs.get(ENQUEUED_AT)
            except Exception:  # a message of a task this version does not know: no age
                stamp = None
            if stamp is not None and (oldest is None or stamp < oldest):
                oldest = stamp
    return {"waiting": waiting, "oldest_age": max(0.0, now - oldest) if oldest else 0.0}


def the_app() -> Flask:
    return current_app._get_current_object() if has_app_context() else jobs.app


# --- Queued once the transaction that asked for them has committed ---------------------------

_AFTER_COMMIT = "jobs.after_commit"


def enqueue_after_commit(task, *args) -> None:
    """Queue `task(*args)` when the current transaction commits (never if it rolls back): a
    worker must find the rows the job is about. The same job asked twice is queued once."""
    from models import db

    session = db.session()
    if not session.in_transaction():
        session.begin()  # so that a rollback forgets it (no connection is taken yet)
    session.info.setdefault(_AFTER_COMMIT, {})[(task.name, args)] = (task, args)


@event.listens_for(Session, "after_commit")
def _queue_after_commit(session: Session) -> None:
    for task, args in session.info.pop(_AFTER_COMMIT, {}).values():
        enqueue(task, *args)


@event.listens_for(Session, "after_soft_rollback")
def _forget_after_rollback(session: Session, previous_transaction) -> None:
    # A savepoint rolled back (a preview) leaves the outer transaction's jobs to it.
    if not previous_transaction.nested:
        session.info.pop(_AFTER_COMMIT, None)
