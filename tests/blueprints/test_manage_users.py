"""Management pages for users: list, create, inline edit, deactivate, passwords, invitations."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from itsdangerous import TimestampSigner, URLSafeTimedSerializer
from sqlalchemy import func, select
from werkzeug.security import check_password_hash

import services.people.invitations as invitations_service
from models import Role, User, db
from services.people.invitations import INVITATION_SALT
from tests.conftest import TEST_PASSWORD, browser, csrf_token_of

PARTIAL = {"HX-Request": "true", "HX-Request-Type": "partial"}
NEW_PASSWORD = "a much better password"


def hx_post(web, url, params, **kwargs):
    token = csrf_token_of(web.get("/manage/"))
    return web.post(url, params, headers={**PARTIAL, "X-CSRFToken": token}, **kwargs)


def plain_post(web, url, params, **kwargs):
    return web.post(url, {**params, "csrf_token": csrf_token_of(web.get("/manage/"))}, **kwargs)


def fresh(ident) -> User:
    db.session.expire_all()
    return db.session.get(User, ident)


def logged_in(app, user: User, password=TEST_PASSWORD):
    """A second browser logged in as `user` (to see their sessions end)."""
    other = browser(app)
    form = other.get("/auth/login").forms[0]
    form["email"], form["password"] = user.email, password
    assert form.submit().status_int == 302
    assert other.get("/sessions/today/").status_int == 200
    return other


def invitation_link(web, user_id) -> str:
    response = hx_post(web, f"/manage/users/{user_id}/invitation", {})
    link = response.html.find(id="invitation-link")["value"]
    return urlsplit(link).path


# --- Access -------------------------------------------------------------------------------------


def user_routes(user_id):
    return [
        ("GET", "/manage/users"),
        ("POST", "/manage/users"),
        ("GET", f"/manage/users/{user_id}"),
        ("GET", f"/manage/users/{user_id}/edit"),
        ("POST", f"/manage/users/{user_id}/edit"),
        ("POST", f"/manage/users/{user_id}/active"),
        ("POST", f"/manage/users/{user_id}/password"),
        ("POST", f"/manage/users/{user_id}/invitation"),
    ]


@pytest.mark.parametrize("role", ["student", "mentor"])
def test_students_and_mentors_are_refused_every_user_route(web, login_as, make_user, role):
    target = make_user("student", name="Target")
    login_as(role)
    csrf = csrf_token_of(web.get("/sessions/today/"))
    for method, url in user_routes(target.id):
        if method == "GET":
            response = web.get(url, status=403)
        else:
            response = web.post(
                url,
                {"name": "Hacked", "role": "admin", "active": "0", "new-email": "x@school.test",
                 "new-name": "X", "new-role": "admin", "password": NEW_PASSWORD,
                 "confirm": NEW_PASSWORD},
                headers={"X-CSRFToken": csrf},
                status=403,
            )  # fmt: skip
        assert "Not allowed" in response.text, (method, url)  # our words, not Werkzeug's
    target = fresh(target.id)
    assert (target.name, target.role, target.is_active_account) == ("Target", Role.STUDENT, True)
    assert check_password_hash(target.password_hash, TEST_PASSWORD)
    assert db.session.scalar(select(func.count(User.id))) == 2


def test_anonymous_users_are_sent_to_login(web, make_user):
    target = make_user("student")
    for method, url in user_routes(target.id):
        if method == "GET":
            assert urlsplit(web.get(url, status=302).headers["Location"]).path == "/auth/login"


def test_unknown_ids_are_404(web, login_as):
    login_as("admin")
    for url in ("/manage/users/999", "/manage/users/999/edit", "/manage/users/0"):
        web.get(url, status=404)
    for suffix in ("edit", "active", "password", "invitation"):
        hx_post(web, f"/manage/users/999/{suffix}", {"active": "0"}, status=404)


def test_csrf_is_required(web, login_as, make_user):
    target = make_user("student")
    login_as("admin")
    web.post(f"/manage/users/{target.id}/active", {"active": "0"}, status=400)
    web.post(f"/manage/users/{target.id}/invitation", {}, headers=PARTIAL, status=400)
    assert fresh(target.id).is_active_account


# --- List ---------------------------------------------------------------------------------------


def test_user_list_search_role_filter_and_pagination(web, login_as, make_user):
    for n in range(25):
        make_user("student", name=f"Student {n:02d}")
    make_user("mentor", name="Ada Lovelace", email="ada@school.test")
    make_user("mentor", name="Gone", active=False)
    me = login_as("coordinator")
    page = web.get("/manage/users")
    assert len(page.html.select("#users-list tbody tr")) == 20 and "Page 1 of 2" in page.text
    rows = web.get("/manage/users", {"q": "ADA@"}).html.select("#users-list tbody tr")
    assert [r["id"] for r in rows] == [
        f"user-{db.session.scalar(select(User.id).where(User.name == 'Ada Lovelace'))}"
    ]
    rows = web.get("/manage/users", {"role": "mentor"}).html.select("#users-list tbody tr")
    assert [r.find("a").text for r in rows] == ["Ada Lovelace", "Gone"]
    rows = web.get("/manage/users", {"role": "mentor", "status": "inactive"}).html.select(
        "#users-list tbody tr"
    )
    assert [r.find("a").text for r in rows] == ["Gone"]
    rows = web.get("/manage/users", {"role": "coordinator"}).html.select("#users-list tbody tr")
    assert [r["id"] for r in rows] == [f"user-{me.id}"]
    fragment = web.get("/manage/users", {"q": "stud", "page": "2"}, headers=PARTIAL)
    assert fragment.text.lstrip().startswith('<div id="users-list">')
    assert len(fragment.html.select("tbody tr")) == 5


def test_coordinators_see_admin_rows_without_actions(web, login_as, make_user):
    admin = make_user("admin", name="The Admin")
    login_as("coordinator")
    row = web.get("/manage/users").html.find(id=f"user-{admin.id}")
    assert "Admin account" in row.text and row.find("button") is None


# --- Create -------------------------------------------------------------------------------------


def test_create_a_user_without_password_then_invite(web, login_as):
    login_as("coordinator")
    form = web.get("/manage/users").forms["user-form"]
    form["new-email"] = "  Noah.Bernard@School.TEST "
    form["new-name"] = "Noah Bernard"
    form["new-role"] = "student"
    page = form.submit().follow()
    assert "Set a password or send an invitation link" in page.text
    user = db.session.scalar(select(User).where(User.name == "Noah Bernard"))
    assert (user.email, user.role, user.password_hash) == (
        "noah.bernard@school.test",
        Role.STUDENT,
        None,
    )
    assert "No: no password yet" in page.text


def test_create_a_user_with_a_password(web, login_as, app):
    login_as("admin")
    form = web.get("/manage/users").forms["user-form"]
    form["new-email"] = "new.admin@school.test"
    form["new-name"] = "New Admin"
    form["new-role"] = "admin"
    form["new-password"] = NEW_PASSWORD
    form["new-confirm"] = NEW_PASSWORD
    form.submit().follow()
    user = db.session.scalar(select(User).where(User.email == "new.admin@school.test"))
    assert user.role == Role.ADMIN
    logged_in(app, user, NEW_PASSWORD)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("email", "", "Enter an e-mail address."),
        ("email", "not-an-address", "is not a valid e-mail address"),
        ("email", "TAKEN@school.test", "An account with taken@school.test already exists."),
        ("name", "  ", "Enter the person's name."),
        ("name", "n" * 121, "A name has at most 120 characters."),
        ("role", "owner", "Unknown role 'owner'"),
        ("role", "admin", "Only an admin can give the admin role."),
        ("password", "short", "The password must have at least 10 characters."),
        ("confirm", "something else", "The two passwords differ."),
    ],
)
def test_create_user_validation_messages(web, login_as, make_user, field, value, message):
    make_user("student", email="taken@school.test")
    login_as("coordinator")
    params = {
        "new-email": "fresh@school.test",
        "new-name": "Fresh",
        "new-role": "student",
        "new-password": NEW_PASSWORD,
        "new-confirm": NEW_PASSWORD,
    }
    params[f"new-{field}"] = value
    page = plain_post(web, "/manage/users", params, status=422)
    assert message in page.html.find(id=f"new-{field}-error").text
    form = page.forms["user-form"]
    assert form["new-name"].value == params["new-name"]
    assert form["new-email"].value == params["new-email"]
    assert db.session.scalar(select(func.count(User.id))) == 2


def test_coordinators_are_not_offered_the_admin_role(web, login_as):
    login_as("coordinator")
    options = [v for v, _, _ in web.get("/manage/users").forms["user-form"]["new-role"].options]
    assert "admin" not in options and "coordinator" in options


# --- Edit ---------------------------------------------------------------------------------------


def test_inline_edit_of_name_and_role_ends_the_users_sessions(web, login_as, make_user, app):
    target = make_user("student", name="Noah")
    other_browser = logged_in(app, target)
    login_as("coordinator")
    editor = web.get(f"/manage/users/{target.id}/edit", headers=PARTIAL)
    assert editor.html.find("tr")["id"] == f"user-{target.id}"
    row = hx_post(web, f"/manage/users/{target.id}/edit", {"name": "Noah B.", "role": "mentor"})
    assert row.html.find("tr")["id"] == f"user-{target.id}" and "Mentor" in row.text
    assert "Noah B. saved." in row.headers["HX-Trigger"]
    assert (fresh(target.id).name, fresh(target.id).role) == ("Noah B.", Role.MENTOR)
    # A role change ends the user's open logins (what they may do has changed).
    assert other_browser.get("/sessions/today/", status=302)


def test_edit_errors_stay_in_the_row(web, login_as, make_user):
    target = make_user("student", name="Noah")
    login_as("coordinator")
    response = hx_post(
        web, f"/manage/users/{target.id}/edit", {"name": "", "role": "admin"}, status=422
    )
    row = response.html.find("tr")
    assert "Enter the person's name." in row.find(id="name-error").text
    assert "Only an admin can give the admin role." in row.find(id="role-error").text
    assert fresh(target.id).name == "Noah"


def test_nobody_changes_their_own_role(web, login_as):
    me = login_as("admin")
    response = hx_post(
        web, f"/manage/users/{me.id}/edit", {"name": "Me", "role": "student"}, status=422
    )
    assert "You cannot change your own role; ask another admin." in response.text
    assert fresh(me.id).role == Role.ADMIN
    # Renaming oneself is fine (and keeps one logged in).
    hx_post(web, f"/manage/users/{me.id}/edit", {"name": "Me Myself", "role": "admin"})
    assert fresh(me.id).name == "Me Myself"
    assert web.get("/manage/").status_int == 200


def test_coordinators_cannot_touch_admin_accounts(web, login_as, make_user):
    admin = make_user("admin", name="The Admin")
    login_as("coordinator")
    web.get(f"/manage/users/{admin.id}/edit", status=403)
    hx_post(web, f"/manage/users/{admin.id}/edit", {"name": "X", "role": "student"}, status=403)
    hx_post(web, f"/manage/users/{admin.id}/active", {"active": "0"}, status=403)
    plain_post(
        web, f"/manage/users/{admin.id}/password",
        {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD}, status=403,
    )  # fmt: skip
    hx_post(web, f"/manage/users/{admin.id}/invitation", {}, status=403)
    admin = fresh(admin.id)
    assert (admin.name, admin.role, admin.is_active_account) == ("The Admin", Role.ADMIN, True)
    # They may look at the account, but the page offers nothing to change.
    page = web.get(f"/manage/users/{admin.id}")
    assert "Only an admin can change an admin" in page.html.text
    assert "user-edit-form" not in page.forms


def test_the_user_page_works_as_a_plain_link_and_the_row_as_a_fragment(web, login_as, make_user):
    target = make_user("student", name="Noah")
    login_as("coordinator")
    page = web.get(f"/manage/users/{target.id}")
    assert "<html" in page.text and "password-form" in page.forms
    row = web.get(f"/manage/users/{target.id}", headers=PARTIAL)
    assert row.html.find("tr")["id"] == f"user-{target.id}" and "<html" not in row.text


# --- Deactivate ---------------------------------------------------------------------------------


def test_deactivation_ends_the_users_sessions(web, login_as, make_user, app):
    target = make_user("mentor", name="Ada")
    other_browser = logged_in(app, target)
    login_as("coordinator")
    row = hx_post(web, f"/manage/users/{target.id}/active", {"active": "0"})
    assert "Deactivated" in row.text and "Reactivate" in row.text
    assert "their logins have ended" in row.headers["HX-Trigger"]
    assert fresh(target.id).is_active_account is False
    assert urlsplit(other_browser.get("/sessions/today/", status=302).headers["Location"]).path == (
        "/auth/login"
    )
    # And they cannot log in again.
    form = other_browser.get("/auth/login").forms[0]
    form["email"], form["password"] = target.email, TEST_PASSWORD
    assert form.submit(status=422)
    # Reactivating lets them log in again (with the same password).
    page = plain_post(web, f"/manage/users/{target.id}/active", {"active": "1"}).follow()
    assert "Ada's account is active again." in page.html.text
    logged_in(app, fresh(target.id))


def test_nobody_deactivates_themself(web, login_as):
    me = login_as("admin")
    response = hx_post(web, f"/manage/users/{me.id}/active", {"active": "0"}, status=422)
    assert "You cannot deactivate your own account." in response.text
    page = plain_post(web, f"/manage/users/{me.id}/active", {"active": "0"}, status=422)
    assert "You cannot deactivate your own account." in page.html.find(id="active-error").text
    assert fresh(me.id).is_active_account
    assert web.get("/manage/").status_int == 200


# --- Passwords ----------------------------------------------------------------------------------


def test_staff_set_a_password(web, login_as, make_user, app):
    target = make_user("student", name="Noah")
    other_browser = logged_in(app, target)
    login_as("coordinator")
    form = web.get(f"/manage/users/{target.id}").forms["password-form"]
    form["password"], form["confirm"] = "short", "short"
    page = form.submit(status=422)
    assert "at least 10 characters" in page.html.find(id="password-error").text
    form = page.forms["password-form"]
    form["password"], form["confirm"] = NEW_PASSWORD, "different password"
    page = form.submit(status=422)
    assert "The two passwords differ." in page.html.find(id="confirm-error").text
    form = page.forms["password-form"]
    form["password"], form["confirm"] = NEW_PASSWORD, NEW_PASSWORD
    page = form.submit().follow()
    assert "Password set for Noah" in page.text
    assert other_browser.get("/sessions/today/", status=302)
    logged_in(app, fresh(target.id), NEW_PASSWORD)


def test_setting_ones_own_password_keeps_one_logged_in(web, login_as):
    me = login_as("admin")
    plain_post(
        web, f"/manage/users/{me.id}/password", {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD}
    ).follow()
    assert check_password_hash(fresh(me.id).password_hash, NEW_PASSWORD)
    assert web.get("/manage/").status_int == 200


# --- Invitations --------------------------------------------------------------------------------


def test_invitation_link_lets_the_user_choose_a_password_once(web, login_as, make_user, app):
    target = make_user("student", name="Noah", password=None)
    login_as("coordinator")
    response = hx_post(web, f"/manage/users/{target.id}/invitation", {})
    root = response.html.find("div")
    assert root["id"] == "invitation"
    link = root.find(id="invitation-link")["value"]
    assert link.startswith("http://localhost/auth/invitation/")
    assert root.find("button", attrs={"data-copy": link})["type"] == "button"

    visitor = browser(app)
    page = visitor.get(urlsplit(link).path)
    assert "Welcome, Noah." in page.text
    # A browser offers to save the new password, never fills in one it knows.
    for name in ("password", "confirm"):
        assert page.html.find("input", attrs={"name": name})["autocomplete"] == "new-password"
    form = page.forms["invitation-form"]
    form["password"], form["confirm"] = "short", "short"
    page = form.submit(status=422)
    assert "at least 10 characters" in page.html.find(id="password-error").text
    form = page.forms["invitation-form"]
    form["password"], form["confirm"] = NEW_PASSWORD, "something else entirely"
    page = form.submit(status=422)
    assert "The two passwords differ." in page.html.find(id="confirm-error").text
    form = page.forms["invitation-form"]
    form["password"], form["confirm"] = NEW_PASSWORD, NEW_PASSWORD
    response = form.submit()
    # Choosing the password logs them in: no second trip through the login page.
    assert urlsplit(response.headers["Location"]).path == "/"
    home = response.maybe_follow()
    assert "Your password is set. Welcome, Noah." in home.text
    assert visitor.get("/dashboard/").status_code == 200
    logged_in(app, fresh(target.id), NEW_PASSWORD)

    # Single use: the same link no longer works, for a GET or a POST.
    used = browser(app).get(urlsplit(link).path, status=410)
    assert "already been used" in used.html.find(id="invitation-error").text
    assert check_password_hash(fresh(target.id).password_hash, NEW_PASSWORD)


def test_an_invitation_dies_when_the_password_changes(web, login_as, make_user, app):
    target = make_user("student")
    login_as("admin")
    path = invitation_link(web, target.id)
    plain_post(
        web, f"/manage/users/{target.id}/password",
        {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD},
    )  # fmt: skip
    browser(app).get(path, status=410)


def issued_days_ago(monkeypatch, days: int) -> None:
    """Invitations made from now on carry a timestamp `days` in the past."""

    class PastSigner(TimestampSigner):
        def get_timestamp(self) -> int:
            return super().get_timestamp() - days * 86400

    monkeypatch.setattr(
        invitations_service,
        "_serializer",
        lambda key: URLSafeTimedSerializer(key, salt=INVITATION_SALT, signer=PastSigner),
    )


def test_an_expired_invitation_is_refused(web, login_as, make_user, app, monkeypatch):
    target = make_user("student", password=None)
    login_as("coordinator")
    with monkeypatch.context() as patch:
        issued_days_ago(patch, 8)  # the default lifetime is seven days
        path = invitation_link(web, target.id)
    page = browser(app).get(path, status=410)
    assert "This invitation link has expired." in page.html.find(id="invitation-error").text
    visitor = browser(app)
    token = csrf_token_of(visitor.get("/auth/login"))
    params = {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD, "csrf_token": token}
    visitor.post(path, params, status=410)
    assert fresh(target.id).password_hash is None


def test_a_link_issued_six_days_ago_still_works(web, login_as, make_user, app, monkeypatch):
    target = make_user("student", password=None)
    login_as("coordinator")
    with monkeypatch.context() as patch:
        issued_days_ago(patch, 6)
        path = invitation_link(web, target.id)
    assert browser(app).get(path).status_int == 200


def test_tampered_invitations_are_refused(web, login_as, make_user, app):
    target = make_user("student", password=None)
    other = make_user("student", password=None)
    login_as("coordinator")
    path = invitation_link(web, target.id)
    token = path.rsplit("/", 1)[1]
    payload, _, rest = token.partition(".")
    for bad in (
        token[:-2] + ("AA" if not token.endswith("AA") else "BB"),
        f"{payload}x.{rest}",
        "not-a-token",
        invitation_link(web, other.id).rsplit("/", 1)[1].split(".")[0] + "." + rest,
    ):
        page = browser(app).get(f"/auth/invitation/{bad}", status=404)
        assert "not valid" in page.html.find(id="invitation-error").text
    assert fresh(target.id).password_hash is None and fresh(other.id).password_hash is None


def test_deactivated_users_get_no_invitation_and_cannot_use_one(web, login_as, make_user, app):
    target = make_user("student", password=None)
    login_as("coordinator")
    path = invitation_link(web, target.id)
    hx_post(web, f"/manage/users/{target.id}/active", {"active": "0"})
    page = browser(app).get(path, status=410)
    assert "deactivated" in page.html.find(id="invitation-error").text
    response = hx_post(web, f"/manage/users/{target.id}/invitation", {}, status=422)
    assert "reactivate it before inviting" in response.html.find(id="invitation-error").text


def test_invitation_without_javascript_shows_the_link_in_the_page(web, login_as, make_user):
    target = make_user("student", password=None)
    login_as("coordinator")
    page = web.get(f"/manage/users/{target.id}").forms["invitation-form"].submit()
    assert "<html" in page.text
    assert page.html.find(id="invitation-link")["value"].startswith("http://localhost/auth/")
