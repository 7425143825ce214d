"""Closures over JSON (staff): added (the sessions on their days cancelled, listed in the
answer), listed, read, removed (they come back); bad input is a problem+json naming the field."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from models import Closure, Occurrence, db
from tests.api.conftest import MONDAY, PROBLEM


def statuses() -> list[str]:
    db.session.expire_all()
    return [str(s) for s in db.session.scalars(select(Occurrence.status).order_by("start_utc"))]


def test_a_closure_added_and_removed_over_json(api_as, maths_class):
    client = api_as("coordinator")
    body = {
        "name": "Snow day",
        "kind": "closed",
        "first_day": MONDAY.isoformat(),
        "last_day": MONDAY.isoformat(),
    }
    created = client.post("/api/v1/closures", body, status=201)
    closure = created.json
    assert created.headers["Location"].endswith(f"/api/v1/closures/{closure['id']}")
    assert (closure["whole_school"], closure["kind"], closure["groups"]) == (True, "closed", [])
    assert len(closure["cancelled"]) == 1 and closure["kept"] == []
    assert statuses() == ["cancelled", "scheduled"]

    listed = client.get("/api/v1/closures", {"start": MONDAY.isoformat()}).json
    assert [c["name"] for c in listed["items"]] == ["Snow day"] and listed["next"] is None
    assert client.get(f"/api/v1/closures/{closure['id']}").json["last_day"] == MONDAY.isoformat()

    client.delete(f"/api/v1/closures/{closure['id']}", status=204)
    assert statuses() == ["scheduled", "scheduled"]
    assert db.session.scalar(select(Closure.id)) is None
    client.get(f"/api/v1/closures/{closure['id']}", status=404)


def test_a_closure_of_some_groups_and_bad_input(api_as, maths_class):
    client = api_as("coordinator")
    group_id = maths_class["group"].id
    later = (MONDAY + timedelta(days=7)).isoformat()
    created = client.post(
        "/api/v1/closures",
        {"name": "Trip", "first_day": later, "last_day": later, "groups": [group_id]},
        status=201,
    ).json
    assert created["whole_school"] is False
    assert [g["id"] for g in created["groups"]] == [group_id]

    before = statuses()
    refused = client.post(
        "/api/v1/closures",
        {"name": "Back", "first_day": later, "last_day": MONDAY.isoformat()},
        status=422,
    )
    assert refused.content_type == PROBLEM
    assert "The last day cannot be before the first day." in refused.text
    refused = client.post(
        "/api/v1/closures",
        {"name": "Nobody", "first_day": later, "last_day": later, "groups": []},
        status=422,
    )
    assert "Choose the groups it closes" in refused.text
    assert statuses() == before
    assert len(db.session.scalars(select(Closure.id)).all()) == 1
