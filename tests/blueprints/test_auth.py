"""Login, logout, cookies, rate limiting, the create-user command and start-up settings."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa
from sqlalchemy import select

from app import ConfigurationError, create_app
from models import User, db
from tests.conftest import TEST_PASSWORD, browser, csrf_token_of, make_app


def login_form(web, next_=None):
    url = "/auth/login" + (f"?next={next_}" if next_ is not None else "")
    return web.get(url).forms[0]


def submit_login(web, email, password=TEST_PASSWORD, *, remember=False, next_=None, status="*"):
    form = login_form(web, next_)
    form["email"] = email
    form["password"] = password
    form["remember"] = remember
    return form.submit(status=status)


def location_path(response) -> str:
    return urlsplit(response.headers["Location"]).path


def logout(web):
    """Press the "Log out" button of the navigation."""
    page = web.get("/sessions/today/")
    return page.forms[0].submit(status=302)


# --- The login page -----------------------------------------------------------------------------


def test_login_page_has_the_form_and_no_navigation_for_anonymous_users(web):
    page = web.get("/auth/login")
    assert page.status_int == 200
    form = page.forms[0]
    assert {"email", "password", "remember", "csrf_token", "next"} <= set(form.fields)
    assert "Log out" not in page.text
    # Password managers fill the right fields.
    assert page.html.find("input", attrs={"name": "email"})["autocomplete"] == "username"
    assert page.html.find("input", attrs={"name": "password"})["autocomplete"] == "current-password"


def test_anonymous_visitor_of_the_home_page_is_sent_to_login(web):
    assert location_path(web.get("/", status=302)) == "/auth/login"


def test_wrong_password_shows_the_message_next_to_the_password_field(web, make_user):
    user = make_user("coordinator")
    page = submit_login(web, user.email, "not the password", status=422)
    error = page.html.find(id="password-error")
    assert error is not None and "Wrong e-mail or password." in error.text
    assert page.html.find(id="password")["aria-invalid"] == "true"
    # The e-mail stays filled in; the password is never echoed back.
    assert page.forms[0]["email"].value == user.email
    assert "not the password" not in page.text
    assert location_path(web.get("/manage/groups", status=302)) == "/auth/login"


def test_unknown_email_gets_the_same_message(web):
    page = submit_login(web, "nobody@school.test", status=422)
    assert "Wrong e-mail or password." in page.html.find(id="password-error").text


def test_empty_fields_are_refused_next_to_each_field(web):
    page = submit_login(web, "", "", status=422)
    assert "Enter your e-mail address." in page.html.find(id="email-error").text
    assert "Enter your password." in page.html.find(id="password-error").text


def test_login_success_redirects_to_the_role_home_page(web, make_user):
    coordinator = make_user("coordinator")
    response = submit_login(web, coordinator.email.upper(), status=302)
    assert location_path(response) == "/"
    assert location_path(response.follow()) == "/schedule/"
    page = web.get("/schedule/")
    assert f"Log out {coordinator.name}" in page.text
    # Already logged in: the login page sends you home.
    assert location_path(web.get("/auth/login", status=302)) == "/"


def test_a_student_lands_on_their_timetable(web, make_user):
    student = make_user("student")
    submit_login(web, student.email, status=302)
    assert location_path(web.get("/", status=302)) == "/schedule/mine"


@pytest.mark.parametrize(
    "target",
    [
        "//evil.example",
        "//evil.example/manage/groups",
        "https://evil.example",
        "https://evil.example/manage/groups",
        "/\\evil.example",
        "\\\\evil.example",
        "javascript:alert(1)",
        "/\r\nLocation: https://evil.example",
        "/\t/evil.example",
        "timetable/groups",
    ],
)
def test_next_only_follows_same_site_paths(web, make_user, target):
    user = make_user("coordinator")
    form = login_form(web)
    form["email"], form["password"], form["next"] = user.email, TEST_PASSWORD, target
    response = form.submit(status=302)
    location = response.headers["Location"]
    assert location in ("/", "http://localhost/"), location
    assert "evil" not in location and "javascript" not in location


def test_next_with_a_same_site_path_is_followed(web, make_user):
    user = make_user("coordinator")
    # Visiting a protected page while anonymous leads to login with `next`, then back.
    to_login = web.get("/timetable/exceptions?group=3", status=302)
    assert location_path(to_login) == "/auth/login"
    form = to_login.follow().forms[0]
    assert form["next"].value == "/timetable/exceptions?group=3"
    form["email"], form["password"] = user.email, TEST_PASSWORD
    assert form.submit(status=302).headers["Location"] == "/timetable/exceptions?group=3"


def test_next_given_in_the_query_string_is_followed(web, make_user):
    user = make_user("coordinator")
    response = submit_login(web, user.email, next_="/manage/groups", status=302)
    assert response.headers["Location"] == "/manage/groups"


# --- Logout -------------------------------------------------------------------------------------


def test_logout_is_post_only(web, login_as):
    login_as("coordinator")
    web.get("/auth/logout", status=405)
    web.get("/manage/groups", status=200)  # still logged in


def test_logout_without_csrf_token_is_refused(web, login_as):
    login_as("coordinator")
    web.post("/auth/logout", status=400)
    web.get("/manage/groups", status=200)


def test_logout_ends_the_session(web, login_as):
    login_as("coordinator")
    response = logout(web)
    assert location_path(response) == "/auth/login"
    assert "You are logged out." in response.follow().text
    assert location_path(web.get("/manage/groups", status=302)) == "/auth/login"


def test_a_session_cookie_replayed_after_logout_is_refused(app, web, login_as):
    login_as("coordinator")
    attacker = browser(app)
    attacker.set_cookie("session", web.cookies["session"])
    attacker.get("/manage/groups", status=200)  # the copy works while the login lasts
    logout(web)
    response = attacker.get("/manage/groups", status=302)
    assert location_path(response) == "/auth/login"


def test_a_remember_cookie_replayed_after_logout_is_refused(app, web, make_user):
    user = make_user("coordinator")
    submit_login(web, user.email, remember=True, status=302)
    remembered = web.cookies["remember_token"]
    logout(web)
    # A fresh browser that only carries the copied remember-me cookie.
    attacker = browser(app)
    attacker.set_cookie("remember_token", remembered)
    assert location_path(attacker.get("/manage/groups", status=302)) == "/auth/login"


def test_remember_cookie_logs_back_in_while_still_valid(app, web, make_user):
    user = make_user("coordinator")
    submit_login(web, user.email, remember=True, status=302)
    returning = browser(app)
    returning.set_cookie("remember_token", web.cookies["remember_token"])
    returning.get("/manage/groups", status=200)


def test_logout_ends_the_accounts_other_logins_too(app, make_user):
    user = make_user("coordinator")
    laptop, phone = browser(app), browser(app)
    submit_login(laptop, user.email, status=302)
    submit_login(phone, user.email, status=302)
    logout(laptop)
    assert location_path(phone.get("/manage/groups", status=302)) == "/auth/login"


# --- Accounts that cannot log in ----------------------------------------------------------------


def test_an_account_without_password_cannot_log_in(web, make_user):
    imported = make_user("student", password=None)
    assert imported.password_hash is None
    page = submit_login(web, imported.email, TEST_PASSWORD, status=422)
    assert "Wrong e-mail or password." in page.html.find(id="password-error").text
    page = submit_login(web, imported.email, "", status=422)
    assert location_path(web.get("/sessions/today/", status=302)) == "/auth/login"


def test_a_deactivated_account_cannot_log_in(web, make_user):
    user = make_user("coordinator", active=False)
    page = submit_login(web, user.email, status=422)
    assert "Wrong e-mail or password." in page.html.find(id="password-error").text
    assert location_path(web.get("/manage/groups", status=302)) == "/auth/login"


def test_an_account_deactivated_while_logged_in_is_logged_out(web, login_as):
    user = login_as("coordinator")
    user.is_active_account = False
    db.session.commit()
    assert location_path(web.get("/manage/groups", status=302)) == "/auth/login"


# --- Cookies ------------------------------------------------------------------------------------


def set_cookie_headers(response, name):
    return [h for h in response.headers.getall("Set-Cookie") if h.startswith(name + "=")]


def test_remember_and_session_cookies_are_httponly_and_samesite_lax(web, make_user):
    user = make_user("coordinator")
    response = submit_login(web, user.email, remember=True, status=302)
    for name in ("remember_token", "session"):
        (header,) = set_cookie_headers(response, name)
        attributes = [part.strip().lower() for part in header.split(";")]
        assert "httponly" in attributes, header
        assert "samesite=lax" in attributes, header


@pytest.fixture(scope="module")
def production_app(tmp_path_factory):
    """Not testing, not debug: the settings a real deployment gets."""
    app = make_app(tmp_path_factory, TESTING=False)
    assert not app.testing and not app.debug
    yield app
    with app.app_context():
        db.engine.dispose()


def test_cookies_are_secure_outside_debug_and_testing(production_app):
    assert production_app.config["REMEMBER_COOKIE_SECURE"] is True
    assert production_app.config["SESSION_COOKIE_SECURE"] is True
    assert production_app.config["REMEMBER_COOKIE_HTTPONLY"] is True
    assert production_app.config["REMEMBER_COOKIE_SAMESITE"] == "Lax"
    with production_app.app_context():
        from services.people.accounts import create_user

        create_user(
            "boss@school.test",
            "Boss",
            "admin",
            password=TEST_PASSWORD,
            hash_method="scrypt:1024:8:1",
        )
        db.session.commit()
    web = browser(production_app, extra_environ={"wsgi.url_scheme": "https"})
    try:
        response = submit_login(web, "boss@school.test", remember=True, status=302)
        for name in ("remember_token", "session"):
            (header,) = set_cookie_headers(response, name)
            attributes = [part.strip().lower() for part in header.split(";")]
            assert {"secure", "httponly", "samesite=lax"} <= set(attributes), header
    finally:
        with production_app.app_context():
            db.session.execute(db.delete(User))
            db.session.commit()


def test_an_explicit_cookie_setting_wins_over_the_default():
    app = create_app(
        {"SECRET_KEY": "x", "SQLALCHEMY_DATABASE_URI": "sqlite://", "SESSION_COOKIE_SECURE": False}
    )
    assert app.config["SESSION_COOKIE_SECURE"] is False
    assert app.config["REMEMBER_COOKIE_SECURE"] is True


# --- Rate limiting ------------------------------------------------------------------------------


def test_login_is_rate_limited_after_ten_wrong_attempts(limited_app):
    web = browser(limited_app)
    # Ten accounts, so that the per-account limit (tests/blueprints/test_login_hardening.py)
    # is not the one reached.
    for n in range(10):
        submit_login(web, f"someone{n}@school.test", "wrong password", status=422)
    page = submit_login(web, "someone@school.test", "wrong password", status=429)
    assert "Too many log-in attempts from your network address" in page.text
    assert "<html" in page.text and 'id="flashes"' in page.text  # a real page, not a bare text
    assert "Retry-After" in page.headers
    # Reading the login page is not limited, only the attempts.
    web.get("/auth/login", status=200)


def test_an_htmx_request_over_the_limit_gets_a_fragment(limited_app):
    web = browser(limited_app, extra_environ={"REMOTE_ADDR": "10.0.0.9"})
    for n in range(10):
        submit_login(web, f"other{n}@school.test", "wrong password", status=422)
    token = csrf_token_of(web.get("/auth/login"))
    response = web.post(
        "/auth/login",
        {"email": "someone@school.test", "password": "x"},
        headers={"HX-Request": "true", "X-CSRFToken": token},
        status=429,
    )
    assert "<html" not in response.text and "Too many" in response.text


def test_rate_limiting_one_app_does_not_limit_another(app, web, limited_app, make_user):
    """The limiter's switch is per app (tests build several apps in one process)."""
    user = make_user("coordinator")
    for _ in range(12):
        submit_login(web, user.email, "wrong password", status=422)
    submit_login(web, user.email, status=302)


