"""/healthz (alive, touches nothing) and /readyz (database, Redis, storage reachable; 503
naming what failed, no secrets): against the real database, a Redis server (database 10),
and servers that are down or silent."""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path

import pytest

from app import ConfigurationError, create_app
from tests.conftest import browser, counted_statements
from tests.processes import emptied_redis

REDIS_URL = os.environ.get("OPS_REDIS_URL", "redis://127.0.0.1:6379/10")


def closed_port() -> int:
    """A port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def app_with(tmp_path, **config):
    """An app of its own (its own settings), on a SQLite file unless told otherwise."""
    settings = {
        "TESTING": True,
        "SECRET_KEY": "test-secret",
        "SQLALCHEMY_DATABASE_URI": "sqlite:///" + str(tmp_path / "ready.db"),
        "UPLOAD_FOLDER": str(tmp_path / "uploads"),
        "SWEEP_UPLOADS_AT_START": False,
        "RATELIMIT_ENABLED": False,
        "JOBS_URL": "memory://",
    }
    settings.update(config)
    return create_app(settings)


def readyz(app, status):
    with app.app_context():
        return browser(app).get("/readyz", status=status)


# --- /healthz ------------------------------------------------------------------------------------


def test_healthz_says_ok_and_touches_nothing(app, web):
    with counted_statements() as statements:
        response = web.get("/healthz")
    assert response.json == {"status": "ok"}
    assert response.headers["Cache-Control"] == "no-store"
    assert statements == []
    assert "Set-Cookie" not in response.headers


def test_healthz_answers_while_the_database_is_away(tmp_path):
    app = app_with(
        tmp_path, SQLALCHEMY_DATABASE_URI=f"postgresql+psycopg://u@127.0.0.1:{closed_port()}/x"
    )
    with app.app_context():
        assert browser(app).get("/healthz").json == {"status": "ok"}


# --- /readyz -------------------------------------------------------------------------------------


def test_readyz_is_ok_with_the_database_and_the_upload_folder(app, web, upload_folder):
    assert not upload_folder.exists()  # a new installation: nobody has uploaded yet
    response = web.get("/readyz")
    assert response.status_int == 200
    assert response.json["status"] == "ok" and response.json["failed"] == []
    checks = response.json["checks"]
    assert checks["database"]["status"] == "ok"
    assert checks["storage"]["status"] == "ok"
    assert checks["redis"] == {"status": "skipped", "detail": "not configured", "duration_ms": 0.0}
    assert response.headers["Cache-Control"] == "no-store"
    assert "Set-Cookie" not in response.headers
    # The folder is there now, as the first upload would have made it, and the probe is gone.
    assert upload_folder.is_dir() and list(upload_folder.iterdir()) == []


def test_probes_and_scrapes_are_never_rate_limited(tmp_path):
    """Even under an app-wide limit that pages meet."""
    app = app_with(tmp_path, RATELIMIT_ENABLED=True, RATELIMIT_DEFAULT="3 per minute")
    with app.app_context():
        client = browser(app, extra_environ={"REMOTE_ADDR": "127.0.0.1"})
        for _ in range(10):
            client.get("/readyz", status=200)
            client.get("/healthz", status=200)
            client.get("/metrics", status=200)
        assert [client.get("/auth/login", status="*").status_int for _ in range(4)] == [
            200,
            200,
            200,
            429,
        ]


@pytest.mark.parametrize(
    "url",
    [
        "postgresql+psycopg://termtable:s3cret-password@127.0.0.1:{port}/termtable",
        "sqlite:////nonexistent-folder/s3cret-password/termtable.db",
    ],
    ids=["postgresql-port-closed", "sqlite-folder-missing"],
)
def test_readyz_fails_when_the_database_cannot_be_reached(tmp_path, url):
    app = app_with(tmp_path, SQLALCHEMY_DATABASE_URI=url.format(port=closed_port()))
    response = readyz(app, 503)
    assert response.json["status"] == "unavailable"
    assert response.json["failed"] == ["database"]
    assert response.json["checks"]["database"]["detail"] == "cannot connect"
    assert response.json["checks"]["storage"]["status"] == "ok"
    # Nothing of the URL, and no traceback, reaches the answer.
    for secret in ("s3cret", "127.0.0.1", "termtable.db", "Traceback", "psycopg", "sqlite3"):
        assert secret not in response.text


def test_readyz_fails_when_redis_is_down(tmp_path):
    limiter_url = f"redis://:s3cret@127.0.0.1:{closed_port()}/10"
    app = app_with(tmp_path, RATELIMIT_STORAGE_URI=limiter_url)
    response = readyz(app, 503)
    assert response.json["failed"] == ["redis"]
    redis = response.json["checks"]["redis"]
    assert redis["status"] == "failed"
    assert redis["detail"] == "unreachable (RATELIMIT_STORAGE_URI)"
    assert response.json["checks"]["database"]["status"] == "ok"
    assert "s3cret" not in response.text and str(limiter_url) not in response.text


@pytest.mark.parametrize("setting", ["JOBS_URL", "REDIS_URL"])
def test_readyz_checks_the_job_queues_and_live_updates_redis_too(tmp_path, setting):
    app = app_with(tmp_path, **{setting: f"redis://127.0.0.1:{closed_port()}/10"})
    assert readyz(app, 503).json["checks"]["redis"]["detail"] == f"unreachable ({setting})"


@pytest.fixture
def redis_server():
    with emptied_redis(REDIS_URL):
        yield REDIS_URL


def test_readyz_is_ok_with_redis_up(tmp_path, redis_server):
    app = app_with(
        tmp_path, RATELIMIT_STORAGE_URI=redis_server, JOBS_URL=redis_server, REDIS_URL=redis_server
    )
    response = readyz(app, 200)
    assert response.json["checks"]["redis"]["status"] == "ok"


def unwritable_folder(tmp_path) -> Path:
    """An existing folder this process cannot create files in. Root writes anywhere a mode
    allows nothing, so for root: sysfs, where nobody creates files."""
    if os.geteuid() != 0:
        folder = tmp_path / "read-only"
        folder.mkdir()
        folder.chmod(0o555)
        return folder
    folder = Path("/sys/kernel")
    try:
        (folder / "readyz-probe").open("xb").close()
    except OSError:
        return folder
    pytest.skip("no folder here that root cannot write to")


def test_readyz_fails_when_the_upload_folder_is_not_writable(tmp_path):
    folder = unwritable_folder(tmp_path)
    response = readyz(app_with(tmp_path, UPLOAD_FOLDER=str(folder)), 503)
    assert response.json["failed"] == ["storage"]
    assert response.json["checks"]["storage"]["detail"] == "upload folder not writable"
    assert str(folder) not in response.text


def test_readyz_fails_when_the_upload_folder_is_a_file(tmp_path):
    not_a_folder = tmp_path / "uploads"
    not_a_folder.write_text("a file where the folder should be")
    response = readyz(app_with(tmp_path, UPLOAD_FOLDER=str(not_a_folder)), 503)
    assert response.json["checks"]["storage"]["detail"] == "upload folder is not a folder"
    assert not_a_folder.read_text() == "a file where the folder should be"


@pytest.fixture
def silent_server():
    """A port that accepts connections (the kernel completes them) and never says a word."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    yield sock.getsockname()[1]
    sock.close()


