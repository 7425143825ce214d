"""A state-changing request whose Origin (or, without one, Referer) is another site is refused
with 403, even with a valid CSRF token: a page of another site cannot make a logged-in
browser create, change or delete anything. The API, authenticated by bearer token, is not
concerned."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from models import Room, Series, db
from services.people.accounts import create_user
from services.people.tokens import create_token
from tests.conftest import FAST_HASH, browser, csrf_token_of, make_app

EVIL = "https://evil.example"
PARTIAL = {"HX-Request": "true", "HX-Request-Type": "partial"}


def create_room(web, name="Lab", *, headers=None, status=None):
    """POST the room form with a valid CSRF token and the given headers."""
    token = csrf_token_of(web.get("/manage/rooms"))
    return web.post(
        "/manage/rooms",
        {"new-name": name, "new-capacity": "", "csrf_token": token},
        headers=headers or {},
        status=status,
    )


def room_names() -> list[str]:
    return list(db.session.scalars(select(Room.name).order_by(Room.name)))


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": EVIL},
        {"Origin": "null"},
        {"Origin": "http://localhost:8080"},  # another port is another site
        {"Origin": "http://evil.localhost"},
        {"Origin": "not a url"},
        {"Referer": EVIL + "/page"},
        {"Referer": "http://localhost.evil.example/manage/rooms"},
        # Origin wins over a same-site Referer.
        {"Origin": EVIL, "Referer": "http://localhost/manage/rooms"},
    ],
    ids=lambda h: " ".join(f"{k}={v}" for k, v in h.items()),
)
def test_another_sites_state_change_is_refused_even_with_a_valid_token(web, login_as, headers):
    login_as("coordinator")
    response = create_room(web, headers=headers, status=403)
    assert "Sent from another site" in response.text
    assert "came from another website, so Termtable did not act on it" in response.text
    assert room_names() == []


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "http://localhost"},
        {"Origin": "http://LOCALHOST:80"},
        {"Referer": "http://localhost/manage/rooms"},
        {},  # both stripped (privacy tools): the CSRF token still applies
        {"Referer": ""},
        # A TLS-terminating proxy that does not forward the scheme: the page is https.
        {"Origin": "https://localhost"},
    ],
    ids=lambda h: " ".join(f"{k}={v}" for k, v in h.items()) or "none",
)
def test_termtables_own_pages_are_accepted(web, login_as, headers):
    login_as("coordinator")
    create_room(web, headers=headers, status=302)
    assert room_names() == ["Lab"]


def test_without_origin_or_referer_the_csrf_token_still_applies(web, login_as):
    login_as("coordinator")
    web.post("/manage/rooms", {"new-name": "Lab"}, status=400)
    assert room_names() == []


def test_the_public_address_is_termtable_too(app, web, login_as, monkeypatch):
    """Behind a proxy that rewrites the Host header, FLASK_BASE_URL names the site."""
    monkeypatch.setitem(app.config, "BASE_URL", "https://termtable.school.example/")
    login_as("coordinator")
    create_room(web, headers={"Origin": "https://termtable.school.example"}, status=302)
    create_room(web, "Hall", headers={"Origin": "http://termtable.school.example"}, status=403)
    assert room_names() == ["Lab"]


def test_the_check_follows_the_host_the_request_names(app, make_user):
    """Served as termtable.school.example (ProxyFix corrects the host behind trusted proxies),
    that is the site; localhost is not."""
    user = make_user("mentor")
    web = browser(app, extra_environ={"HTTP_HOST": "termtable.school.example"})
    form = web.get("/auth/login").forms[0]
    form["email"] = user.email
    form["password"] = "correct horse battery"
    form.submit(headers={"Origin": "http://localhost"}, status=403)
    form.submit(headers={"Origin": "http://termtable.school.example"}, status=302)


@pytest.mark.parametrize(("trusted_proxies", "status"), [(0, 403), (1, 302)])
def test_behind_a_trusted_proxy_its_forwarded_scheme_and_host_name_the_site(
    tmp_path_factory, trusted_proxies, status
):
    """A TLS-terminating proxy at https://termtable.school.example reaches the app as
    http://termtable-app:8000: with FLASK_TRUSTED_PROXIES=1 the X-Forwarded-Proto and -Host it
    sets name the site the browser's page is on; without it they are anyone's claims."""
    proxied = make_app(tmp_path_factory, TRUSTED_PROXIES=trusted_proxies)
    try:
        with proxied.app_context():
            create_user("m@school.test", "M", "mentor", password="correct horse battery",
                        hash_method=FAST_HASH)  # fmt: skip
            db.session.commit()
        # Flask's client keeps cookies by the address asked for (WebTest's by the host the
        # proxy fix rewrote, which then never matches again).
        client = proxied.test_client()
        page = "https://termtable.school.example"
        proxy = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "termtable.school.example"}
        login_page = client.get("/auth/login", base_url="http://termtable-app:8000", headers=proxy)
        token = csrf_token_of(login_page)
        response = client.post(
            "/auth/login",
            base_url="http://termtable-app:8000",
            # Over https Flask-WTF also wants a same-site Referer, as browsers send.
            headers={**proxy, "Origin": page, "Referer": page + "/auth/login"},
            data={
                "email": "m@school.test",
                "password": "correct horse battery",
                "csrf_token": token,
            },
        )
        assert response.status_code == status
    finally:
        with proxied.app_context():
            db.engine.dispose()


def test_an_htmx_request_gets_the_message_as_a_fragment(web, login_as):
    login_as("coordinator")
    response = create_room(web, headers={**PARTIAL, "Origin": EVIL}, status=403)
    assert response.text.startswith('<div class="error-fragment"')
    assert "came from another website" in response.text


def test_logging_in_from_another_site_is_refused(app, make_user):
    """Login CSRF: another site cannot log a visitor into an account of its choosing."""
    user = make_user("mentor")
    web = browser(app)
    form = web.get("/auth/login").forms[0]
    form["email"] = user.email
    form["password"] = "correct horse battery"
    form.submit(headers={"Origin": EVIL}, status=403)
    assert web.get("/auth/login").status_int == 200  # still logged out


def test_reading_is_never_refused(web, login_as):
    login_as("coordinator")
    assert web.get("/manage/rooms", headers={"Origin": EVIL, "Referer": EVIL}).status_int == 200


def api_token(make_user) -> str:
    _row, token = create_token(make_user("coordinator"))
    db.session.commit()
    return token


def test_the_api_with_a_bearer_token_is_not_concerned(app, make_user, make_series):
    token = api_token(make_user)
    script, page = make_series(), make_series()
    web = browser(app)
    # A script: no Origin, no Referer, no cookie.
    web.delete(f"/api/v1/series/{script.id}", headers={"Authorization": f"Bearer {token}"})
    # A page elsewhere that holds the token (the token, not a cookie, is the authority).
    web.delete(
        f"/api/v1/series/{page.id}", headers={"Authorization": f"Bearer {token}", "Origin": EVIL}
    )
    assert db.session.scalars(select(Series)).all() == []


def test_the_api_without_a_token_from_another_site_is_a_problem(app, make_series):
    series = make_series()
    response = browser(app).delete(
        f"/api/v1/series/{series.id}", headers={"Origin": EVIL}, status=403
    )
    assert response.content_type == "application/problem+json"
    body = response.json
    assert body["status"] == 403 and body["title"] == "Sent from another site"
    assert db.session.get(Series, series.id) is not None