# --- The create-user command --------------------------------------------------------------------


def find_user(email):
    return db.session.scalar(select(User).where(User.email == email))


def test_create_user_with_a_password(app):
    result = app.test_cli_runner().invoke(
        args=["create-user", "--email", "Ada@School.test", "--name", "Ada Lovelace",
              "--role", "coordinator", "--password", "a long password"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "Created coordinator Ada Lovelace <ada@school.test>" in result.output
    user = find_user("ada@school.test")
    assert user.password_hash.startswith("scrypt:")
    web = browser(app)
    assert location_path(submit_login(web, "ada@school.test", "a long password", status=302)) == "/"


def test_create_user_prompts_for_the_password_twice_when_omitted(app):
    result = app.test_cli_runner().invoke(
        args=["create-user", "--email", "bob@school.test", "--name", "Bob", "--role", "mentor"],
        input="a long password\na long password\n",
    )
    assert result.exit_code == 0, result.output
    assert "Password" in result.output and "a long password" not in result.output
    submit_login(browser(app), "bob@school.test", "a long password", status=302)


def test_create_user_prompt_mismatch_asks_again(app):
    result = app.test_cli_runner().invoke(
        args=["create-user", "--email", "cy@school.test", "--name", "Cy", "--role", "student"],
        input="a long password\nanother one!\na long password\na long password\n",
    )
    assert result.exit_code == 0, result.output
    assert find_user("cy@school.test") is not None


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--email", "not-an-email"], "is not a valid e-mail address"),
        (["--email", "a@b@school.test"], "is not a valid e-mail address"),
        (["--email", ""], "is not a valid e-mail address"),
        (["--password", "short"], "at least 10 characters"),
        (["--name", "   "], "A name is required."),
        (["--role", "janitor"], "Invalid value for '--role'"),
    ],
)
def test_create_user_refuses_bad_input(app, args, message):
    values = {"--email": "dee@school.test", "--name": "Dee", "--role": "student",
              "--password": "a long password"}  # fmt: skip
    values.update(dict(zip(args[::2], args[1::2], strict=True)))
    result = app.test_cli_runner().invoke(
        args=["create-user", *[item for pair in values.items() for item in pair]]
    )
    assert result.exit_code != 0
    assert message in result.output
    assert "Traceback" not in result.output
    assert db.session.scalar(select(db.func.count(User.id))) == 0


