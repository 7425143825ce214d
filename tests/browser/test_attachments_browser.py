"""Attachments in Chromium: a mentor uploads a PDF from the session page through the upload
script (progress bar shown, the list updated in place, no reload), a renamed executable is
refused next to the field, and a file over the limit is refused before it is sent."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import expect

from models import Attachment, Occurrence, db
from tests import attachment_samples as samples

pytestmark = pytest.mark.usefixtures("upload_folder")


MB = 1024 * 1024


@pytest.fixture
def lesson(make_user, make_group):
    """A session next week of a group with a mentor and a student: ids and the mentor."""
    mentor = make_user("mentor")
    group = make_group("Maths 9B", mentor=mentor, students=[make_user("student")])
    start = datetime.now(UTC).replace(microsecond=0, second=0) + timedelta(days=7)
    occurrence = Occurrence(
        group_id=group.id,
        start_utc=start,
        end_utc=start + timedelta(hours=1),
        room_id=group.default_room_id,
    )
    db.session.add(occurrence)
    db.session.commit()
    ids = {"session": occurrence.id}
    db.session.commit()
    return ids, mentor


def watch_progress(page, section_id: str) -> None:
    """Record, in the window, every state of the progress box while the upload runs."""
    page.evaluate(
        """id => {
          window.notReloaded = true;
          window.progressSeen = [];
          const box = document.querySelector('#' + id + ' [data-upload-progress]');
          const bar = box.querySelector('progress');
          new MutationObserver(() => {
            window.progressSeen.push({visible: !box.hidden, value: Number(bar.value),
                                      text: box.textContent.trim()});
          }).observe(box, {attributes: true, subtree: true, childList: true,
                           characterData: true});
        }""",
        section_id,
    )


def test_a_mentor_uploads_a_pdf_with_its_progress_bar_and_the_list_updates_in_place(
    page, log_in, lesson, tmp_path, upload_folder
):
    ids, mentor = lesson
    log_in(mentor)
    page.goto(f"/sessions/{ids['session']}")
    section_id = f"files-{ids['session']}"
    section = page.locator(f"#{section_id}")
    expect(section.get_by_text("No files yet.")).to_be_visible()
    expect(section.locator("[data-upload-progress]")).to_be_hidden()

    pdf = tmp_path / "Lesson plan.pdf"
    pdf.write_bytes(samples.pdf().ljust(4 * MB, b"%"))
    section.get_by_label("Add a file").set_input_files(pdf)
    section.get_by_label("Description").fill("Week 3 plan")
    watch_progress(page, section_id)
    section.get_by_role("button", name="Upload").click()

    row = page.locator(f"#{section_id} tbody tr")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("Lesson plan.pdf")
    expect(row).to_contain_text("PDF")
    expect(row).to_contain_text("4.0 MB")
    expect(row).to_contain_text("Week 3 plan")
    expect(row).to_contain_text(mentor.name)
    expect(page.locator("#toasts")).to_contain_text("Added Lesson plan.pdf.")
    assert page.evaluate("window.notReloaded === true"), "the page was reloaded"

    seen = page.evaluate("window.progressSeen")
    assert any(state["visible"] for state in seen), seen
    assert any(state["text"].startswith("Uploading: ") for state in seen), seen
    assert max(state["value"] for state in seen) == 100, seen
    stored = db.session.query(Attachment).one()
    assert [p.name for p in upload_folder.iterdir()] == [stored.stored_name]
    db.session.commit()

    # The swapped-in section works: its delete button (htmx) removes the file in place.
    page.once("dialog", lambda dialog: dialog.accept())
    page.locator(f"#{section_id}").get_by_role("button", name="Delete Lesson plan.pdf").click()
    expect(page.locator(f"#{section_id}").get_by_text("No files yet.")).to_be_visible()
    assert page.evaluate("window.notReloaded === true")
    assert list(upload_folder.iterdir()) == []


def test_a_renamed_executable_is_refused_next_to_the_field(page, log_in, lesson, tmp_path, console):
    console.allow_http_error(422)
    ids, mentor = lesson
    log_in(mentor)
    page.goto(f"/sessions/{ids['session']}")
    section = page.locator(f"#files-{ids['session']}")
    fake = tmp_path / "notes.pdf"
    fake.write_bytes(samples.windows_exe())
    section.get_by_label("Add a file").set_input_files(fake)
    section.get_by_role("button", name="Upload").click()
    error = page.locator(f"#files-{ids['session']}-file-error")
    expect(error).to_contain_text("not a type you can attach")
    expect(error).to_contain_text("PDF, video (MP4, WebM, QuickTime, MPEG)")
    expect(page.locator(f"#files-{ids['session']}").get_by_label("Add a file")).to_be_focused()


def test_a_file_over_the_limit_is_refused_before_it_is_sent(
    app, page, log_in, lesson, tmp_path, monkeypatch
):
    monkeypatch.setitem(app.config, "MAX_UPLOAD_MB", 1)
    ids, mentor = lesson
    log_in(mentor)
    page.goto(f"/sessions/{ids['session']}")
    section = page.locator(f"#files-{ids['session']}")
    big = tmp_path / "big.pdf"
    big.write_bytes(samples.pdf().ljust(MB + 1, b"%"))
    section.get_by_label("Add a file").set_input_files(big)
    requests = []
    page.on("request", lambda request: requests.append(request.method))
    section.get_by_role("button", name="Upload").click()
    expect(section.locator("[data-upload-error]")).to_have_text("The file is larger than 1 MB.")
    assert "POST" not in requests
