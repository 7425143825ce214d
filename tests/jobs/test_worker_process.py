"""Real `flask worker` processes over one database and one queue: a job queued while no worker
runs is done once one starts; two workers send each e-mail once; a worker killed mid-job loses
nothing (its e-mail is sent again under the same Message-ID, its generation run again from
scratch, the dead worker's half written nothing).

The queue is a SQLite file (the embedded default) and Redis (REDIS_URL's database, emptied;
skipped without Redis unless REQUIRE_REDIS=1). Waits are for conditions, with deadlines.
"""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
from datetime import date
from datetime import time as clock_time
from email import message_from_bytes, policy
from pathlib import Path
from types import SimpleNamespace

import pytest
from aiosmtpd.controller import Controller
from flask_migrate import upgrade
from sqlalchemy import func, select

from app import create_app
from blueprints.extensions import init_migrations
from models import (
    CourseGroup,
    EmailStatus,
    GenerationRun,
    GenerationRunStatus,
    Notification,
    Occurrence,
    Room,
    Series,
    Subject,
    db,
)
from models.series import weekdays_to_mask
from services.jobs.queue import configure_jobs, queue_stats
from services.notifications.inbox import notify
from services.notifications.mail import message_id
from services.people.accounts import create_user
from services.timetable.generation_jobs import progress_of, queue_run
from tests.processes import emptied_redis, stop_processes, wait_until
from tests.services.test_mail import free_port

ROOT = Path(__file__).resolve().parents[2]
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/13")
HASH = "scrypt:1024:8:1"
PASSWORD = "a long password"
SECRET = "worker-test-secret"
LEASE_SECONDS = 1

pytestmark = pytest.mark.slow


class Inbox:
    """Every message the SMTP server accepted; `hold_first` keeps the first DATA waiting until
    `release` (the worker sending it is then mid-send)."""

    def __init__(self, hold_first: bool = False):
        self.received: queue.Queue = queue.Queue()
        self.holding = threading.Event()
        self.released = threading.Event()
        self.hold_first = hold_first

    async def handle_DATA(self, server, session, envelope):
        if self.hold_first:
            self.hold_first = False
            self.holding.set()
            # aiosmtpd runs handlers on its event loop: wait without blocking it for long.
            while not self.released.is_set():
                await _pause()
            return "451 Try again later"
        message = message_from_bytes(envelope.content, policy=policy.default)
        self.received.put(message)
        return "250 Message accepted for delivery"

    def take(self, count: int, deadline: float = 60) -> list:
        end = time.monotonic() + deadline
        return [self.received.get(timeout=max(0.1, end - time.monotonic())) for _ in range(count)]


async def _pause():
    import asyncio

    await asyncio.sleep(0.02)


@pytest.fixture(params=["sqlite", "redis"])
def jobs_url(request, tmp_path):
    if request.param == "sqlite":
        yield "sqlite:///" + str(tmp_path / "jobs.sqlite3")
        return
    with emptied_redis(REDIS_URL):
        yield REDIS_URL


