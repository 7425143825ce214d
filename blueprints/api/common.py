"""What every API module shares: the blueprint class, token authentication, problem details,
cursor pagination and the base schemas (local dates and times, references to rows).

A resource module does, per view: `@blp.arguments(...)`/`@blp.response(...)` (marshmallow
validates and documents), `api_user()` (who is asking; `require_staff()` for a 403), one
`load_visible(...)`/service call, `db.session.commit()` for a write, and returns plain values
that the response schema dumps. Domain errors raised by services become problem details here.
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import UTC, date, datetime, time
from functools import wraps
from http import HTTPStatus
from typing import Any
from urllib.parse import urlencode

import marshmallow as ma
from flask import Response, abort, current_app, g, request
from flask_smorest import Blueprint
from marshmallow import fields, validate
from sqlalchemy import ColumnElement, Date, DateTime, Integer, String, bindparam, tuple_

from blueprints.access import body_limit_text
from blueprints.ids import NoSuchId
from models import MAX_ID, Occurrence, User, db
from services.common.errors import (
    ConflictError,
    DomainError,
    InvalidTransition,
    NotAllowed,
    NotFoundError,
    ValidationError,
)
from services.people.tokens import READ_METHODS, TokenRefused, check_token
from services.timetable.sessions import get_visible_session

API_PREFIX = "/api/v1"


def is_api_request() -> bool:
    """The current request is the JSON API's (problem details, bearer tokens, no cookies)."""
    return request.path == API_PREFIX or request.path.startswith(API_PREFIX + "/")


PROBLEM_JSON = "application/problem+json"
# Problem types of the domain errors (RFC 9457 `type`); plain HTTP errors use about:blank.
PROBLEM_TYPES = {
    ValidationError: "urn:termtable:problem:validation",
    ConflictError: "urn:termtable:problem:conflict",
    InvalidTransition: "urn:termtable:problem:invalid-transition",
    NotFoundError: "about:blank",
}
DEFAULT_LIMIT = 50
MAX_LIMIT = 200


# --- Problem details (RFC 9457) -----------------------------------------------------------------


