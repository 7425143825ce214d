"""Note pages: the section on the session page (without JavaScript too), adding in place
(422 with what was typed), editing a row inline, deleting, what each role reads (an issue
note is not in a student's HTML), 404 and 403, CSRF, and markup shown as text. Also the web
path of "generation stays safe": a note added here keeps its series session through a
forced regeneration."""

from __future__ import annotations

import json
from datetime import UTC, datetime, time, timedelta

import pytest
from sqlalchemy import select

from models import (
    NoteKind,
    Occurrence,
    SessionEvent,
    SessionNote,
    db,
)
from services.common.timeutil import zone
from services.tracking import events
from services.tracking.notes import (
    BODY_MAX_LENGTH,
    MESSAGE_BODY_REQUIRED,
    MESSAGE_BODY_TOO_LONG,
    MESSAGE_KIND_REQUIRED,
)
from tests.blueprints.test_security import assert_security_headers, scan
from tests.conftest import csrf_token_of


def log_in(web, login_as, user):
    web.reset()
    return login_as(user)


def note(maths_session, kind="general", body="Covered fractions", author="mentor"):
    row = SessionNote(
        occurrence_id=maths_session["occurrence"].id,
        author_id=maths_session[author].id,
        kind=NoteKind(kind),
        body=body,
    )
    db.session.add(row)
    db.session.commit()
    return row


def session_url(maths_session) -> str:
    return f"/sessions/{maths_session['occurrence'].id}"


def section_url(maths_session) -> str:
    return f"/notes/sessions/{maths_session['occurrence'].id}"


def hx(web, page_url):
    token = csrf_token_of(web.get(page_url))
    return {"HX-Request": "true", "HX-Request-Type": "partial", "X-CSRFToken": token}


def stored() -> list[tuple[str, str]]:
    db.session.expire_all()
    return [
        (str(n.kind), n.body)
        for n in db.session.scalars(select(SessionNote).order_by(SessionNote.id))
    ]


def event_kinds() -> list[str]:
    return list(db.session.scalars(select(SessionEvent.kind).order_by(SessionEvent.id)))


# --- The section on the session page ------------------------------------------------------------


def test_the_session_page_shows_the_notes_newest_first_with_their_badges(
    web, login_as, maths_session
):
    older = note(maths_session, "general", "First")
    newer = note(maths_session, "achievement", "Second")
    newer.created_at = older.created_at + timedelta(minutes=5)
    db.session.commit()
    log_in(web, login_as, maths_session["mentor"])
    page = web.get(session_url(maths_session))
    assert_security_headers(page)
    assert scan(page).problems == []
    section = page.html.find(id=f"notes-{maths_session['occurrence'].id}")
    assert section is not None and "Notes" in section.find("h2").text
    items = section.find_all("li", class_="note")
    assert [li["id"] for li in items] == [f"note-{newer.id}", f"note-{older.id}"]
    assert [li.find(class_="badge").text for li in items] == ["Achievement", "General"]
    assert "Ada Mentor" in items[0].text
    assert section.find("form", action=section_url(maths_session)) is not None


def test_a_student_reads_general_and_achievement_notes_only(web, login_as, maths_session):
    note(maths_session, "general", "Welcome back")
    note(maths_session, "achievement", "Top of the class")
    note(maths_session, "issue", "Parents to call SECRET-ISSUE")
    note(maths_session, "follow_up", "Check homework SECRET-FOLLOW")
    log_in(web, login_as, maths_session["student"])
    for url in (session_url(maths_session), section_url(maths_session)):
        page = web.get(url)
        assert "Welcome back" in page.text and "Top of the class" in page.text
        assert "SECRET-ISSUE" not in page.text and "SECRET-FOLLOW" not in page.text
        # Students read; they get no form, no Edit and no Delete.
        assert page.html.find("form", action=section_url(maths_session)) is None
        assert "Edit" not in page.html.find(id=f"notes-{maths_session['occurrence'].id}").text


