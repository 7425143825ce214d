"""The browsable API reference at /api/v1/docs: Swagger UI, vendored under static/ (no CDN),
reading the generated /api/v1/openapi.json. A plain page for people, so no token is needed to
read it; trying an operation asks for one (the "Authorize" button)."""

from __future__ import annotations

from flask import Blueprint, render_template

from blueprints.api.common import API_PREFIX

SWAGGER_UI_VERSION = "5.35.0"
SWAGGER_UI_BUNDLE = f"vendor/swagger-ui-{SWAGGER_UI_VERSION}"

# Not "api_...": those are the documented resource blueprints.
bp = Blueprint("reference", __name__, url_prefix=API_PREFIX)


@bp.get("/docs")
def docs():
    # The app's strict CSP (scripts and styles from 'self' only) holds here too: the page
    # loads the bundle and its init script as files, and Swagger UI sets its few dynamic
    # styles through the DOM (element.style), which style-src does not restrict.
    return render_template("api/docs.html", bundle=SWAGGER_UI_BUNDLE)
