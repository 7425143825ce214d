"""The API's plumbing: token authentication, problem details, pagination, the OpenAPI
document, CSRF and cookies, and SQLite locking of API reads."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

from flask import request
from sqlalchemy import select

from blueprints.api.common import MAX_LIMIT
from models import ApiToken, Room, db
from services.people.tokens import revoke_token
from tests.api.conftest import PROBLEM, assert_problem
from tests.conftest import TEST_PASSWORD

# --- Authentication -----------------------------------------------------------------------------


def test_no_token_is_401_with_a_bearer_challenge(anonymous):
    response = anonymous.get("/api/v1/rooms", status=401)
    body = assert_problem(response, 401)
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert "Authorization: Bearer" in body["detail"]


def test_a_bad_or_malformed_token_is_401(api_as):
    client = api_as("student")
    for header in (
        "Bearer tt_not-a-real-token",
        "Bearer ",
        "Basic dXNlcjpwYXNz",
        client.token,  # no scheme
        "Bearer " + "x" * 500,
    ):
        response = client.web.get("/api/v1/rooms", headers={"Authorization": header}, status=401)
        assert_problem(response, 401)
        assert "Bearer" in response.headers["WWW-Authenticate"]


def test_the_scheme_is_case_insensitive(api_as):
    client = api_as("student")
    client.web.get("/api/v1/rooms", headers={"Authorization": f"bearer {client.token}"})


def test_a_revoked_token_or_a_deactivated_account_is_401(api_as):
    client = api_as("mentor")
    client.get("/api/v1/rooms", status=200)
    row = db.session.scalar(select(ApiToken).where(ApiToken.user_id == client.user.id))
    revoke_token(client.user, row.id)
    db.session.commit()
    assert_problem(client.get("/api/v1/rooms", status=401), 401)

    other = api_as("mentor")
    other.user.is_active_account = False
    db.session.commit()
    assert_problem(other.get("/api/v1/rooms", status=401), 401)


def test_a_token_records_its_last_use_at_most_once_a_minute(api_as):
    client = api_as("student")
    client.get("/api/v1/rooms")
    row = db.session.scalar(select(ApiToken).where(ApiToken.user_id == client.user.id))
    first = row.last_used_at
    assert first is not None
    client.get("/api/v1/rooms")
    db.session.refresh(row)
    assert row.last_used_at == first
    row.last_used_at = datetime.now(UTC) - timedelta(minutes=5)
    db.session.commit()
    client.get("/api/v1/rooms")
    db.session.refresh(row)
    assert row.last_used_at > first


def test_a_login_cookie_alone_is_refused(app, web, login_as):
    login_as("coordinator")
    # The browser holds a logged-in session cookie; the API still wants a token.
    response = web.get("/api/v1/rooms", status=401)
    assert_problem(response, 401)
    response = web.post_json("/api/v1/generate", {"start": "2026-09-07", "weeks": 1}, status=401)
    assert_problem(response, 401)


def test_api_responses_set_no_cookie(api_as):
    client = api_as("coordinator")
    response = client.get("/api/v1/rooms")
    assert "Set-Cookie" not in response.headers
    response = client.post("/api/v1/generate", {"start": "2026-09-07", "weeks": 1})
    assert "Set-Cookie" not in response.headers


def test_writes_need_no_csrf_token(api_as):
    # A state-changing request with a token and no CSRF token or cookie at all succeeds.
    client = api_as("coordinator")
    response = client.post("/api/v1/generate", {"start": "2026-09-07", "weeks": 1}, status=200)
    assert response.json["created"] == 0


def test_the_wrong_role_is_403(api_as):
    for role in ("student", "mentor"):
        response = api_as(role).post(
            "/api/v1/generate", {"start": "2026-09-07", "weeks": 1}, status=403
        )
        assert_problem(response, 403)


# --- Problem details ----------------------------------------------------------------------------


def test_malformed_json_is_400(api_as):
    client = api_as("coordinator")
    for body in (b"{", b"{'start': 1}", b"\xff\xfe"):
        response = client.raw("POST", "/api/v1/generate", body, status=400)
        assert_problem(response, 400)


def test_schema_errors_are_422_with_a_message_per_field(api_as):
    client = api_as("coordinator")
    response = client.post(
        "/api/v1/generate",
        {"start": "2026-02-30", "weeks": "three", "force": "maybe", "status": "x"},
        status=422,
    )
    body = assert_problem(response, 422)
    assert set(body["errors"]) == {"start", "weeks", "force", "status"}
    assert all(isinstance(message, str) for message in body["errors"].values())
    assert body["type"] == "urn:termtable:problem:validation"


def test_query_errors_are_422_too(api_as):
    client = api_as("student")
    body = assert_problem(client.get("/api/v1/rooms?limit=0", status=422), 422, field="limit")
    assert_problem(client.get(f"/api/v1/rooms?limit={MAX_LIMIT + 1}", status=422), 422)
    assert_problem(client.get("/api/v1/rooms?limit=abc", status=422), 422)
    assert_problem(client.get("/api/v1/rooms?cursor=%%%", status=422), 422, field="cursor")
    assert body["status"] == 422


def test_service_errors_are_422_with_their_fields(api_as):
    client = api_as("coordinator")
    body = assert_problem(client.post("/api/v1/generate", {"start": "2026-09-07"}, status=422), 422)
    assert "weeks" in body["errors"]
    body = assert_problem(
        client.post("/api/v1/generate", {"start": "2026-09-07", "end": "2026-09-01"}, status=422),
        422,
    )
    assert "end" in body["errors"]


def test_unknown_paths_and_methods_are_problems(api_as, anonymous):
    client = api_as("student")
    assert_problem(client.get("/api/v1/nothing-here", status=404), 404)
    assert_problem(anonymous.get("/api/v1/nothing-here", status=404), 404)
    response = client.raw("PUT", "/api/v1/rooms", b"{}", status=405)
    assert_problem(response, 405)
    assert "GET" in response.headers["Allow"]
    assert_problem(client.get("/api/v1/sessions/abc", status=404), 404)
    assert_problem(client.get("/api/v1/sessions/-1", status=404), 404)
    assert_problem(client.get(f"/api/v1/sessions/{2**63}", status=404), 404)


def test_pages_keep_their_html_error_pages(web):
    response = web.get("/no-such-page", status=404)
    assert response.content_type == "text/html"
    response = web.get("/auth/logout", status=405)
    assert response.content_type == "text/html"


# --- Pagination ---------------------------------------------------------------------------------


def test_pages_follow_the_cursor_without_duplicates_or_gaps(api_as, make_room):
    names = [make_room(f"Room {i:02d}").name for i in range(7)]
    client = api_as("student")
    seen, url, pages = [], "/api/v1/rooms?limit=3", 0
    while url:
        response = client.get(url)
        pages += 1
        body = response.json
        seen += [room["name"] for room in body["items"]]
        if body["next"]:
            assert response.headers["Link"] == f'<{body["next"]}>; rel="next"'
            assert urlsplit(body["next"]).path == "/api/v1/rooms"
            url = body["next"]
        else:
            assert "Link" not in response.headers
            url = None
    assert pages == 3
    assert seen == sorted(names)


def test_the_cursor_is_stable_when_rows_are_added_meanwhile(api_as, make_room):
    for i in range(4):
        make_room(f"B{i}")
    client = api_as("student")
    first = client.get("/api/v1/rooms?limit=2").json
    assert [r["name"] for r in first["items"]] == ["B0", "B1"]
    make_room("A0")  # sorts before the cursor: must not shift the next page
    second = client.get(first["next"]).json
    assert [r["name"] for r in second["items"]] == ["B2", "B3"]
    assert second["next"] is None


def test_the_next_link_keeps_the_filters(api_as, make_room):
    for i in range(3):
        make_room(f"R{i}")
    make_room("Old", active=False)
    body = api_as("student").get("/api/v1/rooms?active=true&limit=2").json
    query = parse_qs(urlsplit(body["next"]).query)
    assert query["active"] == ["true"] and query["limit"] == ["2"] and query["cursor"]


def test_the_default_limit_is_50(api_as):
    db.session.add_all(Room(name=f"Room {i:03d}") for i in range(51))
    db.session.commit()
    body = api_as("student").get("/api/v1/rooms").json
    assert len(body["items"]) == 50 and body["next"]


# --- OpenAPI document ---------------------------------------------------------------------------


def test_the_openapi_document_is_served_without_a_token(anonymous):
    response = anonymous.get("/api/v1/openapi.json", status=200)
    spec = response.json
    assert spec["openapi"].startswith("3.")
    assert spec["info"]["title"] == "Termtable"
    assert spec["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "Personal API token",
    }
    assert spec["security"] == [{"bearerAuth": []}]


def _resolve(spec, node):
    while isinstance(node, dict) and "$ref" in node:
        parts = node["$ref"].removeprefix("#/").split("/")
        node = spec
        for part in parts:
            node = node[part]
    return node


def _refs(node):
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                yield value
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


def test_the_document_lists_every_api_route_with_its_schemas(app, anonymous):
    spec = anonymous.get("/api/v1/openapi.json").json
    routes = {}
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/v1/") and rule.endpoint.startswith("api_"):
            path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)
            for method in rule.methods - {"HEAD", "OPTIONS"}:
                routes[(path, method.lower())] = rule.endpoint
    assert len(routes) >= 20
    for (path, method), endpoint in routes.items():
        operation = spec["paths"][path][method]
        responses = operation["responses"]
        success = [code for code in responses if code.startswith("2")]
        assert success, (path, method)
        for code in success:
            if code != "204":
                content = _resolve(spec, responses[code])["content"]
                # A download answers the file itself, in its own type.
                expected = "*/*" if endpoint == "api_tracking.download" else "application/json"
                assert expected in content, (path, method, code)
        # Every error is documented as problem details.
        default = _resolve(spec, responses["default"])
        assert "application/problem+json" in default["content"], endpoint
        if method in ("post", "patch") and "requestBody" in operation:
            # An upload is multipart/form-data; every other body is JSON.
            expected = (
                "multipart/form-data" if endpoint == "api_tracking.upload" else ("application/json")
            )
            assert expected in operation["requestBody"]["content"], endpoint
    # Every reference resolves.
    for ref in set(_refs(spec)):
        assert _resolve(spec, {"$ref": ref}) is not None, ref


def test_the_document_describes_the_request_and_response_fields(anonymous):
    spec = anonymous.get("/api/v1/openapi.json").json
    schemas = spec["components"]["schemas"]
    session_list = spec["paths"]["/api/v1/sessions"]["get"]
    parameters = {p["name"]: p for p in session_list["parameters"]}
    assert parameters["start"]["required"] and parameters["end"]["required"]
    assert {"group", "room", "mentor", "student", "status", "limit", "cursor"} <= set(parameters)
    assert set(schemas["Session"]["properties"]) >= {"id", "date", "start", "end", "starts_at"}
    weekdays = schemas["SeriesCreate"]["properties"]["weekdays"]
    assert weekdays["items"]["enum"] == ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
    assert "weekdays" in schemas["SeriesCreate"]["required"]
    assert set(schemas["SessionPage"]["properties"]) == {"items", "next"}
    assert set(schemas["Problem"]["properties"]) >= {"type", "title", "status", "detail", "errors"}


# --- SQLite locking -----------------------------------------------------------------------------


def test_api_reads_take_the_write_lock_up_front(app):
    # The token check may write (its last use), so an API GET is not a read-only request.
    from models import _read_only_request

    with app.test_request_context("/api/v1/rooms"):
        assert request.endpoint == "api_timetable.list_rooms"
        assert _read_only_request() is False
    with app.test_request_context("/schedule/"):
        assert _read_only_request() is True


def test_password_is_not_an_api_credential(api_as, make_user):
    user = make_user("coordinator")
    client = api_as(user)
    response = client.web.get(
        "/api/v1/rooms", headers={"Authorization": f"Bearer {TEST_PASSWORD}"}, status=401
    )
    assert response.content_type == PROBLEM


def test_ids_no_integer_column_can_hold_are_404_or_422(api_as):
    # PostgreSQL refused to compare them with INTEGER ids (a 500); schemathesis found it.
    client = api_as("admin")
    for url in (
        "/api/v1/sessions/2147483648",
        "/api/v1/requests/2147483648",
        "/api/v1/notes/9223372036854775807",
        "/api/v1/attachments/2147483648",
        "/api/v1/sessions/2147483648/notes",
    ):
        assert_problem(client.get(url, status=404), 404)
    response = client.get("/api/v1/exceptions?group=2147483648", status=422)
    assert_problem(response, 422, field="group")
    response = client.post("/api/v1/sessions/2147483648/complete", {}, status=404)
    assert_problem(response, 404)
