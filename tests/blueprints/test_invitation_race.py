"""An invitation link is single-use even when several requests bring it at the same moment
(a double-click, a link opened on two devices, an attacker replaying it): exactly one sets the
password, the others get the "already used" page. Meaningful on PostgreSQL
(TEST_DATABASE_URL), where the requests really overlap; on SQLite they queue."""

from __future__ import annotations

import threading
from urllib.parse import urlsplit

from werkzeug.security import check_password_hash

from models import User, db
from tests.conftest import browser, csrf_token_of

PARTIAL = {"HX-Request": "true", "HX-Request-Type": "partial"}
RACERS = 6


def invitation_path(web, user_id) -> str:
    token = csrf_token_of(web.get("/manage/"))
    response = web.post(
        f"/manage/users/{user_id}/invitation", {}, headers={**PARTIAL, "X-CSRFToken": token}
    )
    return urlsplit(response.html.find(id="invitation-link")["value"]).path


def test_simultaneous_posts_of_one_link_set_the_password_once(
    app, web, login_as, make_user, monkeypatch
):
    target = make_user("student", name="Noah", password=None)
    target_id = target.id
    login_as("coordinator")
    path = invitation_path(web, target_id)
    # A costlier hash widens the gap between checking the link and writing the password,
    # where the requests overlap.
    monkeypatch.setitem(app.config, "PASSWORD_HASH_METHOD", "scrypt:16384:8:1")
    db.session.remove()

    visitors = [browser(app) for _ in range(RACERS)]
    tokens = [csrf_token_of(visitor.get(path)) for visitor in visitors]
    passwords = [f"racer number {i} password" for i in range(RACERS)]
    barrier = threading.Barrier(RACERS)
    responses: list = [None] * RACERS

    def post(i):
        barrier.wait()
        params = {"password": passwords[i], "confirm": passwords[i], "csrf_token": tokens[i]}
        responses[i] = visitors[i].post(path, params, expect_errors=True)

    threads = [threading.Thread(target=post, args=(i,)) for i in range(RACERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    statuses = sorted(r.status_int for r in responses)
    assert statuses == [302] + [410] * (RACERS - 1), statuses
    winner = next(i for i, r in enumerate(responses) if r.status_int == 302)
    assert "Your password is set" in responses[winner].maybe_follow().text
    for i, response in enumerate(responses):
        if i != winner:
            assert "already been used" in response.html.find(id="invitation-error").text
            # The loser is not logged in either.
            assert visitors[i].get("/schedule/mine", expect_errors=True).status_int == 302

    db.session.rollback()  # the pages above ran in this thread: leave their snapshot
    stored = db.session.get(User, target_id).password_hash
    assert check_password_hash(stored, passwords[winner])
    assert not any(check_password_hash(stored, p) for i, p in enumerate(passwords) if i != winner)
    # The winner's login holds: no later request overwrote the session token it was given.
    assert visitors[winner].get("/schedule/mine").status_int == 200
