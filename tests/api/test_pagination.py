"""The API's lists: bad `limit`, `cursor` and filter values are a 422 problem naming the
parameter (never a 500), the keyset pages neither repeat nor skip a row when many rows share
the sort key, a cursor past the end is an empty last page, and the `next` link (body and `Link`
header) carries the list's own parameters only, percent-encoded: whatever else a client puts in
the query string, a carriage return or a character outside Latin-1 included, is never echoed
into a header (it made `GET /api/v1/groups` answer 500)."""

from __future__ import annotations

import base64
import json
from datetime import UTC, date, datetime, time, timedelta
from urllib.parse import parse_qs, quote, urlsplit

import pytest

from models import (
    Attachment,
    DateOverride,
    NoteKind,
    Occurrence,
    OccurrenceStatus,
    RequestStatus,
    Room,
    ScheduleKind,
    Series,
    SessionNote,
    SessionRequest,
    db,
)
from tests.api.conftest import MONDAY, assert_problem

INJECTED = "\r\nSet-Cookie: a=b"


@pytest.fixture
def client(api_as, make_group, make_series):
    """A coordinator's client over three groups with a series each (two pages at limit=2)."""
    for name in ("Art", "Biology", "Chemistry"):
        make_series(make_group(name), first_date=MONDAY)
    return api_as("coordinator")


def next_query(response) -> dict[str, list[str]]:
    """The next link's query, after checking the Link header names the same URL."""
    url = response.json["next"]
    assert url, response.json
    assert response.headers["Link"] == f'<{url}>; rel="next"'
    assert "\r" not in url and "\n" not in url and url.isascii()
    return parse_qs(urlsplit(url).query)


@pytest.mark.parametrize("path", ["/api/v1/groups", "/api/v1/series"])
@pytest.mark.parametrize(
    "query",
    [
        "x=" + quote(INJECTED),
        quote(INJECTED) + "=1",
        "q=" + quote("é"),
        quote("é") + "=1",
        "q=" + quote("日本"),
    ],
    ids=["crlf-value", "crlf-name", "latin1-value", "latin1-name", "cjk-value"],
)
def test_unknown_parameters_are_never_echoed(client, path, query):
    response = client.get(f"{path}?limit=2&{query}")
    assert response.status_int == 200
    assert "Set-Cookie" not in response.headers
    assert set(next_query(response)) == {"limit", "cursor"}


def test_declared_filters_ride_along_percent_encoded(client):
    response = client.get("/api/v1/groups?limit=2&active=true&unknown=1")
    query = next_query(response)
    assert query["active"] == ["true"] and query["limit"] == ["2"]
    assert "unknown" not in query
    second = client.get(response.json["next"]).json
    assert [g["name"] for g in second["items"]] == ["Chemistry"]
    assert second["next"] is None


def test_a_malformed_declared_parameter_is_a_422_not_a_500(client):
    response = client.get("/api/v1/groups?limit=2&active=" + quote(INJECTED), status=422)
    assert "active" in response.json["errors"]


SESSIONS = f"/api/v1/sessions?start={MONDAY}&end={MONDAY + timedelta(days=7)}"


# Every session of the week starts at this one instant: the sort key is shared by all.
SAME_START = datetime.combine(MONDAY, time(8), UTC)


SAME_TIME = datetime(2026, 1, 5, 9, tzinfo=UTC)


def cursor(*values) -> str:
    """A cursor as the API encodes one (base64url of a JSON list, no padding)."""
    return base64.urlsafe_b64encode(json.dumps(list(values)).encode()).decode().rstrip("=")


def with_params(url: str, **params) -> str:
    query = "&".join(f"{k}={quote(str(v), safe='')}" for k, v in params.items())
    return url + ("&" if "?" in url else "?") + query


def status_of(client, url: str) -> tuple[int, dict]:
    """The status and problem body; an exception escaping the view counts as the 500 it is."""
    try:
        response = client.get(url, status="*")
    except Exception as err:  # TESTING propagates the view's exception: the 500 it is
        return 500, {"exception": repr(err)[:120]}
    return response.status_int, (response.json if response.status_int >= 400 else {})


def walk(client, url: str) -> list[dict]:
    """Every item of a list, following `next` (and checking the Link header says the same)."""
    items, pages = [], 0
    while url:
        response = client.get(url)
        body = response.json
        items += body["items"]
        url = body["next"]
        assert response.headers.get("Link") == (f'<{url}>; rel="next"' if url else None)
        pages += 1
        assert pages < 50, "the cursor does not move"
    return items


