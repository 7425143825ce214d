"""The group page's "Add several students" panel (paste or pick, preview, enrol the ticked)
and moving ticked students to another group: with htmx in place and as plain forms."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from models import Notification, db
from tests.conftest import csrf_token_of

PARTIAL = {"HX-Request": "true", "HX-Request-Type": "partial"}


@pytest.fixture
def school(make_user, make_group):
    people = {
        "ada": make_user("student", name="Ada Lovelace", email="ada@school.test"),
        "bob": make_user("student", name="Bob Stone", email="bob@school.test"),
        "cy": make_user("student", name="Cy Young", email="cy@school.test"),
    }
    group = make_group("Maths 7A", students=[people["cy"]])
    other = make_group("Art 7B", students=[people["ada"], people["bob"]])
    return {"group": group, "other": other, **people}


def roster(group) -> list[str]:
    db.session.expire_all()
    return sorted(e.student.name for e in group.enrolments)


def hx(web, url, params, **kwargs):
    token = csrf_token_of(web.get("/manage/"))
    return web.post(url, params, headers={**PARTIAL, "X-CSRFToken": token}, **kwargs)


def test_paste_preview_then_enrol_the_ticked_in_place(web, login_as, school):
    login_as("coordinator")
    group = school["group"]
    base = f"/manage/groups/{group.id}/enrolments"
    preview = hx(
        web, f"{base}/preview", {"entries": "ADA@school.test; cy@school.test\nnobody@x.test"}
    )
    assert preview.status_int == 200
    panel = preview.html.select_one("details#bulk-enrol")
    assert panel is not None and panel.has_attr("open")
    rows = [" ".join(r.text.split()) for r in panel.select("#bulk-plan tbody tr")]
    assert rows == [
        "1 ADA@school.test Enrol Ada Lovelace (ada@school.test)",
        "1 cy@school.test Already in Cy Young: already in Maths 7A",
        "2 nobody@x.test Refused no account has this e-mail",
    ]
    assert "line 2" in panel.select_one("#bulk-refused").text
    ticked = [i["value"] for i in panel.select("#bulk-apply input[name=student]")]
    assert ticked == [str(school["ada"].id)]
    assert roster(group) == ["Cy Young"]  # a preview writes nothing

    done = hx(web, f"{base}/bulk", {"student": ticked})
    assert done.status_int == 200
    assert done.html.select_one("section#students") is not None
    toast = json.loads(done.headers["HX-Trigger"])["toast"]["message"]
    assert toast == "1 student enrolled in Maths 7A: Ada Lovelace."
    assert "Ada Lovelace" in done.html.select_one("#enrolments-table").text
    assert roster(group) == ["Ada Lovelace", "Cy Young"]
    told = db.session.scalars(
        select(Notification.title).where(Notification.user_id == school["ada"].id)
    ).all()
    assert told == ["You are now in Maths 7A"]


def test_without_javascript_the_same_steps_are_pages(web, login_as, school):
    login_as("coordinator")
    group = school["group"]
    page = web.get(f"/manage/groups/{group.id}")
    form = page.forms["bulk-enrol-form"]
    form["entries"] = "Bob Stone\nada@school.test"
    preview = form.submit()
    assert preview.status_int == 200 and "<html" in preview.text
    assert preview.html.select_one("details#bulk-enrol").has_attr("open")
    apply = preview.forms["bulk-apply"]
    apply.get("student", index=0).checked = False  # Bob unticked: only Ada is enrolled
    done = apply.submit()
    assert done.status_int == 302
    page = done.follow()
    assert "1 student enrolled in Maths 7A: Ada Lovelace." in page.text
    assert roster(group) == ["Ada Lovelace", "Cy Young"]


def test_an_empty_paste_is_refused_next_to_the_box(web, login_as, school):
    login_as("coordinator")
    response = hx(
        web, f"/manage/groups/{school['group'].id}/enrolments/preview", {"entries": " \n"},
        status=422,
    )  # fmt: skip
    assert response.html.select_one("#bulk-entries-error").text == (
        "Paste at least one e-mail or name."
    )
    assert response.html.select_one("#bulk-entries")["aria-invalid"] == "true"


def test_pick_students_from_another_group(web, login_as, school):
    login_as("coordinator")
    group, other = school["group"], school["other"]
    picked = web.get(
        f"/manage/groups/{group.id}/enrolments/pick?from_group={other.id}", headers=PARTIAL
    )
    assert picked.html.select_one("div#pick-students") is not None
    names = [" ".join(x.text.split()) for x in picked.html.select("#pick-form label")]
    assert names == ["Ada Lovelace ada@school.test", "Bob Stone bob@school.test"]
    # Without JavaScript the same list is on the group page.
    plain = web.get(f"/manage/groups/{group.id}/enrolments/pick?from_group={other.id}")
    assert plain.status_int == 302
    page = plain.follow()
    assert page.html.select_one("#pick-form") is not None
    preview = page.forms["pick-form"].submit()
    entries = [" ".join(r.text.split()) for r in preview.html.select("#bulk-plan tbody tr")]
    assert entries[0].startswith("1 Ada Lovelace <ada@school.test> Enrol Ada Lovelace")
    preview.forms["bulk-apply"].submit().follow()
    assert roster(group) == ["Ada Lovelace", "Bob Stone", "Cy Young"]
    assert roster(other) == ["Ada Lovelace", "Bob Stone"]  # picking copies, never moves


def test_an_enrolment_refused_on_apply_enrols_nobody(web, login_as, school, make_user):
    login_as("coordinator")
    mentor = make_user("mentor", name="Mo Mentor")
    group = school["group"]
    response = hx(
        web, f"/manage/groups/{group.id}/enrolments/bulk",
        {"student": [str(school["ada"].id), str(mentor.id)]}, status=422,
    )  # fmt: skip
    message = response.html.select_one("#bulk-error").text
    assert message.startswith("Nothing was enrolled:")
    assert "Mo Mentor is a mentor, not a student" in message
    assert roster(group) == ["Cy Young"]


def test_move_ticked_students_to_another_group(web, login_as, school):
    login_as("coordinator")
    group, other = school["group"], school["other"]
    page = web.get(f"/manage/groups/{other.id}")
    boxes = page.html.select('input[type=checkbox][form="move-students"]')
    assert [b["value"] for b in boxes] == [str(school["ada"].id), str(school["bob"].id)]
    response = hx(
        web, f"/manage/groups/{other.id}/enrolments/move",
        {"student": [str(school["ada"].id)], "to_group": str(group.id)},
    )  # fmt: skip
    assert response.status_int == 200
    assert response.html.select_one("section#students") is not None
    toast = json.loads(response.headers["HX-Trigger"])["toast"]["message"]
    assert toast == "1 moved from Art 7B to Maths 7A: Ada Lovelace."
    assert roster(other) == ["Bob Stone"]
    assert roster(group) == ["Ada Lovelace", "Cy Young"]
    told = db.session.scalars(
        select(Notification.title).where(Notification.user_id == school["ada"].id)
    ).all()
    assert told == ["You moved from Art 7B to Maths 7A"]


def test_a_move_without_a_group_or_students_says_what_is_missing(web, login_as, school):
    login_as("coordinator")
    other = school["other"]
    url = f"/manage/groups/{other.id}/enrolments/move"
    no_group = hx(web, url, {"student": [str(school["ada"].id)], "to_group": ""}, status=422)
    assert no_group.html.select_one("#move-to-error").text == "Choose the group to move them to."
    nobody = hx(web, url, {"to_group": str(school["group"].id)}, status=422)
    assert nobody.html.select_one("#move-to-error").text == "Tick the students to move."
    # Plain form: the group page with the message.
    page = web.get(f"/manage/groups/{other.id}")
    form = page.forms["move-students"]
    response = form.submit(status=422)
    assert "Choose the group to move them to." in response.html.select_one("#move-to-error").text
    assert roster(other) == ["Ada Lovelace", "Bob Stone"]


def test_groups_are_typed_not_listed_and_a_typed_name_is_enough_without_javascript(
    web, login_as, school
):
    login_as("coordinator")
    group, other = school["group"], school["other"]
    page = web.get(f"/manage/groups/{other.id}")
    assert page.html.select("select[name=to_group], select[name=from_group]") == []
    picked = web.get(f"/manage/groups/{group.id}?from_group_q={other.name.upper()}")
    assert "Ada Lovelace" in picked.html.find(id="pick-students").text
    unknown = web.get(f"/manage/groups/{group.id}?from_group_q=Nowhere")
    assert "Nowhere" in unknown.html.find(id="pick-group-error").text
    form = page.forms["move-students"]
    form["student"] = [str(school["ada"].id)]
    form["to_group_q"] = group.name
    form.submit().follow()
    assert "Ada Lovelace" in roster(group)
