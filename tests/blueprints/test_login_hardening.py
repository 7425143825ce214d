"""Login under attack: limits per address, per account and per known browser, the address
behind trusted proxies, the rate-limit storage settings, the same hashing work for unknown
accounts, and no SQLite write lock held while a password is checked.

(Limits across several gunicorn workers with Redis: tests/test_login_workers.py.)
"""

from __future__ import annotations

import logging
import os
import re
import threading
from datetime import timedelta

import pytest
from click.testing import CliRunner
from flask.cli import FlaskGroup
from limits.storage import MemoryStorage, RedisStorage

import services.people.accounts
from app import ConfigurationError, create_app
from models import (
    db,
)
from tests.conftest import (
    TEST_PASSWORD,
    browser,
    make_app,
    submit_taking_the_write_lock_meanwhile,
)

OWNER = "ada@school.test"
WRONG = "wrong password"


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    """This module's app has its limits on (the default test app has none)."""
    app = make_app(tmp_path_factory, RATELIMIT_ENABLED=True)
    yield app
    with app.app_context():
        db.engine.dispose()


@pytest.fixture(autouse=True)
def _no_attempts_counted_yet(app):
    app.extensions["termtable.limiter"].reset()


def attempt(web, email, password=WRONG, *, status="*", headers=None):
    form = web.get("/auth/login").forms[0]
    form["email"] = email
    form["password"] = password
    return form.submit(status=status, headers=headers or {})


def from_address(app, address, **kwargs):
    """A new browser (no cookies) at this client address."""
    return browser(app, extra_environ={"REMOTE_ADDR": address}, **kwargs)


def retry_after(response) -> int:
    return int(response.headers["Retry-After"])


def said_wait(response) -> int:
    """The wait the page gives in words, in seconds."""
    match = re.search(r"Try again in (\d+) (second|minute)s?\.", response.text)
    assert match, response.text
    return int(match.group(1)) * (60 if match.group(2) == "minute" else 1)


# --- Per account --------------------------------------------------------------------------------


def test_failures_for_one_account_from_many_addresses_pause_its_logins(app, make_user):
    make_user("mentor", email=OWNER)
    for n in range(5):
        attempt(from_address(app, f"203.0.113.{n}"), OWNER, status=422)
    # A sixth address: the guesses were spread out, the account's count was not.
    page = attempt(from_address(app, "203.0.113.99"), OWNER, TEST_PASSWORD, status=429)
    assert "Too many log-in attempts for this account" in page.text
    assert 0 < retry_after(page) <= 60
    assert said_wait(page) == retry_after(page)
    # Other accounts are not paused.
    attempt(from_address(app, "203.0.113.99"), "bob@school.test", status=422)


def test_the_pause_grows_with_more_failures_but_stays_short(app, make_user, clock):
    make_user("mentor", email=OWNER)
    addresses = (f"198.51.100.{n}" for n in range(100))
    waits = []
    for _ in range(3):
        while (page := attempt(from_address(app, next(addresses)), OWNER)).status_int == 422:
            pass
        assert page.status_int == 429
        waits.append(retry_after(page))
        clock.travel(clock.now() + timedelta(seconds=waits[-1] + 1))
    assert waits[0] <= 60 and max(waits) > 60, waits
    assert max(waits) <= 5 * 60, "a stranger keeps the owner out five minutes at most"
    # Once the pause is over, the owner logs in from anywhere.
    attempt(from_address(app, "192.0.2.1"), OWNER, TEST_PASSWORD, status=302)


def test_the_owners_own_browser_is_not_held_up_by_a_stranger(app, make_user):
    make_user("mentor", email=OWNER)
    own = from_address(app, "192.0.2.10")
    attempt(own, OWNER, TEST_PASSWORD, status=302)
    own.post("/auth/logout", {"csrf_token": _token(own)}, status=302)
    for n in range(10):
        attempt(from_address(app, f"203.0.113.{n}"), OWNER)
    attempt(from_address(app, "203.0.113.50"), OWNER, TEST_PASSWORD, status=429)
    attempt(own, OWNER, TEST_PASSWORD, status=302)


