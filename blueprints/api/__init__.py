"""The JSON API under /api/v1/, built with flask-smorest: marshmallow schemas validate every
request and generate the OpenAPI 3 document (served at /api/v1/openapi.json; never edited by
hand).

Layout:

- `__init__.py` (this file): `init_api(app)` makes the app's `Api`, registers the resource
  modules listed in `RESOURCE_MODULES`, exempts them from CSRF, declares the bearer security
  scheme and answers every error under /api/ as problem details.
- `common.py`: what the modules share: `ApiBlueprint` (token authentication before each
  request, domain errors as problem details), `api_user()`, `require_staff()`,
  `load_or_404()`, `problem()`/`abort_problem()`, `paginate()`/`paged()` with `PageArgs` and
  `page_schema()`, and the base fields (`LocalTime`, `Instant`, `Id` for ids in bodies and
  query strings, `RefSchema`). Ids in paths are `<id:...>`, as on the pages
  (blueprints/ids.py): a number no row can have is a 404 problem before the view runs.
- One module per area, each with a module-level `blp = ApiBlueprint(...)`:
  `timetable/` (a package: one module per resource, `catalogue.py` for rooms and subjects,
  `groups.py`, `series.py`, `sessions.py`, `exceptions.py`, `generation.py`, adding their
  routes to the package's one `blp`, and `schemas.py` for what they answer),
  `requests.py` (session requests and their decisions), `tracking.py` (completing
  sessions, notes, attachments), `attendance.py` (registers and the attendance report),
  `cover.py` (absences and cover).

`docs.py` serves the browsable reference (/api/v1/docs, Swagger UI vendored under static/).

Adding resources: write `blueprints/api/<area>.py` with its own `blp` and add `"<area>"` to
`RESOURCE_MODULES`. Conventions: see README, "JSON API".
"""

from __future__ import annotations

import http
import threading
from importlib import import_module

from flask import Flask
from flask_smorest import Api
from flask_smorest.spec import openapi_cli
from flask_smorest.utils import prepare_response
from werkzeug.exceptions import HTTPException

from blueprints.api.common import (
    API_PREFIX,
    PROBLEM_JSON,
    ProblemSchema,
    http_problem,
    is_api_request,
)
from blueprints.extensions import csrf

# The modules of blueprints/api/ that define a `blp`; one line per area.
RESOURCE_MODULES = ("timetable", "requests", "tracking", "attendance", "cover")