def test_strangers_get_404_for_the_section_and_every_action(web, login_as, maths_session):
    general = note(maths_session)
    for who in ("outsider", "other_mentor"):
        log_in(web, login_as, maths_session[who])
        headers = hx(web, "/sessions/today/")
        web.get(section_url(maths_session), status=404)
        web.get(section_url(maths_session), headers=headers, status=404)
        web.post(
            section_url(maths_session),
            {"kind": "general", "body": "x"},
            headers=headers,
            status=404,
        )
        web.get(f"/notes/{general.id}", headers=headers, status=404)
        web.get(f"/notes/{general.id}/edit", status=404)
        web.post(f"/notes/{general.id}/edit", {"kind": "general", "body": "x"}, headers=headers,
                 status=404)  # fmt: skip
        web.post(f"/notes/{general.id}/delete", headers=headers, status=404)
    for bad in ("0", "999999", str(2**63)):
        web.get(f"/notes/sessions/{bad}", status=404)
        web.get(f"/notes/{bad}/edit", status=404)
    assert stored() == [("general", "Covered fractions")]


def test_a_students_attempts_on_staff_only_notes_are_404_and_on_others_403(
    web, login_as, maths_session
):
    issue = note(maths_session, "issue", "Hidden")
    general = note(maths_session, "general", "Shown")
    log_in(web, login_as, maths_session["student"])
    headers = hx(web, session_url(maths_session))
    web.get(f"/notes/{issue.id}/edit", status=404)
    web.post(f"/notes/{issue.id}/delete", headers=headers, status=404)
    web.get(f"/notes/{general.id}/edit", status=403)
    web.post(f"/notes/{general.id}/delete", headers=headers, status=403)
    refused = web.post(
        section_url(maths_session), {"kind": "general", "body": "Hi"}, headers=headers, status=403
    )
    assert "<html" not in refused.text
    assert len(stored()) == 2


def test_the_section_is_a_fragment_for_htmx_and_a_page_otherwise(
    web, htmx, login_as, maths_session
):
    log_in(web, login_as, maths_session["mentor"])
    fragment = htmx.get(section_url(maths_session))
    assert fragment.text.lstrip().startswith(
        f'<section id="notes-{maths_session["occurrence"].id}"'
    )
    assert "<html" not in fragment.text
    page = web.get(section_url(maths_session))
    assert "<html" in page.text and page.html.find(id=f"notes-{maths_session['occurrence'].id}")


# --- Adding -------------------------------------------------------------------------------------


def test_the_mentor_adds_a_note_in_place_with_a_toast(web, login_as, maths_session):
    log_in(web, login_as, maths_session["mentor"])
    response = web.post(
        section_url(maths_session),
        {"kind": "issue", "body": "Projector broken"},
        headers=hx(web, session_url(maths_session)),
    )
    assert response.status_int == 200
    assert response.text.lstrip().startswith(
        f'<section id="notes-{maths_session["occurrence"].id}"'
    )
    assert json.loads(response.headers["HX-Trigger"]) == {"toast": {"message": "Issue note added."}}
    assert "Projector broken" in response.text and "Issue note added." in response.text
    # The form is empty again.
    assert response.html.find("textarea").text == ""
    assert stored() == [("issue", "Projector broken")]
    assert event_kinds() == [events.NOTE_ADDED]


def test_without_javascript_adding_redirects_to_the_session(web, login_as, maths_session):
    log_in(web, login_as, maths_session["mentor"])
    form = web.get(session_url(maths_session)).forms[f"notes-{maths_session['occurrence'].id}-form"]
    form["kind"] = "achievement"
    form["body"] = "All exercises done"
    response = form.submit(status=302)
    assert response.headers["Location"].endswith(
        f"/sessions/{maths_session['occurrence'].id}#notes-{maths_session['occurrence'].id}"
    )
    page = response.follow()
    assert "Achievement note added." in page.text and "All exercises done" in page.text


