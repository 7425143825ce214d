"""Per request: an id, one log line, and the latency metrics.

The request id is the incoming `X-Request-ID` when it is a sane token (what nginx's
`$request_id`, a load balancer or another service sends), else a new random one. It is
returned in the response's `X-Request-ID`, shown on error pages (5xx) for a user to quote, and
added to every log record emitted while the request is handled (app.logger, services' own
loggers, libraries) by `RequestIdFilter` on the JSON handler.

With JSON logs on, each request ends with one INFO line of the `termtable.requests` logger:
`method`, `path` (the route rule, never the URL's values or query string, which may hold a
token), `status`, `duration_ms`, `request_id`, `user_id` (when signed in, through a page or an
API token), and `remote_addr` (the client, as ProxyFix gives it behind trusted proxies).
Successful health checks and metrics scrapes are not logged (they come every few seconds).
"""

from __future__ import annotations

import logging
import re
import secrets
import time

from flask import current_app, g, has_request_context, request

REQUEST_ID_HEADER = "X-Request-ID"
# Letters, digits and a few separators, 8 to 128 of them: UUIDs, nginx's hex ids, AWS trace
# ids. Anything else (spaces, quotes, control characters, a novel) is replaced, not logged.
SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:=+/-]{8,128}")
QUIET_ENDPOINTS = frozenset({"ops.healthz", "ops.readyz", "ops.metrics"})

_ID = "termtable.request_id"
_STARTED = "termtable.request_started"
_STATUS = "termtable.response_status"

request_log = logging.getLogger("termtable.requests")


def current_request_id() -> str | None:
    """This request's id (made on first use), None outside a request."""
    if not has_request_context():
        return None
    environ = request.environ
    request_id = environ.get(_ID)
    if request_id is None:
        given = request.headers.get(REQUEST_ID_HEADER, "")
        request_id = given if SANE_REQUEST_ID.fullmatch(given) else secrets.token_hex(16)
        environ[_ID] = request_id
    return request_id


class RequestIdFilter(logging.Filter):
    """Adds `request_id` to records emitted while a request is handled."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            request_id = current_request_id()
            if request_id is not None:
                record.request_id = request_id
        return True


def start_request() -> None:
    """`before_request`, the first of all."""
    from services.ops import metrics

    current_request_id()
    request.environ[_STARTED] = time.perf_counter()
    metrics.request_started()


def finish_response(response):
    """`after_request`, the last of all (it sees the status that goes out)."""
    if _STARTED in request.environ:
        request.environ[_STATUS] = response.status_code
        response.headers[REQUEST_ID_HEADER] = current_request_id()
    return response


def end_request(error: BaseException | None) -> None:
    """`teardown_request`: count the request, and log it. Runs also when an error escaped
    every handler (then the status is 500)."""
    environ = request.environ
    started = environ.pop(_STARTED, None)
    if started is None:  # a test_request_context, or a request that never began
        return
    from services.ops import metrics

    seconds = time.perf_counter() - started
    status = environ.get(_STATUS, 500)
    route = request.url_rule.rule if request.url_rule is not None else None
    metrics.request_finished(route, request.method, status, seconds)
    if not current_app.extensions["termtable.ops"].log_requests:
        return
    if request.endpoint in QUIET_ENDPOINTS and status < 400:
        return
    path = route or metrics.UNMATCHED_ROUTE
    duration_ms = round(seconds * 1000, 1)
    request_log.info(
        "%s %s %s %.1fms",
        request.method,
        path,
        status,
        duration_ms,
        extra={
            "method": request.method,
            "path": path,
            "status": status,
            "duration_ms": duration_ms,
            "user_id": _signed_in_user_id(),
            "remote_addr": request.remote_addr,
        },
    )


def _signed_in_user_id() -> int | None:
    """The user this request was made by, if the request loaded them already (a page's login
    check, an API token): never loaded here, which would cost a query to static files and
    health checks."""
    for user in (g.get("_login_user"), g.get("api_user")):
        if user is not None and getattr(user, "is_authenticated", False):
            return user.id
    return None