def problem(
    status: int,
    detail: str = "",
    *,
    title: str | None = None,
    type_: str = "about:blank",
    errors: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> Response:
    """An `application/problem+json` response."""
    body: dict[str, Any] = {
        "type": type_,
        "title": title or HTTPStatus(status).phrase,
        "status": status,
        "detail": detail or HTTPStatus(status).description,
    }
    if errors:
        body["errors"] = errors
    body.update(extra)
    response = current_app.response_class(
        json.dumps(body, default=str), status=status, mimetype=PROBLEM_JSON
    )
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def no_content() -> Response:
    """204, with no body and so no Content-Type either (RFC 9110)."""
    response = current_app.response_class(status=204)
    del response.headers["Content-Type"]
    return response


def abort_problem(status: int, detail: str = "", **kwargs: Any):
    """Stop the request with a problem response (401, 403, 404...)."""
    abort(problem(status, detail, **kwargs))


def _flatten(messages: Any, prefix: str = "") -> dict[str, str]:
    """marshmallow's nested messages to one sentence per field ("weekdays.0": "...")."""
    if isinstance(messages, dict):
        flat: dict[str, str] = {}
        for key, value in messages.items():
            name = "__all__" if key == "_schema" else f"{prefix}{key}"
            flat.update(_flatten(value, f"{name}."))
        return flat
    if isinstance(messages, list) and all(isinstance(m, str) for m in messages):
        return {prefix.rstrip("."): " ".join(messages)}
    return {prefix.rstrip("."): str(messages)}


def http_problem(error) -> Response:
    """An HTTPException as a problem: flask-smorest's 422 (webargs puts marshmallow's
    messages in `error.data`, keyed by location) and 400 included."""
    code = error.code or 500
    data = getattr(error, "data", None) or {}
    messages = data.get("messages") or data.get("errors")
    headers = dict(data.get("headers") or {})
    if code == 405 and getattr(error, "valid_methods", None):
        headers["Allow"] = ", ".join(sorted(error.valid_methods))
    if code == 400 and messages:
        detail = "The request body is not valid JSON."
        return problem(400, detail, headers=headers)
    if code == 413:
        # Werkzeug's wording ("the data value transmitted exceeds the capacity limit") says
        # neither what nor how much.
        limit = body_limit_text(request.max_content_length)
        detail = f"The request body is more than this endpoint takes (at most {limit})."
        return problem(413, detail, title=error.name, headers=headers)
    if isinstance(error, NoSuchId):
        return problem(404, "No such object.")
    if code == 422 and messages:
        errors: dict[str, str] = {}
        for location_messages in messages.values():
            errors.update(_flatten(location_messages))
        detail = "; ".join(f"{k}: {v}" for k, v in errors.items())
        return problem(422, detail, type_=PROBLEM_TYPES[ValidationError], errors=errors)
    detail = error.description if code < 500 else "The server could not complete the request."
    return problem(code, detail, title=error.name, headers=headers)


def domain_problem(error: DomainError) -> Response:
    """A service's refusal as a problem; the transaction it left half-done is rolled back."""
    from services.tracking.attachments import FileTooLarge

    db.session.rollback()
    if isinstance(error, NotFoundError):
        return problem(404, error.message)
    if isinstance(error, NotAllowed):
        return problem(403, error.message)
    if isinstance(error, FileTooLarge):
        return problem(413, error.message, errors=error.errors)
    if isinstance(error, ValidationError):
        return problem(
            422, error.message, type_=PROBLEM_TYPES[ValidationError], errors=error.errors
        )
    if isinstance(error, ConflictError):
        tz = org_tz()
        conflicts = [_conflicting(other, tz) for other in error.others]
        return problem(409, error.message, type_=PROBLEM_TYPES[ConflictError], conflicts=conflicts)
    if isinstance(error, InvalidTransition):
        return problem(409, error.message, type_=PROBLEM_TYPES[InvalidTransition])
    return problem(422, error.message, type_=PROBLEM_TYPES[ValidationError])


def _conflicting(occurrence, tz) -> dict:
    from services.timetable.conflicts import describe_occurrence

    return describe_occurrence(occurrence, tz)


def org_tz():
    from blueprints.access import org_tz as zone_of_the_organisation

    return zone_of_the_organisation()


# --- Authentication and access ------------------------------------------------------------------


def authenticate() -> None:
    """`Authorization: Bearer <token>` or 401. Cookies are never read: the API is for programs
    holding a token, which is also why it needs no CSRF token."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        abort_problem(
            401,
            "Send a personal API token: Authorization: Bearer <token>.",
            headers={"WWW-Authenticate": 'Bearer realm="termtable"'},
        )
    try:
        row = check_token(token.strip(), tz=org_tz())
    except TokenRefused as refused:
        abort_problem(
            401,
            refused.message,
            headers={"WWW-Authenticate": 'Bearer realm="termtable", error="invalid_token"'},
        )
    if db.session.dirty:
        # The token's "last used" stamp (written at most once a minute) is kept even when
        # the action that follows is refused and rolled back.
        db.session.commit()
    if row.read_only and request.method not in READ_METHODS:
        abort_problem(
            403,
            "This API token is read-only: it may read (GET, HEAD) but not change anything. "
            "Use a token made without “Read-only”.",
            headers={"WWW-Authenticate": 'Bearer realm="termtable", error="insufficient_scope"'},
        )
    g.api_user = row.user


def api_user() -> User:
    """The user whose token authenticated this request."""
    return g.api_user


def load_visible_session(occurrence_id: int) -> Occurrence:
    """The session, or 404 (also for one the user may not see)."""
    return get_visible_session(api_user(), occurrence_id)


def require_staff() -> User:
    """The user, if an admin or coordinator; otherwise 403."""
    user = api_user()
    if not user.is_staff:
        abort_problem(403, "Only admins and coordinators may do this.")
    return user


def load_or_404(model, ident: int, what: str = "object"):
    """The row with this primary key (from an `<id:>` in the path), or a 404 problem."""
    row = db.session.get(model, ident)
    if row is None:
        abort_problem(404, f"No such {what}.")
    return row


BODY_IS_AN_OBJECT = "Send a JSON object in the request body (Content-Type: application/json)."


def require_json_object_body() -> None:
    """The request's body is a JSON object, or the request stops here: no body at all (or only
    blanks) and JSON that is not an object (`null`, `[]`, `3`) are a 422, a body of another
    media type a 415. Malformed JSON is left to the parser (400).

    Without this, a PATCH with no body (every field optional) read as `{}` and answered 200,
    and a body sent as a form was silently ignored, though the document requires a JSON body.
    """
    body = request.get_data(cache=True)
    if not body.strip():
        abort_problem(
            422,
            "The request has no body. " + BODY_IS_AN_OBJECT,
            type_=PROBLEM_TYPES[ValidationError],
            errors={"__all__": BODY_IS_AN_OBJECT},
        )
    if not request.is_json:
        abort_problem(415, "The body is not JSON. " + BODY_IS_AN_OBJECT)
    try:
        data = json.loads(body)
    except ValueError:  # also UnicodeDecodeError; the parser answers 400
        return
    if not isinstance(data, dict):
        abort_problem(
            422,
            "The body is JSON but not an object. " + BODY_IS_AN_OBJECT,
            type_=PROBLEM_TYPES[ValidationError],
            errors={"__all__": BODY_IS_AN_OBJECT},
        )


class ApiBlueprint(Blueprint):
    """A flask-smorest blueprint under /api/v1: every request authenticated by token, domain
    errors answered as problem details. CSRF exemption happens when it is registered.

    `arguments(...)` in the JSON body (the default location) with `required=True` (the
    default, documented as a required request body) also refuses a request without a JSON
    object body; pass `required=False` for a body that may be left out."""

    def __init__(self, name: str, import_name: str, **kwargs: Any):
        kwargs.setdefault("url_prefix", API_PREFIX)
        super().__init__(name, import_name, **kwargs)
        self.before_request(authenticate)
        self.register_error_handler(DomainError, domain_problem)
        # A body over the limit: problem details, whatever 413 page an extension or another
        # blueprint registers for the whole app (Flask would prefer it to the generic one).
        self.register_error_handler(413, http_problem)

    def arguments(self, schema, *, location="json", required=True, **kwargs):
        decorator = super().arguments(schema, location=location, required=required, **kwargs)
        if location != "json" or not required:
            return decorator

        def wrap(view):
            parsing_view = decorator(view)

            # Checked before webargs reads the body, which takes a missing one for `{}`.
            @wraps(parsing_view)
            def checked(*args, **view_kwargs):
                require_json_object_body()
                return parsing_view(*args, **view_kwargs)

            return checked

        return wrap


# --- Schemas ------------------------------------------------------------------------------------


class StrictSchema(ma.Schema):
    """Unknown fields are refused (422), never silently dropped: `status`, `id`, `mentor_id`
    in a body are mistakes the client should hear about."""

    class Meta:
        unknown = ma.RAISE


class ProblemSchema(ma.Schema):
    """RFC 9457 problem details, as every error of the API is answered."""

    type = fields.String(metadata={"description": "about:blank, or urn:termtable:problem:*"})
    title = fields.String()
    status = fields.Integer()
    detail = fields.String()
    errors = fields.Dict(
        keys=fields.String(),
        values=fields.String(),
        metadata={"description": "One message per field (422)"},
    )
    conflicts = fields.List(
        fields.Dict(),
        metadata={"description": "The sessions in the way (409 double booking)"},
    )


class LocalTime(fields.Time):
    """A local wall-clock time `HH:MM` in the organisation's zone."""

    def __init__(self, **kwargs: Any):
        metadata = {
            "description": "Local time HH:MM (organisation zone)",
            "example": "10:00",
            "pattern": r"^([01][0-9]|2[0-3]):[0-5][0-9]$",
        }
        metadata.update(kwargs.pop("metadata", {}))
        super().__init__(format="%H:%M", metadata=metadata, **kwargs)

    def _deserialize(self, value, attr, data, **kwargs) -> time:
        if not isinstance(value, str) or len(value) != 5:
            raise ma.ValidationError("Not a valid time: use HH:MM, from 00:00 to 23:59.")
        return super()._deserialize(value, attr, data, **kwargs)


