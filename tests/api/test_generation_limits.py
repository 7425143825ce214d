"""POST /api/v1/generate: a window holding more sessions than MAX_WEB_GENERATION_SESSIONS is
run by a background worker (202 and the run's Location), like the Generate page's."""

from __future__ import annotations

from sqlalchemy import func, select

from models import Occurrence, db
from services.jobs.queue import run_queued_jobs
from tests.api.conftest import MONDAY, assert_problem


def occurrence_count() -> int:
    return db.session.scalar(select(func.count(Occurrence.id)))


def test_a_window_over_the_limit_is_run_by_a_worker_and_followed_by_its_location(
    app, api_as, make_series, monkeypatch
):
    monkeypatch.setitem(app.config, "MAX_WEB_GENERATION_SESSIONS", 10)
    make_series(weekdays=(0, 2, 4), first_date=MONDAY)
    client = api_as("coordinator")
    response = client.post(
        "/api/v1/generate", {"start": MONDAY.isoformat(), "weeks": 4}, status=202
    )
    run = response.json
    assert run["status"] == "queued" and run["sessions"] == 12 and run["summary"] is None
    assert response.headers["Location"] == f"/api/v1/generations/{run['id']}"
    assert occurrence_count() == 0
    assert run_queued_jobs() == 1
    done = client.get(response.headers["Location"]).json
    assert done["status"] == "done" and done["finished_at"] is not None
    assert done["summary"]["created"] == 12 and done["conflict_count"] == 0
    assert occurrence_count() == 12
    summary = client.post("/api/v1/generate", {"start": MONDAY.isoformat(), "weeks": 3}).json
    assert summary["unchanged"] == 9


def test_a_run_is_for_staff_and_an_unknown_one_is_a_404(app, api_as, make_series, monkeypatch):
    monkeypatch.setitem(app.config, "MAX_WEB_GENERATION_SESSIONS", 1)
    make_series(weekdays=(0, 2, 4), first_date=MONDAY)
    location = (
        api_as("coordinator")
        .post("/api/v1/generate", {"start": MONDAY.isoformat(), "weeks": 1}, status=202)
        .headers["Location"]
    )
    assert_problem(api_as("mentor").get(location, status=403), 403)
    assert_problem(api_as("coordinator").get("/api/v1/generations/999", status=404), 404)
