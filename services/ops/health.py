"""Readiness checks: can this process reach what a request needs (the database, Redis when the
app is configured with one, the file storage)?

Each check runs in a thread of its own and all run at once, each given `timeout` seconds: a
database or Redis that accepts connections and then says nothing (a network partition, a
server stalled on its disk) makes the check fail after `timeout`, not hang the probe. A check
still stuck from an earlier probe is not started again beside itself (at most one thread per
check and target waits on a silent server); the probe reports it as still waiting.

What a check reports is a short phrase that names no host, password or path (the probe's
answer is public); the error itself is returned for the server's log.
"""

from __future__ import annotations

import os
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

# Settings that may name a Redis server the app uses (the login limits, the job queue, live
# updates), in the order they are reported.
REDIS_SETTINGS = ("RATELIMIT_STORAGE_URI", "JOBS_URL", "REDIS_URL")
# The schemes of those URIs that are a plain Redis server (limits' own `redis+unix://` is
# redis-py's `unix://`); Sentinel and Cluster set-ups are not probed.
REDIS_SCHEMES = {"redis": "redis", "rediss": "rediss", "redis+unix": "unix", "unix": "unix"}


class CheckFailed(Exception):
    """A check's failure, in a phrase that may be shown to anyone (no host, no secret)."""


@dataclass(frozen=True)
class CheckResult:
    name: str
    status: str  # "ok", "failed" or "skipped"
    detail: str = ""
    duration_ms: float = 0.0
    error: BaseException | None = None  # for the server's log only

    @property
    def failed(self) -> bool:
        return self.status == "failed"

    def public(self) -> dict:
        answer = {"status": self.status, "duration_ms": round(self.duration_ms, 1)}
        if self.detail:
            answer["detail"] = self.detail
        return answer


@dataclass(frozen=True)
class Check:
    """`run()` raises on failure (CheckFailed with a public phrase, or any error); it may
    return a phrase for a check that had nothing to do ("not configured")."""

    name: str
    run: Callable[[], str | None]
    # What the check talks to (a URL, a folder): one stuck thread per (name, target).
    target: str = ""


# --- The checks ----------------------------------------------------------------------------


def database_check(engine) -> Check:
    """`SELECT 1` on a pooled connection of `engine` (a raw DBAPI connection: no SQLAlchemy
    transaction, so on SQLite no write lock is taken, whatever the request)."""

    def run() -> None:
        try:
            connection = engine.raw_connection()
        except Exception as err:
            raise CheckFailed("cannot connect") from err
        try:
            cursor = connection.cursor()
            cursor.execute("SELECT 1")
            cursor.fetchone()
            cursor.close()
        except Exception as err:
            raise CheckFailed("query failed") from err
        finally:
            connection.close()

    return Check("database", run, target=str(engine.url))


def redis_urls(config: Mapping) -> dict[str, str]:
    """The Redis servers the app is configured to use: {setting name: redis-py URL}."""
    found: dict[str, str] = {}
    for setting in REDIS_SETTINGS:
        url = str(config.get(setting) or "")
        scheme, sep, rest = url.partition("://")
        if sep and scheme.lower() in REDIS_SCHEMES:
            found[setting] = f"{REDIS_SCHEMES[scheme.lower()]}://{rest}"
    return found


def redis_check(urls: Mapping[str, str], timeout: float) -> Check:
    """PING every Redis server named in `urls` (one connection each, closed again)."""

    def run() -> str | None:
        if not urls:
            return "not configured"
        import redis

        settings_of: dict[str, list[str]] = {}
        for setting, url in urls.items():
            settings_of.setdefault(url, []).append(setting)
        unreachable = []
        errors = []
        for url, settings in settings_of.items():
            client = redis.Redis.from_url(
                url, socket_connect_timeout=timeout, socket_timeout=timeout
            )
            try:
                client.ping()
            except Exception as err:
                unreachable += settings
                errors.append(err)
            finally:
                client.close()
        if unreachable:
            raise CheckFailed(f"unreachable ({', '.join(unreachable)})") from errors[0]
        return None

    return Check("redis", run, target=" ".join(sorted(urls.values())))