class Instant(fields.AwareDateTime):
    """An instant, ISO 8601 with the organisation's offset (2026-09-07T10:00:00+02:00)."""

    def _serialize(self, value, attr, obj, **kwargs):
        if value is None:
            return None
        return value.astimezone(org_tz()).isoformat()


def Id(**kwargs: Any) -> fields.Integer:
    # Strict in JSON bodies (3.5 or "3" is refused, not truncated); query strings are text.
    kwargs.setdefault("strict", True)
    return fields.Integer(validate=validate.Range(1, MAX_ID), **kwargs)


def QueryId(**kwargs: Any) -> fields.Integer:
    """An id in a query string."""
    return Id(strict=False, **kwargs)


class RefSchema(ma.Schema):
    """A related row: its id and name."""

    id = fields.Integer()
    name = fields.String()


def ref(row) -> dict | None:
    return {"id": row.id, "name": row.name} if row is not None else None


# --- Pagination ---------------------------------------------------------------------------------


class PageArgs(StrictSchema):
    limit = fields.Integer(
        strict=False,
        load_default=DEFAULT_LIMIT,
        validate=validate.Range(1, MAX_LIMIT),
        metadata={"description": f"Items per page, 1 to {MAX_LIMIT} (default {DEFAULT_LIMIT})."},
    )
    cursor = fields.String(
        metadata={"description": "Opaque: copy it from the previous page's `next` link."},
    )


_page_schemas: dict[type, type] = {}


def page_schema(item_schema: type[ma.Schema]) -> type[ma.Schema]:
    """The schema of one page of `item_schema` items: `items` and `next` (URL or null)."""
    if item_schema not in _page_schemas:
        name = item_schema.__name__.removesuffix("Schema") + "PageSchema"
        _page_schemas[item_schema] = ma.Schema.from_dict(
            {
                "items": fields.List(fields.Nested(item_schema)),
                "next": fields.String(
                    allow_none=True,
                    metadata={"description": "URL of the next page, or null on the last one"},
                ),
            },
            name=name,
        )
    return _page_schemas[item_schema]