def test_a_known_browser_still_has_its_own_limit_and_only_for_its_account(app, make_user):
    make_user("mentor", email=OWNER)
    make_user("mentor", email="bob@school.test")
    own = from_address(app, "192.0.2.10")
    attempt(own, OWNER, TEST_PASSWORD, status=302)
    own.post("/auth/logout", {"csrf_token": _token(own)}, status=302)
    for _ in range(5):
        attempt(own, OWNER, status=422)
    page = attempt(own, OWNER, status=429)
    assert "for this account from this browser" in page.text
    # Its cookie names Ada's account: for Bob it is any browser.
    for _ in range(5):
        attempt(own, "bob@school.test", status=422)
    assert "for this account:" in attempt(own, "bob@school.test", status=429).text


def test_one_shared_address_under_attack_does_not_lock_out_everyone_behind_it(app, make_user):
    """A school's one public address: someone there fails for one account after another."""
    make_user("mentor", email=OWNER)
    own = from_address(app, "192.0.2.77")
    attempt(own, OWNER, TEST_PASSWORD, status=302)
    own.post("/auth/logout", {"csrf_token": _token(own)}, status=302)
    victims = (f"victim{n}@school.test" for n in range(20))
    while attempt(from_address(app, "192.0.2.77"), next(victims)).status_int == 422:
        pass
    page = attempt(from_address(app, "192.0.2.77"), OWNER, TEST_PASSWORD, status=429)
    assert "from your network address" in page.text
    # Ada's own browser, behind the same address, logs in.
    attempt(own, OWNER, TEST_PASSWORD, status=302)


def test_a_class_behind_one_address_all_log_in(app, make_user):
    """Thirty pupils on the school's network, each on a computer new to their account: a
    login that succeeds uses up no limit, only guesses do."""
    pupils = [make_user("student", email=f"pupil{n}@school.test") for n in range(30)]
    for pupil in pupils:
        attempt(from_address(app, "192.0.2.50"), pupil.email, TEST_PASSWORD, status=302)
    guesses = [attempt(from_address(app, "192.0.2.50"), f"x{n}@school.test").status_int
               for n in range(11)]  # fmt: skip
    assert guesses == [422] * 10 + [429]


def test_an_owner_logging_in_on_many_new_browsers_is_never_paused(app, make_user):
    make_user("mentor", email=OWNER)
    for n in range(12):
        attempt(from_address(app, f"198.51.100.{n}"), OWNER, TEST_PASSWORD, status=302)
    # Guesses at the account are still paused after five.
    statuses = [attempt(from_address(app, f"203.0.113.{n}"), OWNER).status_int for n in range(6)]
    assert statuses == [422] * 5 + [429]


def test_a_forged_device_cookie_is_any_browser(app, make_user):
    make_user("mentor", email=OWNER)
    for n in range(5):
        attempt(from_address(app, f"203.0.113.{n}"), OWNER, status=422)
    forger = from_address(app, "203.0.113.66")
    forger.set_cookie("login_device", "eyJhY2NvdW50IjoieCIsImRldmljZSI6InkifQ.forged")
    attempt(forger, OWNER, TEST_PASSWORD, status=429)


def _token(web) -> str:
    return web.get("/sessions/today/").forms[0]["csrf_token"].value


# --- The client's address behind proxies -------------------------------------------------------


def ten_failures_behind_one_proxy(app, forwarded_for):
    """Eleven attempts through one proxy (10.0.0.1), each for a different unknown account."""
    statuses = []
    for n in range(11):
        web = from_address(app, "10.0.0.1")
        page = attempt(web, f"nobody{n}@school.test", headers={"X-Forwarded-For": forwarded_for(n)})
        statuses.append(page.status_int)
    return statuses


def test_x_forwarded_for_is_ignored_without_trusted_proxies(app):
    statuses = ten_failures_behind_one_proxy(app, lambda n: f"203.0.113.{n}")
    assert statuses == [422] * 10 + [429]


