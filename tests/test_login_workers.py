"""The login limits hold across gunicorn workers when they share Redis: 100 bad logins fired at
once at 4 workers get at most the limit through, per address and per account.

Needs Redis on 127.0.0.1:6379 (REDIS_URL overrides; database 13 is emptied). Without it the
test is skipped, or fails under REQUIRE_REDIS=1 (.ci/run sets it).
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from flask_migrate import upgrade

from app import create_app
from blueprints.extensions import init_migrations
from models import db
from services.people.accounts import create_user
from tests.processes import emptied_redis

ROOT = Path(__file__).resolve().parent.parent
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/13")
HASH = "scrypt:1024:8:1"
OWNER = "ada@school.test"
ADDRESS_LIMIT = 10  # LOGIN_RATE_LIMIT's default, 10 per minute
ACCOUNT_LIMIT = 5  # LOGIN_ACCOUNT_RATE_LIMIT's first window, 5 per minute

pytestmark = pytest.mark.slow


@pytest.fixture
def redis_db():
    with emptied_redis(REDIS_URL) as client:
        yield client


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def server(tmp_path, redis_db):
    """gunicorn, 4 workers, on a migrated SQLite file with one account, limits in Redis."""
    url = "sqlite:///" + str(tmp_path / "workers.db")
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "x"})
    with app.app_context():
        init_migrations(app)
        upgrade(directory=str(ROOT / "migrations"))
        create_user(OWNER, "Ada", "mentor", password="a long password", hash_method=HASH)
        db.session.commit()
        db.engine.dispose()
    env = {
        name: value
        for name, value in os.environ.items()
        # Not the midnight pass's shifted clock: gunicorn's worker timeouts need the real one.
        if not name.startswith(("FLASK_", "FAKETIME")) and name not in ("LD_PRELOAD",)
    }
    env.update(
        DATABASE_URL=url,
        SECRET_KEY="workers-test-secret",
        FLASK_RATELIMIT_STORAGE_URI=REDIS_URL,
        FLASK_TRUSTED_PROXIES="1",
        FLASK_PASSWORD_HASH_METHOD=HASH,
        FLASK_SECRET_KEY_FILE=str(tmp_path / "secret_key"),
    )
    port = free_port()
    log = open(tmp_path / "gunicorn.log", "w+b")  # noqa: SIM115 (read after the server ends)
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--workers", "4", "--bind", f"127.0.0.1:{port}",
         # No control socket: its default path is shared by every gunicorn of this user.
         "--no-control-socket", "app:create_app()"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                open_url(base + "/auth/login", timeout=5).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    log.seek(0)
                    pytest.fail("gunicorn did not start:\n" + log.read().decode(errors="replace"))
                time.sleep(0.2)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.seek(0)
        output = log.read().decode(errors="replace")
        log.close()
    assert "Traceback" not in output, output
    assert "memory://" not in output, "the limits were not in Redis"


def open_url(request, timeout):
    """urlopen, for the test's own http://127.0.0.1 addresses only."""
    return urllib.request.urlopen(request, timeout=timeout)  # noqa: S310


def login_session(base):
    """A session cookie and its CSRF token, as a browser gets them from the login page."""
    with open_url(base + "/auth/login", timeout=10) as response:
        cookie = response.headers["Set-Cookie"].split(";", 1)[0]
        token = re.search(
            r'name="csrf_token" type="hidden" value="([^"]+)"', response.read().decode()
        )
    assert token, "no CSRF token on the login page"
    return cookie, token.group(1)


def post_login(base, cookie, token, email, client_address):
    body = urllib.parse.urlencode(
        {"csrf_token": token, "email": email, "password": "wrong password", "next": ""}
    ).encode()
    request = urllib.request.Request(  # noqa: S310 (http://127.0.0.1)
        base + "/auth/login",
        data=body,
        headers={"Cookie": cookie, "X-Forwarded-For": client_address},
    )
    try:
        with open_url(request, timeout=60) as response:
            return response.status
    except urllib.error.HTTPError as err:
        return err.code


def fire(base, attempts):
    """All attempts at once, from 25 threads: [(email, client address)] -> statuses."""
    cookie, token = login_session(base)
    with ThreadPoolExecutor(max_workers=25) as pool:
        return list(pool.map(lambda a: post_login(base, cookie, token, *a), attempts))


def test_the_login_limits_hold_across_four_workers(server):
    # One client address (behind the trusted proxy), a different unknown account each time.
    statuses = fire(server, [(f"nobody{n}@school.test", "203.0.113.7") for n in range(100)])
    assert set(statuses) <= {422, 429}, statuses
    assert 0 < len([s for s in statuses if s != 429]) <= ADDRESS_LIMIT, statuses

    # One account, from 100 different addresses.
    statuses = fire(server, [(OWNER, f"198.51.100.{n}") for n in range(100)])
    assert set(statuses) <= {422, 429}, statuses
    assert 0 < len([s for s in statuses if s != 429]) <= ACCOUNT_LIMIT, statuses
