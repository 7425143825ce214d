"""The `next` link of the API's lists (body and `Link` header) carries the list's own
parameters only, percent-encoded: whatever else a client puts in the query string, a carriage
return or a character outside Latin-1 included, is never echoed into a header (it made
`GET /api/v1/groups` answer 500)."""

from __future__ import annotations

from urllib.parse import parse_qs, quote, urlsplit

import pytest

from tests.api.conftest import MONDAY

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
