"""Form errors: every form, one wrong field, submitted as the page would.

Each row fills every field with a plausible value, makes exactly one wrong, and checks: the
status (422, or 409 for conflicts); the message next to the field (`aria-invalid` and an
`aria-describedby` pointing at the message); every other field still showing what was typed
(passwords and files excepted: they are never sent back); for htmx forms, the form's fragment
(its root id is the form's or its target's id), not a page; and no write to the database.
Forms whose errors are tested in their own modules (request new/reject, rating, notes kind and
body, attachments file, completion end-before-start) are left out of the table.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from models import DateOverride, Occurrence, db
from services.common.timeutil import week_start
from services.timetable.generation import generate_occurrences
from tests.conftest import PINNED_TODAY

PARIS = ZoneInfo("Europe/Paris")
TODAY = PINNED_TODAY

# Dates are constants of the module: its clock is pinned, so they never go stale.
pytestmark = pytest.mark.usefixtures("pinned_clock")
MONDAY = week_start(TODAY) + timedelta(weeks=2)
NEXT = (MONDAY + timedelta(days=2)).isoformat()
HX = {"HX-Request": "true", "HX-Request-Type": "partial"}


def snapshot() -> dict:
    db.session.rollback()
    snap = {
        t.name: sorted(map(repr, db.session.execute(sa.select(t)).all()))
        for t in db.metadata.sorted_tables
    }
    db.session.rollback()
    return snap


def one_time(group, day=MONDAY, start=time(10), end=time(11)) -> Occurrence:
    occurrence = Occurrence(
        group_id=group.id,
        start_utc=datetime.combine(day, start, tzinfo=PARIS).astimezone(UTC),
        end_utc=datetime.combine(day, end, tzinfo=PARIS).astimezone(UTC),
        room_id=group.default_room_id,
    )
    db.session.add(occurrence)
    db.session.commit()
    return occurrence


def series_occurrence(f) -> Occurrence:
    series = f.make_series(f.make_group(), weekdays=(0,), first_date=MONDAY)
    generate_occurrences(MONDAY, MONDAY + timedelta(weeks=1), tz=PARIS)
    db.session.commit()
    return db.session.scalar(sa.select(Occurrence).where(Occurrence.series_id == series.id))


def an_exception(f) -> DateOverride:
    series = f.make_series(f.make_group(), weekdays=(0,), first_date=MONDAY)
    override = DateOverride(series_id=series.id, original_date=MONDAY, cancelled=True, notes="")
    db.session.add(override)
    db.session.commit()
    return override


# ---- the rows: setup(f) -> (url, form id or action, fill, (bad name, bad value), htmx) ----


def room_create(f):
    return "/manage/rooms", "room-form", {"name": "Lab 9", "capacity": "24", "active": False}


def room_edit(f):
    room = f.make_room("Lab 1")
    return f"/manage/rooms/{room.id}/edit", "room-edit-form", {"name": "Lab 2b", "active": False}


def subject_edit(f):
    group = f.make_group()
    return f"/manage/subjects/{group.subject_id}/edit", "subject-edit-form", {"active": False}


def group_fields(f):
    mentor, room = f.make_user("mentor"), f.make_room("Lab 7")
    subject = f.make_group(mentor=mentor).subject_id
    return {
        "name": "Physics 9",
        "subject": str(subject),
        "mentor": str(mentor.id),
        "default_room": str(room.id),
        "active": False,
    }


def series_fields(f):
    room = f.make_room("Lab 8")
    return {
        "weekdays": ["1", "3"],
        "every_weeks": "2",
        "start_time": "16:00",
        "end_time": "17:30",
        "room": str(room.id),
        "mode": "online",
        "first_date": MONDAY.isoformat(),
        "last_date": (MONDAY + timedelta(weeks=10)).isoformat(),
    }


def session_fields(f, group=None):
    room = f.make_room("Lab 5")
    fields = {
        "date": NEXT,
        "start": "14:00",
        "end": "15:30",
        "room_q": room.name,  # typed (with suggestions)
        "mode": "online",
        "title": "Revision",
    }
    if group is not None:
        fields["group_q"] = group.name
    return fields


def exception_fields(f):
    room = f.make_room("Lab 6")
    return {
        "action": "override",
        "new_date": NEXT,
        "start_time": "15:00",
        "end_time": "16:00",
        "room_q": room.name,  # typed (with suggestions)
        "notes": "Trip",
    }


def _new_group(f):
    return ("/manage/groups/new", "group-form", group_fields(f))


def _edit_group(f):
    group = f.make_group()
    return (f"/manage/groups/{group.id}/edit", "group-form", group_fields(f))


def _series_create(f):
    group = f.make_group()
    return (f"/manage/groups/{group.id}", "series-form", series_fields(f))


def _series_edit(f):
    series = f.make_series()
    return (f"/manage/series/{series.id}/edit", "series-edit-form", series_fields(f))


def _series_row(f):
    series = f.make_series()
    return (
        f"/manage/series/{series.id}/edit",
        f"/manage/series/{series.id}/edit",
        series_fields(f),
    )


def _series_end(f):
    series = f.make_series()
    return (f"/manage/groups/{series.group_id}", f"/manage/series/{series.id}/end", {})


def _user_create(f):
    return (
        "/manage/users",
        "user-form",
        {"email": "ada@school.test", "name": "Ada", "role": "mentor"},
    )


def _user_edit(f):
    user = f.make_user("student")
    return (f"/manage/users/{user.id}", "user-edit-form", {"role": "mentor"})


def _user_row(f):
    user = f.make_user("student")
    return (f"/manage/users/{user.id}/edit", f"/manage/users/{user.id}/edit", {"role": "mentor"})


def _password(f):
    user = f.make_user("student")
    return (f"/manage/users/{user.id}", "password-form", {})


def _room_row(f):
    room = f.make_room("Lab 1")
    return (
        f"/manage/rooms/{room.id}/edit",
        f"/manage/rooms/{room.id}/edit",
        {"name": "Lab 2b", "active": False},
    )


def _subject_row(f):
    group = f.make_group()
    url = f"/manage/subjects/{group.subject_id}/edit"
    return (url, url, {"active": False})


def _session_new(f):
    return ("/sessions/new", "new-session-form", session_fields(f, f.make_group()))


def _session_edit(f):
    occ = one_time(f.make_group())
    return (f"/sessions/{occ.id}/edit", "session-edit-form", session_fields(f))


def _session_edit_series(f):
    occ = series_occurrence(f)
    fields = session_fields(f)
    del fields["mode"], fields["title"]
    fields["notes"] = "Moved for the trip"
    return (f"/sessions/{occ.id}/edit", "session-edit-form", fields)


def _session_cancel(f):
    occ = one_time(f.make_group())
    return (f"/sessions/{occ.id}/cancel", f"cancel-form-{occ.id}", {})


def _grid_editor(f):
    occ = series_occurrence(f)
    fields = exception_fields(f)  # the room typed (its id is set by a picked suggestion)
    return (f"/schedule/sessions/{occ.id}/editor", f"session-card-{occ.id}", fields)


def _exception_add(f):
    series = f.make_series(f.make_group(), weekdays=(0,), first_date=MONDAY)
    fields = {"series_q": series.group.name, "original_date": MONDAY.isoformat()}
    return ("/timetable/exceptions", "exception-form", {**fields, **exception_fields(f)})


def _exception_edit(f):
    override = an_exception(f)
    url = f"/timetable/exceptions/{override.id}/edit"
    return (url, "exception-edit-form", exception_fields(f))


def _exception_row(f):
    override = an_exception(f)
    url = f"/timetable/exceptions/{override.id}/edit"
    return (url, url, exception_fields(f))


def _generate(f):
    fields = {"start": MONDAY.isoformat(), "span": "weeks", "weeks": "6", "force": True}
    return ("/timetable/generate", "generate-form", fields)


def _completion(f, verb="complete"):
    occ = one_time(f.make_group(mentor=f.user), day=TODAY - timedelta(days=2))
    fields = {
        "completion-actual_start": "10:05",
        "completion-actual_end": "11:00",
        "completion-code": "ABC123",
        "completion-notes": "Fractions",
    }
    return (f"/tracking/sessions/{occ.id}/{verb}", f"completion-form-{occ.id}", fields)


def _tracking_cancel(f):
    occ = one_time(f.make_group(mentor=f.user), day=TODAY)
    return (f"/tracking/sessions/{occ.id}/completion", f"/tracking/sessions/{occ.id}/cancel", {})


def _note_edit(f):
    occ = one_time(f.make_group(mentor=f.user))
    from services.tracking.notes import add_note

    note = add_note(f.user, occ, kind="general", body="Bring rulers")
    db.session.commit()
    return (f"/notes/{note.id}/edit", f"note-{note.id}-edit-form", {"kind": "issue"})


def _staff_feed(f):
    group = f.make_group()
    return ("/profile/", "staff-feed-form", {"group_q": group.name})  # typed, with suggestions


def _token(f):
    return ("/profile/", "token-form", {})


def _login(f):
    return ("/auth/login", "/auth/login", {"password": "whatever"})


# name, role, setup, (bad field, bad value), htmx, expected status
CASES = [
    ("login", None, _login, ("email", ""), False, 422),
    ("room create", "coordinator", room_create, ("capacity", "lots"), False, 422),
    ("room create name", "coordinator", room_create, ("name", ""), False, 422),
    ("room edit page", "coordinator", room_edit, ("capacity", "-3"), False, 422),
    ("room edit row", "coordinator", _room_row, ("capacity", "lots"), True, 422),
    (
        "subject create",
        "coordinator",
        lambda f: ("/manage/subjects", "subject-form", {"active": False}),
        ("name", ""),
        False,
        422,
    ),
    ("subject edit page", "coordinator", subject_edit, ("name", ""), False, 422),
    ("subject edit row", "coordinator", _subject_row, ("name", ""), True, 422),
    ("group new", "coordinator", _new_group, ("name", ""), False, 422),
    ("group edit", "coordinator", _edit_group, ("name", ""), False, 422),
    ("series create", "coordinator", _series_create, ("every_weeks", "often"), True, 422),
    ("series create end<start", "coordinator", _series_create, ("end_time", "15:00"), True, 422),
    ("series edit page", "coordinator", _series_edit, ("first_date", "soon"), False, 422),
    ("series edit row", "coordinator", _series_row, ("start_time", "25:99"), True, 422),
    ("series end", "coordinator", _series_end, ("last_date", "someday"), True, 422),
    ("user create", "coordinator", _user_create, ("email", "not-an-address"), False, 422),
    ("user edit page", "coordinator", _user_edit, ("name", ""), False, 422),
    ("user edit row", "coordinator", _user_row, ("name", ""), True, 422),
    ("user password", "coordinator", _password, ("password", "short"), False, 422),
    ("session new", "coordinator", _session_new, ("date", "soon"), False, 422),
    ("session new inline", "coordinator", _session_new, ("end", ""), True, 422),
    ("session new group", "coordinator", _session_new, ("group_q", "Attic"), False, 422),
    ("session new room inline", "coordinator", _session_new, ("room_q", "Attic"), True, 422),
    ("session edit room", "coordinator", _session_edit, ("room_q", "Attic"), False, 422),
    ("session edit page", "coordinator", _session_edit, ("start", "25:99"), False, 422),
    ("session edit inline", "coordinator", _session_edit, ("title", "x" * 300), True, 422),
    ("session edit series date", "coordinator", _session_edit_series, ("end", ""), True, 422),
    ("session cancel page", "coordinator", _session_cancel, ("reason", ""), False, 422),
    ("session cancel inline", "coordinator", _session_cancel, ("reason", ""), True, 422),
    ("grid exception editor", "coordinator", _grid_editor, ("new_date", "soonish"), True, 422),
    ("grid editor unknown room", "coordinator", _grid_editor, ("room_q", "Attic"), True, 422),
    ("grid editor room, no JS", "coordinator", _grid_editor, ("room_q", "Attic"), False, 422),
    ("exceptions add", "coordinator", _exception_add, ("original_date", ""), False, 422),
    ("exceptions add series", "coordinator", _exception_add, ("series_q", "Attic"), False, 422),
    ("exceptions add room", "coordinator", _exception_add, ("room_q", "Attic"), False, 422),
    ("exception edit room", "coordinator", _exception_row, ("room_q", "Attic"), True, 422),
    ("exception edit page", "coordinator", _exception_edit, ("start_time", "9h"), False, 422),
    ("exception edit row", "coordinator", _exception_row, ("new_date", "x"), True, 422),
    ("generate", "coordinator", _generate, ("weeks", "200"), True, 422),
    ("completion", "mentor", _completion, ("completion-actual_start", ""), True, 422),
    ("completion page", "mentor", _completion, ("completion-code", "x" * 200), False, 422),
    ("tracking cancel", "mentor", _tracking_cancel, ("reason", ""), True, 422),
    ("note edit", "mentor", _note_edit, ("body", ""), True, 422),
    ("profile staff feed", "coordinator", _staff_feed, ("room_q", "Attic"), False, 422),
    ("profile token", "coordinator", _token, ("label", "x" * 81), False, 422),
]


class Fixtures:
    def __init__(self, **kw):
        self.__dict__.update(kw)


def find_form(page, key):
    for form in page.forms.values():
        if form.id == key or form.action == key:
            return form
    raise AssertionError(f"no form {key} in {page.request.url}")


def resolve(form, name):
    """The field's real name: some forms prefix theirs (`new-name`, `completion-code`)."""
    if name in form.fields:
        return name
    matches = [k for k in form.fields if k and k.endswith("-" + name)]
    assert len(matches) == 1, f"no single field {name} in {list(form.fields)}"
    return matches[0]