@pytest.mark.parametrize(
    ("data", "messages"),
    [
        ({"kind": "general", "body": "   "}, {"body": MESSAGE_BODY_REQUIRED}),
        ({"kind": "general"}, {"body": MESSAGE_BODY_REQUIRED}),
        ({"kind": "general", "body": "x" * (BODY_MAX_LENGTH + 1)}, {"body": MESSAGE_BODY_TOO_LONG}),
        ({"body": "Typed text"}, {"kind": MESSAGE_KIND_REQUIRED}),
        ({"kind": "private", "body": "Typed text"}, {"kind": MESSAGE_KIND_REQUIRED}),
    ],
)
def test_a_refused_note_stays_in_the_form_with_its_message(
    web, login_as, maths_session, data, messages
):
    log_in(web, login_as, maths_session["mentor"])
    response = web.post(
        section_url(maths_session), data, headers=hx(web, session_url(maths_session)), status=422
    )
    prefix = f"notes-{maths_session['occurrence'].id}-new"
    for name, message in messages.items():
        error = response.html.find(id=f"{prefix}-{name}-error")
        assert error is not None and error.text == message
    if "body" not in messages:
        assert response.html.find("textarea").text == "Typed text"
        assert response.html.find(id=f"{prefix}-kind")["aria-invalid"] == "true"
    else:
        assert response.html.find("textarea")["aria-invalid"] == "true"
    assert stored() == [] and event_kinds() == []


def test_a_refused_note_without_javascript_is_the_notes_page_at_422(web, login_as, maths_session):
    log_in(web, login_as, maths_session["mentor"])
    form = web.get(session_url(maths_session)).forms[f"notes-{maths_session['occurrence'].id}-form"]
    form["kind"] = "general"
    form["body"] = " "
    page = form.submit(status=422)
    assert "<html" in page.text and MESSAGE_BODY_REQUIRED in page.text


def test_adding_needs_the_csrf_token(web, login_as, maths_session):
    log_in(web, login_as, maths_session["mentor"])
    web.post(section_url(maths_session), {"kind": "general", "body": "x"}, status=400)
    web.post(section_url(maths_session), {"kind": "general", "body": "x"},
             headers={"HX-Request": "true"}, status=400)  # fmt: skip
    assert stored() == []


def test_markup_in_a_note_is_shown_as_text(web, login_as, maths_session):
    body = '<script>alert(1)</script> "><img src=x onerror=alert(1)> <a hx-get="/x">j</a>'
    note(maths_session, "general", body)
    log_in(web, login_as, maths_session["student"])
    page = web.get(session_url(maths_session))
    assert "<script>alert(1)</script>" not in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    section = page.html.find(id=f"notes-{maths_session['occurrence'].id}")
    assert section.find("img") is None and section.find("a", attrs={"hx-get": "/x"}) is None
    assert page.html.find(class_="note-body").text == body
    assert scan(page).problems == []


# --- Editing and deleting -----------------------------------------------------------------------


def test_the_author_edits_a_note_inline(web, htmx, login_as, maths_session):
    general = note(maths_session, "general", "Covered fractions")
    log_in(web, login_as, maths_session["mentor"])
    row = web.get(session_url(maths_session)).html.find(id=f"note-{general.id}")
    link = row.find("a", href=f"/notes/{general.id}/edit")
    assert link["hx-target"] == f"#note-{general.id}" and link["hx-swap"] == "outerHTML"
    editor = htmx.get(f"/notes/{general.id}/edit")
    assert editor.text.lstrip().startswith(f'<li id="note-{general.id}" class="note editing"')
    assert editor.html.find("textarea").text == "Covered fractions"
    assert editor.html.find("input", value="general")["checked"] is not None
    cancel = htmx.get(f"/notes/{general.id}")
    assert cancel.text.lstrip().startswith(f'<li id="note-{general.id}"')
    saved = web.post(
        f"/notes/{general.id}/edit",
        {"kind": "follow_up", "body": "Covered fractions and decimals"},
        headers=hx(web, session_url(maths_session)),
    )
    assert saved.text.lstrip().startswith(f'<li id="note-{general.id}" class="note note-follow_up"')
    assert saved.html.find(class_="badge").text == "Follow-up"
    assert "(edited" in saved.text
    assert json.loads(saved.headers["HX-Trigger"]) == {"toast": {"message": "Note saved."}}
    assert stored() == [("follow_up", "Covered fractions and decimals")]
    assert event_kinds() == [events.NOTE_EDITED]


