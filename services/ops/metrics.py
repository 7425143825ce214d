"""Prometheus metrics, with the prometheus-client library (the exporter Prometheus itself
keeps).

- `termtable_http_request_duration_seconds` (histogram): each request's time in the app, by
  route rule (`/sessions/<id:occurrence_id>`, never the URL's ids or query), method and status
  class (`2xx`...). Requests that matched no route count under `<unmatched>`.
- `termtable_http_requests_in_progress` (gauge): requests being answered now.
- `termtable_email_failures_total{reason}` (counter): notification e-mails that could not be
  sent, by reason (refused, connection, error), counted from services/notifications/mail.py's
  `email_failed` signal.
- `termtable_job_queue_depth`, `termtable_job_queue_oldest_age_seconds` (gauges), and
  `termtable_job_queue_up` (1, or 0 when the queue could not be read), read at each scrape
  from `services.jobs.queue.queue_stats()`; nothing when that module is not there.

Several processes (gunicorn's workers) each count their own requests. With the environment
variable PROMETHEUS_MULTIPROC_DIR naming an empty folder (gunicorn.conf.py makes one when it is
unset), prometheus-client's multi-process mode keeps every process's values in files there, and
a scrape answered by any worker adds them all up; gunicorn.conf.py's `child_exit` hook drops a
dead worker's in-progress gauge. The variable must be set before this module is first imported
(it is imported at a process's first request, not when the app is built, so that `flask`
commands do not pay for it).
"""

from __future__ import annotations

import importlib
import logging
import os
from collections.abc import Iterable

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily

log = logging.getLogger(__name__)

UNMATCHED_ROUTE = "<unmatched>"
# Methods a client may send are any word: only these are labels of their own.
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
# Pages should answer within 300 ms (the load test's target): buckets around it, and up to the
# proxy's 60 s read timeout for the longest generations.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 1, 2.5, 5, 10, 30, 60)

REQUEST_DURATION = Histogram(
    "termtable_http_request_duration_seconds",
    "Time to answer a request, by route rule, method and status class.",
    ["route", "method", "status"],
    buckets=LATENCY_BUCKETS,
)
IN_PROGRESS = Gauge(
    "termtable_http_requests_in_progress",
    "Requests being answered now.",
    multiprocess_mode="livesum",
)
EMAIL_FAILURES = Counter(
    "termtable_email_failures",
    "Notification e-mails that could not be sent (each attempt), by reason: refused (the "
    "server refused this message or recipient), connection (the server could not be reached "
    "or the connection was lost) or error (anything else).",
    ["reason"],
)
EMAIL_FAILURE_REASONS = ("refused", "connection", "error")
for _reason in EMAIL_FAILURE_REASONS:  # each reported (0) from the start, for rate() and alerts
    EMAIL_FAILURES.labels(reason=_reason)


def multiprocess_dir() -> str | None:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


def request_started() -> None:
    IN_PROGRESS.inc()


def request_finished(route: str | None, method: str, status: int, seconds: float) -> None:
    IN_PROGRESS.dec()
    REQUEST_DURATION.labels(
        route=route or UNMATCHED_ROUTE,
        method=method if method in METHODS else "other",
        status=f"{status // 100}xx",
    ).observe(seconds)


def count_email_failures(count: int, reason: str) -> None:
    """`count` notification e-mails could not be sent, for `reason` (EMAIL_FAILURE_REASONS)."""
    if count > 0:
        EMAIL_FAILURES.labels(reason=reason if reason in EMAIL_FAILURE_REASONS else "error").inc(
            count
        )


def render() -> tuple[bytes, str]:
    """The metrics of every process (multi-process mode) or of this one, and the job queue's,
    in Prometheus's text format: (body, content type)."""
    registry = CollectorRegistry()
    if multiprocess_dir():
        multiprocess.MultiProcessCollector(registry)
    else:
        registry.register(_ThisProcess())
    registry.register(JobQueueCollector())
    return generate_latest(registry), CONTENT_TYPE_LATEST


class _ThisProcess:
    """The process's default registry (this app's metrics, and the process and Python
    collectors), gathered into a scrape's registry."""

    def describe(self):
        return []

    def collect(self):
        return REGISTRY.collect()


class JobQueueCollector:
    """The job queue's depth and oldest job's age, asked of `services.jobs.queue.queue_stats()`
    at each scrape (one answer for all processes, whichever worker is scraped): a mapping with
    `waiting` (jobs) and `oldest_age` (seconds; 0 when none waits). Imported when scraped, and
    nothing is reported where that module is not there."""

    def describe(self):
        return []

    def collect(self) -> Iterable[GaugeMetricFamily]:
        try:
            queue = importlib.import_module("services.jobs.queue")
        except ModuleNotFoundError as err:
            if err.name in ("services.jobs.queue", "services.jobs"):
                return
            raise
        up = GaugeMetricFamily(
            "termtable_job_queue_up", "1 when the job queue could be read at this scrape."
        )
        try:
            stats = queue.queue_stats()
            depth, age = float(stats["waiting"]), float(stats["oldest_age"] or 0)
        except Exception:
            log.warning("metrics: the job queue could not be read", exc_info=True)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield GaugeMetricFamily("termtable_job_queue_depth", "Jobs waiting in the queue.", depth)
        yield GaugeMetricFamily(
            "termtable_job_queue_oldest_age_seconds",
            "Age of the oldest job waiting in the queue (0 when none waits).",
            age,
        )
