"""The OpenAPI document as a third-party client reads it: openapi-python-client generates a
Python package from the app's own /api/v1/openapi.json, and that package, talking to the app
over WSGI, reads real answers (`session.room.name`, an online session's `room` as None)."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest

from models import db
from services.timetable.exceptions import find_occurrence
from services.timetable.generation import generate_occurrences
from tests.api.conftest import MONDAY
from tests.conftest import browser

PARIS = ZoneInfo("Europe/Paris")
PACKAGE = "termtable_generated_client"
GENERATOR = Path(sys.executable).with_name("openapi-python-client")


@pytest.fixture(scope="module")
def generated(app, tmp_path_factory):
    """The client package generated from the app's document, imported."""
    root = tmp_path_factory.mktemp("generated")
    document = root / "openapi.json"
    document.write_text(json.dumps(browser(app).get("/api/v1/openapi.json").json))
    config = root / "config.json"
    config.write_text(json.dumps({"package_name_override": PACKAGE, "post_hooks": []}))
    command = [GENERATOR, "generate", "--path", document, "--meta", "none", "--config", config]
    run = subprocess.run(
        [*command, "--output-path", root / PACKAGE],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    sys.path.insert(0, str(root))
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(root))
        for name in [m for m in sys.modules if m == PACKAGE or m.startswith(PACKAGE + ".")]:
            del sys.modules[name]


def client_of(generated, app, token):
    """The generated package's own client, with the app as its transport."""
    return generated.AuthenticatedClient(
        base_url="http://localhost",
        token=token,
        raise_on_unexpected_status=True,
        httpx_args={"transport": httpx.WSGITransport(app=app)},
    )


def test_every_nullable_reference_is_a_typed_reference_or_null(web):
    """`room`, `decided_by`, `uploader`...: `allOf: [$ref]` with `nullable: true`, never an
    anonymous object a generator must guess about."""
    schemas = web.get("/api/v1/openapi.json").json["components"]["schemas"]
    nullable_refs = {}
    for name, schema in schemas.items():
        for prop, spec in schema.get("properties", {}).items():
            assert "anyOf" not in spec, (name, prop, spec)
            if spec.get("nullable") and "allOf" in spec:
                nullable_refs[f"{name}.{prop}"] = spec["allOf"]
    for prop in (
        "Session.room",
        "SessionDetail.room",
        "Series.room",
        "Group.default_room",
        "Exception.room",
        "Request.group",
        "Request.decided_by",
        "Completion.completed_by",
        "Note.author",
        "Attachment.uploader",
    ):
        assert nullable_refs[prop] == [{"$ref": "#/components/schemas/Ref"}], prop


def test_a_generated_client_reads_the_room_of_a_session_and_null_for_an_online_one(
    app, generated, api_as, make_group, make_room, make_series
):
    room = make_room("Room 101")
    in_person = make_series(make_group("Maths", room=room), first_date=MONDAY)
    online = make_series(make_group("Physics"), first_date=MONDAY, room=None, mode="online")
    generate_occurrences(MONDAY, MONDAY + timedelta(weeks=1), tz=PARIS)
    db.session.commit()
    taught = find_occurrence(in_person.id, MONDAY)
    remote = find_occurrence(online.id, MONDAY)
    client = client_of(generated, app, api_as("coordinator").token)
    sessions = importlib.import_module(PACKAGE + ".api.api_timetable")

    detail = importlib.import_module(sessions.__name__ + ".get_api_v1_sessions_occurrence_id").sync(
        taught.id, client=client
    )
    assert type(detail).__name__ == "SessionDetail"
    assert detail.room.name == "Room 101"
    assert detail.room.id == room.id

    page = importlib.import_module(sessions.__name__ + ".get_api_v1_sessions").sync(
        client=client, start=MONDAY, end=MONDAY + timedelta(days=7)
    )
    rooms = {item.id: item.room for item in page.items}
    assert rooms[taught.id].name == "Room 101"
    assert rooms[remote.id] is None