class Site:
    """A migrated SQLite database and a queue, the settings workers get, and the app of this
    test process that queues work into them."""

    def __init__(self, tmp_path: Path, jobs_url: str, smtp_port: int, **overrides):
        self.tmp = tmp_path
        self.url = "sqlite:///" + str(tmp_path / "site.db")
        self.settings = {
            "SQLALCHEMY_DATABASE_URI": self.url,
            "SECRET_KEY": SECRET,
            "JOBS_URL": jobs_url,
            "MAIL_SERVER": "127.0.0.1",
            "MAIL_PORT": smtp_port,
            # Longer than sending takes, but in the test of a killed worker.
            "MAIL_LEASE_SECONDS": 60,
            "JOB_LEASE_SECONDS": LEASE_SECONDS,
            "GENERATION_WINDOW_DAYS": 1,
            "TIMEZONE": "Europe/Paris",
            **overrides,
        }
        self.app = create_app({"TESTING": True, **self.settings})
        with self.app.app_context():
            init_migrations(self.app)
            upgrade(directory=str(ROOT / "migrations"))
        self.workers: list[subprocess.Popen] = []

    def start_worker(self, name: str) -> subprocess.Popen:
        env = {
            key: value
            for key, value in os.environ.items()
            # The real clock (the midnight pass shifts it), and no setting of the developer's.
            if not key.startswith(("FLASK_", "FAKETIME")) and key not in ("LD_PRELOAD",)
        }
        env.update(DATABASE_URL=self.url, SECRET_KEY=SECRET)
        for key, value in self.settings.items():
            if key not in ("SQLALCHEMY_DATABASE_URI", "SECRET_KEY"):
                env[f"FLASK_{key}"] = str(value)
        log = open(self.tmp / f"{name}.log", "w+b")  # noqa: SIM115 (read when the test ends)
        process = subprocess.Popen(
            [sys.executable, "-m", "flask", "worker", "--workers", "2"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        process.log = log
        self.workers.append(process)
        return process

    def stop(self) -> None:
        # SIGINT: a graceful stop, running jobs end first.
        stop_processes(self.workers, graceful=lambda process: signal.SIGINT)
        with self.app.app_context():
            db.engine.dispose()

    def log_of(self, process) -> str:
        return Path(process.log.name).read_text(errors="replace")


@pytest.fixture
def smtp():
    servers = []

    def start(inbox: Inbox) -> int:
        controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
        controller.start()
        servers.append(controller)
        return controller.port

    yield start
    for controller in servers:
        controller.stop()


def statuses(site: Site) -> list[EmailStatus]:
    with site.app.app_context():
        found = list(
            db.session.scalars(select(Notification.email_status).order_by(Notification.id))
        )
        db.session.remove()
        return found


def notify_people(site: Site, count: int) -> list[int]:
    with site.app.app_context():
        configure_jobs(site.app)
        users = [
            create_user(
                f"person{n}@school.test",
                f"Person {n}",
                "student",
                password="a long password",
                hash_method=HASH,
            )
            for n in range(count)
        ]
        db.session.flush()
        notes = [notify(user.id, "x", f"Message {n}")[0] for n, user in enumerate(users)]
        db.session.commit()  # queues one delivery job
        ids = [note.id for note in notes]
        assert queue_stats()["waiting"] == 1
        db.session.remove()
        return ids


def test_two_workers_started_after_the_work_was_queued_send_each_message_once(
    tmp_path, jobs_url, smtp
):
    inbox = Inbox()
    site = Site(tmp_path, jobs_url, smtp(inbox))
    try:
        ids = notify_people(site, 30)
        first, second = site.start_worker("a"), site.start_worker("b")
        messages = inbox.take(30)
        wait_until(lambda: statuses(site) == [EmailStatus.SENT] * 30, "every row sent",
                 processes=(first, second))  # fmt: skip
    finally:
        site.stop()
    received = sorted(message["Message-ID"] for message in messages)
    with site.app.app_context():
        assert received == sorted(message_id(note_id, site.app.config) for note_id in ids)
    assert inbox.received.empty()  # nothing sent twice
    for process in (first, second):
        assert "Traceback" not in site.log_of(process)


def test_a_worker_killed_while_sending_loses_no_mail(tmp_path, jobs_url, smtp):
    """The worker is killed while the mail server holds its first message: the row stays
    `sending` until its lease runs out, then the next worker sends it, same Message-ID."""
    inbox = Inbox(hold_first=True)
    site = Site(tmp_path, jobs_url, smtp(inbox), MAIL_LEASE_SECONDS=LEASE_SECONDS)
    try:
        [note_id] = notify_people(site, 1)
        doomed = site.start_worker("doomed")
        assert inbox.holding.wait(timeout=60), "the worker never started sending"
        assert statuses(site) == [EmailStatus.SENDING]
        doomed.kill()
        doomed.wait(timeout=30)
        inbox.released.set()
        successor = site.start_worker("successor")
        [message] = inbox.take(1)
        wait_until(lambda: statuses(site) == [EmailStatus.SENT], "the row sent",
                 processes=(successor,))  # fmt: skip
    finally:
        site.stop()
    with site.app.app_context():
        assert message["Message-ID"] == message_id(note_id, site.app.config)
        assert db.session.get(Notification, note_id).email_attempts == 2
    assert "Traceback" not in site.log_of(successor)


def build_timetable(groups: int) -> None:
    subject = Subject(name="Maths")
    db.session.add(subject)
    for n in range(groups):
        mentor = create_user(
            f"mentor{n}@school.test",
            f"Mentor {n}",
            "mentor",
            password="a long password",
            hash_method=HASH,
        )
        group = CourseGroup(
            name=f"Group {n}", subject=subject, mentor=mentor, default_room=Room(name=f"R{n}")
        )
        db.session.add(group)
        db.session.flush()
        db.session.add(
            Series(
                group_id=group.id,
                weekday_mask=weekdays_to_mask((0, 1, 2, 3, 4)),
                every_weeks=1,
                start_time=clock_time(10),
                end_time=clock_time(11),
                room_id=group.default_room_id,
                first_date=date(2030, 1, 7),
            )
        )
    db.session.commit()


def test_a_worker_killed_mid_generation_loses_no_run(tmp_path, jobs_url, smtp):
    """Killed once the run has written its first part: nothing of it is kept (one
    transaction), and the run, once its heartbeat is stale, is run again to its end by the
    next worker."""
    site = Site(tmp_path, jobs_url, smtp(Inbox()))
    start, end = date(2030, 1, 7), date(2030, 5, 6)  # 17 weeks, 119 one-day parts
    with site.app.app_context():
        configure_jobs(site.app)
        build_timetable(60)
        run = queue_run(actor=None, start=start, end=end, group_id=None, force=False,
                        dry_run=False, sessions=60 * 85)  # fmt: skip
        db.session.commit()
        run_id = run.id
        db.session.remove()

    def progress():
        with site.app.app_context():
            run = db.session.get(GenerationRun, run_id)
            found = (run.status, progress_of(run), run.attempts)
            db.session.remove()
            return found

    def parts_done():
        with site.app.app_context():
            return progress_of(SimpleNamespace(id=run_id))

    try:
        doomed = site.start_worker("doomed")
        # Read from the queue's storage: the app's database is the run's to write (on SQLite a
        # reader here would wait for the write lock, that is for the run's end).
        wait_until(lambda: (parts_done() or (0, 0))[0] >= 1, "the run's first part",
                 processes=(doomed,))  # fmt: skip
        doomed.kill()
        doomed.wait(timeout=30)
        status, parts, attempts = progress()
        assert status is GenerationRunStatus.RUNNING and parts[0] < parts[1] and attempts == 1
        with site.app.app_context():
            assert db.session.scalar(select(func.count(Occurrence.id))) == 0
            db.session.remove()
        # The heartbeat goes stale (the lease is a second here), then a worker takes over.
        time.sleep(LEASE_SECONDS * 1.5)  # let the lease run out; nothing is timed by it
        successor = site.start_worker("successor")
        wait_until(lambda: progress()[0] is GenerationRunStatus.DONE, "the run done",
                 processes=(successor,))  # fmt: skip
    finally:
        site.stop()
    with site.app.app_context():
        run = db.session.get(GenerationRun, run_id)
        assert run.attempts == 2 and run.summary["created"] == 60 * 85
        assert db.session.scalar(select(func.count(Occurrence.id))) == 60 * 85
    assert "Traceback" not in site.log_of(successor)
