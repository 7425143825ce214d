"""/sessions/{id}/complete, notes and attachments, /notes/{id}, /attachments/{id}."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from models import (
    Attachment,
    Occurrence,
    OccurrenceStatus,
    SessionNote,
    db,
)
from services.tracking.attachments import delete_attachment
from tests import attachment_samples as samples
from tests.api.conftest import assert_problem
from tests.object_storage import files_in

pytestmark = pytest.mark.usefixtures("upload_folder")


PARIS = ZoneInfo("Europe/Paris")
MB = 1024 * 1024


def local_start(days: int, hour: int) -> datetime:
    day = datetime.now(PARIS).date() + timedelta(days=days)
    return datetime(day.year, day.month, day.day, hour, tzinfo=PARIS).astimezone(UTC)


@pytest.fixture
def two_classes(make_user, make_group, make_session):
    """Maths (a mentor and a student) with a session yesterday 10:00 and one next week; Art
    with its own mentor and student and a session yesterday."""
    mentor, student = make_user("mentor"), make_user("student")
    other_mentor, stranger = make_user("mentor"), make_user("student")
    maths = make_group("Maths", mentor=mentor, students=[student])
    art = make_group("Art", mentor=other_mentor, students=[stranger])
    return {
        "mentor": mentor,
        "student": student,
        "other_mentor": other_mentor,
        "stranger": stranger,
        "past": make_session(maths, local_start(-1, 10)),
        "future": make_session(maths, local_start(7, 10)),
        "art": make_session(art, local_start(-1, 10)),
    }


def complete_url(occurrence) -> str:
    return f"/api/v1/sessions/{occurrence.id}/complete"


DONE = {"actual_start": "10:05", "actual_end": "10:55", "notes": "Covered chapter 3"}


# --- Completing ---------------------------------------------------------------------------------


def test_the_mentor_completes_a_started_session(api_as, two_classes):
    body = api_as(two_classes["mentor"]).post(complete_url(two_classes["past"]), DONE).json
    assert body["status"] == "completed" and body["id"] == two_classes["past"].id
    completion = body["completion"]
    assert (completion["actual_start"], completion["actual_end"]) == ("10:05", "10:55")
    assert completion["code"].startswith("MATHS-") and completion["notes"] == "Covered chapter 3"
    assert completion["completed_by"]["id"] == two_classes["mentor"].id
    assert datetime.fromisoformat(completion["actual_starts_at"]) == local_start(-1, 10) + (
        timedelta(minutes=5)
    )


def test_staff_complete_with_a_typed_code(api_as, two_classes):
    body = (
        api_as("coordinator").post(complete_url(two_classes["past"]), DONE | {"code": "ab-12"}).json
    )
    assert body["completion"]["code"] == "AB-12"
    assert_problem(
        api_as("admin").post(
            complete_url(two_classes["art"]), DONE | {"code": "AB-12"}, status=422
        ),
        422,
        field="code",
    )


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"actual_end": "10:55"}, "actual_start"),
        ({"actual_start": "10:05"}, "actual_end"),
        ({"actual_start": "10:65", "actual_end": "11:00"}, "actual_start"),
        ({"actual_start": "11:00", "actual_end": "10:00"}, "actual_end"),
        (DONE | {"code": "no spaces"}, "code"),
        (DONE | {"notes": "x" * 5001}, "notes"),
        (DONE | {"status": "completed"}, "status"),
    ],
)
def test_bad_completions_are_422_per_field(api_as, two_classes, body, field):
    response = api_as(two_classes["mentor"]).post(
        complete_url(two_classes["past"]), body, status=422
    )
    assert_problem(response, 422, field=field)
    assert db.session.get(Occurrence, two_classes["past"].id).status == OccurrenceStatus.SCHEDULED


def test_completed_not_started_or_cancelled_is_409(api_as, two_classes):
    mentor = api_as(two_classes["mentor"])
    mentor.post(complete_url(two_classes["past"]), DONE)
    body = assert_problem(mentor.post(complete_url(two_classes["past"]), DONE, status=409), 409)
    assert "already completed" in body["detail"]
    body = assert_problem(mentor.post(complete_url(two_classes["future"]), DONE, status=409), 409)
    assert "not started" in body["detail"]
    api_as("coordinator").post(
        f"/api/v1/sessions/{two_classes['art'].id}/cancel", {"reason": "Ill"}
    )
    body = assert_problem(
        api_as(two_classes["other_mentor"]).post(
            complete_url(two_classes["art"]), DONE, status=409
        ),
        409,
    )
    assert "cancelled" in body["detail"]


def test_only_the_mentor_or_staff_complete(api_as, anonymous, two_classes):
    assert_problem(
        api_as(two_classes["student"]).post(complete_url(two_classes["past"]), DONE, status=403),
        403,
    )
    for user in (two_classes["other_mentor"], two_classes["stranger"]):
        assert_problem(api_as(user).post(complete_url(two_classes["past"]), DONE, status=404), 404)
    assert_problem(anonymous.post(complete_url(two_classes["past"]), DONE, status=401), 401)
    assert_problem(api_as("admin").post("/api/v1/sessions/999999/complete", DONE, status=404), 404)


# --- Notes --------------------------------------------------------------------------------------


def notes_url(occurrence) -> str:
    return f"/api/v1/sessions/{occurrence.id}/notes"


def test_the_mentor_adds_notes_and_each_reader_sees_their_kinds(api_as, two_classes):
    mentor = api_as(two_classes["mentor"])
    created = {}
    for kind in ("general", "issue", "achievement", "follow_up"):
        response = mentor.post(notes_url(two_classes["past"]), {"kind": kind, "body": f"A {kind}"})
        assert response.status_int == 201
        created[kind] = response.json
        assert response.headers["Location"].endswith(f"/api/v1/notes/{response.json['id']}")
    assert created["issue"]["author"]["id"] == two_classes["mentor"].id

    def kinds(client):
        return [n["kind"] for n in client.get(notes_url(two_classes["past"])).json["items"]]

    assert kinds(mentor) == ["general", "issue", "achievement", "follow_up"]
    assert kinds(api_as("coordinator")) == ["general", "issue", "achievement", "follow_up"]
    assert kinds(api_as(two_classes["student"])) == ["general", "achievement"]
    student = api_as(two_classes["student"])
    student.get(f"/api/v1/notes/{created['general']['id']}", status=200)
    assert_problem(student.get(f"/api/v1/notes/{created['issue']['id']}", status=404), 404)
    stranger = api_as(two_classes["stranger"])
    assert_problem(stranger.get(notes_url(two_classes["past"]), status=404), 404)
    assert_problem(stranger.get(f"/api/v1/notes/{created['general']['id']}", status=404), 404)


def test_notes_are_paginated(api_as, two_classes):
    mentor = api_as(two_classes["mentor"])
    for n in range(3):
        mentor.post(notes_url(two_classes["past"]), {"kind": "general", "body": f"Note {n}"})
    first = mentor.get(notes_url(two_classes["past"]) + "?limit=2")
    assert [n["body"] for n in first.json["items"]] == ["Note 0", "Note 1"]
    assert [n["body"] for n in mentor.get(first.json["next"]).json["items"]] == ["Note 2"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"body": "Hello"}, "kind"),
        ({"kind": "praise", "body": "Hello"}, "kind"),
        ({"kind": "general"}, "body"),
        ({"kind": "general", "body": "  \n "}, "body"),
        ({"kind": "general", "body": "x" * 5001}, "body"),
        ({"kind": "general", "body": "Hi", "author": 1}, "author"),
    ],
)
def test_bad_notes_are_422_per_field(api_as, two_classes, body, field):
    response = api_as(two_classes["mentor"]).post(notes_url(two_classes["past"]), body, status=422)
    assert_problem(response, 422, field=field)
    assert db.session.query(SessionNote).count() == 0


def test_students_do_not_write_notes_and_strangers_do_not_see(api_as, anonymous, two_classes):
    note = {"kind": "general", "body": "Hello"}
    response = api_as(two_classes["student"]).post(notes_url(two_classes["past"]), note, status=403)
    assert_problem(response, 403)
    response = api_as(two_classes["other_mentor"]).post(
        notes_url(two_classes["past"]), note, status=404
    )
    assert_problem(response, 404)
    assert_problem(anonymous.get(notes_url(two_classes["past"]), status=401), 401)
    api_as("admin").post(notes_url(two_classes["art"]), note, status=201)


# --- Attachments --------------------------------------------------------------------------------


def files_url(occurrence) -> str:
    return f"/api/v1/sessions/{occurrence.id}/attachments"


def upload(client, occurrence, content: bytes, name="notes.pdf", *, status=201, **fields):
    return client.web.post(
        files_url(occurrence),
        fields,
        headers=client.headers(),
        upload_files=[("file", name, content)],
        status=status,
    )


def test_the_mentor_uploads_and_everyone_who_sees_the_session_downloads(
    api_as, two_classes, storage
):
    content = samples.pdf()
    response = upload(
        api_as(two_classes["mentor"]),
        two_classes["past"],
        content,
        "chapter3.exe",
        description="Slides",
    )
    body = response.json
    assert (body["name"], body["content_type"], body["kind"]) == (
        "chapter3.exe.pdf",
        "application/pdf",
        "PDF",
    )
    assert body["size_bytes"] == len(content) and body["description"] == "Slides"
    assert body["sha256"] == hashlib.sha256(content).hexdigest()
    assert response.headers["Location"].endswith(body["download"])
    listed = api_as(two_classes["student"]).get(files_url(two_classes["past"])).json["items"]
    assert [a["id"] for a in listed] == [body["id"]]

    download = api_as(two_classes["student"]).get(body["download"])
    assert download.body == content
    assert download.content_type == "application/pdf"
    assert download.headers["Content-Disposition"].startswith("attachment;")
    assert "chapter3.exe.pdf" in download.headers["Content-Disposition"]
    assert download.headers["X-Content-Type-Options"] == "nosniff"
    assert "private" in download.headers["Cache-Control"]
    assert download.headers["ETag"].strip('"') == body["sha256"]


def test_the_download_has_the_pages_headers(api_as, two_classes, web, login_as, storage):
    body = upload(api_as(two_classes["mentor"]), two_classes["past"], samples.png(), "a.png").json
    api = api_as(two_classes["student"]).get(body["download"])
    login_as(two_classes["student"])
    page = web.get(f"/attachments/{body['id']}/download")
    for name in ("Content-Type", "Content-Disposition", "ETag", "Cache-Control"):
        assert api.headers[name] == page.headers[name], name


def test_others_files_are_404(api_as, anonymous, two_classes):
    body = upload(api_as(two_classes["mentor"]), two_classes["past"], samples.pdf()).json
    stranger = api_as(two_classes["stranger"])
    assert_problem(stranger.get(body["download"], status=404), 404)
    assert_problem(stranger.get(files_url(two_classes["past"]), status=404), 404)
    assert_problem(upload(stranger, two_classes["past"], samples.pdf(), status=404), 404)
    assert_problem(anonymous.get(body["download"], status=401), 401)
    assert_problem(api_as("admin").get("/api/v1/attachments/999999", status=404), 404)


def test_students_may_not_upload(api_as, two_classes, storage):
    response = upload(
        api_as(two_classes["student"]), two_classes["past"], samples.pdf(), status=403
    )
    assert_problem(response, 403)
    assert files_in(storage) == []


def test_a_type_not_allowed_or_no_file_is_422(api_as, two_classes, storage):
    mentor = api_as(two_classes["mentor"])
    body = assert_problem(
        upload(mentor, two_classes["past"], b"MZ\x90\x00 program", "x.pdf", status=422),
        422,
        field="file",
    )
    assert "not a type you can attach" in body["errors"]["file"]
    assert_problem(
        upload(mentor, two_classes["past"], b"", "empty.pdf", status=422), 422, field="file"
    )
    response = mentor.web.post(
        files_url(two_classes["past"]), {"description": "x"}, headers=mentor.headers(), status=422
    )
    assert_problem(response, 422, field="file")
    response = upload(mentor, two_classes["past"], samples.pdf(), status=422, description="x" * 501)
    assert_problem(response, 422, field="description")
    response = upload(mentor, two_classes["past"], samples.pdf(), status=422, colour="red")
    assert_problem(response, 422, field="colour")
    assert files_in(storage) == []


def test_a_file_over_the_limit_is_413_problem(app, api_as, two_classes, storage, monkeypatch):
    monkeypatch.setitem(app.config, "MAX_UPLOAD_MB", 1)
    mentor = api_as(two_classes["mentor"])
    exact = samples.pdf().ljust(MB, b"\0")
    upload(mentor, two_classes["past"], exact, "exact.pdf")
    body = assert_problem(upload(mentor, two_classes["past"], exact + b"\0", status=413), 413)
    assert body["detail"] == "The file is larger than 1 MB."
    # Past MAX_CONTENT_LENGTH, Werkzeug refuses the body itself: still problem details.
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", MB)
    assert_problem(upload(mentor, two_classes["past"], exact + b"\0" * 1024, status=413), 413)
    assert len(files_in(storage)) == 1


# --- The whole seed workflow over HTTP ----------------------------------------------------------


def test_a_script_with_tokens_does_the_whole_workflow(api_as, make_user, make_group, upload_folder):
    """Create a series, generate, cancel and reschedule single sessions, list a range,
    request (a student), approve (the mentor), complete, attach, note: tokens only."""
    mentor, student = make_user("mentor"), make_user("student")
    group = make_group("Physics", mentor=mentor, subject="Physics", students=[student])
    staff, teacher, pupil = api_as("coordinator"), api_as(mentor), api_as(student)
    today = datetime.now(PARIS).date()
    monday = today - timedelta(days=today.weekday() + 7)

    series = staff.post(
        "/api/v1/series",
        {"group": group.id, "weekdays": ["mon", "thu"], "start": "08:00", "end": "09:00",
         "first_date": monday.isoformat()},
        status=201,
    ).json  # fmt: skip
    summary = staff.post("/api/v1/generate", {"start": monday.isoformat(), "weeks": 4}).json
    assert summary["created"] == 8

    def listed(start, days):
        end = start + timedelta(days=days)
        url = f"/api/v1/sessions?start={start}&end={end}&group={group.id}"
        return staff.get(url).json["items"]

    sessions = listed(monday, 28)
    assert len(sessions) == 8 and {s["series_id"] for s in sessions} == {series["id"]}
    first, later = sessions[0], sessions[-2:]
    cancelled = staff.post(
        f"/api/v1/sessions/{later[0]['id']}/cancel", {"reason": "Trip"}
    ).json  # fmt: skip
    assert cancelled["status"] == "cancelled" and cancelled["cancel_reason"] == "Trip"
    moved = staff.patch(f"/api/v1/sessions/{later[1]['id']}", {"start": "14:00", "end": "15:00"})
    assert (moved.json["start"], moved.json["end"]) == ("14:00", "15:00")
    statuses = {s["id"]: (s["status"], s["start"]) for s in listed(monday, 28)}
    assert statuses[later[0]["id"]] == ("cancelled", "08:00")
    assert statuses[later[1]["id"]] == ("scheduled", "14:00")

    subject = group.subject.id
    day = (today + timedelta(days=10)).isoformat()
    asked = pupil.post(
        "/api/v1/requests",
        {"mentor": mentor.id, "subject": subject, "title": "Optics",
         "schedule": {"kind": "single", "date": day, "start": "17:00", "duration": 90}},
        status=201,
    ).json  # fmt: skip
    approved = teacher.post(f"/api/v1/requests/{asked['id']}/approve").json
    assert approved["status"] == "approved" and len(approved["session_ids"]) == 1
    tutoring = pupil.get(f"/api/v1/sessions/{approved['session_ids'][0]}").json
    assert (tutoring["date"], tutoring["start"], tutoring["end"]) == (day, "17:00", "18:30")

    done = teacher.post(
        f"/api/v1/sessions/{first['id']}/complete",
        {"actual_start": "08:02", "actual_end": "08:58", "notes": "Lenses"},
    ).json
    assert done["status"] == "completed" and done["completion"]["actual_start"] == "08:02"
    attached = teacher.web.post(
        f"/api/v1/sessions/{first['id']}/attachments",
        {"description": "Worksheet"},
        headers=teacher.headers(),
        upload_files=[("file", "worksheet.pdf", samples.pdf())],
        status=201,
    ).json
    teacher.post(
        f"/api/v1/sessions/{first['id']}/notes", {"kind": "achievement", "body": "Well done"}
    )
    assert [a["id"] for a in pupil.get(f"/api/v1/sessions/{first['id']}/attachments").json[
        "items"]] == [attached["id"]]  # fmt: skip
    assert pupil.get(attached["download"]).body == samples.pdf()
    notes = pupil.get(f"/api/v1/sessions/{first['id']}/notes").json["items"]
    assert [n["body"] for n in notes] == ["Well done"]


# --- Sessions past midnight ---------------------------------------------------------------------


def test_an_actual_end_after_midnight_is_the_next_day(api_as, make_group, make_session, clock):
    # The clock is pinned on Wed 10 Mar 2027; the late session ran on Monday night.
    group = make_group()
    monday_night = datetime(2027, 3, 8, 23, 30, tzinfo=PARIS).astimezone(UTC)
    occurrence = make_session(group, monday_night)
    body = (
        api_as(group.mentor)
        .post(complete_url(occurrence), {"actual_start": "23:51", "actual_end": "00:41"})
        .json
    )
    completion = body["completion"]
    assert (completion["actual_start"], completion["actual_end"]) == ("23:51", "00:41")
    ends = datetime.fromisoformat(completion["actual_ends_at"]).astimezone(PARIS)
    assert ends == datetime(2027, 3, 9, 0, 41, tzinfo=PARIS)
    assert db.session.get(Occurrence, occurrence.id).status == OccurrenceStatus.COMPLETED


def test_an_actual_end_more_than_twelve_hours_later_is_422(api_as, make_group, make_session, clock):
    group = make_group()
    occurrence = make_session(group, datetime(2027, 3, 8, 10, tzinfo=PARIS).astimezone(UTC))
    response = api_as(group.mentor).post(
        complete_url(occurrence), {"actual_start": "10:00", "actual_end": "09:00"}, status=422
    )
    assert "or at most 12 hours later on the next day" in response.json["errors"]["actual_end"]
    db.session.expire_all()
    assert db.session.get(Occurrence, occurrence.id).status == OccurrenceStatus.SCHEDULED


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def test_an_upload_naming_another_uploader_is_refused_and_a_deleted_file_is_404(
    api_as, maths_class, make_user, storage
):
    occurrence = db.session.scalar(select(Occurrence).order_by(Occurrence.start_utc))
    mentor = api_as(maths_class["mentor"])
    someone = make_user("admin")
    response = mentor.web.post(
        f"/api/v1/sessions/{occurrence.id}/attachments",
        {"description": "Slides", "uploader": str(someone.id), "uploader_id": str(someone.id)},
        headers=mentor.headers(),
        upload_files=[("file", "a.pdf", samples.pdf())],
        status="*",
    )
    assert_problem(response, 422, field="uploader_id")  # refused, not applied
    assert count(Attachment) == 0
    response = mentor.web.post(
        f"/api/v1/sessions/{occurrence.id}/attachments",
        {"description": "Slides"},
        headers=mentor.headers(),
        upload_files=[("file", "a.pdf", samples.pdf())],
        status=201,
    )
    attachment = db.session.get(Attachment, response.json["id"])
    assert attachment.uploader_id == maths_class["mentor"].id
    download = response.json["download"]
    mentor.get(download, status=200)
    delete_attachment(attachment=attachment, actor=maths_class["mentor"], storage=storage)
    db.session.commit()
    assert_problem(mentor.get(download, status=404), 404)
    listed = mentor.get(f"/api/v1/sessions/{occurrence.id}/attachments").json["items"]
    assert listed == []


def test_a_bucket_out_of_reach_is_a_503_problem_and_keeps_nothing(
    app, api_as, two_classes, s3_storage, monkeypatch
):
    monkeypatch.setitem(app.config, "S3_ENDPOINT_URL", "http://127.0.0.1:9")  # closed
    response = upload(api_as(two_classes["mentor"]), two_classes["past"], samples.pdf(), status=503)
    body = assert_problem(response, 503)
    assert "The file storage cannot be reached just now" in body["detail"]
    assert response.headers["Retry-After"] == "30"
    assert count(Attachment) == 0
    assert files_in(s3_storage) == []
