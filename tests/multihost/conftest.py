"""Several app hosts, as production runs them: two app instances (gunicorn each, with their own
instance folder: no shared disk) behind nginx (Debian's package), over one PostgreSQL, one
Redis and one S3-compatible bucket (s3rver), with two background workers. The fixture `site`
starts it all once for the module.

Needs PostgreSQL (TEST_DATABASE_URL, else 127.0.0.1:5432/test), Redis (REDIS_URL's database is
emptied) and nginx; without one of them the tests are skipped, and fail instead under
REQUIRE_MULTIHOST=1 (nginx, PostgreSQL) and REQUIRE_REDIS=1 (.ci/run sets both).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask_migrate import upgrade

from app import create_app
from blueprints.extensions import init_migrations
from models import CourseGroup, Enrolment, Occurrence, Room, Series, Subject, db
from models.series import weekdays_to_mask
from services.people.accounts import create_user
from services.people.tokens import create_token
from tests.conftest import _fresh_postgres_database
from tests.jobs.test_worker_process import Inbox
from tests.object_storage import ACCESS_KEY
from tests.object_storage import SECRET_KEY as S3_SECRET
from tests.processes import emptied_redis, stop_processes, wait_until
from tests.services.test_mail import free_port

ROOT = Path(__file__).resolve().parents[2]
HASH = "scrypt:1024:8:1"
PASSWORD = "a long password"
SECRET = "multihost-test-secret"
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/14")
NGINX_CONF = """
worker_processes 1;
pid {tmp}/nginx.pid;
error_log {tmp}/nginx-error.log warn;
events {{ worker_connections 1024; }}
http {{
  access_log {tmp}/nginx-access.log;
  client_body_temp_path {tmp}/nginx-body;
  proxy_temp_path {tmp}/nginx-proxy;
  fastcgi_temp_path {tmp}/nginx-fastcgi;
  uwsgi_temp_path {tmp}/nginx-uwsgi;
  scgi_temp_path {tmp}/nginx-scgi;
  upstream termtable {{
    server 127.0.0.1:{port_a};
    server 127.0.0.1:{port_b};
  }}
  server {{
    listen 127.0.0.1:{port};
    client_max_body_size 110m;
    location / {{
      proxy_pass http://termtable;
      proxy_set_header Host $http_host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto $scheme;
      proxy_set_header X-Forwarded-Host $http_host;
      # Live updates: a stream goes to the browser as it is written.
      proxy_buffering off;
      proxy_read_timeout 600s;
    }}
  }}
}}
"""


def _skip_or_fail(message: str) -> None:
    if os.environ.get("REQUIRE_MULTIHOST") == "1":
        pytest.fail(message + "; REQUIRE_MULTIHOST=1 forbids skipping", pytrace=False)
    pytest.skip(message)


def _clean_env() -> dict:
    return {
        key: value
        for key, value in os.environ.items()
        # The real clock (the midnight pass shifts it), and none of the developer's settings.
        if not key.startswith(("FLASK_", "FAKETIME")) and key not in ("LD_PRELOAD", "DATABASE_URL")
    }


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5):  # noqa: S310 (the test's own hosts)
            return True
    except urllib.error.HTTPError:
        return True
    except OSError:
        return False


@dataclass
class Site:
    tmp: Path
    database_url: str
    front: str = ""  # nginx
    hosts: dict[str, str] = field(default_factory=dict)  # name: base URL
    processes: list = field(default_factory=list)
    app: object = None
    inbox: Inbox | None = None
    people: dict = field(default_factory=dict)
    tokens: dict = field(default_factory=dict)

    def request(self, method: str, url: str, body=None, token: str | None = None, headers=None):
        """(status, headers, body text) of one HTTP request."""
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(url, data=data, method=method)  # noqa: S310
        if data is not None:
            request.add_header("Content-Type", "application/json")
        if token:
            request.add_header("Authorization", f"Bearer {token}")
        for name, value in (headers or {}).items():
            request.add_header(name, value)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
                return response.status, response.headers, response.read().decode()
        except urllib.error.HTTPError as err:
            return err.code, err.headers, err.read().decode()

    def log(self, name: str) -> str:
        return (self.tmp / f"{name}.log").read_text(errors="replace")


def _start(site: Site, name: str, args: list[str], env: dict) -> subprocess.Popen:
    log = open(site.tmp / f"{name}.log", "wb")  # noqa: SIM115 (closed with the process)
    process = subprocess.Popen(args, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    process.log = log
    site.processes.append(process)
    return process


def _seed(site: Site) -> None:
    app = site.app
    with app.app_context():
        init_migrations(app)
        upgrade(directory=str(ROOT / "migrations"))
        people = {
            role: create_user(
                f"{role}@school.test", role.title(), role, password=PASSWORD, hash_method=HASH
            )
            for role in ("coordinator", "mentor", "student")
        }
        db.session.flush()
        group = CourseGroup(
            name="Maths 7A", subject=Subject(name="Maths"), mentor=people["mentor"],
            default_room=Room(name="R1"),
        )  # fmt: skip
        db.session.add(group)
        db.session.flush()
        db.session.add(Enrolment(group_id=group.id, student_id=people["student"].id))
        # Weekly lessons from 2031 (none generated yet): 5 sessions a week.
        db.session.add(Series(
            group_id=group.id, weekday_mask=weekdays_to_mask((0, 1, 2, 3, 4)), every_weeks=1,
            start_time=clock_time(10), end_time=clock_time(11), room_id=group.default_room_id,
            first_date=date(2031, 1, 6),
        ))  # fmt: skip
        start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=30)
        lesson = Occurrence(group_id=group.id, start_utc=start, end_utc=start + timedelta(hours=1),
                            room_id=group.default_room_id)  # fmt: skip
        later = start + timedelta(days=1)
        second = Occurrence(group_id=group.id, start_utc=later, end_utc=later + timedelta(hours=1),
                            room_id=group.default_room_id)  # fmt: skip
        db.session.add_all([lesson, second])
        db.session.flush()
        site.tokens = {role: create_token(user, "multihost")[1] for role, user in people.items()}
        site.people = {role: user.id for role, user in people.items()} | {
            "lesson": lesson.id,
            "second_lesson": second.id,
        }
        db.session.commit()
        db.session.remove()


@pytest.fixture(scope="module")
def site(tmp_path_factory, s3_server):
    if not shutil.which("nginx") and not Path("/usr/sbin/nginx").exists():
        _skip_or_fail("nginx is not installed (apt-get install nginx-light)")
    redis_database = emptied_redis(REDIS_URL)
    redis_database.__enter__()
    base_url = os.environ.get(
        "TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
    )
    try:
        database_url = _fresh_postgres_database(base_url)
    except sa.exc.OperationalError as err:
        _skip_or_fail(f"PostgreSQL is not reachable at {base_url} ({err})")

    tmp = tmp_path_factory.mktemp("multihost")
    site = Site(tmp=tmp, database_url=database_url)
    from aiosmtpd.controller import Controller

    site.inbox = Inbox()
    smtp = Controller(site.inbox, hostname="127.0.0.1", port=free_port())
    smtp.start()
    bucket = s3_server.create_bucket()
    settings = {
        "FLASK_JOBS_URL": REDIS_URL,
        # Live updates: a commit on one host wakes the streams of every host.
        "FLASK_REDIS_URL": REDIS_URL,
        "FLASK_RATELIMIT_STORAGE_URI": REDIS_URL,
        "FLASK_TRUSTED_PROXIES": "1",
        "FLASK_PASSWORD_HASH_METHOD": HASH,
        "FLASK_MAIL_SERVER": "127.0.0.1",
        "FLASK_MAIL_PORT": str(smtp.port),
        "FLASK_TIMEZONE": "Europe/Paris",
        "FLASK_BASE_URL": "https://termtable.example.org",
        # A generation of more than 10 sessions goes to the workers.
        "FLASK_MAX_WEB_GENERATION_SESSIONS": "10",
        "SECRET_KEY": SECRET,
        "DATABASE_URL": database_url,
        # Attachments in one bucket (s3rver here), which both hosts reach.
        **{f"FLASK_{key}": value for key, value in s3_server.settings(bucket).items()},
        "AWS_ACCESS_KEY_ID": ACCESS_KEY,
        "AWS_SECRET_ACCESS_KEY": S3_SECRET,
    }
    site.app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": database_url,
                           "SECRET_KEY": SECRET, "JOBS_URL": REDIS_URL})  # fmt: skip
    _seed(site)
    try:
        for name in ("a", "b"):
            port = free_port()
            env = _clean_env() | settings | {"FLASK_INSTANCE_PATH": str(tmp / f"host-{name}")}
            _start(site, f"host-{name}", [
                sys.executable, "-m", "gunicorn", "--workers", "2", "--worker-class", "gthread",
                "--threads", "4", "--bind", f"127.0.0.1:{port}", "--no-control-socket",
                "app:create_app()",
            ], env)  # fmt: skip
            site.hosts[name] = f"http://127.0.0.1:{port}"
        for name in ("worker-1", "worker-2"):
            env = _clean_env() | settings | {"FLASK_INSTANCE_PATH": str(tmp / name)}
            _start(site, name, [sys.executable, "-m", "flask", "worker", "--workers", "2"], env)
        front = free_port()
        conf = tmp / "nginx.conf"
        conf.write_text(NGINX_CONF.format(
            tmp=tmp, port=front, port_a=site.hosts["a"].rsplit(":", 1)[1],
            port_b=site.hosts["b"].rsplit(":", 1)[1],
        ))  # fmt: skip
        nginx = shutil.which("nginx") or "/usr/sbin/nginx"
        _start(site, "nginx", [nginx, "-c", str(conf), "-p", str(tmp), "-g", "daemon off;"],
               _clean_env())  # fmt: skip
        site.front = f"http://127.0.0.1:{front}"
        for base in [*site.hosts.values(), site.front]:
            wait_until(lambda base=base: answers(base + "/auth/login"), f"{base} to answer",
                       processes=site.processes)  # fmt: skip
        yield site
    finally:
        stop_processes(
            site.processes,
            graceful=lambda p: signal.SIGINT if "worker" in p.args else signal.SIGTERM,
        )
        smtp.stop()
        redis_database.__exit__(None, None, None)
        with site.app.app_context():
            db.engine.dispose()