def test_x_forwarded_for_names_the_client_behind_one_trusted_proxy(tmp_path_factory):
    app = make_app(tmp_path_factory, RATELIMIT_ENABLED=True, TRUSTED_PROXIES=1)
    try:
        # Eleven clients behind the proxy: none is limited by the others' failures.
        assert ten_failures_behind_one_proxy(app, lambda n: f"203.0.113.{n}") == [422] * 11
        # One client behind it, a forged entry before the proxy's: still one client.
        statuses = ten_failures_behind_one_proxy(app, lambda n: f"192.0.2.{n}, 203.0.113.200")
        assert statuses == [422] * 10 + [429]
    finally:
        with app.app_context():
            db.engine.dispose()


# --- Settings ----------------------------------------------------------------------------------


@pytest.fixture
def production_env(monkeypatch, tmp_path):
    for name in ("FLASK_DEBUG", "FLASK_TESTING", "FLASK_RATELIMIT_ENABLED",
                 "FLASK_RATELIMIT_STORAGE_URI", "RATELIMIT_STORAGE_URI",
                 "FLASK_TRUSTED_PROXIES"):  # fmt: skip
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DATABASE_URL", "sqlite://")
    monkeypatch.setenv("SECRET_KEY", "x" * 32)
    return monkeypatch


def storage_of(app):
    return app.extensions["termtable.limiter"].storage


@pytest.mark.parametrize("name", ["RATELIMIT_STORAGE_URI", "FLASK_RATELIMIT_STORAGE_URI"])
def test_both_names_of_the_storage_setting_are_read(production_env, name):
    production_env.setenv(name, "redis://127.0.0.1:6379/14")
    app = create_app()
    assert app.config["RATELIMIT_STORAGE_URI"] == "redis://127.0.0.1:6379/14"
    assert isinstance(storage_of(app), RedisStorage)


def test_a_production_server_with_memory_storage_is_warned_at_start_up(production_env, caplog):
    with caplog.at_level(logging.WARNING):
        app = create_app()
    assert isinstance(storage_of(app), MemoryStorage)
    assert "RATELIMIT_STORAGE_URI=redis://" in caplog.text
    assert "each worker process counts apart" in caplog.text


@pytest.mark.parametrize(
    "setting",
    [
        {"RATELIMIT_STORAGE_URI": "redis://127.0.0.1:6379/14"},
        {"FLASK_DEBUG": "1"},
        {"FLASK_TESTING": "true"},
        {"FLASK_RATELIMIT_ENABLED": "false"},
    ],
)
def test_no_warning_when_shared_storage_or_not_a_production_server(production_env, caplog, setting):
    for name, value in setting.items():
        production_env.setenv(name, value)
    with caplog.at_level(logging.WARNING):
        create_app()
    assert "RATELIMIT_STORAGE_URI" not in caplog.text


def test_flask_commands_are_not_warned(production_env, caplog):
    """`flask db upgrade` or a cron job's `flask send-notifications` serves no requests."""
    cli = FlaskGroup(create_app=create_app)
    with caplog.at_level(logging.WARNING):
        result = CliRunner().invoke(cli, ["routes"])
    assert result.exit_code == 0 and "auth.login" in result.output
    assert "RATELIMIT_STORAGE_URI" not in caplog.text + result.output


@pytest.mark.parametrize("name", ["FLASK_LOGIN_RATE_LIMIT", "FLASK_LOGIN_ACCOUNT_RATE_LIMIT"])
def test_a_limit_that_cannot_be_read_is_a_start_up_error(production_env, name):
    production_env.setenv(name, "5 a minute")
    with pytest.raises(ConfigurationError, match=r"'5 a minute' is not a rate limit"):
        create_app()


def test_the_account_limit_is_configurable(tmp_path_factory):
    app = make_app(tmp_path_factory, RATELIMIT_ENABLED=True, LOGIN_ACCOUNT_RATE_LIMIT="2/hour")
    try:
        for n in range(2):
            attempt(from_address(app, f"203.0.113.{n}"), OWNER, status=422)
        page = attempt(from_address(app, "203.0.113.9"), OWNER, status=429)
        assert "Try again in 60 minutes." in page.text
    finally:
        with app.app_context():
            db.engine.dispose()