def test_create_user_refuses_a_duplicate_email(app, make_user):
    existing = make_user("mentor", email="eve@school.test")
    result = app.test_cli_runner().invoke(
        args=["create-user", "--email", "EVE@school.test", "--name", "Eve 2", "--role", "admin",
              "--password", "a long password"],
    )  # fmt: skip
    assert result.exit_code == 1
    assert "already exists" in result.output
    users = db.session.scalars(select(User)).all()
    assert [u.id for u in users] == [existing.id]
    assert users[0].role == "mentor"


# --- Start-up settings --------------------------------------------------------------------------


@pytest.fixture
def clean_env(monkeypatch, tmp_path):
    for name in ("SECRET_KEY", "FLASK_SECRET_KEY", "FLASK_DEBUG", "FLASK_TESTING",
                 "FLASK_TIMEZONE", "FLASK_PASSWORD_HASH_METHOD"):  # fmt: skip
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DATABASE_URL", "sqlite://")
    # Not the checkout's own instance/secret_key, which `make run` may have written.
    monkeypatch.setenv("FLASK_SECRET_KEY_FILE", str(tmp_path / "secret_key"))
    return monkeypatch


def test_production_password_hashing_is_scrypt_at_owasp_strength(clean_env):
    app = create_app({"SECRET_KEY": "x", "SQLALCHEMY_DATABASE_URI": "sqlite://"})
    method, n, r, p = app.config["PASSWORD_HASH_METHOD"].split(":")
    assert method == "scrypt"
    assert int(n) >= 2**17 and int(r) >= 8 and int(p) >= 1


