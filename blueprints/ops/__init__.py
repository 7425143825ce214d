"""Operations: health checks, metrics, request ids and JSON request logs (see routes.py and
requests.py; the checks and metrics themselves are in services/ops/).

Settings (FLASK_-prefixed in the environment):
- LOG_FORMAT: `json` (one JSON object per line on standard error, one line per request) or
  `text` (Flask's own logging). Default: json under a WSGI server (gunicorn), text in debug,
  tests and `flask` commands (the development server prints its own line per request).
- READYZ_TIMEOUT: seconds each /readyz check may take (2).
- METRICS_ALLOW: networks that may read /metrics, comma-separated (127.0.0.1/32, ::1);
  empty for none.
- METRICS_TOKEN: a bearer token that may read /metrics from anywhere (none).
"""

from __future__ import annotations

import ipaddress
import logging
import os
from dataclasses import dataclass

from flask import Flask
from flask.logging import default_handler, has_level_handler

from blueprints.ops.requests import (
    RequestIdFilter,
    current_request_id,
    end_request,
    finish_response,
    request_log,
    start_request,
)
from blueprints.ops.routes import bp
from services.notifications.mail import email_failed
from services.ops.logs import json_handler

DEFAULTS = {
    "READYZ_TIMEOUT": 2,
    "METRICS_ALLOW": "127.0.0.1/32, ::1",
    "METRICS_TOKEN": None,
}
LOG_FORMATS = ("json", "text")


@dataclass(frozen=True)
class OpsSettings:
    log_requests: bool
    readyz_timeout: float
    metrics_allow: tuple
    metrics_token: str | None


def init_logging(app: Flask, *, served: bool) -> None:
    """LOG_FORMAT checked, and JSON logs turned on when it says so (early, so that what the
    app logs while it is built is JSON too). `served`: built by a WSGI server, not for a
    `flask` command."""
    from app import ConfigurationError

    log_format = app.config.get("LOG_FORMAT")
    if log_format is None:
        log_format = "json" if served and not (app.debug or app.testing) else "text"
    if log_format not in LOG_FORMATS:
        raise ConfigurationError(f"LOG_FORMAT={log_format!r}: write json or text.")
    app.config["LOG_FORMAT"] = log_format
    if log_format == "json":
        use_json_logs(app)
    elif not has_level_handler(app.logger):
        # Flask's own handler, taken off by an app with JSON logs earlier in this process.
        app.logger.addHandler(default_handler)


def init_ops(app: Flask) -> None:
    """The other settings checked, the request hooks and the routes registered (after the
    limiter, which must leave the routes alone)."""
    from app import ConfigurationError

    for key, value in DEFAULTS.items():
        app.config.setdefault(key, value)
    timeout = app.config["READYZ_TIMEOUT"]
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not 0 < timeout <= 60:
        raise ConfigurationError(
            f"READYZ_TIMEOUT={timeout!r} is not a number of seconds between 0 and 60 (2)."
        )
    token = app.config["METRICS_TOKEN"]
    # str(): from_prefixed_env reads an all-digit token as a number.
    token = str(token).strip() if token not in (None, "") else None
    metrics_dir = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if metrics_dir and not os.path.isdir(metrics_dir):
        raise ConfigurationError(
            f"PROMETHEUS_MULTIPROC_DIR={metrics_dir!r} is not a folder: create it (empty) "
            "before starting, or unset it (gunicorn.conf.py then makes one)."
        )
    app.extensions["termtable.ops"] = OpsSettings(
        log_requests=app.config["LOG_FORMAT"] == "json",
        readyz_timeout=float(timeout),
        metrics_allow=_networks(app.config["METRICS_ALLOW"], ConfigurationError),
        metrics_token=token,
    )
    # The request id and the clock start before any other hook (which may log, or refuse the
    # request); the response is seen after every other hook changed it.
    app.before_request_funcs.setdefault(None, []).insert(0, start_request)
    app.after_request_funcs.setdefault(None, []).insert(0, finish_response)
    app.teardown_request(end_request)
    app.add_template_global(current_request_id, "request_id")
    app.register_blueprint(bp)
    app.extensions["termtable.limiter"].exempt(bp)
    email_failed.connect(_count_email_failures)


def _count_email_failures(_app, count: int = 0, reason: str = "error", **_extra) -> None:
    """mail.py's `email_failed` signal, counted (the metrics library imported when needed)."""
    from services.ops.metrics import count_email_failures

    count_email_failures(count, reason)


def _networks(value, error_class) -> tuple:
    items = value if isinstance(value, list | tuple) else str(value or "").replace(",", " ").split()
    try:
        return tuple(ipaddress.ip_network(str(item).strip(), strict=False) for item in items)
    except ValueError as err:
        raise error_class(
            f"METRICS_ALLOW={value!r}: {err}. Write networks separated by commas, "
            "for example 127.0.0.1/32, ::1, 10.0.0.0/8."
        ) from None


_json_handler: logging.Handler | None = None


def use_json_logs(app: Flask) -> logging.Handler:
    """Every record of the process, through the root logger, as a JSON line on standard error
    (once per process: logging is the process's, not the app's)."""
    global _json_handler
    root = logging.getLogger()
    if _json_handler is None or _json_handler not in root.handlers:
        _json_handler = json_handler(RequestIdFilter())
        root.addHandler(_json_handler)
    # The request lines are INFO; other loggers keep the root's WARNING.
    request_log.setLevel(logging.INFO)
    # Flask's own handler would print each app.logger record a second time, as text.
    app.logger.removeHandler(default_handler)
    return _json_handler


def stop_json_logs() -> None:
    """Undo use_json_logs (for tests that turned it on in their process)."""
    global _json_handler
    if _json_handler is not None:
        logging.getLogger().removeHandler(_json_handler)
        _json_handler = None
    request_log.setLevel(logging.NOTSET)