def test_readyz_gives_up_on_a_silent_database_and_does_not_pile_up_checks(tmp_path, silent_server):
    app = app_with(
        tmp_path,
        SQLALCHEMY_DATABASE_URI=f"postgresql+psycopg://u@127.0.0.1:{silent_server}/x",
        READYZ_TIMEOUT=0.5,
    )
    started = time.monotonic()
    first = readyz(app, 503)
    assert first.json["checks"]["database"]["detail"] == "timed out"
    assert first.json["checks"]["storage"]["status"] == "ok"
    # Answered after its timeout, not when the connection attempt gives up (never, here).
    assert time.monotonic() - started < 10
    # The first attempt still waits on the silent server: no second one is started beside it.
    second = readyz(app, 503)
    assert second.json["checks"]["database"]["detail"] == "still waiting on an earlier check"


@pytest.mark.parametrize(
    ("setting", "value"),
    [("READYZ_TIMEOUT", 0), ("READYZ_TIMEOUT", "soon"), ("READYZ_TIMEOUT", True)],
)
def test_a_bad_timeout_is_a_start_up_error(tmp_path, setting, value):
    with pytest.raises(ConfigurationError, match=setting):
        app_with(tmp_path, **{setting: value})


def test_readyz_checks_the_bucket_when_attachments_are_in_one(app, web, s3_storage, monkeypatch):
    response = web.get("/readyz")
    assert response.status_int == 200 and response.json["checks"]["storage"]["status"] == "ok"
    monkeypatch.setitem(app.config, "S3_BUCKET", "no-such-bucket")
    response = web.get("/readyz", status=503)
    assert response.json["failed"] == ["storage"]
    assert response.json["checks"]["storage"]["detail"] == "bucket unreachable or refused"
    assert "no-such-bucket" not in response.text  # names stay in the server's log