@pytest.mark.parametrize("value", ["two", "-1", "true", "1.5"])
def test_a_bad_number_of_trusted_proxies_is_a_start_up_error(production_env, value):
    production_env.setenv("FLASK_TRUSTED_PROXIES", value)
    with pytest.raises(ConfigurationError, match=r"TRUSTED_PROXIES=.* is not a number of proxies"):
        create_app()


# --- Timing: the same hashing work whether the account exists or not ---------------------------


@pytest.fixture
def hashes_checked(monkeypatch):
    checked = []
    real = services.people.accounts.check_password_hash

    def spy(pwhash, password):
        checked.append(pwhash)
        return real(pwhash, password)

    monkeypatch.setattr(services.people.accounts, "check_password_hash", spy)
    return checked


@pytest.mark.parametrize("method", ["pbkdf2:sha256:1000", "scrypt:2048:8:1"])
def test_an_unknown_account_is_checked_with_the_configured_method(
    app, monkeypatch, hashes_checked, method
):
    monkeypatch.setitem(app.config, "PASSWORD_HASH_METHOD", method)
    attempt(from_address(app, "192.0.2.1"), "nobody@school.test", status=422)
    assert len(hashes_checked) == 1 and hashes_checked[0].startswith(method + "$")


def test_an_account_without_a_password_is_checked_with_the_configured_method(
    app, make_user, monkeypatch, hashes_checked
):
    make_user("student", email="imported@school.test", password=None)
    monkeypatch.setitem(app.config, "PASSWORD_HASH_METHOD", "pbkdf2:sha256:1000")
    attempt(from_address(app, "192.0.2.1"), "imported@school.test", status=422)
    assert len(hashes_checked) == 1 and hashes_checked[0].startswith("pbkdf2:sha256:1000$")


@pytest.mark.skipif(not hasattr(os, "setpriority"), reason="per-thread nice values: Linux")
def test_passwords_are_checked_at_a_lower_cpu_priority_than_pages(app, make_user, monkeypatch):
    make_user("mentor", email=OWNER)
    niceness = []
    real = services.people.accounts.check_password_hash

    def spy(pwhash, password):
        niceness.append(os.getpriority(os.PRIO_PROCESS, threading.get_native_id()))
        return real(pwhash, password)

    monkeypatch.setattr(services.people.accounts, "check_password_hash", spy)
    page_niceness = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    attempt(from_address(app, "192.0.2.1"), OWNER, TEST_PASSWORD, status=302)
    attempt(from_address(app, "192.0.2.2"), "nobody@school.test", status=422)
    assert niceness == [min(page_niceness + 10, 19)] * 2


# --- SQLite: no write lock while the password is checked ----------------------------------------


def test_a_writer_is_not_held_up_while_a_login_checks_its_password(app, make_user, monkeypatch):
    if db.engine.dialect.name != "sqlite":
        pytest.skip("SQLite's locking only")
    make_user("mentor", email=OWNER)
    checking, release = threading.Event(), threading.Event()
    real = services.people.accounts.check_password_hash

    def slow_check(pwhash, password):
        checking.set()
        release.wait(timeout=30)
        return real(pwhash, password)

    monkeypatch.setattr(services.people.accounts, "check_password_hash", slow_check)
    web = from_address(app, "192.0.2.1")
    form = web.get("/auth/login").forms[0]
    form["email"], form["password"] = OWNER, "wrong password"
    page = submit_taking_the_write_lock_meanwhile(form, checking, release)
    assert page.status_int == 422


@pytest.mark.usefixtures("pinned_clock")
def test_twenty_wrong_passwords_are_limited_even_from_ever_changing_forwarded_addresses(
    limited_app,
):
    web = browser(limited_app, extra_environ={"REMOTE_ADDR": "10.9.8.7"})
    statuses = []
    for n in range(20):
        form = web.get("/auth/login").forms[0]
        # A new account each time: the address's limit is the one reached, not the account's.
        form["email"], form["password"] = f"someone{n}@school.test", f"guess {n}"
        headers = {"X-Forwarded-For": f"203.0.113.{n}", "X-Real-IP": f"198.51.100.{n}"}
        statuses.append(form.submit(headers=headers, status="*").status_int)
    assert statuses[:10] == [422] * 10
    assert set(statuses[10:]) == {429}