class TermtableApi(Api):
    """flask-smorest's Api, with problem details for errors (documented and served) that
    apply to /api/ only: the pages keep their own HTML error pages.

    Its routes are registered at once, its OpenAPI document (`spec`) is built when first
    asked for (/api/v1/openapi.json, `flask openapi print`): describing every operation was
    a good part of every command's and worker's start-up, and nothing else reads it. It is
    built in the order flask-smorest would have built it at registration: the same document.
    """

    ERROR_SCHEMA = ProblemSchema
    DEFAULT_RESPONSE_CONTENT_TYPE = "application/json"

    def __init__(self, app: Flask) -> None:
        self._spec = None
        self._spec_options: dict = {}
        # (blueprint, name, path parameters) of every blueprint registered, to document.
        self._to_document: list[tuple] = []
        self._building = threading.RLock()
        super().__init__(app)

    @property
    def spec(self):
        if self._spec is None and self._app is not None:
            with self._building:
                if self._spec is None:
                    self._build_spec()
        return self._spec

    @spec.setter
    def spec(self, value) -> None:
        self._spec = value

    def _init_spec(self, **options):
        # Called by init_app: the spec waits for its first reader; its command is there now.
        self._spec_options = options
        self._app.cli.add_command(openapi_cli)

    def _build_spec(self) -> None:
        try:
            super()._init_spec(**self._spec_options)
            self.ma_plugin.converter.add_attribute_function(nullable_reference)
            self._spec.components.security_scheme(
                "bearerAuth",
                {"type": "http", "scheme": "bearer", "description": "Personal API token"},
            )
            for blp, name, parameters in self._to_document:
                blp.register_views_in_doc(
                    self, self._app, self._spec, name=name, parameters=parameters
                )
                self._spec.tag({"name": name, "description": blp.description})
        except BaseException:
            self._spec = None  # not half a document: the next reader tries again
            raise

    def register_blueprint(self, blp, *, parameters=None, **options):
        """flask-smorest's, with the blueprint's views described in the document when the
        document is built (see `spec`)."""
        name = options.get("name", blp.name)
        self._app.extensions["flask-smorest"]["blp_name_to_api"][name] = self
        self._app.register_blueprint(blp, **options)
        self._to_document.append((blp, name, parameters))

    def _register_responses(self):
        # Every error response in the document is problem+json, as it is on the wire.
        for status in http.HTTPStatus:
            response = {"description": status.phrase}
            if not (100 <= status < 200) and status not in (204, 304):
                response["schema"] = self.ERROR_SCHEMA
            prepare_response(response, self.spec, PROBLEM_JSON)
            self.spec.components.response(status.name, response, lazy=True)
        response = {"description": "Error (problem details)", "schema": self.ERROR_SCHEMA}
        prepare_response(response, self.spec, PROBLEM_JSON)
        self.spec.components.response(self.DEFAULT_ERROR_RESPONSE_NAME, response, lazy=True)

    def _register_error_handlers(self):
        # flask-smorest would answer every HTTP error of the whole app in JSON; chain to the
        # app's own handler (HTML pages) for everything outside the API instead.
        app = self._app
        page_handler = app.error_handler_spec.get(None, {}).get(None, {}).get(HTTPException)

        def handle(error: HTTPException):
            if is_api_request():
                return http_problem(error)
            if page_handler is not None:
                return page_handler(error)
            return error

        app.register_error_handler(HTTPException, handle)


def nullable_reference(converter, field, ret, **kwargs) -> dict:
    """A nullable nested object (`room`, `decided_by`...) as OpenAPI 3.0 spells it and client
    generators read it: `allOf: [{$ref}]` with `nullable: true`.

    apispec writes `anyOf: [{type: object, nullable: true}, {$ref}]` instead, which a generator
    (openapi-python-client) reads as "an empty object, or the reference": it picks the empty
    object, and `session.room.name` does not exist. Runs after apispec's own `field2nullable`.
    """
    variants = ret.get("anyOf")
    null_object = {"type": "object", "nullable": True}
    if not field.allow_none or not variants or null_object not in variants:
        return {}
    del ret["anyOf"]
    return {"allOf": [v for v in variants if v != null_object], "nullable": True}


def init_api(app: Flask) -> TermtableApi:
    app.config.setdefault("API_TITLE", "Termtable")
    app.config.setdefault("API_VERSION", "v1")
    app.config.setdefault("OPENAPI_VERSION", "3.0.3")
    app.config.setdefault("OPENAPI_URL_PREFIX", API_PREFIX)
    app.config.setdefault("OPENAPI_JSON_PATH", "openapi.json")
    app.config.setdefault(
        "API_SPEC_OPTIONS",
        {
            "info": {
                "description": (
                    "Termtable's JSON API. Authenticate with a personal API token "
                    "(`Authorization: Bearer <token>`, made on your profile page or with "
                    "`flask create-token`). Dates are YYYY-MM-DD and times HH:MM, local to "
                    "the organisation; instants are ISO 8601 with their offset. Errors are "
                    "RFC 9457 problem details. Lists are paginated with `limit` and an opaque "
                    "`cursor`; the next page's URL is in `next` and in the Link header."
                )
            },
            "servers": [{"url": "/"}],
            "security": [{"bearerAuth": []}],
        },
    )
    api = TermtableApi(app)
    for name in RESOURCE_MODULES:
        blp = import_module(f"blueprints.api.{name}").blp
        csrf.exempt(blp)
        api.register_blueprint(blp)
    from blueprints.api.docs import bp as reference_bp

    app.register_blueprint(reference_bp)
    app.extensions["termtable.api"] = api
    return api