def test_an_edit_with_errors_stays_in_the_row_at_422(web, login_as, maths_session):
    general = note(maths_session)
    log_in(web, login_as, maths_session["mentor"])
    response = web.post(f"/notes/{general.id}/edit", {"kind": "general", "body": ""},
                        headers=hx(web, session_url(maths_session)), status=422)  # fmt: skip
    assert response.text.lstrip().startswith(f'<li id="note-{general.id}" class="note editing"')
    assert response.html.find(id=f"note-{general.id}-edit-body-error").text == MESSAGE_BODY_REQUIRED
    assert stored() == [("general", "Covered fractions")]


def test_without_javascript_editing_is_a_page_and_redirects(web, login_as, maths_session):
    general = note(maths_session)
    log_in(web, login_as, maths_session["mentor"])
    page = web.get(f"/notes/{general.id}/edit")
    assert "<html" in page.text
    form = page.forms[f"note-{general.id}-edit-form"]
    form["body"] = "Rewritten"
    response = form.submit(status=302)
    assert response.headers["Location"].endswith(f"#note-{general.id}")
    assert stored() == [("general", "Rewritten")]
    assert web.get(f"/notes/{general.id}", status=302)


def test_editing_someone_elses_note_is_403(web, login_as, maths_session):
    theirs = note(maths_session, "issue", "By the coordinator", author="coordinator")
    log_in(web, login_as, maths_session["mentor"])
    page = web.get(session_url(maths_session))
    row = page.html.find(id=f"note-{theirs.id}")
    assert row.find("a", string="Edit") is None and row.find("form") is None
    web.get(f"/notes/{theirs.id}/edit", status=403)
    web.post(f"/notes/{theirs.id}/edit", {"kind": "issue", "body": "Changed"},
             headers=hx(web, session_url(maths_session)), status=403)  # fmt: skip
    web.post(f"/notes/{theirs.id}/delete", headers=hx(web, session_url(maths_session)), status=403)
    assert stored() == [("issue", "By the coordinator")]


def test_the_author_deletes_a_note_and_gets_the_section(web, login_as, maths_session):
    general = note(maths_session)
    log_in(web, login_as, maths_session["mentor"])
    form = web.get(session_url(maths_session)).html.find(id=f"note-{general.id}").find("form")
    assert form["hx-target"] == f"#notes-{maths_session['occurrence'].id}" and form["hx-confirm"]
    response = web.post(f"/notes/{general.id}/delete", headers=hx(web, session_url(maths_session)))
    assert response.text.lstrip().startswith(
        f'<section id="notes-{maths_session["occurrence"].id}"'
    )
    assert "No notes yet." in response.text
    assert json.loads(response.headers["HX-Trigger"]) == {"toast": {"message": "Note deleted."}}
    assert stored() == [] and event_kinds() == [events.NOTE_DELETED]
    web.post(f"/notes/{general.id}/delete", headers=hx(web, session_url(maths_session)), status=404)


def test_a_coordinator_deletes_any_note_without_javascript(web, login_as, maths_session):
    general = note(maths_session)
    log_in(web, login_as, maths_session["coordinator"])
    page = web.get(session_url(maths_session))
    row = page.html.find(id=f"note-{general.id}")
    assert row.find("a", href=f"/notes/{general.id}/edit") is None
    response = page.forms[f"note-{general.id}-delete"].submit(status=302)
    assert response.headers["Location"].endswith(f"#notes-{maths_session['occurrence'].id}")
    assert "Note deleted." in response.follow().text
    assert stored() == []


def test_deleting_needs_the_csrf_token(web, login_as, maths_session):
    general = note(maths_session)
    log_in(web, login_as, maths_session["mentor"])
    web.post(f"/notes/{general.id}/delete", status=400)
    assert len(stored()) == 1


# --- Generation stays safe ----------------------------------------------------------------------


