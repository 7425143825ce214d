"""Benchmark: a mentor's note save on SQLite, idle and while 3 threads post bad logins.

Run with `.venv/bin/python bench/login_flood.py` (or `make bench`). It builds a fresh, migrated
SQLite file database in a temporary directory with a mentor, a group and one session, and
serves it with gunicorn as the README's production command does (gthread workers), with the
production password hashing (scrypt N=2^17) and the rate limits off (they would turn the
flood into cheap 429s; what is measured is the login view's scrypt beside a writer). The
mentor logs in, then adds notes to the session (`POST /notes/sessions/<id>`, as htmx does),
one at a time, in rounds of two phases (3 rounds of 10 saves each by default):

- idle: nothing else running;
- under load: while 3 threads post bad logins (a wrong password for an existing account)
  back to back.

Target (issue 12): the median save under load within 3x the idle median. When the login view
checked passwords inside SQLite's write lock, every save queued behind scrypt runs (and failed
with "database is locked" after the 30 s busy timeout); the password checks also run at a
lower CPU priority (services/people/accounts.py), so the saves are not slowed by their share of the
CPU either.

This is a measurement, not a test: it prints the figures with PASS/MISS and exits 1 when the
target is missed or a request failed (so `make bench` works as a check).
"""

from __future__ import annotations

import argparse
import io
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from contextlib import redirect_stderr
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from flask_migrate import upgrade  # noqa: E402

from app import DEFAULTS, create_app  # noqa: E402
from blueprints.extensions import init_migrations  # noqa: E402
from models import CourseGroup, Occurrence, Room, Subject, db  # noqa: E402
from services.people.accounts import create_user  # noqa: E402

TARGET = 3.0  # x the idle median
MENTOR = "mentor@school.test"
PASSWORD = "bench mentor password"  # noqa: S105 (a throwaway database)
USER_AGENT = "termtable-bench"


def make_school(db_path: Path) -> int:
    """A migrated database with the mentor's one session; returns the session's id."""
    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "bench-not-secret",
            "SQLALCHEMY_DATABASE_URI": "sqlite:///" + str(db_path),
        }
    )
    with app.app_context():
        with redirect_stderr(io.StringIO()):  # Alembic logs every migration
            init_migrations(app)
            upgrade(directory=str(ROOT / "migrations"))
        mentor = create_user(
            MENTOR, "Bench Mentor", "mentor", password=PASSWORD,
            hash_method=DEFAULTS["PASSWORD_HASH_METHOD"],
        )  # fmt: skip
        room = Room(name="Room 1")
        group = CourseGroup(
            name="Maths 7A", subject=Subject(name="Maths"), mentor=mentor, default_room=room
        )
        db.session.add(group)
        db.session.flush()
        start = datetime(2026, 9, 7, 8, tzinfo=UTC)
        occurrence = Occurrence(
            group_id=group.id, start_utc=start, end_utc=start + timedelta(hours=1),
            room_id=room.id,
        )  # fmt: skip
        db.session.add(occurrence)
        db.session.commit()
        occurrence_id = occurrence.id
        db.engine.dispose()
    return occurrence_id


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http(url: str, data: dict | None = None, headers: dict | None = None):
    """One request without following redirects; (status, headers, body)."""

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    request = urllib.request.Request(  # noqa: S310 (always http://127.0.0.1)
        url,
        data=urllib.parse.urlencode(data).encode() if data is not None else None,
        headers={"User-Agent": USER_AGENT, **(headers or {})},
    )
    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(request, timeout=120) as response:
            return response.status, response.headers, response.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.headers, err.read().decode()


def cookie_of(headers) -> str:
    """The session cookie (a login also sets the known-browser cookie)."""
    cookies = [value.split(";", 1)[0] for value in headers.get_all("Set-Cookie", [])]
    return next(cookie for cookie in cookies if cookie.startswith("session="))


def login_form(base: str) -> tuple[str, str]:
    _, headers, page = http(base + "/auth/login")
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    return cookie_of(headers), token


def serve(db_path: Path, workers: int, threads: int) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLASK_")}
    env.update(
        DATABASE_URL="sqlite:///" + str(db_path),
        SECRET_KEY="bench-not-secret",  # noqa: S106 (a throwaway database)
        FLASK_RATELIMIT_ENABLED="false",
    )
    # The server's log in a file: a pipe left unread fills with the app's request log lines
    # (one per request, JSON) and stalls the server.
    log = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115 (read if it fails, closed below)
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--worker-class", "gthread",
         "--workers", str(workers), "--threads", str(threads), "--timeout", "60",
         "--bind", f"127.0.0.1:{port}", "--log-level", "warning", "--no-control-socket",
         "app:create_app()"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=log,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            http(base + "/auth/login")
            log.close()  # the server writes to its own copy
            return server, base
        except (urllib.error.URLError, ConnectionError):
            if time.monotonic() > deadline or server.poll() is not None:
                server.terminate()
                log.seek(0)
                raise RuntimeError("gunicorn did not start:\n" + log.read()) from None
            time.sleep(0.2)


