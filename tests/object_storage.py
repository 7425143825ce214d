"""An S3-compatible server on this machine for the S3 backend's tests: s3rver (the npm package
@20minutes/s3rver, installed in tests/s3server/ from its package-lock.json), one process per
test session on a free port, one new bucket per test.

Without node the S3 tests are skipped, saying why, unless REQUIRE_S3=1 (.ci/run sets it),
which turns that into a failure.
"""

from __future__ import annotations

import os
import secrets
import select
import shutil
import subprocess
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import boto3
import pytest
import time_machine
from botocore.config import Config

SERVER_DIR = Path(__file__).parent / "s3server"
# s3rver's one account.
ACCESS_KEY = "S3RVER"
SECRET_KEY = "S3RVER"
START_TIMEOUT = 30


def skip_or_fail(message: str) -> None:
    if os.environ.get("REQUIRE_S3") == "1":
        pytest.fail(message + "; REQUIRE_S3=1 forbids skipping the S3 tests", pytrace=False)
    pytest.skip(message)


def install_server() -> None:
    """`npm ci` in tests/s3server/ unless its node_modules is there (make test does it too)."""
    if (SERVER_DIR / "node_modules" / "@20minutes" / "s3rver").is_dir():
        return
    npm = shutil.which("npm")
    if npm is None:
        skip_or_fail("npm is not installed: the S3-compatible test server (s3rver) needs it")
    done = subprocess.run(
        [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
        cwd=SERVER_DIR,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if done.returncode != 0:
        pytest.fail(f"npm ci in {SERVER_DIR} failed:\n{done.stderr}", pytrace=False)


def _real_utc_now():
    """The machine's clock, whatever time-machine pins the test's clock to."""
    if time_machine.escape_hatch.is_travelling():
        return time_machine.escape_hatch.datetime.datetime.now(UTC)
    return datetime.now(UTC)


class S3Server:
    def __init__(self):
        node = shutil.which("node")
        if node is None:
            skip_or_fail("node is not installed: the S3 backend is tested against s3rver (npm)")
        install_server()
        self.directory = tempfile.mkdtemp(prefix="s3rver-")
        env = dict(os.environ)
        if "faketime" in env.get("LD_PRELOAD", ""):
            # The midnight pass: libfaketime starts each process's clock at FAKETIME, so the
            # server starts at this process's shifted time instead (S3 refuses requests
            # signed more than 15 minutes away from its own clock).
            env["TZ"] = "UTC"
            env["FAKETIME"] = "@" + _real_utc_now().strftime("%Y-%m-%d %H:%M:%S")
        self.process = subprocess.Popen(
            [node, str(SERVER_DIR / "serve.js"), "0", self.directory],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
        )
        self.port = self._wait_for_port()
        self.endpoint_url = f"http://127.0.0.1:{self.port}"

    def _wait_for_port(self) -> int:
        deadline = time.monotonic() + START_TIMEOUT
        line = b""
        while time.monotonic() < deadline and not line.endswith(b"\n"):
            ready, _, _ = select.select([self.process.stdout], [], [], 0.2)
            if ready:
                chunk = os.read(self.process.stdout.fileno(), 256)
                if not chunk:
                    break
                line += chunk
        if not line.startswith(b"listening on "):
            self.stop()
            errors = self.process.stderr.read().decode(errors="replace")
            pytest.fail(f"s3rver did not start: {line!r} {errors}", pytrace=False)
        return int(line.split()[-1])

    def client(self):
        return boto3.session.Session().client(
            "s3",
            endpoint_url=self.endpoint_url,
            region_name="us-east-1",
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
            config=Config(
                s3={"addressing_style": "path"},
                request_checksum_calculation="when_required",
                response_checksum_validation="when_required",
            ),
        )

    def create_bucket(self) -> str:
        name = f"test-{secrets.token_hex(6)}"
        self.client().create_bucket(Bucket=name)
        return name

    def settings(self, bucket: str) -> dict:
        """The app settings of a storage in `bucket` of this server."""
        return {
            "STORAGE_BACKEND": "s3",
            "S3_BUCKET": bucket,
            "S3_ENDPOINT_URL": self.endpoint_url,
            "S3_REGION": "us-east-1",
        }

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.stdin.close()  # serve.js exits when its standard input ends
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        for stream in (self.process.stdout, self.process.stderr):
            stream.close()
        shutil.rmtree(self.directory, ignore_errors=True)


def use_s3_server(monkeypatch, app, server: S3Server) -> str:
    """Point `app` at a new bucket of `server` for this test; returns the bucket's name.

    The credentials come from the environment, as in production. Requests are signed with
    the machine's clock even when the test pins the app's clock elsewhere (`clock`): a real S3
    refuses a request signed 15 minutes away from its own time, and so does s3rver."""
    import botocore.auth

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.setattr(
        botocore.auth,
        "get_current_datetime",
        lambda remove_tzinfo=True: (
            _real_utc_now().replace(tzinfo=None) if remove_tzinfo else _real_utc_now()
        ),
    )
    bucket = server.create_bucket()
    for key, value in server.settings(bucket).items():
        monkeypatch.setitem(app.config, key, value)
    return bucket


def stored_names(storage) -> list[str]:
    return sorted(item.name for item in storage.stored_objects())


def files_in(storage) -> list[str]:
    """Every stored file and every file left in the upload folder (staging files), by name:
    for the local backend, what the upload folder holds."""
    folder = storage.staging_folder
    local = {p.name for p in folder.iterdir()} if folder.exists() else set()
    return sorted(local | set(stored_names(storage)))


def stored_bytes(storage, name: str) -> bytes:
    stored = storage.open(name)
    if stored.path is not None:
        return stored.path.read_bytes()
    try:
        return stored.reader.read()
    finally:
        stored.close()
