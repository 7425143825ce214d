"""Calendar feeds: `/calendar/<token>.ics`, opened by calendar apps with no login (the token
is the secret), answering conditional requests because those apps poll."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, make_response, request

from blueprints.access import org_tz
from services.output.feeds import FeedBodies, feed_body, feed_by_token, fingerprint

bp = Blueprint("calendar", __name__, url_prefix="/calendar")


@bp.record_once
def _keep_feed_bodies(state) -> None:
    # One cache per app (per worker process): an unchanged feed is served as built last.
    state.app.extensions["feed_bodies"] = FeedBodies()


@bp.get("/<token>.ics")
def feed(token: str):
    found = feed_by_token(token)
    if found is None:
        abort(404)
    etag = fingerprint(found)
    if etag in request.if_none_match:
        response = make_response("", 304)
    else:
        bodies = current_app.extensions["feed_bodies"]
        base_url = current_app.config.get("BASE_URL", "")
        body = feed_body(found, etag, bodies, tz=org_tz(), base_url=base_url)
        response = make_response(body)
        response.mimetype = "text/calendar"
        response.charset = "utf-8"
        response.headers["Content-Disposition"] = 'inline; filename="termtable.ics"'
    response.set_etag(etag)
    # Private: the URL is a secret; no-cache: revalidate each poll (cheap, thanks to the ETag).
    response.headers["Cache-Control"] = "private, no-cache"
    return response