def fill(form, name, value):
    name = resolve(form, name)
    fields = form.fields[name]
    if isinstance(value, bool):
        fields[0].checked = value
    elif isinstance(value, list):
        for box in fields:
            box.checked = box._value in value
    elif fields[0].tag == "select" and value not in [o[0] for o in fields[0].options]:
        fields[0].force_value(value)
    else:
        form[name] = value


def shown(root, name):
    """What the form in `root` shows for field `name`, as it would be typed or chosen."""
    elements = root.find_all(attrs={"name": name})
    assert elements, f"field {name} is gone"
    first = elements[0]
    if first.name == "select":
        chosen = [o.get("value") for o in first.find_all("option") if o.has_attr("selected")]
        return chosen[0] if chosen else None
    if first.name == "textarea":
        return first.text.removeprefix("\r").removeprefix("\n")  # HTML drops it
    kind = first.get("type", "text")
    if kind == "radio":
        return next((e.get("value") for e in elements if e.has_attr("checked")), None)
    if kind == "checkbox" and len(elements) == 1 and first.get("value", "y") in ("y", "on"):
        return first.has_attr("checked")
    if kind == "checkbox":
        return [e.get("value") for e in elements if e.has_attr("checked")]
    return first.get("value", "")


def invalid_element(root, name):
    element = root.find(attrs={"name": name})
    if element.get("type") in ("radio", "checkbox"):
        element = element.find_parent("fieldset")
    return element


