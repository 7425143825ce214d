"""State-changing requests sent from another site are refused (403), on top of the CSRF token
and SameSite=Lax cookies: a browser names the page a request comes from in `Origin` (or, when
it leaves that out, `Referer`), and only Termtable's own pages may change anything.

Termtable's own origin is the request's (scheme, host and port, as `request.host_url` gives
them: corrected by ProxyFix behind trusted proxies) and `BASE_URL`'s. A request with neither
header is let through to the CSRF check (some privacy tools strip both); `Origin: null`
(a sandboxed frame, a redirect from another site, a `file:` page) is refused.

API requests carrying a bearer token are not checked: the API reads no cookie, so a page of
another site holds no authority there, and a script sends no `Origin` anyway.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import current_app, request
from werkzeug.exceptions import Forbidden

from blueprints.api.common import is_api_request

STATE_CHANGING_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
DEFAULT_PORTS = {"http": 80, "https": 443}

Origin = tuple[str, str, int]


class CrossSiteRequest(Forbidden):
    """A state change asked by a page of another site (the page's title and problem title)."""

    name = "Sent from another site"
    description = (
        "This request came from another website, so Termtable did not act on it. If you meant "
        "to do this, open Termtable itself and try again from its page."
    )


def origin_of(url: str) -> Origin | None:
    """(scheme, host, port) of an http(s) URL, the port spelled out; None for anything else
    (`null`, an opaque or malformed value)."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:  # a port out of range or not a number
        return None
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS or not parts.hostname:
        return None
    return scheme, parts.hostname.lower(), port or DEFAULT_PORTS[scheme]


def own_origins() -> set[Origin]:
    own = origin_of(request.host_url)
    origins = {own} if own else set()
    if own and own[0] == "http" and own[2] == DEFAULT_PORTS["http"]:
        # Behind a TLS-terminating proxy not declared in FLASK_TRUSTED_PROXIES, the app sees
        # http://host while the browser's page is https://host: the same site, encrypted.
        origins.add(("https", own[1], DEFAULT_PORTS["https"]))
    public = origin_of(current_app.config.get("BASE_URL") or "")
    if public:
        origins.add(public)
    return origins


def _bearer_api_request() -> bool:
    scheme, _, _token = request.headers.get("Authorization", "").partition(" ")
    return is_api_request() and scheme.lower() == "bearer"


def refuse_cross_site_requests() -> None:
    """`before_request`: a state change whose Origin (else Referer) is not Termtable is 403."""
    if request.method not in STATE_CHANGING_METHODS or _bearer_api_request():
        return
    if "Origin" in request.headers:
        source = origin_of(request.headers["Origin"])
    elif request.headers.get("Referer", "").strip():
        source = origin_of(request.headers["Referer"])
    else:
        return
    if source is None or source not in own_origins():
        raise CrossSiteRequest()