@pytest.fixture
def week(make_user, make_group):
    """Five groups of one mentor, each with a weekly series and a session at the same instant
    (a cancellation on the same series date for each), a note and a file on the first
    session at the same instant, and five requests."""
    mentor, student = make_user("mentor"), make_user("student")
    groups = [make_group(f"Group {n}", mentor=mentor, students=[student]) for n in range(5)]
    sessions, series = [], []
    for group in groups:
        s = Series(group_id=group.id, weekday_mask=1, start_time=time(9), end_time=time(10),
                   room_id=group.default_room_id, first_date=MONDAY)  # fmt: skip
        db.session.add(s)
        db.session.flush()
        series.append(s)
        db.session.add(DateOverride(series_id=s.id, original_date=MONDAY, cancelled=True))
        end = SAME_START + timedelta(hours=1)
        o = Occurrence(group_id=group.id, start_utc=SAME_START, end_utc=end)
        db.session.add(o)
        sessions.append(o)
    db.session.flush()
    for n in range(5):
        db.session.add(SessionNote(occurrence_id=sessions[0].id, author_id=mentor.id,
                                   kind=NoteKind.GENERAL, body=f"Note {n}",
                                   created_at=SAME_TIME))  # fmt: skip
        db.session.add(Attachment(occurrence_id=sessions[0].id, uploader_id=mentor.id,
                                  original_name=f"f{n}.pdf", stored_name=f"{n:064d}",
                                  content_type="application/pdf", size_bytes=1, sha256="0" * 64,
                                  created_at=SAME_TIME))  # fmt: skip
        db.session.add(SessionRequest(student_id=student.id, mentor_id=mentor.id,
                                      subject_id=groups[0].subject_id, title=f"Request {n}",
                                      schedule_kind=ScheduleKind.SINGLE, start_time=time(10),
                                      end_time=time(11), first_date=MONDAY,
                                      first_start_utc=SAME_START + timedelta(days=1, hours=n),
                                      created_at=SAME_TIME))  # fmt: skip
    db.session.commit()
    return {"mentor": mentor, "groups": groups, "sessions": sessions, "series": series}


LIMITS = ["0", "-1", "abc", str(2**63), "1.5", "\u00b2", "2" * 5000, ""]


@pytest.mark.parametrize("url", ["/api/v1/rooms", "/api/v1/requests", SESSIONS])
def test_a_bad_limit_is_a_422_naming_limit(api_as, url):
    client = api_as("coordinator")
    for value in LIMITS:
        assert_problem(client.get(with_params(url, limit=value), status=422), 422, field="limit")


@pytest.mark.parametrize(
    ("url", "name"),
    [
        ("/api/v1/groups", "mentor"),
        ("/api/v1/groups", "subject"),
        ("/api/v1/series", "group"),
        (SESSIONS, "room"),
        (SESSIONS, "student"),
        ("/api/v1/exceptions", "series"),
    ],
)
def test_a_bad_id_filter_is_a_422_naming_it(api_as, url, name):
    client = api_as("coordinator")
    for value in ["0", "-1", "abc", str(2**63), "\u00b2", "2" * 5000]:
        response = client.get(with_params(url, **{name: value}), status=422)
        assert_problem(response, 422, field=name)


# Cursors this API never gives out, that it already refuses with a 422 naming `cursor`.
REFUSED_CURSORS = [
    "%%%",
    "not-base64!",
    base64.urlsafe_b64encode(b"\xff\xfe").decode(),
    cursor(),
    cursor("Room", 1, 2),
    cursor(True, 1),
    cursor(1.5, 1),
    cursor(None, 1),
    cursor(["Room"], 1),
    cursor({"t": "yesterday"}, 1),
    cursor({"d": "2026-02-30"}, 1),
    base64.urlsafe_b64encode(b'{"a": 1}').decode(),
]


def test_a_malformed_cursor_is_a_422_naming_cursor(api_as):
    client = api_as("coordinator")
    for value in REFUSED_CURSORS:
        response = client.get(with_params("/api/v1/rooms", cursor=value), status=422)
        assert "start again" in assert_problem(response, 422, field="cursor")["errors"]["cursor"]


# Well-formed cursors whose values do not fit the list's sort key: a number beyond any
# integer column, another list's cursor (a name where an instant is expected), an instant
# without its offset, a date for an instant, an instant that overflows in UTC.
FOREIGN_CURSORS = [
    ("/api/v1/rooms", cursor("Room", 2**63)),
    ("/api/v1/rooms", cursor(2**63, 1)),
    ("/api/v1/series", cursor(2**63)),
    ("/api/v1/requests", cursor(10**30)),
    (SESSIONS, cursor("Room 1", 1)),
    (SESSIONS, cursor({"t": "2026-09-07T10:00:00"}, 1)),
    (SESSIONS, cursor({"d": "2026-09-07"}, 1)),
    (SESSIONS, cursor({"t": "9999-12-31T23:00:00-14:00"}, 1)),
]


