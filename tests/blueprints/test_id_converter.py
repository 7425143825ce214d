"""`<id:...>` in routes (blueprints/ids.py): only an id some row could have (1 to MAX_ID) is
a match; 0 and larger numbers are a 404 (a problem on the API), whatever the method."""

from __future__ import annotations

import re

import pytest
from flask import url_for
from werkzeug.exceptions import MethodNotAllowed, NotFound

from blueprints.ids import IdConverter, NoSuchId
from models import MAX_ID, db
from services.people.tokens import create_token
from tests.api.conftest import ApiClient

OUT_OF_RANGE = ["0", "00", str(MAX_ID + 1), str(2**63), "9" * 5000]
# Not digits at all: no rule takes them (as with `<int:>`).
NOT_AN_ID = ["-1", "abc", "1.5", "+1"]


def id_rules(app):
    return [rule for rule in app.url_map.iter_rules() if "<id:" in rule.rule]


def with_id(rule, value: str) -> str:
    """The rule's path with `value` as its first id (and 1 for any other argument)."""
    url = re.sub(r"<id:[^>]+>", value, rule.rule, count=1)
    return re.sub(r"<[^>]+>", "1", url)


def test_every_id_in_a_path_uses_the_converter(app):
    rules = list(app.url_map.iter_rules())
    assert not [rule.rule for rule in rules if "<int:" in rule.rule]
    assert len(id_rules(app)) > 60
    assert any(rule.rule.startswith("/api/") for rule in id_rules(app))


def test_the_converter_takes_digits_from_1_to_max_id(app):
    converter = IdConverter(app.url_map)
    assert converter.to_python("1") == 1
    assert converter.to_python("007") == 7
    assert converter.to_python(str(MAX_ID)) == MAX_ID
    assert converter.to_python("0" * 20 + "42") == 42
    for value in OUT_OF_RANGE:
        with pytest.raises(NoSuchId):
            converter.to_python(value)
    assert issubclass(NoSuchId, NotFound)
    assert NoSuchId().description == NotFound.description  # pages word it as any 404


@pytest.mark.parametrize("value", ["0", str(MAX_ID + 1), str(2**63)])
def test_no_rule_matches_an_impossible_id_with_any_method(app, value):
    """A 404 for every method a rule takes, never a 405 because another method's rule shares
    the path (as werkzeug's ValidationError would give), nor another rule's match."""
    adapter = app.url_map.bind("localhost")
    for rule in id_rules(app):
        url = with_id(rule, value)
        for method in rule.methods - {"OPTIONS"}:
            with pytest.raises(NotFound) as raised:
                adapter.match(url, method=method)
            assert not isinstance(raised.value, MethodNotAllowed), (method, url)


def test_url_for_builds_ids(app):
    with app.test_request_context():
        assert url_for("sessions.detail", occurrence_id=12) == "/sessions/12"
        assert url_for("api_timetable.get_session", occurrence_id=MAX_ID) == (
            f"/api/v1/sessions/{MAX_ID}"
        )
        assert url_for("manage.edit_room", room_id=3) == "/manage/rooms/3/edit"


def test_a_page_answers_404_for_ids_out_of_range(web, login_as, session_and_mentor):
    occurrence, _mentor = session_and_mentor
    login_as("coordinator")
    web.get(f"/sessions/{occurrence.id}", status=200)
    for value in OUT_OF_RANGE + NOT_AN_ID:
        response = web.get(f"/sessions/{value}", status=404)
        assert "This is no longer here" in response.text  # the app's own 404 page


def test_a_fragment_answers_404_for_ids_out_of_range(web, login_as, htmx, session_and_mentor):
    occurrence, _mentor = session_and_mentor
    login_as("coordinator")
    htmx.get(f"/tracking/sessions/{occurrence.id}/completion", status=200)
    for value in OUT_OF_RANGE + NOT_AN_ID:
        htmx.get(f"/tracking/sessions/{value}/completion", status=404)
        # POST only, with a GET rule on the same path: still 404, not 405.
        htmx.post(f"/notes/sessions/{value}", {"body": "x"}, status=404)


def test_an_api_route_answers_a_404_problem_for_ids_out_of_range(app, make_user):
    user = make_user("coordinator")
    _row, token = create_token(user)
    db.session.commit()
    client = ApiClient(app, user, token)
    for value in OUT_OF_RANGE:
        for method in ("get", "delete"):
            response = getattr(client, method)(f"/api/v1/sessions/{value}", status=404)
            assert response.content_type == "application/problem+json"
            assert response.json == {
                "type": "about:blank",
                "title": "Not Found",
                "status": 404,
                "detail": "No such object.",
            }
        client.patch(f"/api/v1/series/{value}", {"title": "x"}, status=404)
    for value in NOT_AN_ID:
        response = client.get(f"/api/v1/sessions/{value}", status=404)
        assert response.json["title"] == "Not Found"


def test_an_impossible_id_is_404_before_any_login_or_token(web, app, session_and_mentor):
    """Matched with the URL, before the view's checks: a visitor not logged in, or an API
    call without a token, reads 404 for an id no row can have (as for "abc"), while a
    possible id still asks them to log in (302) or for a token (401)."""
    occurrence, _mentor = session_and_mentor
    assert web.get(f"/sessions/{occurrence.id}", status=302).location.startswith("/auth/login")
    web.get("/sessions/0", status=404)
    web.get(f"/sessions/{MAX_ID + 1}", status=404)
    anonymous = app.test_client()
    assert anonymous.get(f"/api/v1/sessions/{occurrence.id}").status_code == 401
    for path in ("/api/v1/sessions/0", f"/api/v1/sessions/{MAX_ID + 1}/cancel"):
        response = anonymous.open(path, method="POST" if path.endswith("cancel") else "GET")
        assert response.status_code == 404
        assert response.json["detail"] == "No such object."