class NoteSaver:
    """The logged-in mentor adding notes to the session, as the session page's htmx form."""

    def __init__(self, base: str, occurrence_id: int):
        self.url = f"{base}/notes/sessions/{occurrence_id}"
        cookie, token = login_form(base)
        status, headers, _ = http(
            base + "/auth/login",
            {"email": MENTOR, "password": PASSWORD, "csrf_token": token},
            {"Cookie": cookie},
        )
        assert status == 302, f"the mentor could not log in ({status})"
        self.cookie = cookie_of(headers)
        _, _, page = http(f"{base}/sessions/{occurrence_id}", headers={"Cookie": self.cookie})
        self.headers = {
            "Cookie": self.cookie,
            "X-CSRFToken": re.search(r'"X-CSRFToken": "([^"]+)"', page).group(1),
            "HX-Request": "true",
            "HX-Request-Type": "partial",
        }
        self.saved = 0
        self.failed: Counter = Counter()

    def save(self) -> float | None:
        """Seconds one save took, None when it failed (with the lock held by logins, SQLite
        gives up after its 30 s busy timeout: "database is locked", a 500)."""
        self.saved += 1
        started = time.perf_counter()
        status, _, _ = http(
            self.url, {"kind": "general", "body": f"Note {self.saved}"}, self.headers
        )
        elapsed = time.perf_counter() - started
        if status != 200:
            self.failed[status] += 1
            return None
        return elapsed


def flood(base: str, threads: int, stop: threading.Event, statuses: Counter) -> list:
    """Threads posting a wrong password for the mentor's account until `stop`."""
    cookie, token = login_form(base)
    lock = threading.Lock()

    def run():
        while not stop.is_set():
            status, _, _ = http(
                base + "/auth/login",
                {"email": MENTOR, "password": "not the password", "csrf_token": token},
                {"Cookie": cookie},
            )
            with lock:
                statuses[status] += 1

    workers = [threading.Thread(target=run, daemon=True) for _ in range(threads)]
    for worker in workers:
        worker.start()
    return workers


def describe(samples: list[float | None]) -> str:
    samples = [s for s in samples if s is not None]
    if len(samples) < 2:
        return f"{len(samples)} saves succeeded"
    p90 = statistics.quantiles(samples, n=10)[-1]
    return f"median {statistics.median(samples) * 1000:7.1f} ms, p90 {p90 * 1000:7.1f} ms"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3, help="idle then loaded, N times")
    parser.add_argument("--saves", type=int, default=10, help="timed note saves per phase")
    parser.add_argument("--login-threads", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--threads", type=int, default=4, help="threads per worker")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="termtable-bench-") as tmp:
        db_path = Path(tmp) / "bench.db"
        occurrence_id = make_school(db_path)
        server, base = serve(db_path, args.workers, args.threads)
        idle, loaded, statuses = [], [], Counter()
        try:
            saver = NoteSaver(base, occurrence_id)
            for _ in range(5):  # every worker warmed up
                saver.save()
            # Idle and loaded phases take turns, so that a change in what else the machine is
            # doing meanwhile weighs on both alike.
            for _ in range(args.rounds):
                idle += [saver.save() for _ in range(args.saves)]
                stop, before = threading.Event(), sum(statuses.values())
                workers = flood(base, args.login_threads, stop, statuses)
                # Under way: the threads post again as soon as they are answered.
                while sum(statuses.values()) < before + args.login_threads:
                    time.sleep(0.05)
                try:
                    loaded += [saver.save() for _ in range(args.saves)]
                finally:
                    stop.set()
                    for worker in workers:  # the next idle phase starts with no login running
                        worker.join(timeout=120)
        finally:
            server.terminate()
            server.wait(timeout=30)

    print(
        f"gunicorn gthread, {args.workers} workers x {args.threads} threads, SQLite, "
        f"{args.rounds} rounds of {args.saves} note saves idle then under load, "
        f"{os.cpu_count()} CPUs"
    )
    print(f"note save, idle:                      {describe(idle)}")
    print(f"note save, {args.login_threads} threads of bad logins:   {describe(loaded)}")
    print(
        f"bad logins answered: {sum(statuses.values())} "
        f"({', '.join(f'{n} x {s}' for s, n in sorted(statuses.items()))})"
    )
    if saver.failed:
        failures = ", ".join(f"{n} x {s}" for s, n in sorted(saver.failed.items()))
        print(f"note saves that failed: {failures}  MISS")
        return 1
    idle = [s for s in idle if s is not None]
    loaded = [s for s in loaded if s is not None]
    ratio = statistics.median(loaded) / statistics.median(idle)
    failed = {status: n for status, n in statuses.items() if status != 422}
    ok = ratio <= TARGET and not failed
    verdict = "PASS" if ok else "MISS"
    print(f"median under load / idle: {ratio:.2f} (target <= {TARGET:g})  {verdict}")
    if failed:
        print(f"bad logins answered otherwise than a plain refusal (422): {failed}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