def _encode_key(values: tuple) -> str:
    tagged = []
    for value in values:
        if isinstance(value, datetime):
            tagged.append({"t": value.isoformat()})
        elif isinstance(value, date):
            tagged.append({"d": value.isoformat()})
        else:
            tagged.append(value)
    return base64.urlsafe_b64encode(json.dumps(tagged).encode()).decode().rstrip("=")


def _decode_key(cursor: str, keys: list) -> list:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        tagged = json.loads(raw)
        if not isinstance(tagged, list) or len(tagged) != len(keys):
            raise ValueError
        values = []
        for value in tagged:
            if isinstance(value, dict) and set(value) == {"t"}:
                values.append(datetime.fromisoformat(value["t"]))
            elif isinstance(value, dict) and set(value) == {"d"}:
                values.append(date.fromisoformat(value["d"]))
            elif isinstance(value, str | int | bool) and not isinstance(value, bool):
                values.append(value)
            else:
                raise ValueError
        if not all(_fits(value, column) for value, column in zip(values, keys, strict=True)):
            raise ValueError
        return values
    except (ValueError, TypeError, OverflowError, binascii.Error, UnicodeDecodeError):
        raise ValidationError(
            {"cursor": "This cursor is not one this API gave out; start again without it."}
        ) from None


def _fits(value, column) -> bool:
    """Whether a cursor value can be compared with its key column (a cursor of another list,
    or a made-up one, must be a 422, not a database error)."""
    column_type = column.type
    column_type = getattr(column_type, "impl_instance", column_type)  # a TypeDecorator's own
    if isinstance(column_type, DateTime):
        # Aware, and within the calendar once in UTC (OverflowError otherwise).
        return (
            isinstance(value, datetime) and value.tzinfo is not None and bool(value.astimezone(UTC))
        )
    if isinstance(column_type, Date):
        return isinstance(value, date) and not isinstance(value, datetime)
    if isinstance(column_type, Integer):
        return isinstance(value, int) and -MAX_ID - 1 <= value <= MAX_ID  # INTEGER columns
    if isinstance(column_type, String):
        return isinstance(value, str)
    return True


def paginate(query, keys: list, args: dict) -> dict:
    """One page of `query` by keyset. `keys` are the columns to order by (they replace the
    query's own order): ascending, never null, the last one unique (usually the id). The cursor
    is the key of the page's last row, so rows added or removed meanwhile neither repeat nor
    shift the next page.

    Returns `{"items": rows, "next": url or None}`; the view returns `paged(page, items)`,
    which adds the `Link` header.
    """
    limit = args.get("limit") or DEFAULT_LIMIT
    query = query.order_by(None).order_by(*keys)
    if args.get("cursor"):
        after = _decode_key(args["cursor"], keys)
        query = query.where(after_key(keys, after))
    rows = list(db.session.scalars(query.limit(limit + 1)).unique())
    items, more = rows[:limit], len(rows) > limit
    next_url = None
    if more:
        last = items[-1]
        key = tuple(getattr(last, column.key) for column in keys)
        next_url = request.base_url + "?" + urlencode(_next_params(args, _encode_key(key), limit))
    return {"items": items, "next": next_url}


def after_key(keys: list, after: list) -> ColumnElement[bool]:
    """SQL: the row's key comes after `after` in the order of `keys`.

    A row-value comparison, `(start_utc, id) > (:x, :y)`: SQLite and PostgreSQL both read it
    as one range of an index on those columns (or on a prefix of them), starting at the
    cursor. The equivalent `start_utc > :x OR (start_utc = :x AND id > :y)` is no index
    bound, and every later page sorted the rest of the list again."""
    if len(keys) == 1:
        return keys[0] > bindparam(None, after[0], type_=keys[0].type)
    values = [bindparam(None, v, type_=k.type) for k, v in zip(keys, after, strict=True)]
    return tuple_(*keys) > tuple_(*values)


def _next_params(args: dict, cursor: str, limit: int) -> dict[str, str]:
    """The next page's query: the list's own parameters as the client sent them (`args` holds
    only those its schema declares), a new cursor and the limit. Anything else in the query
    string is never echoed: it would go into the `Link` header as given."""
    params = {
        name: request.args[name]
        for name in args
        if name not in ("cursor", "limit") and name in request.args
    }
    return params | {"cursor": cursor, "limit": str(limit)}


def paged(page: dict, items: list | None = None):
    """A view's return value for a page: the body (items replaced if given, e.g. dicts made
    from the rows) and the `Link: <next>; rel="next"` header."""
    body = {"items": page["items"] if items is None else items, "next": page["next"]}
    headers = {"Link": f'<{page["next"]}>; rel="next"'} if page["next"] else {}
    return body, headers