def test_without_a_secret_key_one_is_made_once_and_kept_for_its_owner_only(clean_env, tmp_path):
    key = create_app().config["SECRET_KEY"]
    key_file = tmp_path / "secret_key"
    assert len(key) == 64 and key_file.read_text(encoding="utf-8").strip() == key
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert create_app().config["SECRET_KEY"] == key  # the same on every start


def test_a_secret_key_that_cannot_be_kept_is_a_clear_start_up_error(clean_env, tmp_path):
    (tmp_path / "a-file").write_text("", encoding="utf-8")
    clean_env.setenv("FLASK_SECRET_KEY_FILE", str(tmp_path / "a-file" / "secret_key"))
    with pytest.raises(ConfigurationError, match=r"SECRET_KEY is not set and .* cannot be written"):
        create_app()
    (tmp_path / "empty").write_text("\n", encoding="utf-8")
    clean_env.setenv("FLASK_SECRET_KEY_FILE", str(tmp_path / "empty"))
    with pytest.raises(ConfigurationError, match="holds no secret key"):
        create_app()


def test_an_empty_secret_key_is_refused_too(clean_env):
    clean_env.setenv("SECRET_KEY", "")
    with pytest.raises(ConfigurationError, match="SECRET_KEY"):
        create_app()


def test_the_secret_key_file_written_by_make_run_is_read_when_nothing_is_exported(
    clean_env, tmp_path
):
    (tmp_path / "secret_key").write_text("from-the-file\n", encoding="utf-8")
    assert create_app().config["SECRET_KEY"] == "from-the-file"
    clean_env.setenv("SECRET_KEY", "from-the-environment")
    assert create_app().config["SECRET_KEY"] == "from-the-environment"


