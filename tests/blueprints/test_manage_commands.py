"""`flask enrol-students GROUP --file F`: all or nothing, every refused line listed, each new
student told; `--dry-run` writes nothing."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from models import Notification, db


@pytest.fixture
def school(make_user, make_group):
    ada = make_user("student", name="Ada Lovelace", email="ada@school.test")
    bob = make_user("student", name="Bob Stone", email="bob@school.test")
    make_user("mentor", name="Mo Mentor", email="mo@school.test")
    group = make_group("Maths 7A", students=[bob])
    return {"group": group, "ada": ada, "bob": bob}


def roster(group) -> list[str]:
    db.session.expire_all()
    return sorted(e.student.name for e in group.enrolments)


def test_enrols_from_a_file_with_bom_and_crlf(cli, school, tmp_path):
    path = tmp_path / "emails.txt"
    path.write_bytes("\ufeffAda Lovelace <ADA@school.test>\r\nbob@school.test\r\n".encode())
    result = cli("enrol-students", "Maths 7A", "--file", str(path))
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        "line 1: Ada Lovelace <ADA@school.test>: enrol Ada Lovelace",
        "line 2: bob@school.test: already in Bob Stone",
        "Enrolled 1 in Maths 7A (1 already in it).",
    ]
    assert roster(school["group"]) == ["Ada Lovelace", "Bob Stone"]
    assert (
        db.session.scalar(
            select(Notification.title).where(Notification.user_id == school["ada"].id)
        )
        == "You are now in Maths 7A"
    )


def test_a_refused_line_enrols_nobody_and_lists_every_bad_line(cli, school, tmp_path):
    path = tmp_path / "emails.txt"
    path.write_text("ada@school.test\nmo@school.test, nobody@school.test\n")
    result = cli("enrol-students", "Maths 7A", "--file", str(path))
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        "Nothing was enrolled:",
        "line 2: mo@school.test: Mo Mentor is a mentor, not a student",
        "line 2: nobody@school.test: no account has this e-mail",
    ]
    assert roster(school["group"]) == ["Bob Stone"]


def test_dry_run_stdin_empty_and_non_utf8(cli, school, tmp_path):
    result = cli("enrol-students", "Maths 7A", "--file", "-", "--dry-run", input="Ada Lovelace\n")
    assert result.exit_code == 0, result.output
    assert "Would enrol 1 in Maths 7A (0 already in it); dry run, nothing written." in result.output
    assert roster(school["group"]) == ["Bob Stone"]
    empty = cli("enrol-students", "Maths 7A", "--file", "-", input="\n \n")
    assert empty.exit_code == 1
    assert "Error: Paste at least one e-mail or name." in empty.output
    latin1 = tmp_path / "latin1.txt"
    latin1.write_bytes("Zoë\n".encode("latin-1"))
    bad = cli("enrol-students", "Maths 7A", "--file", str(latin1))
    assert bad.exit_code == 1 and "is not UTF-8 text" in bad.output
    assert roster(school["group"]) == ["Bob Stone"]