def storage_check(config: Mapping, app=None) -> Check:
    """The check of where attachments are stored: the bucket (services/storage: it answers,
    with these credentials) or the local UPLOAD_FOLDER (a file can be written there)."""
    if config.get("STORAGE_BACKEND", "local") != "s3":
        return upload_folder_check(config["UPLOAD_FOLDER"])

    def run() -> None:
        from services.storage import storage_reachable

        found = storage_reachable(app)
        if not found.ok:
            # Its detail names the bucket and endpoint: for the server's log, not the answer.
            raise CheckFailed("bucket unreachable or refused") from RuntimeError(found.detail)

    return Check("storage", run, target=str(config.get("S3_ENDPOINT_URL") or "s3"))


def upload_folder_check(folder: str | os.PathLike) -> Check:
    """The local upload folder is a folder in which a file can be created (and is removed
    again). A folder not there yet is made, as the first upload would make it (a new
    installation is ready before anyone uploads).

    The file is really written, not `os.access` asked: that says yes to root whatever the
    folder's mode or mount."""
    path = Path(folder)

    def run() -> None:
        try:
            path.mkdir(parents=True, exist_ok=True)
        except FileExistsError as err:
            raise CheckFailed("upload folder is not a folder") from err
        except OSError as err:
            raise CheckFailed("upload folder missing and cannot be made") from err
        probe = path / f".readyz-{secrets.token_hex(8)}"
        try:
            with open(probe, "xb"):
                pass
            probe.unlink()
        except OSError as err:
            raise CheckFailed("upload folder not writable") from err

    return Check("storage", run, target=str(path))


# --- Running them --------------------------------------------------------------------------

_running: dict[tuple[str, str], threading.Thread] = {}
_running_lock = threading.Lock()


def run_checks(checks: list[Check], timeout: float) -> list[CheckResult]:
    """Run `checks` side by side, each given `timeout` seconds; their results in order."""
    slots: dict[str, CheckResult] = {}
    threads: list[tuple[Check, threading.Thread | None]] = []
    for check in checks:
        key = (check.name, check.target)
        with _running_lock:
            stuck = _running.get(key)
            if stuck is not None and stuck.is_alive():
                threads.append((check, None))
                continue
            thread = threading.Thread(
                target=_run_one, args=(check, slots, key), name=f"readyz-{check.name}", daemon=True
            )
            _running[key] = thread
        thread.start()
        threads.append((check, thread))
    deadline = time.monotonic() + timeout
    results = []
    for check, thread in threads:
        if thread is None:
            results.append(CheckResult(check.name, "failed", "still waiting on an earlier check"))
            continue
        thread.join(max(0.0, deadline - time.monotonic()))
        result = slots.get(check.name)
        if result is None:
            result = CheckResult(check.name, "failed", "timed out", timeout * 1000)
        results.append(result)
    return results


def _run_one(check: Check, slots: dict[str, CheckResult], key: tuple[str, str]) -> None:
    started = time.perf_counter()
    try:
        skipped = check.run()
    except CheckFailed as err:
        result = CheckResult(check.name, "failed", str(err), error=err.__cause__ or err)
    except Exception as err:
        result = CheckResult(check.name, "failed", "error", error=err)
    else:
        result = CheckResult(check.name, "skipped" if skipped else "ok", skipped or "")
    # A skipped check did nothing: no time of its own (a busy machine's thread start is not).
    slots[check.name] = result if result.status == "skipped" else _timed(result, started)
    with _running_lock:
        if _running.get(key) is threading.current_thread():
            del _running[key]


def _timed(result: CheckResult, started: float) -> CheckResult:
    return CheckResult(
        result.name,
        result.status,
        result.detail,
        (time.perf_counter() - started) * 1000,
        result.error,
    )
