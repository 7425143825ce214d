"""Benchmark: 500 open live streams (`/events/stream`) while pages still answer in their usual
time (issue 16, item 2).

Run with `.venv/bin/python bench/streams.py` (`--streams 500 --pages 300`). It builds a fresh,
migrated SQLite school in a temporary directory (a mentor with a group and a session today;
`--database-url` for PostgreSQL, an empty database it migrates) and serves it the way the
README's production setup does, with two gunicorn servers:

- the page server: gthread, `--workers 2 --threads 8` (as for pages);
- the stream server: gthread, 1 worker, `--threads` and `--worker-connections` above the
  number of streams (nginx sends /events/ there);

then, logged in as the mentor, it times `--pages` requests of today's board
(`/sessions/today/`, one at a time) without streams, opens `--streams` streams on the stream
server (asyncio sockets: one client thread holds them all), times the pages again while an
event is committed for the mentor every 0.5 s (each reaches every stream), and reports the
pages' p50/p95 both ways and how long the events took to reach the streams (p50/p95/max over
every stream and event).

`--shared` opens the streams on the page server instead: what happens when long-lived streams
share the page workers' threads (the reason for the separate stream server).

Target: p95 of the page with the streams open within 1.5x (+5 ms) of its p95 without, no page
request failing, every stream connected, and every event delivered within 2 s. Prints the
figures with PASS/MISS and exits 1 on a miss (a measurement, not a test).
"""

from __future__ import annotations

import argparse
import asyncio
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
from contextlib import redirect_stderr
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from flask_migrate import upgrade  # noqa: E402

from app import create_app  # noqa: E402
from blueprints.extensions import init_migrations  # noqa: E402
from models import CourseGroup, Occurrence, Room, Subject, db  # noqa: E402
from services.live.events import NOTIFICATION, publish  # noqa: E402
from services.people.accounts import create_user  # noqa: E402

MENTOR = "mentor@school.test"
PASSWORD = "bench mentor password"  # noqa: S105 (a throwaway database)
FAST_HASH = "scrypt:1024:8:1"
USER_AGENT = "termtable-bench"
PAGE = "/sessions/today/"
EVENT_EVERY = 0.5  # seconds between two committed events while the pages are timed
DELIVERY_TARGET = 2.0  # seconds
P95_RATIO, P95_SLACK_MS = 1.5, 5.0


def make_app(database_url: str, redis_url: str | None):
    return create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "bench-not-secret",
            "SQLALCHEMY_DATABASE_URI": database_url,
            "REDIS_URL": redis_url,
        }
    )


def make_school(app) -> int:
    """A migrated database with the mentor's group and a session later today; the mentor's id."""
    with app.app_context():
        with redirect_stderr(io.StringIO()):  # Alembic logs every migration
            init_migrations(app)
            upgrade(directory=str(ROOT / "migrations"))
        mentor = create_user(MENTOR, "Bench Mentor", "mentor", password=PASSWORD,
                             hash_method=FAST_HASH)  # fmt: skip
        room = Room(name="Room 1")
        group = CourseGroup(
            name="Maths 7A", subject=Subject(name="Maths"), mentor=mentor, default_room=room
        )
        db.session.add(group)
        db.session.flush()
        start = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=1)
        db.session.add(
            Occurrence(
                group_id=group.id,
                start_utc=start,
                end_utc=start + timedelta(hours=1),
                room_id=room.id,
            )
        )
        db.session.commit()
        mentor_id = mentor.id
        db.engine.dispose()
    return mentor_id


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http(url: str, data: dict | None = None, headers: dict | None = None, timeout: float = 30):
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
        with opener.open(request, timeout=timeout) as response:
            return response.status, response.headers, response.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.headers, err.read().decode()


def session_cookie(headers) -> str:
    cookies = [value.split(";", 1)[0] for value in headers.get_all("Set-Cookie", [])]
    return next(cookie for cookie in cookies if cookie.startswith("session="))


def log_in(base: str) -> str:
    _, headers, page = http(base + "/auth/login")
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    status, headers, _ = http(
        base + "/auth/login",
        {"csrf_token": token, "email": MENTOR, "password": PASSWORD},
        {"Cookie": session_cookie(headers), "Origin": base},
    )
    if status != 302:
        raise RuntimeError(f"login failed ({status})")
    return session_cookie(headers)


