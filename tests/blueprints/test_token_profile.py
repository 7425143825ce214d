"""API tokens on the profile page: an optional expiry date and read-only when made, when each
was last used and when it expires in the list; changing one's password and "Log out
everywhere" revoke them, and the page says so (with how many) before; so does the staff's
"Set password" on a user's page. A plain logout leaves them working."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from werkzeug.security import check_password_hash

from models import ApiToken, User, db
from services.people.accounts import create_user
from services.people.tokens import create_token, user_for_token
from tests.conftest import (
    FAST_HASH,
    TEST_PASSWORD,
    browser,
    csrf_token_of,
    empty_all_tables,
)

PARIS = ZoneInfo("Europe/Paris")
NEW_PASSWORD = "a brand new password"


def tokens_for(user, count: int) -> list[str]:
    made = [create_token(user, f"token {n}", tz=PARIS)[1] for n in range(count)]
    db.session.commit()
    return made


def logged_in(app, user, password=TEST_PASSWORD):
    other = browser(app)
    form = other.get("/auth/login").forms[0]
    form["email"], form["password"] = user.email, password
    assert form.submit().status_int == 302
    return other


def is_logged_in(client) -> bool:
    return client.get("/profile/", expect_errors=True).status_int == 200


# --- Making a token ------------------------------------------------------------------------------


def test_a_token_made_read_only_with_an_expiry_date_shows_both_and_its_last_use(
    app, web, login_as, clock
):
    login_as("mentor")
    form = web.get("/profile/").forms["token-form"]
    form["label"] = "Dashboard"
    form["expires_on"] = "2027-06-30"
    form["read_only"] = True
    created = form.submit(status=201)
    token = created.html.select_one("#new-token").text
    row = db.session.scalar(select(ApiToken))
    assert row.read_only is True
    # Until the end of 30 June in the school's zone.
    assert row.expires_at == datetime(2027, 7, 1, tzinfo=PARIS)
    line = created.html.find(id=f"token-{row.id}")
    assert line.select_one(".token-access").text == "Read-only"
    assert line.select_one(".token-expires").text == "after Wed 30 Jun 2027"
    assert line.select_one(".token-last-used").text == "never"

    clock.travel(datetime(2027, 3, 12, 14, 5, tzinfo=PARIS))
    browser(app).get("/api/v1/groups", headers={"Authorization": f"Bearer {token}"})
    line = web.get("/profile/").html.find(id=f"token-{row.id}")
    assert line.select_one(".token-last-used").text == "Fri 12 Mar 2027, 14:05"


def test_an_expired_token_is_listed_as_expired(web, login_as, make_user, clock):
    user = make_user("mentor")
    row, _token = create_token(user, "Old script", expires_on=clock.today(), tz=PARIS)
    db.session.commit()
    clock.travel(datetime(2027, 3, 11, 8, 0, tzinfo=PARIS))
    login_as(user)
    line = web.get("/profile/").html.find(id=f"token-{row.id}")
    assert " ".join(line.select_one(".token-expires").text.split()) == (
        "expired (worked until Wed 10 Mar 2027)"
    )


def test_a_token_without_options_never_expires_and_may_write(web, login_as):
    login_as("mentor")
    form = web.get("/profile/").forms["token-form"]
    form["label"] = "Sync"
    created = form.submit(status=201)
    row = db.session.scalar(select(ApiToken))
    assert row.expires_at is None and row.read_only is False
    line = created.html.find(id=f"token-{row.id}")
    assert line.select_one(".token-access").text == "Read and write"
    assert line.select_one(".token-expires").text == "never"


def test_an_expiry_in_the_past_or_not_a_date_is_refused_next_to_the_field(web, login_as, clock):
    login_as("student")
    for value, message in (
        ("2027-03-09", "That date is in the past: choose today (10 Mar 2027) or later"),
        ("next week", "Enter a real date (YYYY-MM-DD), or leave it empty."),
        ("2027-02-30", "Enter a real date (YYYY-MM-DD), or leave it empty."),
        ("9999-12-31", "Choose a date up to 31 Dec 2100, or leave it empty."),
    ):
        form = web.get("/profile/").forms["token-form"]
        form["label"] = "Portal"
        form["expires_on"] = value
        refused = form.submit(status=422)
        error = refused.html.find(id="expires_on-error")
        assert error is not None and message in error.text, (value, refused.text[-2000:])
        assert refused.html.find(id="expires_on")["aria-invalid"] == "true"
        assert refused.forms["token-form"]["label"].value == "Portal"  # kept for a retry
    assert db.session.scalar(select(ApiToken)) is None


def test_today_is_a_valid_expiry_date(web, login_as, clock):
    login_as("student")
    form = web.get("/profile/").forms["token-form"]
    form["expires_on"] = "2027-03-10"
    form.submit(status=201)
    assert db.session.scalar(select(ApiToken)).expires_at == datetime(2027, 3, 11, tzinfo=PARIS)


# --- Revoking on a new password or "Log out everywhere" -------------------------------------------


def test_the_profile_says_how_many_tokens_a_password_change_and_logout_everywhere_revoke(
    web, login_as
):
    user = login_as("mentor")
    page = web.get("/profile/")
    assert "revokes" not in page.html.find(id="password-form-hint").text
    tokens_for(user, 2)
    page = web.get("/profile/")
    for hint in ("password-form-hint", "logout-everywhere-hint"):
        assert "It also revokes your 2 API tokens." in page.html.find(id=hint).text


def test_changing_ones_password_revokes_tokens_and_ends_other_logins(app, web, login_as):
    user = login_as("mentor")
    tokens = tokens_for(user, 2)
    elsewhere = logged_in(app, user)
    form = web.get("/profile/").forms["password-form"]
    form["current"], form["password"], form["confirm"] = TEST_PASSWORD, NEW_PASSWORD, NEW_PASSWORD
    response = form.submit(status=302)
    page = response.follow()
    assert "Your 2 API tokens were revoked." in page.text
    assert is_logged_in(web)  # this browser stays logged in with the new password
    assert not is_logged_in(elsewhere)
    assert all(user_for_token(token) is None for token in tokens)
    db.session.expire_all()
    assert check_password_hash(db.session.get(User, user.id).password_hash, NEW_PASSWORD)


def test_a_wrong_current_password_or_a_bad_new_one_changes_nothing(app, web, login_as):
    user = login_as("mentor")
    [token] = tokens_for(user, 1)
    for current, new, confirm, field, message in (
        ("not my password", NEW_PASSWORD, NEW_PASSWORD, "current",
         "That is not your current password."),
        (TEST_PASSWORD, "short", "short", "password", "at least 10 characters"),
        (TEST_PASSWORD, NEW_PASSWORD, "something else", "confirm", "The two passwords differ."),
    ):  # fmt: skip
        form = web.get("/profile/").forms["password-form"]
        form["current"], form["password"], form["confirm"] = current, new, confirm
        refused = form.submit(status=422)
        assert message in refused.html.find(id=f"{field}-error").text
    assert user_for_token(token) == user
    db.session.expire_all()
    assert check_password_hash(db.session.get(User, user.id).password_hash, TEST_PASSWORD)


def test_log_out_everywhere_ends_every_login_and_revokes_the_tokens(app, web, login_as):
    user = login_as("student")
    tokens = tokens_for(user, 1)
    elsewhere = logged_in(app, user)
    form = web.get("/profile/").forms["logout-everywhere-form"]
    response = form.submit(status=302)
    assert response.location.endswith("/auth/login")
    assert "Your 1 API token was revoked." in response.follow().text
    assert not is_logged_in(web) and not is_logged_in(elsewhere)
    assert user_for_token(tokens[0]) is None


def test_a_plain_logout_leaves_the_tokens_working(web, login_as):
    user = login_as("student")
    [token] = tokens_for(user, 1)
    web.post("/auth/logout", {"csrf_token": csrf_token_of(web.get("/profile/"))}, status=302)
    assert user_for_token(token) == user


def test_staff_setting_a_password_are_told_it_revokes_the_tokens(web, login_as, make_user):
    target = make_user("mentor")
    [token] = tokens_for(target, 1)
    login_as("admin")
    page = web.get(f"/manage/users/{target.id}")
    assert "their 1 API token is revoked" in page.text
    form = page.forms["password-form"]
    form["password"], form["confirm"] = NEW_PASSWORD, NEW_PASSWORD
    form.submit()
    assert user_for_token(token) is None


def test_create_token_command_takes_an_expiry_date_and_read_only(app, make_user, clock):
    make_user("mentor", email="ada@school.test")
    runner = app.test_cli_runner()
    args = ["create-token", "--email", "ada@school.test", "--label", "report"]
    result = runner.invoke(args=[*args, "--expires", "2027-04-30", "--read-only"])
    assert result.exit_code == 0, result.output
    row = db.session.scalar(select(ApiToken))
    assert row.read_only is True and row.expires_at == datetime(2027, 5, 1, tzinfo=PARIS)
    assert user_for_token(result.output.strip()) is not None
    past = runner.invoke(args=["create-token", "--email", "ada@school.test", "--expires",
                               "2027-03-01"])  # fmt: skip
    assert past.exit_code == 1 and "That date is in the past" in past.output
    bad = runner.invoke(args=["create-token", "--email", "ada@school.test", "--expires", "soon"])
    assert bad.exit_code == 2 and "--expires" in bad.output


# --- Guessing the current password ----------------------------------------------------------------


def test_guessing_the_current_password_is_rate_limited_like_logging_in(limited_app):
    with limited_app.app_context():
        user = create_user("ada@school.test", "Ada", "mentor", password=TEST_PASSWORD,
                           hash_method=FAST_HASH)  # fmt: skip
        db.session.commit()
        try:
            web = logged_in(limited_app, user)
            for _ in range(10):  # LOGIN_RATE_LIMIT, 10 per minute
                form = web.get("/profile/").forms["password-form"]
                form["current"], form["password"] = "a guess at it", NEW_PASSWORD
                form["confirm"] = NEW_PASSWORD
                form.submit(status=422)
            form = web.get("/profile/").forms["password-form"]
            form["current"], form["password"] = TEST_PASSWORD, NEW_PASSWORD
            form["confirm"] = NEW_PASSWORD
            refused = form.submit(status=429)
            assert "Too many" in refused.text
            db.session.expire_all()
            stored = db.session.get(User, user.id).password_hash
            assert check_password_hash(stored, TEST_PASSWORD)
        finally:
            db.session.remove()
            empty_all_tables()


def test_create_token_prints_the_token_once_and_stores_only_its_hash(cli, make_user):
    make_user("mentor", email="ada@school.test")
    result = cli("create-token", "--email", "ada@school.test", "--label", "backup")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert len(lines) == 1
    token = lines[0]
    row = db.session.scalar(select(ApiToken))
    assert token not in (row.token_hash, row.label) and row.prefix == token[:10]
    assert token[10:] not in row.token_hash
