"""The Imports page: upload a timetable or exceptions CSV, read its preview line by line, then
apply the very file previewed, all or nothing (never one changed or re-uploaded since)."""

from __future__ import annotations

import codecs
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from sqlalchemy import select

from models import CourseGroup, Series, db
from services.timetable.timetable_import import import_timetable
from tests.conftest import csrf_token_of

PARTIAL = {"HX-Request": "true", "HX-Request-Type": "partial"}
HEADER = (
    "group,subject,mentor_email,room,weekdays,start,end,first_date,last_date,every_weeks,mode,"
    "students"
)
ROW = "Maths 7A,Maths,ada@school.test,Lab,Mon;Wed,10:00,11:00,2026-09-07,,,,s1@school.test"


@pytest.fixture(autouse=True)
def folders(app, tmp_path, monkeypatch, upload_folder, clock):
    monkeypatch.setitem(app.config, "IMPORT_FOLDER", str(tmp_path / "imports"))
    clock.travel(datetime(2026, 9, 1, 8, tzinfo=UTC))  # before the term the files plan
    return tmp_path / "imports"


def table_counts() -> dict[str, int]:
    db.session.expire_all()
    return {
        t.name: db.session.scalar(select(sa.func.count()).select_from(t))
        for t in db.metadata.sorted_tables
    }


def upload(web, kind, content: bytes, name="timetable.csv", **kwargs):
    page = web.get("/timetable/imports")
    form = page.forms[f"import-{kind}-upload"]
    form["file"] = (name, content)
    return form.submit(**kwargs)


def rows_of(response, kind="timetable") -> list[str]:
    table = response.html.select_one(f"#import-{kind} .import-lines")
    return [" ".join(r.text.split()) for r in table.select("tbody tr")] if table else []


def test_upload_preview_then_apply_the_timetable(web, login_as, folders):
    login_as("coordinator")
    before = table_counts()
    content = f"\ufeff{HEADER}\r\n{ROW}\r\n".encode()  # BOM and CRLF, as spreadsheets save
    preview = upload(web, "timetable", content)
    assert preview.status_int == 200
    assert rows_of(preview) == [
        "2 Created mentor account ada@school.test (cannot log in yet)",
        "2 Created student account s1@school.test (cannot log in yet)",
        "2 Created subject Maths",
        "2 Created room Lab",
        "2 Created group Maths 7A (Maths, ada@school.test)",
        "2 Created series Maths 7A Mon;Wed 10:00-11:00 from 2026-09-07",
        "2 Changed Maths 7A: enrols s1@school.test",
    ]
    assert table_counts() == before  # a preview writes nothing
    assert len(list(folders.glob("timetable-*.csv"))) == 1

    done = preview.forms["import-timetable-apply"].submit()
    assert done.status_int == 302
    page = done.follow()
    assert "Imported timetable.csv: 6 created, 1 changed." in page.text
    assert db.session.scalar(select(CourseGroup.name)) == "Maths 7A"
    assert list(folders.glob("*.csv")) == []  # the kept file goes once applied

    # The same apply again (a double submit, Back then Apply): the file is gone, nothing twice.
    again = preview.forms["import-timetable-apply"].submit(status=409)
    assert "no longer here" in again.text
    assert db.session.scalar(select(sa.func.count(Series.id))) == 1


def test_a_file_with_bad_lines_lists_them_and_cannot_be_applied(web, login_as):
    login_as("coordinator")
    before = table_counts()
    bad = f"{HEADER}\n{ROW}\nMaths 7A,Maths,ada@school.test,Lab,Fri,25:00,11:00,2026-02-30,,,,\n"
    preview = upload(web, "timetable", bad.encode(), status=422)
    rows = rows_of(preview)
    assert rows == [
        "3 Refused invalid time 25:00 in start (use HH:MM from 00:00 to 23:59)",
        "3 Refused invalid date 2026-02-30 in first_date",
    ]
    assert "Nothing can be imported: 2 problems" in preview.text
    assert "import-timetable-apply" not in preview.forms
    latin1 = upload(web, "timetable", f"{HEADER}\nCafé,".encode("latin-1"), status=422)
    assert rows_of(latin1) == ["2 Refused the file is not UTF-8 text"]
    assert table_counts() == before


