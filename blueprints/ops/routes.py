"""`/healthz` (the process answers), `/readyz` (it can reach what requests need) and `/metrics`
(Prometheus), for load balancers, orchestrators and monitoring rather than people: no login, no
CSRF, no rate limit, no session cookie; JSON or Prometheus text, never cached."""

from __future__ import annotations

import hmac
import ipaddress

from flask import Blueprint, Response, abort, current_app, jsonify, request

from models import db
from services.ops.health import (
    database_check,
    redis_check,
    redis_urls,
    run_checks,
    storage_check,
)

bp = Blueprint("ops", __name__)
NO_STORE = {"Cache-Control": "no-store"}


@bp.get("/healthz")
def healthz():
    """Alive: the process answers requests. Touches nothing (no database, no file)."""
    return jsonify(status="ok"), 200, NO_STORE


@bp.get("/readyz")
def readyz():
    """Ready: the database answers `SELECT 1`, every Redis server the app is configured with
    answers PING, and the file storage takes a file; each within READYZ_TIMEOUT seconds.
    503 naming what failed, else 200."""
    config = current_app.config
    timeout = current_app.extensions["termtable.ops"].readyz_timeout
    results = run_checks(
        [
            database_check(db.engine),
            redis_check(redis_urls(config), timeout),
            storage_check(config, current_app._get_current_object()),
        ],
        timeout,
    )
    failed = [result for result in results if result.failed]
    for result in failed:
        current_app.logger.warning(
            "readyz: %s failed (%s): %r", result.name, result.detail, result.error
        )
    body = {
        "status": "unavailable" if failed else "ok",
        "failed": [result.name for result in failed],
        "checks": {result.name: result.public() for result in results},
    }
    return jsonify(body), 503 if failed else 200, NO_STORE


@bp.get("/metrics")
def metrics():
    """Prometheus metrics, for an allowed network (METRICS_ALLOW) or a bearer token
    (METRICS_TOKEN); anyone else finds nothing here (404)."""
    if not _may_read_metrics():
        abort(404)
    from services.ops.metrics import render

    body, content_type = render()
    return Response(body, content_type=content_type, headers=NO_STORE)


def _may_read_metrics() -> bool:
    settings = current_app.extensions["termtable.ops"]
    if settings.metrics_token:
        scheme, _, given = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(
            given.strip().encode(), settings.metrics_token.encode()
        ):
            return True
    if not current_app.config["TRUSTED_PROXIES"] and "X-Forwarded-For" in request.headers:
        # Through a proxy the app does not trust (nginx on the same host), every client would
        # seem to be the proxy's address: 127.0.0.1.
        return False
    try:
        address = ipaddress.ip_address(request.remote_addr or "")
    except ValueError:
        return False
    if address.version == 6 and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return any(address in network for network in settings.metrics_allow)