def test_the_secret_key_comes_from_the_environment(clean_env):
    clean_env.setenv("SECRET_KEY", "from-the-environment")
    assert create_app().config["SECRET_KEY"] == "from-the-environment"


@pytest.mark.parametrize("name", ["Mars/Olympus_Mons", "../../etc/passwd", "", "Europe/paris "])
def test_an_invalid_timezone_is_a_clear_start_up_error(clean_env, name):
    with pytest.raises(ConfigurationError, match="is not an IANA time zone name"):
        create_app({"SECRET_KEY": "x", "TIMEZONE": name})


def test_timezone_from_the_environment(clean_env):
    clean_env.setenv("FLASK_TIMEZONE", "Not/AZone")
    with pytest.raises(ConfigurationError, match="Not/AZone"):
        create_app({"SECRET_KEY": "x"})
    clean_env.setenv("FLASK_TIMEZONE", "Australia/Sydney")
    assert create_app({"SECRET_KEY": "x"}).config["TIMEZONE"] == "Australia/Sydney"


def test_a_form_sent_logged_out_returns_to_its_page_after_login_never_elsewhere(web):
    # A stale tab's form (or a second Log out) is not resent: its page comes back instead,
    # and only a page of this site.
    token = csrf_token_of(web.get("/auth/login"))
    same_site = web.post(
        "/timetable/generate",
        {"csrf_token": token},
        headers={"Referer": "http://localhost/timetable/exceptions?kind=cancel"},
    )
    assert same_site.location.endswith("/auth/login?next=%2Ftimetable%2Fexceptions%3Fkind%3Dcancel")
    response = web.post("/auth/logout", {"csrf_token": token}, headers={"Referer": ""})
    assert response.location.endswith("/auth/login"), response.location
    # Another site's page is refused outright (tests/blueprints/test_origin_check.py).
    evil = {"Referer": "https://evil.example/timetable/"}
    web.post("/auth/logout", {"csrf_token": token}, headers=evil, status=403)


USER = ["--name", "Dee", "--role", "student", "--password", "a long password"]


def test_create_user_never_echoes_or_stores_the_password(cli):
    secret = "a very secret passphrase"
    result = cli("create-user", "--email", "dee@school.test", *USER[:4], "--password", secret)
    assert result.exit_code == 0 and secret not in result.output
    short = cli(
        "create-user", "--email", "eve@school.test", *USER[:4], input="secret-9\nsecret-9\n"
    )
    assert short.exit_code == 1 and "secret-9" not in short.output
    assert "Error: " in short.output
    aborted = cli("create-user", "--email", "fay@school.test", *USER[:4], input="")
    assert isinstance(aborted.exception, SystemExit) and aborted.exit_code == 1
    user = db.session.scalar(select(User).where(User.email == "dee@school.test"))
    assert secret not in user.password_hash
    assert db.session.scalar(select(sa.func.count(User.id))) == 1