def test_a_preview_in_place_with_htmx_and_apply_redirects(web, login_as):
    login_as("coordinator")
    page = web.get("/timetable/imports")
    token = csrf_token_of(page)
    headers = {**PARTIAL, "X-CSRFToken": token}
    content = f"{HEADER}\n{ROW}\n".encode()
    preview = web.post(
        "/timetable/imports/timetable/preview", headers=headers,
        upload_files=[("file", "t.csv", content)],
    )  # fmt: skip
    assert preview.status_int == 200 and "<html" not in preview.text
    section = preview.html.select_one("section#import-timetable")
    assert section is not None and section.select_one("#import-timetable-apply")
    fields = {i["name"]: i["value"] for i in section.select("#import-timetable-apply input")}
    done = web.post("/timetable/imports/timetable/apply", fields, headers=headers)
    assert done.status_int == 200 and done.headers["HX-Redirect"] == "/timetable/imports"


def test_a_timetable_changed_since_the_preview_is_not_applied_blindly(web, login_as):
    login_as("coordinator")
    preview = upload(web, "timetable", f"{HEADER}\n{ROW}\n".encode())
    # Someone else imports a different timetable for the same group meanwhile.
    other = f"{HEADER}\nMaths 7A,Maths,ada@school.test,Lab,Mon;Wed,09:00,10:00,2026-09-07,,,,\n"
    import_timetable(other, tz=ZoneInfo("Europe/Paris"))
    db.session.commit()
    before = table_counts()
    response = preview.forms["import-timetable-apply"].submit(status=409)
    assert "Nothing was imported: what this file does has changed" in response.text
    assert "Changed series Maths 7A Mon;Wed 10:00-11:00: start 09:00 → 10:00" in " ".join(
        rows_of(response)
    )
    assert table_counts() == before
    # The new preview can be applied.
    response.forms["import-timetable-apply"].submit().follow()
    series = db.session.scalar(select(Series))
    assert f"{series.start_time:%H:%M}" == "10:00"


def test_a_tampered_hash_or_another_users_file_is_not_found(web, login_as, make_user):
    login_as("coordinator")
    preview = upload(web, "timetable", f"{HEADER}\n{ROW}\n".encode())
    form = preview.forms["import-timetable-apply"]
    sha = form["timetable-sha256"].value
    form["timetable-sha256"] = "0" * 64
    assert "no longer here" in form.submit(status=409).text
    # Another coordinator cannot apply this one's upload by its hash.
    web.reset()
    login_as("coordinator")
    page = web.get("/timetable/imports")
    token = csrf_token_of(page)
    response = web.post(
        "/timetable/imports/timetable/apply",
        {"timetable-sha256": sha, "timetable-digest": form["timetable-digest"].value,
         "csrf_token": token},
        status=409,
    )  # fmt: skip
    assert "no longer here" in response.text
    assert db.session.scalar(select(CourseGroup.id)) is None


def test_exceptions_preview_and_apply(web, login_as):
    login_as("coordinator")
    upload(web, "timetable", f"{HEADER}\n{ROW}\n".encode()).forms["import-timetable-apply"].submit()
    content = "group,date,action,start,end,room,notes\nMaths 7A,2026-09-07,cancel,,,,Trip\n"
    preview = upload(web, "exceptions", content.encode(), name="exc.csv")
    assert rows_of(preview, "exceptions") == [
        "2 Created Maths 7A on Mon 2026-09-07 (10:00): cancelled; applies when generated"
    ]
    page = preview.forms["import-exceptions-apply"].submit().follow()
    assert "Imported exc.csv: 1 created." in page.text


def test_a_file_over_the_limit_is_refused_with_a_visible_message(app, web, login_as, monkeypatch):
    login_as("coordinator")
    monkeypatch.setitem(app.config, "MAX_IMPORT_KB", 1)
    response = upload(web, "timetable", (HEADER + "\n" + ROW * 20).encode(), status=413)
    assert "larger than 1 KB" in response.html.select_one("#timetable-file-error").text
    no_file = web.get("/timetable/imports").forms["import-exceptions-upload"].submit(status=422)
    assert no_file.html.select_one("#exceptions-file-error").text == "Choose a .csv file."


def test_an_unknown_kind_is_not_found(web, login_as):
    login_as("coordinator")
    token = csrf_token_of(web.get("/timetable/imports"))
    web.post("/timetable/imports/closures/apply", {"csrf_token": token}, status=404)


def test_utf16_is_named_as_not_utf8(web, login_as):
    login_as("coordinator")
    content = codecs.BOM_UTF16_LE + f"{HEADER}\n{ROW}\n".encode("utf-16-le")
    response = upload(web, "timetable", content, status=422)
    assert "not UTF-8 text" in " ".join(rows_of(response))
