"""A mentor runs a session from its page in Chromium: completes it inline, uploads a PDF with
its progress bar, adds an achievement note, then finds it in the Completed tab."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import expect

from models import Occurrence, OccurrenceStatus, db
from tests import attachment_samples as samples
from tests.browser.helpers import screenshot

pytestmark = pytest.mark.usefixtures("upload_folder")


def test_a_mentor_completes_attaches_notes_and_sees_it_in_completed(
    page, log_in, make_user, make_group, tmp_path
):
    mentor = make_user("mentor", name="Ada Lovelace")
    group = make_group("Maths 9B", mentor=mentor, students=[make_user("student")])
    # It started an hour ago (a session cannot be completed before its start).
    start = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(hours=1)
    occurrence = Occurrence(
        group_id=group.id,
        start_utc=start,
        end_utc=start + timedelta(minutes=50),
        room_id=group.default_room_id,
    )
    db.session.add(occurrence)
    db.session.commit()
    session_id = occurrence.id

    log_in(mentor)
    page.goto(f"/sessions/{session_id}")
    page.evaluate("window.notReloaded = true")

    # Complete inline: the form opens in the section, the record replaces it.
    completion = page.locator(f"#completion-{session_id}")
    completion.get_by_role("button", name="Complete…").click()
    form = page.locator(f"#completion-form-{session_id}")
    expect(form.get_by_label("Actual start")).to_be_focused()
    form.get_by_label("Session notes (what was covered)").fill("Fractions, then decimals.")
    form.get_by_role("button", name="Complete the session").click()
    code = page.locator(f"#completion-{session_id} [data-field=code]")
    expect(code).to_have_text(re.compile(r"^MATHS9B-\d{8}-[A-Z2-9]{3}$"))
    expect(page.locator(f"#completion-{session_id} [data-field=notes]")).to_have_text(
        "Fractions, then decimals."
    )

    # Upload a PDF: the progress bar shows, the list updates in place.
    files = page.locator(f"#files-{session_id}")
    pdf = tmp_path / "Worksheet.pdf"
    pdf.write_bytes(samples.pdf().ljust(2 * 1024 * 1024, b"%"))
    files.get_by_label("Add a file").set_input_files(pdf)
    files.get_by_label("Description").fill("Today's worksheet")
    page.evaluate(
        """id => { window.progressShown = false;
          const box = document.querySelector('#' + id + ' [data-upload-progress]');
          new MutationObserver(() => { if (!box.hidden) window.progressShown = true; })
            .observe(box, {attributes: true}); }""",
        f"files-{session_id}",
    )
    files.get_by_role("button", name="Upload").click()
    expect(page.locator(f"#files-{session_id} tbody tr")).to_contain_text("Worksheet.pdf")
    assert page.evaluate("window.progressShown === true"), "the progress bar never showed"

    # An achievement note, added in place.
    notes = page.locator(f"#notes-{session_id}")
    notes.get_by_label("Achievement").check()
    notes.get_by_label("Note").fill("Solved every exercise alone.")
    notes.get_by_role("button", name="Add note").click()
    expect(page.locator(f"#notes-{session_id}")).to_contain_text("Solved every exercise alone.")
    expect(page.locator(f"#notes-{session_id}")).to_contain_text("Achievement")
    assert page.evaluate("window.notReloaded === true"), "the session page was reloaded"

    # The Completed tab lists it, with its code and one note and one file.
    page.goto("/dashboard/")
    page.get_by_role("link", name="Completed").click()
    expect(page).to_have_url(re.compile(r"/dashboard/completed"))
    row = page.locator("#dashboard-sessions tbody tr").first
    expect(row).to_contain_text("Maths 9B")
    expect(row).to_contain_text("MATHS9B-")
    expect(row.locator("td").nth(-2)).to_have_text("1")  # one note
    expect(row.locator("td").nth(-1)).to_have_text("1")  # one file
    screenshot(page, "mentor-completed-tab")
    db.session.expire_all()
    stored = db.session.get(Occurrence, session_id)
    assert stored.status == OccurrenceStatus.COMPLETED and stored.completed_by_id == mentor.id
