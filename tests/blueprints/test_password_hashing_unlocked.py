"""Choosing a password (own change, staff setting one, an invitation, a new account with a
password) hashes it, about half a second of scrypt, before the request takes SQLite's write
lock: meanwhile other writers go on. The password is then written only if the account is still
as it was read, so a change made in between is never overwritten."""

from __future__ import annotations

import sqlite3
import threading
from urllib.parse import urlsplit

import pytest
from werkzeug.security import check_password_hash

import services.people.accounts
from models import User, db
from services.people.invitations import make_invitation
from tests.conftest import TEST_PASSWORD, browser, submit_taking_the_write_lock_meanwhile

NEW_PASSWORD = "a brand new password"


@pytest.fixture(autouse=True)
def _sqlite_only():
    if db.engine.dialect.name != "sqlite":
        pytest.skip("SQLite's write lock only")


class HeldHashing:
    """Holds every password hashing until released, saying when one has started."""

    def __init__(self, monkeypatch):
        self.started, self.release = threading.Event(), threading.Event()
        self.while_held = None
        real = services.people.accounts.generate_password_hash

        def held(password, method):
            if self.while_held:
                self.while_held()
            self.started.set()
            self.release.wait(timeout=30)
            return real(password, method=method)

        monkeypatch.setattr(services.people.accounts, "generate_password_hash", held)


def submit_while_hashing(form, hashing: HeldHashing, *, status="*"):
    return submit_taking_the_write_lock_meanwhile(
        form, hashing.started, hashing.release, status=status
    )


def stored_hash(user_id: int) -> str | None:
    db.session.expire_all()
    return db.session.get(User, user_id).password_hash


def test_changing_ones_own_password(web, login_as, monkeypatch):
    me = login_as("mentor")
    form = web.get("/profile/").forms["password-form"]
    form["current"], form["password"], form["confirm"] = TEST_PASSWORD, NEW_PASSWORD, NEW_PASSWORD
    page = submit_while_hashing(form, HeldHashing(monkeypatch), status=302)
    assert "Your password is changed" in page.follow().text
    assert check_password_hash(stored_hash(me.id), NEW_PASSWORD)


def test_staff_setting_a_password(web, login_as, make_user, monkeypatch):
    target = make_user("student")
    login_as("coordinator")
    form = web.get(f"/manage/users/{target.id}").forms["password-form"]
    form["password"], form["confirm"] = NEW_PASSWORD, NEW_PASSWORD
    page = submit_while_hashing(form, HeldHashing(monkeypatch), status=302)
    assert "Password set for" in page.follow().text
    assert check_password_hash(stored_hash(target.id), NEW_PASSWORD)


def test_choosing_a_password_through_an_invitation(app, make_user, monkeypatch):
    target = make_user("student", password=None)
    admin = make_user("admin")
    token = make_invitation(admin, target, secret_key=app.config["SECRET_KEY"])
    visitor = browser(app)
    form = visitor.get(f"/auth/invitation/{token}").forms["invitation-form"]
    form["password"], form["confirm"] = NEW_PASSWORD, NEW_PASSWORD
    page = submit_while_hashing(form, HeldHashing(monkeypatch), status=302)
    assert urlsplit(page.headers["Location"]).path == "/"
    assert check_password_hash(stored_hash(target.id), NEW_PASSWORD)


def test_creating_an_account_with_a_password(web, login_as, monkeypatch):
    login_as("admin")
    form = web.get("/manage/users").forms["user-form"]
    form["new-email"], form["new-name"], form["new-role"] = "ines@school.test", "Inès", "student"
    form["new-password"], form["new-confirm"] = NEW_PASSWORD, NEW_PASSWORD
    page = submit_while_hashing(form, HeldHashing(monkeypatch), status=302)
    assert "Account for Inès (ines@school.test) created. They can log in now." in (
        page.follow().text
    )
    created = db.session.scalar(db.select(User).where(User.email == "ines@school.test"))
    assert check_password_hash(created.password_hash, NEW_PASSWORD)


# --- A change made while the password was being hashed ------------------------------------------


def change_password_elsewhere(user_id: int, database: str):
    """What another request does meanwhile: it sets the account's password."""

    def change():
        other = sqlite3.connect(database, isolation_level=None, timeout=5)
        try:
            other.execute(
                "UPDATE user_account SET password_hash = 'changed elsewhere' WHERE id = ?",
                (user_id,),
            )
        finally:
            other.close()

    return change


def test_a_password_set_by_staff_meanwhile_is_not_overwritten(web, login_as, make_user, app,
                                                               monkeypatch):  # fmt: skip
    target = make_user("student")
    login_as("coordinator")
    form = web.get(f"/manage/users/{target.id}").forms["password-form"]
    form["password"], form["confirm"] = NEW_PASSWORD, NEW_PASSWORD
    hashing = HeldHashing(monkeypatch)
    hashing.while_held = change_password_elsewhere(target.id, db.engine.url.database)
    page = submit_while_hashing(form, hashing, status=422)
    assert "password changed" in page.html.find(id="password-error").text
    assert stored_hash(target.id) == "changed elsewhere"


def test_ones_own_password_changed_meanwhile_is_not_overwritten(web, login_as, monkeypatch):
    me = login_as("mentor")
    form = web.get("/profile/").forms["password-form"]
    form["current"], form["password"], form["confirm"] = TEST_PASSWORD, NEW_PASSWORD, NEW_PASSWORD
    hashing = HeldHashing(monkeypatch)
    hashing.while_held = change_password_elsewhere(me.id, db.engine.url.database)
    page = submit_while_hashing(form, hashing, status=422)
    assert "changed meanwhile" in page.html.find(id="current-error").text
    assert stored_hash(me.id) == "changed elsewhere"
