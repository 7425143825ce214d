"""Helpers of the tests that start real processes (gunicorn, workers, nginx): waiting for a
condition with a deadline, and a Redis database of their own."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest


def wait_until(condition, what: str, deadline: float = 60, processes=()) -> None:
    """Return once `condition()` holds; fail after `deadline` seconds, or as soon as one of
    `processes` has ended (it will not make the condition true any more)."""
    end = time.monotonic() + deadline
    while not condition():
        for process in processes:
            if process.poll() is not None:
                raise AssertionError(f"{process.args[:4]} ended while waiting for {what}")
        if time.monotonic() > end:
            raise AssertionError(f"not within {deadline} s: {what}")
        time.sleep(0.05)


@contextmanager
def emptied_redis(url: str) -> Iterator:
    """A client of the Redis database `url`, emptied before and after. Without Redis the test
    is skipped, or fails under REQUIRE_REDIS=1 (.ci/run sets it)."""
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.RedisError as err:
        message = f"Redis is not reachable at {url} ({err})"
        if os.environ.get("REQUIRE_REDIS") == "1":
            pytest.fail(message + "; REQUIRE_REDIS=1 forbids skipping", pytrace=False)
        pytest.skip(message)
    client.flushdb()
    try:
        yield client
    finally:
        client.flushdb()
        client.close()


def stop_processes(processes, *, graceful=lambda process: signal.SIGTERM) -> None:
    """Stop each process still running with its `graceful(process)` signal, wait for them all
    (30 s each, then killed), and close their logs (`process.log`, when they have one)."""
    for process in processes:
        if process.poll() is None:
            process.send_signal(graceful(process))
    for process in processes:
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if getattr(process, "log", None) is not None:
            process.log.close()