@pytest.mark.parametrize(
    ("setup", "role", "bad", "hx", "status"),
    [pytest.param(c[2], c[1], c[3], c[4], c[5], id=c[0]) for c in CASES],
)
def test_one_wrong_field_is_refused_next_to_it_keeping_the_rest(
    web, login_as, make_user, make_room, make_group, make_series, setup, role, bad, hx, status
):
    user = login_as(role) if role else None
    f = Fixtures(
        user=user,
        make_user=make_user,
        make_room=make_room,
        make_group=make_group,
        make_series=make_series,
    )
    url, key, typed = setup(f)
    page = web.get(url, headers=HX if hx else {})
    form = find_form(page, key)
    source = page.html.find("form", id=form.id) if form.id else None
    if source is None:
        source = page.html.find("form", action=form.action)
    target = (source.get("hx-target") or "").lstrip("#")
    if hx:
        assert source.get("hx-post"), "not an htmx form on this page"
    for name, value in typed.items():
        fill(form, name, value)
    bad_name, bad_value = bad
    fill(form, bad_name, bad_value)
    names = {n: resolve(form, n) for n in [*typed, bad_name]}
    before = snapshot()

    headers = {**HX, "X-CSRFToken": form[resolve(form, "csrf_token")].value} if hx else {}
    response = form.submit(headers=headers, expect_errors=True)

    assert response.status_int == status, response.text[:500]
    assert snapshot() == before, "bad input changed the database"
    html = response.html
    if hx:
        assert html.find("html") is None and html.find("body") is None, "a whole page swapped in"
        roots = [e.get("id") for e in html.find_all(recursive=False) if e.name]
        assert roots and roots[0] in {form.id, target}, (
            f"fragment root {roots} not {form.id}/{target}"
        )
    root = html.find("form", id=form.id) if form.id else html.find("form", action=form.action)
    assert root is not None, "the form is not sent back"
    field = invalid_element(root, names[bad_name])
    assert field.get("aria-invalid") == "true", f"{bad_name} not marked invalid: {field}"
    described = (field.get("aria-describedby") or "").split()
    messages = [root.find(id=i) for i in described]
    assert any(m is not None and "field-error" in m.get("class", []) for m in messages), (
        f"no message linked to {bad_name}: {field}"
    )
    for name, value in typed.items():
        if name == bad_name:
            continue
        if root.find(attrs={"name": names[name], "type": "password"}):
            continue  # passwords are never sent back
        assert shown(root, names[name]) == value, f"{name} lost what was typed"
