"""What a personal API token may do and for how long: a read-only token reads (GET, HEAD,
OPTIONS) and is refused anything else with a 403 problem; a token with an expiry date works
until the end of that day (the organisation's zone) and is then refused like a revoked one,
with a 401 problem saying it expired; a new password revokes the account's tokens."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from models import ApiToken, db
from services.common.errors import ValidationError
from services.people.invitations import accept_invitation, make_invitation
from services.people.tokens import create_token
from services.people.users import set_account_password
from tests.api.conftest import ApiClient, assert_problem
from tests.conftest import FAST_HASH, PINNED_TODAY

PARIS = ZoneInfo("Europe/Paris")
NEW_PASSWORD = "a brand new password"


def client_with(app, user, **options) -> ApiClient:
    _row, token = create_token(user, tz=PARIS, **options)
    db.session.commit()
    return ApiClient(app, user, token)


def test_a_read_only_token_reads_and_is_refused_every_change(app, make_user):
    staff = make_user("coordinator")
    reader = client_with(app, staff, label="dashboard", read_only=True)
    writer = client_with(app, staff, label="sync")
    assert reader.get("/api/v1/rooms").status_int == 200
    assert reader.web.head("/api/v1/rooms", headers=reader.headers()).status_int == 200
    for method, url in (
        ("POST", "/api/v1/generate"),
        ("PATCH", "/api/v1/series/1"),
        ("DELETE", "/api/v1/series/1"),
        ("POST", "/api/v1/sessions/1/cancel"),
    ):
        response = reader.raw(method, url, b"{}", status=403)
        body = assert_problem(response, 403)
        assert "read-only" in body["detail"], body
    # The same account's other token goes on to the action (here: the body's validation).
    writer.post("/api/v1/generate", {}, status=422)


def test_a_token_works_until_the_end_of_its_expiry_day_then_401_says_it_expired(
    app, make_user, clock
):
    user = make_user("mentor")
    client = client_with(app, user, label="until today", expires_on=PINNED_TODAY)
    clock.travel(datetime(2027, 3, 10, 23, 59, tzinfo=PARIS))  # the last minute of the day
    assert client.get("/api/v1/groups").status_int == 200
    clock.travel(datetime(2027, 3, 11, 0, 0, 1, tzinfo=PARIS))
    response = client.get("/api/v1/groups", status=401)
    body = assert_problem(response, 401)
    assert "expired" in body["detail"] and "2027-03-10" in body["detail"], body
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]
    db.session.expire_all()
    row = db.session.query(ApiToken).one()
    # Refused requests do not count as a use.
    assert row.last_used_at < datetime(2027, 3, 10, 23, 0, tzinfo=UTC)


def test_an_expiry_in_the_past_is_refused(make_user, clock):
    user = make_user("mentor")
    with pytest.raises(ValidationError) as refused:
        create_token(user, expires_on=date(2027, 3, 9), tz=PARIS)
    assert refused.value.errors == {
        "expires_on": "That date is in the past: choose today (10 Mar 2027) or later, "
        "or leave it empty for a token that does not expire."
    }


def test_a_password_set_by_staff_revokes_the_accounts_tokens(app, make_user):
    admin = make_user("admin")
    user = make_user("mentor")
    client = client_with(app, user, label="portal")
    other = client_with(app, make_user("mentor"), label="someone else's")
    set_account_password(admin, user, NEW_PASSWORD, NEW_PASSWORD, hash_method=FAST_HASH)
    db.session.commit()
    assert_problem(client.get("/api/v1/groups", status=401), 401)
    assert other.get("/api/v1/groups").status_int == 200


def test_accepting_an_invitation_revokes_the_accounts_tokens(app, make_user):
    admin = make_user("admin")
    user = make_user("mentor")
    client = client_with(app, user, label="portal")
    token = make_invitation(admin, user, secret_key=app.config["SECRET_KEY"])
    accept_invitation(
        token,
        NEW_PASSWORD,
        NEW_PASSWORD,
        secret_key=app.config["SECRET_KEY"],
        max_age_days=7,
        hash_method=FAST_HASH,
    )
    db.session.commit()
    assert_problem(client.get("/api/v1/groups", status=401), 401)