def test_a_note_added_on_the_page_keeps_its_series_session_through_forced_generation(
    web, login_as, make_user, make_group, make_series
):
    paris = zone("Europe/Paris")
    today = datetime.now(UTC).astimezone(paris).date()
    monday = today + timedelta(days=7 - today.weekday())  # next week's Monday, in the future
    mentor, coordinator = make_user("mentor"), make_user("coordinator")
    series = make_series(make_group(mentor=mentor), weekdays=(0,), start=time(10), end=time(11),
                         first_date=monday)  # fmt: skip

    def generate(force: bool):
        log_in(web, login_as, coordinator)
        form = web.get("/timetable/generate").forms["generate-form"]
        form["start"], form["span"], form["weeks"] = monday.isoformat(), "weeks", "3"
        form["force"] = force
        page = form.submit("generate")
        counts = page.html.find(id="generation-summary").find_all("dd")
        return {dd["data-count"]: int(dd.text) for dd in counts}

    assert generate(force=False)["created"] == 3
    first, second, third = db.session.scalars(
        select(Occurrence).order_by(Occurrence.original_date)
    ).all()
    log_in(web, login_as, mentor)
    added = web.post(
        f"/notes/sessions/{second.id}",
        {"kind": "achievement", "body": "Everyone passed the quiz"},
        headers=hx(web, f"/sessions/{second.id}"),
    )
    assert added.status_int == 200
    series.start_time, series.end_time = time(14), time(15)
    db.session.commit()
    counts = generate(force=True)
    assert (counts["kept"], counts["updated"], counts["removed"]) == (1, 2, 0)
    db.session.expire_all()
    local = {
        o.id: o.start_utc.astimezone(paris).time() for o in db.session.scalars(select(Occurrence))
    }
    assert local == {first.id: time(14), second.id: time(10), third.id: time(14)}
    assert stored() == [("achievement", "Everyone passed the quiz")]


HX = {"HX-Request": "true", "HX-Request-Type": "partial"}


def hx_post(web, url, params, *, page="/sessions/today/", **kwargs):
    token = csrf_token_of(web.get(page))
    return web.post(url, params, headers={**HX, "X-CSRFToken": token}, **kwargs)


PAYLOAD = (
    '<a href="javascript:alert(1)">notes</a> '
    '<div hx-on::load="alert(2)" hx-get="/auth/logout" hx-trigger="load">x</div>'
)


def assert_shown_as_text(response):
    assert scan(response).problems == [], scan(response).problems
    assert not response.html.select('a[href^="javascript"]')
    assert not [
        tag
        for tag in response.html.find_all(True)
        if any(name.startswith("hx-on") for name in tag.attrs)
    ]
    assert not response.html.select('[hx-get="/auth/logout"]')
    assert "&lt;a href=&#34;javascript:alert(1)&#34;&gt;" in response.text or (
        "&lt;a href=&quot;javascript:alert(1)&quot;&gt;" in response.text
    )


@pytest.mark.usefixtures("pinned_clock")
def test_javascript_links_and_hx_on_in_notes_are_text_everywhere_a_note_is_shown(
    web, htmx, login_as, yesterdays_lesson
):
    occurrence = yesterdays_lesson["session"]
    login_as(yesterdays_lesson["mentor"])
    page = f"/sessions/{occurrence.id}"
    hx_post(
        web, f"/notes/sessions/{occurrence.id}", {"kind": "general", "body": PAYLOAD}, page=page
    )
    note = db.session.scalar(select(SessionNote))
    assert note.body == PAYLOAD
    hx_post(
        web,
        f"/tracking/sessions/{occurrence.id}/complete",
        {
            "completion-actual_start": "10:00",
            "completion-actual_end": "11:00",
            "completion-code": "",
            "completion-notes": PAYLOAD,
        },
        page=page,
    )
    for response in (
        web.get(page),
        htmx.get(f"/notes/sessions/{occurrence.id}"),
        htmx.get(f"/notes/{note.id}"),
        htmx.get(f"/notes/{note.id}/edit"),
        htmx.get(f"/tracking/sessions/{occurrence.id}/completion"),
        web.get("/dashboard/history"),
    ):
        assert_shown_as_text(response)
    web.reset()
    login_as(yesterdays_lesson["student"])
    assert_shown_as_text(web.get(page))
