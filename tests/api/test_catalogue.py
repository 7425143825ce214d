"""GET /rooms, /subjects, /groups, /groups/{id}: who sees what."""

from __future__ import annotations

from tests.api.conftest import assert_problem


def test_rooms_are_listed_by_name_for_every_role(api_as, make_room):
    make_room("Lab 2", capacity=12)
    make_room("Lab 1")
    make_room("Attic", active=False)
    for role in ("admin", "coordinator", "mentor", "student"):
        body = api_as(role).get("/api/v1/rooms").json
        assert [r["name"] for r in body["items"]] == ["Attic", "Lab 1", "Lab 2"]
        assert body["next"] is None
    body = api_as("student").get("/api/v1/rooms?active=false").json
    assert body["items"] == [
        {"id": body["items"][0]["id"], "name": "Attic", "capacity": None, "active": False}
    ]
    body = api_as("student").get("/api/v1/rooms?active=true").json
    assert [r["capacity"] for r in body["items"]] == [None, 12]


def test_subjects_are_listed(api_as, make_group):
    make_group(subject="Physics")
    make_group(subject="Algebra")
    body = api_as("mentor").get("/api/v1/subjects").json
    assert [(s["name"], s["active"]) for s in body["items"]] == [
        ("Algebra", True),
        ("Physics", True),
    ]


def test_staff_see_every_group_mentors_theirs_students_their_own(api_as, make_group, make_user):
    mentor, student = make_user("mentor"), make_user("student")
    taught = make_group("Maths 7A", mentor=mentor)
    attended = make_group("Physics 8B", students=[student])
    make_group("History 9C", active=False)

    def names(client, query=""):
        return [g["name"] for g in client.get("/api/v1/groups" + query).json["items"]]

    assert names(api_as("coordinator")) == ["History 9C", "Maths 7A", "Physics 8B"]
    assert names(api_as("coordinator"), "?active=true") == ["Maths 7A", "Physics 8B"]
    assert names(api_as(mentor)) == ["Maths 7A"]
    assert names(api_as(student)) == ["Physics 8B"]
    assert names(api_as("student")) == []
    assert names(api_as("admin"), f"?mentor={mentor.id}") == ["Maths 7A"]
    assert names(api_as("admin"), f"?subject={attended.subject_id}") == ["Physics 8B"]
    item = api_as(mentor).get("/api/v1/groups").json["items"][0]
    assert item == {
        "id": taught.id,
        "name": "Maths 7A",
        "kind": "class",
        "active": True,
        "subject": {"id": taught.subject_id, "name": taught.subject.name},
        "mentor": {"id": mentor.id, "name": mentor.name},
        "default_room": {"id": taught.default_room_id, "name": taught.default_room.name},
    }


def test_a_group_shows_its_series_and_to_staff_and_its_mentor_its_students(
    api_as, make_series, make_group, make_user
):
    mentor, student = make_user("mentor"), make_user("student")
    group = make_group("Maths 7A", mentor=mentor, students=[student])
    series = make_series(group, weekdays=(0, 2))
    for client in (api_as("coordinator"), api_as(mentor)):
        body = client.get(f"/api/v1/groups/{group.id}").json
        assert [s["id"] for s in body["series"]] == [series.id]
        assert body["series"][0]["weekdays"] == ["mon", "wed"]
        assert body["students"] == [{"id": student.id, "name": student.name}]
    body = api_as(student).get(f"/api/v1/groups/{group.id}").json
    assert body["students"] is None and body["series"][0]["start"] == "10:00"


def test_another_users_group_or_an_unknown_one_is_404(api_as, make_group):
    group = make_group()
    for client in (api_as("student"), api_as("mentor")):
        assert_problem(client.get(f"/api/v1/groups/{group.id}", status=404), 404)
    assert_problem(api_as("admin").get("/api/v1/groups/999999", status=404), 404)
    assert_problem(api_as("admin").get("/api/v1/groups/0", status=404), 404)