def serve(
    database_url: str, log, *, workers: int, threads: int, connections: int = 1000, redis=None
):
    """A gunicorn server of the app (its errors written to `log`); (process, base URL, port)."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLASK_")}
    env.update(
        DATABASE_URL=database_url,
        SECRET_KEY="bench-not-secret",  # noqa: S106 (a throwaway database)
        FLASK_RATELIMIT_ENABLED="false",
        FLASK_SESSION_COOKIE_SECURE="false",
        FLASK_REMEMBER_COOKIE_SECURE="false",
    )
    if redis:
        env["FLASK_REDIS_URL"] = redis
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--worker-class", "gthread",
         "--workers", str(workers), "--threads", str(threads),
         "--worker-connections", str(connections), "--timeout", "60",
         "--graceful-timeout", "5",
         "--bind", f"127.0.0.1:{port}", "--log-level", "warning", "--no-control-socket",
         "app:create_app()"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=log, text=True,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            http(base + "/auth/login")
            return server, base, port
        except (urllib.error.URLError, ConnectionError):
            if time.monotonic() > deadline or server.poll() is not None:
                server.terminate()
                raise RuntimeError("gunicorn did not start (see its log)") from None
            time.sleep(0.2)


def time_pages(base: str, cookie: str, count: int, seconds: float = 0) -> tuple[list[float], int]:
    """`count` requests of PAGE one at a time (more until `seconds` have passed): their
    durations (ms) and how many failed."""
    durations, failed = [], 0
    began = time.monotonic()
    until, give_up = began + seconds, began + max(seconds, 60)
    while (len(durations) < count or time.monotonic() < until) and time.monotonic() < give_up:
        began = time.perf_counter()
        try:
            status, _, _ = http(base + PAGE, headers={"Cookie": cookie}, timeout=10)
        except (OSError, urllib.error.URLError):
            status = 0
        durations.append((time.perf_counter() - began) * 1000)
        failed += status != 200
    return durations, failed


class Streams:
    """`count` streams held open by one asyncio loop in a thread; records when each event id
    arrived on each stream."""

    def __init__(self, port: int, cookie: str, count: int):
        self.port, self.cookie, self.count = port, cookie, count
        self.connected = 0
        self.arrivals: dict[int, list[float]] = {}
        self.failures: list[str] = []
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def start(self, timeout: float = 120) -> None:
        self.thread.start()
        for _ in range(self.count):
            asyncio.run_coroutine_threadsafe(self._one(), self.loop)
        deadline = time.monotonic() + timeout
        while self.connected + len(self.failures) < self.count and time.monotonic() < deadline:
            time.sleep(0.05)

    async def _one(self) -> None:
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
            # HTTP/1.0: the body comes as it is written, without chunked framing.
            writer.write(
                f"GET /events/stream HTTP/1.0\r\nHost: 127.0.0.1\r\nCookie: {self.cookie}\r\n"
                "Accept: text/event-stream\r\n\r\n".encode()
            )
            await writer.drain()
            status = await reader.readline()
            if b" 200 " not in status:
                self.failures.append(status.decode().strip())
                return
            while (await reader.readline()) not in (b"\r\n", b""):
                pass
            counted = False
            while line := await reader.readline():
                if line.startswith(b"event: live-ready") and not counted:
                    self.connected += 1
                    counted = True
                elif line.startswith(b"id: "):
                    self.arrivals.setdefault(int(line[4:]), []).append(time.monotonic())
        except Exception as error:
            self.failures.append(repr(error))

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)


def publish_events(app, user_id: int, stop: threading.Event, committed: dict) -> None:
    """An event for the mentor every EVENT_EVERY seconds: its id -> when it was committed."""
    with app.app_context():
        while not stop.wait(EVENT_EVERY):
            publish(NOTIFICATION, {"bench": True}, users=user_id)
            [event_id] = db.session.info["live_event_ids"]  # final on SQLite (see events.py)
            db.session.commit()
            committed[event_id] = time.monotonic()
        db.session.remove()


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--streams", type=int, default=500, help="streams held open")
    parser.add_argument("--pages", type=int, default=300, help="page requests timed per phase")
    parser.add_argument("--shared", action="store_true",
                        help="open the streams on the page server (no stream server)")  # fmt: skip
    parser.add_argument("--database-url", help="an empty database (default: a SQLite file)")
    parser.add_argument("--redis-url", help="wake the streams through Redis pub/sub")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp:
        database_url = args.database_url or "sqlite:///" + str(Path(tmp) / "bench.db")
        app = make_app(database_url, args.redis_url)
        mentor_id = make_school(app)
        log = open(Path(tmp) / "gunicorn.log", "w+")  # noqa: SIM115 (read at the end)
        pages, base, _ = serve(database_url, log, workers=2, threads=8, redis=args.redis_url)
        streams_server = None
        try:
            if args.shared:
                stream_port = int(base.rsplit(":", 1)[1])
            else:
                streams_server, _, stream_port = serve(
                    database_url, log, workers=1, redis=args.redis_url, threads=args.streams + 50,
                    connections=args.streams + 100,
                )  # fmt: skip
            cookie = log_in(base)
            time_pages(base, cookie, 20)  # warm up
            idle, idle_failed = time_pages(base, cookie, args.pages)

            streams = Streams(stream_port, cookie, args.streams)
            streams.start(timeout=15 if args.shared else 120)
            stop, committed = threading.Event(), {}
            writer = threading.Thread(target=publish_events, args=(app, mentor_id, stop, committed))
            writer.start()
            busy, busy_failed = time_pages(base, cookie, args.pages, seconds=10)
            stop.set()
            writer.join()
            time.sleep(DELIVERY_TARGET + 1)  # the last events' way to the streams
            streams.stop()
        finally:
            for server in (pages, streams_server):
                if server is not None:
                    server.terminate()
                    server.wait(timeout=30)
            log.seek(0)
            errors = log.read()
            log.close()

    delays = [
        arrival - committed[event_id]
        for event_id, arrivals in streams.arrivals.items()
        if event_id in committed
        for arrival in arrivals
    ]
    expected = len(committed) * streams.connected
    mode = "streams on the page server (--shared)" if args.shared else "a separate stream server"
    print(f"{args.streams} streams, {mode}; pages: gunicorn gthread 2 workers x 8 threads; "
          f"{'PostgreSQL' if args.database_url else 'SQLite'}, "
          f"{'Redis pub/sub' if args.redis_url else 'table polled every second'}")  # fmt: skip
    failures = streams.failures
    print(f"streams connected: {streams.connected}/{args.streams}"
          + (f" ({len(failures)} failed: {failures[0]})" if failures else ""))  # fmt: skip
    print(f"{'':<28}{'p50 ms':>10}{'p95 ms':>10}{'failed':>8}")
    print(f"{PAGE + ' without streams':<28}{statistics.median(idle):>10.1f}"
          f"{percentile(idle, 95):>10.1f}{idle_failed:>8}")  # fmt: skip
    print(f"{PAGE + ' with streams':<28}{statistics.median(busy):>10.1f}"
          f"{percentile(busy, 95):>10.1f}{busy_failed:>8}")  # fmt: skip
    print(f"events committed: {len(committed)}, deliveries: {len(delays)}/{expected}, "
          f"delay p50 {percentile(delays, 50) * 1000:.0f} ms, "
          f"p95 {percentile(delays, 95) * 1000:.0f} ms, "
          f"max {max(delays or [0]) * 1000:.0f} ms")  # fmt: skip
    limit = percentile(idle, 95) * P95_RATIO + P95_SLACK_MS
    checks = {
        f"page p95 with streams <= {P95_RATIO}x +{P95_SLACK_MS:.0f} ms of without "
        f"({limit:.1f} ms)": percentile(busy, 95) <= limit,
        "no page request failed": idle_failed == busy_failed == 0,
        "every stream connected": streams.connected == args.streams,
        f"every event reached every stream within {DELIVERY_TARGET:.0f} s": (
            len(delays) == expected and max(delays or [0]) <= DELIVERY_TARGET
        ),
    }
    if errors.strip():
        print("server errors (last lines):\n" + "\n".join(errors.strip().splitlines()[-15:]))
    for name, ok in checks.items():
        print(f"{'PASS' if ok else 'MISS'}  {name}")
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
