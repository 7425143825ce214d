"""POST /api/v1/generate: a window holding more sessions than MAX_WEB_GENERATION_SESSIONS is
refused (422) before any work, like the Generate page; the command line has no limit."""

from __future__ import annotations

from sqlalchemy import func, select

from models import Occurrence, db
from tests.api.conftest import MONDAY, assert_problem


def occurrence_count() -> int:
    return db.session.scalar(select(func.count(Occurrence.id)))


def test_a_window_over_the_limit_is_refused_and_writes_nothing(
    app, api_as, make_series, monkeypatch
):
    monkeypatch.setitem(app.config, "MAX_WEB_GENERATION_SESSIONS", 10)
    make_series(weekdays=(0, 2, 4), first_date=MONDAY)
    client = api_as("coordinator")
    for extra in ({}, {"dry_run": True}, {"force": True}):
        body = {"start": MONDAY.isoformat(), "weeks": 4} | extra
        problem = assert_problem(client.post("/api/v1/generate", body, status=422), 422)
        assert "this window holds 12 sessions" in problem["detail"]
        assert "flask generate-sessions --start" in problem["detail"]
    assert occurrence_count() == 0
    summary = client.post("/api/v1/generate", {"start": MONDAY.isoformat(), "weeks": 3}).json
    assert summary["created"] == 9
    assert occurrence_count() == 9
