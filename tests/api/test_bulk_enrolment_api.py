"""POST /api/v1/groups/{id}/enrolments: many students at once by e-mail or name, all or
nothing, a dry run that only plans, and the document that describes it."""

from __future__ import annotations

import pytest

from models import db
from tests.api.conftest import PROBLEM


@pytest.fixture
def school(make_user, make_group):
    ada = make_user("student", name="Ada Lovelace", email="ada@school.test")
    bob = make_user("student", name="Bob Stone", email="bob@school.test")
    make_user("mentor", name="Mo Mentor", email="mo@school.test")
    return {"group": make_group("Maths 7A", students=[bob]), "ada": ada, "bob": bob}


def roster(group) -> list[str]:
    db.session.expire_all()
    return sorted(e.student.name for e in group.enrolments)


def test_enrol_by_email_and_name(api_as, school):
    api = api_as("coordinator")
    url = f"/api/v1/groups/{school['group'].id}/enrolments"
    body = api.post(url, {"students": ["ADA@school.test", "Bob Stone"]}).json
    assert [s["name"] for s in body["enrolled"]] == ["Ada Lovelace"]
    assert [s["name"] for s in body["already"]] == ["Bob Stone"]
    assert [(e["position"], e["outcome"]) for e in body["entries"]] == [
        (1, "enrol"),
        (2, "already"),
    ]
    assert roster(school["group"]) == ["Ada Lovelace", "Bob Stone"]


def test_a_refused_entry_enrols_nobody_and_a_dry_run_only_plans(api_as, school):
    api = api_as("coordinator")
    url = f"/api/v1/groups/{school['group'].id}/enrolments"
    refused = api.post(url, {"students": ["ada@school.test", "mo@school.test, x"]}, status=422)
    assert refused.content_type == PROBLEM
    assert refused.json["errors"] == {
        "students.1": "mo@school.test, x: not a valid e-mail address"
    }  # an item is one entry: commas inside it are not separators
    plan = api.post(url, {"students": ["ada@school.test", "mo@school.test"], "dry_run": True})
    assert [(e["outcome"], e["reason"]) for e in plan.json["entries"]] == [
        ("enrol", ""),
        ("refused", "Mo Mentor is a mentor, not a student"),
    ]
    assert roster(school["group"]) == ["Bob Stone"]
    for bad in ({"students": []}, {"students": "ada@school.test"}, {"students": [1]}):
        assert api.post(url, bad, status=422).content_type == PROBLEM


def test_the_openapi_document_describes_it(api_as):
    document = api_as("coordinator").get("/api/v1/openapi.json").json
    operation = document["paths"]["/api/v1/groups/{group_id}/enrolments"]["post"]
    text = " ".join([operation.get("summary", ""), operation.get("description", "")])
    assert "all or nothing" in " ".join(text.split())
    assert operation["responses"]["200"]