def test_a_cursor_that_does_not_fit_the_sort_key_is_a_422_naming_cursor(api_as, week):
    client = api_as("coordinator")
    answers = {(url, value): status_of(client, with_params(url, cursor=value))
               for url, value in FOREIGN_CURSORS}  # fmt: skip
    wrong = {key: got for key, got in answers.items()
             if got[0] != 422 or "cursor" not in got[1].get("errors", {})}  # fmt: skip
    assert wrong == {}


def test_a_cursor_past_the_end_is_an_empty_last_page(api_as, week):
    client = api_as("coordinator")
    for url, key in [
        ("/api/v1/rooms", cursor("\uffff", 2**31 - 1)),
        ("/api/v1/series", cursor(2**31 - 1)),
        (SESSIONS, cursor({"t": "2100-01-01T00:00:00+00:00"}, 1)),
        ("/api/v1/exceptions", cursor({"d": "2100-01-01"}, 1)),
    ]:
        assert client.get(with_params(url, cursor=key)).json == {"items": [], "next": None}


def test_sessions_at_one_instant_page_by_id_without_repeats_or_gaps(api_as, week):
    client = api_as("coordinator")
    group = week["groups"][0]
    expected = sorted(o.id for o in week["sessions"])
    for limit in (1, 2, 3):
        items = walk(client, with_params(SESSIONS, limit=limit))
        assert [s["id"] for s in items] == expected, limit
    # The filters ride along in every next link.
    first = client.get(with_params(SESSIONS, limit=1, status="scheduled", mentor=week["mentor"].id))
    query = parse_qs(urlsplit(first.json["next"]).query)
    assert query["start"] == [str(MONDAY)] and query["end"] == [str(MONDAY + timedelta(days=7))]
    assert query["status"] == ["scheduled"] and query["mentor"] == [str(week["mentor"].id)]
    assert query["limit"] == ["1"] and query["cursor"]
    only = walk(client, with_params(SESSIONS, limit=1, group=group.id))
    assert [s["id"] for s in only] == [week["sessions"][0].id]


@pytest.mark.parametrize(
    ("url", "key"),
    [
        ("/api/v1/exceptions?kind=cancel", "exceptions"),
        ("/api/v1/series", "series"),
        ("/api/v1/groups?active=true", "groups"),
        ("/api/v1/requests?status=pending", "requests"),
        ("notes", "notes"),
        ("attachments", "attachments"),
    ],
)
def test_every_list_pages_forward_without_repeats_or_gaps(api_as, week, url, key):
    first = week["sessions"][0]
    if key in ("notes", "attachments"):
        url = f"/api/v1/sessions/{first.id}/{key}"
    client = api_as("coordinator")
    everything = client.get(with_params(url, limit=200)).json["items"]
    assert len(everything) == 5
    ids = [item["id"] for item in everything]
    assert ids == sorted(ids)  # every one of these lists ties on its first key: ids decide
    for limit in (1, 2, 4):
        assert [item["id"] for item in walk(client, with_params(url, limit=limit))] == ids
    next_url = client.get(with_params(url, limit=2)).json["next"]
    for name, values in parse_qs(urlsplit(url).query).items():
        assert parse_qs(urlsplit(next_url).query)[name] == values


def test_a_cursor_stays_put_when_rows_before_it_go(api_as, week):
    client = api_as("coordinator")
    first = client.get(with_params(SESSIONS, limit=2)).json
    db.session.delete(db.session.get(Occurrence, first["items"][0]["id"]))
    db.session.commit()
    rest = walk(client, first["next"])
    assert [s["id"] for s in rest] == sorted(o.id for o in week["sessions"])[2:]


def test_rooms_of_names_with_wildcards_page_in_name_order(api_as):
    names = ["100% lab", "A_b", "a\\b", "O'Neil", "Émile", "émile", "Zed"]
    db.session.add_all(Room(name=name) for name in names)
    db.session.commit()
    client = api_as("student")
    listed = [r["name"] for r in walk(client, "/api/v1/rooms?limit=2")]
    assert sorted(listed) == sorted(names) and len(set(listed)) == len(names)
    assert listed == [r["name"] for r in client.get("/api/v1/rooms?limit=200").json["items"]]


def test_a_status_filter_applies_to_every_page(api_as, week):
    db.session.get(Occurrence, week["sessions"][2].id).status = OccurrenceStatus.CANCELLED
    db.session.commit()
    client = api_as("coordinator")
    items = walk(client, with_params(SESSIONS, limit=1, status="scheduled"))
    assert len(items) == 4 and {s["status"] for s in items} == {"scheduled"}
    assert walk(client, with_params("/api/v1/requests", limit=1, status="approved")) == []
    assert {r["status"] for r in walk(client, "/api/v1/requests?limit=2&status=pending")} == {
        str(RequestStatus.PENDING)
    }
    assert date.fromisoformat(items[0]["date"]) == MONDAY
