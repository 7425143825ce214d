"""The API's sessions under cover: `mentor` names who teaches (the substitute), `cover` and
`covered_for` say for whom; the substitute reads and lists the sessions they cover, the
`mentor` filter finds them, and other mentors still find nothing. The school is
`covered_maths` (tests/conftest.py)."""

from __future__ import annotations


def range_query(**filters) -> str:
    query = "/api/v1/sessions?start=2027-03-08&end=2027-04-05"
    return query + "".join(f"&{k}={v}" for k, v in filters.items())


def test_a_covered_sessions_json_names_the_substitute_and_whom_they_cover(api_as, covered_maths):
    w = covered_maths
    for person in ("bob", "ada", "sam", "cora"):
        body = api_as(w[person]).get(f"/api/v1/sessions/{w['covered'].id}").json
        assert body["mentor"] == {"id": w["bob"].id, "name": "Bob Brown"}, person
        assert body["cover"] is True
        assert body["covered_for"] == {"id": w["ada"].id, "name": "Ada Lovelace"}
    own = api_as(w["sam"]).get(f"/api/v1/sessions/{w['own'].id}").json
    assert own["mentor"]["name"] == "Ada Lovelace"
    assert own["cover"] is False and own["covered_for"] is None
    api_as(w["cleo"]).get(f"/api/v1/sessions/{w['covered'].id}", status=404)
    api_as(w["bob"]).get(f"/api/v1/sessions/{w['own'].id}", status=404)


def test_the_substitute_lists_the_sessions_they_cover_and_the_mentor_filter_finds_them(
    api_as, covered_maths
):
    w = covered_maths
    covered = [w["past"].id, w["covered"].id, w["moved"].id]
    mine = api_as(w["bob"]).get(range_query()).json["items"]
    assert [s["id"] for s in mine] == covered
    assert {s["mentor"]["name"] for s in mine} == {"Bob Brown"}
    # The substitute is the session's mentor: told of its conflicts (none here).
    assert {s["conflict"] for s in mine} == {False}
    staff = api_as(w["cora"])
    by_bob = staff.get(range_query(mentor=w["bob"].id)).json["items"]
    assert [s["id"] for s in by_bob] == covered
    # The group's mentor's: her own and those covered for her (marked).
    by_ada = staff.get(range_query(mentor=w["ada"].id)).json["items"]
    assert [(s["id"], s["cover"]) for s in by_ada] == [
        *((i, True) for i in covered),
        (w["own"].id, False),
    ]
    assert staff.get(range_query(mentor=w["cleo"].id)).json["items"] == []


def test_the_schema_documents_cover(api_as):
    document = api_as("coordinator").get("/api/v1/openapi.json").json
    properties = document["components"]["schemas"]["Session"]["properties"]
    assert properties["cover"]["type"] == "boolean"
    assert "substitute" in properties["mentor"]["description"]
    assert "covers for" in properties["covered_for"]["description"]
