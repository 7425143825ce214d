"""Under gunicorn with gunicorn.conf.py (as in production): /metrics adds up every worker's
requests (prometheus-client's multi-process mode), also those of workers that have died since;
a dead worker's in-progress gauge is dropped (the child_exit hook); the app's log lines are
JSON; /readyz and /healthz answer."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from flask_migrate import upgrade
from prometheus_client.parser import text_string_to_metric_families

from app import create_app
from blueprints.extensions import init_migrations
from models import db

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def get(url: str, timeout: float = 10):
    """urlopen, for the test's own http://127.0.0.1 addresses only."""
    return urllib.request.urlopen(url, timeout=timeout)  # noqa: S310


def wait_for(condition, what: str, seconds: float = 60):
    deadline = time.monotonic() + seconds
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting for {what}")
        time.sleep(0.1)


def children_of(pid: int) -> set[int]:
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.add(int(stat.parent.name))
    return found


class Server:
    def __init__(self, process: subprocess.Popen, base: str, log: Path):
        self.process, self.base, self.log = process, base, log

    def workers(self) -> set[int]:
        return children_of(self.process.pid)

    def metrics(self) -> dict:
        with get(self.base + "/metrics") as response:
            text = response.read().decode()
        return {
            (sample.name, frozenset(sample.labels.items())): sample.value
            for family in text_string_to_metric_families(text)
            for sample in family.samples
        }

    def answers(self) -> bool:
        try:
            with get(self.base + "/healthz", timeout=2) as response:
                return response.status == 200
        except OSError:
            return False


@pytest.fixture
def start_server(tmp_path):
    """`start_server(**env)`: gunicorn run as in production (its settings from
    gunicorn.conf.py and the environment), two workers, on a migrated SQLite file."""
    url = "sqlite:///" + str(tmp_path / "ops.db")
    app = create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": url,
            "SECRET_KEY": "x",
            "JOBS_URL": "memory://",
        }
    )
    with app.app_context():
        init_migrations(app)
        upgrade(directory=str(ROOT / "migrations"))
        db.engine.dispose()
    servers = []

    def start(**extra_env) -> Server:
        env = {
            name: value
            for name, value in os.environ.items()
            # Not the midnight pass's shifted clock: gunicorn's worker timeouts need the real one.
            if not name.startswith(("FLASK_", "FAKETIME", "PROMETHEUS_"))
            and name not in ("LD_PRELOAD",)
        }
        port = free_port()
        env.update(
            DATABASE_URL=url,
            SECRET_KEY="ops-test-secret",
            FLASK_UPLOAD_FOLDER=str(tmp_path / "uploads"),
            FLASK_SECRET_KEY_FILE=str(tmp_path / "secret_key"),
            FLASK_JOBS_URL="sqlite:///" + str(tmp_path / "jobs.sqlite3"),
            GUNICORN_BIND=f"127.0.0.1:{port}",
            WEB_CONCURRENCY="2",
            GUNICORN_THREADS="4",
            **extra_env,
        )
        log = tmp_path / f"gunicorn-{port}.log"
        with open(log, "wb") as out:
            process = subprocess.Popen(
                # No control socket: its default path is shared by every gunicorn of this user.
                [sys.executable, "-m", "gunicorn", "--no-control-socket"],
                cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
            )  # fmt: skip
        server = Server(process, f"http://127.0.0.1:{port}", log)
        servers.append(server)
        wait_for(lambda: server.answers() or process.poll() is not None, "gunicorn to start")
        if process.poll() is not None:
            pytest.fail("gunicorn did not start:\n" + log.read_text(errors="replace"))
        return server

    yield start
    for server in servers:
        if server.process.poll() is None:
            server.process.terminate()
            server.process.wait(timeout=30)
        output = server.log.read_text(errors="replace")
        assert "Traceback" not in output, output


def logins_counted(samples: dict) -> float:
    labels = frozenset({"route": "/auth/login", "method": "GET", "status": "2xx"}.items())
    return samples.get(("termtable_http_request_duration_seconds_count", labels), 0.0)


def test_metrics_add_up_every_workers_requests_even_after_they_died(tmp_path, start_server):
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    (metrics_dir / "counter_99999999.db").write_bytes(b"a previous run's file")
    server = start_server(PROMETHEUS_MULTIPROC_DIR=str(metrics_dir))
    # The previous run's values are gone (gunicorn.conf.py's on_starting).
    assert not (metrics_dir / "counter_99999999.db").exists()

    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(lambda _: get(server.base + "/auth/login").status, range(40)))
    assert statuses == [200] * 40
    assert logins_counted(server.metrics()) == 40

    # Every worker that served those requests is killed; gunicorn starts new ones, which
    # served none of them: the scrape still counts all 40, from the dead workers' files.
    old = server.workers()
    assert len(old) == 2
    for pid in old:
        os.kill(pid, signal.SIGKILL)
    wait_for(lambda: len(server.workers() - old) == 2 and server.answers(), "new workers")
    samples = server.metrics()
    assert logins_counted(samples) == 40
    # The dead workers' in-progress gauges were dropped (child_exit): only the scrape is.
    in_progress = samples[("termtable_http_requests_in_progress", frozenset())]
    assert in_progress == 1
    assert not any((metrics_dir / f"gauge_livesum_{pid}.db").exists() for pid in old)

    with get(server.base + "/readyz") as response:
        assert json.load(response)["status"] == "ok"

    # The app's log is JSON lines, one per request, each with its own id (gunicorn's own
    # lines about its workers are text).
    server.process.terminate()
    server.process.wait(timeout=30)
    lines = [
        json.loads(line) for line in server.log.read_text().splitlines() if line.startswith("{")
    ]
    logins = [line for line in lines if line.get("path") == "/auth/login"]
    assert len(logins) == 40
    assert len({line["request_id"] for line in logins}) == 40
    assert {line["remote_addr"] for line in logins} == {"127.0.0.1"}


def test_without_a_metrics_folder_gunicorn_makes_one_and_removes_it(tmp_path, start_server):
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    server = start_server(TMPDIR=str(temporary))
    [folder] = temporary.glob("termtable-metrics-*")
    with get(server.base + "/auth/login"):
        pass
    assert logins_counted(server.metrics()) == 1
    assert list(folder.glob("histogram_*.db"))
    server.process.terminate()
    server.process.wait(timeout=30)
    assert not folder.exists()
