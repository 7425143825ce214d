"""Cover for an absent mentor, as people see it: the substitute finds the sessions they cover
in their timetable, dashboard and calendar feed, completes them and is paid the hours;
the group's mentor sees them covered by someone else; students read who teaches; and an
exception that only names a substitute moves nothing (no "Moved" badge).

The school is `covered_maths` (tests/conftest.py): Ada's Maths 7A on Mondays, Bob covering
15 March (cover only), 22 March (moved to 14:00 too) and a one-time session yesterday.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest

from models import Occurrence, db
from services.output.feeds import own_feed
from services.output.reports import mentor_hours
from services.timetable.schedule.entries import load_entries
from services.timetable.schedule.view import ScheduleFilters
from services.tracking.completion import MonitorFilters, monitored_sessions
from tests.conftest import TEST_PASSWORD, browser, csrf_token_of

PARIS = ZoneInfo("Europe/Paris")  # the test app's TIMEZONE
PARTIAL = {"HX-Request": "true", "HX-Request-Type": "partial"}


def logged_in(app, user):
    client = browser(app)
    form = client.get("/auth/login").forms[0]
    form["email"], form["password"] = user.email, TEST_PASSWORD
    assert form.submit().status_int == 302
    return client


def card(page, occurrence):
    found = page.html.find(id=f"session-card-{occurrence.id}")
    assert found is not None, f"no card of session {occurrence.id}"
    return found


def text_of(element) -> str:
    return " ".join(element.get_text(" ").split())


def badges(element) -> set[str]:
    return {text_of(b) for b in element.select(".badge")}


# --- Schedule -----------------------------------------------------------------------------------


def test_the_substitutes_timetable_shows_the_sessions_they_cover_and_no_other(app, covered_maths):
    w = covered_maths
    bob = logged_in(app, w["bob"])
    week = bob.get("/schedule/mine?date=2027-03-15")
    covered = card(week, w["covered"])
    assert "Bob Brown (cover for Ada Lovelace)" in text_of(covered)
    assert "Cover" in badges(covered)
    # An exception naming only the substitute moves nothing.
    assert "Moved" not in badges(covered) and "is-moved" not in covered["class"]
    assert "is-covered" in covered["class"]
    # Ada's own sessions of the class are not his.
    assert week.html.find(id=f"session-card-{w['own'].id}") is None
    assert "session-card-" + str(w["own"].id) not in bob.get("/schedule/mine?date=2027-03-29")
    # Moved and covered: both badges.
    moved = card(bob.get("/schedule/mine?date=2027-03-22", headers=PARTIAL), w["moved"])
    assert {"Moved", "Cover"} <= badges(moved)
    # The month view marks them too, and a cover-only one is not "Moved".
    month = bob.get("/schedule/mine?view=month&date=2027-03-15").html
    items = [li for li in month.select(".month-sessions li") if "Maths 7A" in li.text]
    assert len(items) == 3  # 9 (the one-time session), 15 and 22 March
    assert all(text_of(li.select_one(".badge-cover")) == "Cover by Bob Brown" for li in items)
    assert sum("Moved" in badges(li) for li in items) == 1


def test_the_group_mentor_still_sees_their_sessions_covered_by_someone_else(app, covered_maths):
    w = covered_maths
    week = logged_in(app, w["ada"]).get("/schedule/mine?date=2027-03-15")
    covered = card(week, w["covered"])
    assert "Bob Brown (cover for Ada Lovelace)" in text_of(covered)
    assert "Cover" in badges(covered)
    own = card(logged_in(app, w["ada"]).get("/schedule/mine?date=2027-03-29"), w["own"])
    assert "Ada Lovelace" in text_of(own) and "Cover" not in badges(own)


def test_filtering_the_schedule_by_mentor_finds_the_sessions_they_cover(app, covered_maths):
    w = covered_maths
    staff = logged_in(app, w["cora"])
    page = staff.get(f"/schedule/?date=2027-03-15&mentor={w['bob'].id}")
    assert "Bob Brown (cover for Ada Lovelace)" in text_of(card(page, w["covered"]))
    cleo = staff.get(f"/schedule/?date=2027-03-15&mentor={w['cleo'].id}")
    assert cleo.html.find(id=f"session-card-{w['covered'].id}") is None


def test_a_cover_only_exception_is_not_a_move(app, covered_maths):
    w = covered_maths
    with app.test_request_context():
        entries = {
            e.id: e
            for e in load_entries(
                w["covered"].original_date,
                w["own"].original_date,
                tz=PARIS,
                filters=ScheduleFilters(mentor_id=w["bob"].id),
                viewer=w["bob"],
            )
        }
    covered, moved = entries[w["covered"].id], entries[w["moved"].id]
    assert covered.override is not None and not covered.moved and covered.covered
    assert moved.moved and moved.covered
    assert covered.occurrence.mentor.name == "Bob Brown"
    assert covered.occurrence.group.mentor.name == "Ada Lovelace"
    # The substitute is told of the session's conflicts, as its mentor is.
    assert covered.occurrence.mentor_id == w["bob"].id


# --- Session page -------------------------------------------------------------------------------


def test_students_read_who_teaches_a_covered_session(app, covered_maths):
    w = covered_maths
    for person in ("sam", "ada", "bob", "cora"):
        page = logged_in(app, w[person]).get(f"/sessions/{w['covered'].id}")
        mentor = page.html.select_one('[data-field="mentor"]')
        assert "Taught by Bob Brown (cover for Ada Lovelace)" in text_of(mentor), person
    own = logged_in(app, w["sam"]).get(f"/sessions/{w['own'].id}")
    assert text_of(own.html.select_one('[data-field="mentor"]')) == "Ada Lovelace"
    logged_in(app, w["cleo"]).get(f"/sessions/{w['covered'].id}", status=404)
    logged_in(app, w["bob"]).get(f"/sessions/{w['own'].id}", status=404)


# --- Dashboard ----------------------------------------------------------------------------------


def dashboard_card(page, occurrence):
    found = page.html.find(id=f"session-dashboard-{occurrence.id}")
    assert found is not None, f"no dashboard card of session {occurrence.id}"
    return found


def facts(found) -> dict[str, str]:
    return {text_of(dt): text_of(dt.find_next_sibling("dd")) for dt in found.find_all("dt")}


def test_the_substitutes_dashboard_lists_what_they_cover(app, covered_maths):
    w = covered_maths
    bob = logged_in(app, w["bob"]).get("/dashboard/")
    covered = dashboard_card(bob, w["covered"])
    assert facts(covered)["Cover"] == "Cover for Ada Lovelace"
    assert "Cover" in badges(covered)
    assert bob.html.find(id=f"session-dashboard-{w['own'].id}") is None
    # Yesterday's is past, and his to complete from the card.
    past = logged_in(app, w["bob"]).get("/dashboard/past")
    assert dashboard_card(past, w["past"]).find(id=f"dashboard-completion-{w['past'].id}")
    ada = dashboard_card(logged_in(app, w["ada"]).get("/dashboard/"), w["covered"])
    assert facts(ada)["Cover"] == "Covered by Bob Brown"
    sam = dashboard_card(logged_in(app, w["sam"]).get("/dashboard/"), w["covered"])
    assert facts(sam)["Mentor"] == "Bob Brown"
    assert facts(sam)["Cover"] == "Cover for Ada Lovelace"
    assert "Cover" not in facts(dashboard_card(logged_in(app, w["sam"]).get("/dashboard/"),
                                               w["own"]))  # fmt: skip


# --- Completion, hours, monitoring --------------------------------------------------------------


def test_the_substitute_completes_the_session_and_the_hours_are_theirs(app, covered_maths):
    w = covered_maths
    bob = logged_in(app, w["bob"])
    page = bob.get(f"/sessions/{w['past'].id}")
    response = bob.post(
        f"/tracking/sessions/{w['past'].id}/complete",
        {"completion-actual_start": "10:00", "completion-actual_end": "10:50"},
        headers={**PARTIAL, "X-CSRFToken": csrf_token_of(page)},
    )
    assert response.status_int == 200
    past = db.session.get(Occurrence, w["past"].id)
    db.session.refresh(past)
    assert past.is_completed and past.completed_by_id == w["bob"].id
    # March up to today (10 March): yesterday's session is Bob's, not Ada's.
    report = mentor_hours(past.original_date or past.start_utc.date(), PARIS)
    rows = {row.name: row for row in report.rows}
    assert rows["Bob Brown"].completed_sessions == 1
    assert rows["Bob Brown"].actual_seconds == 50 * 60
    assert "Ada Lovelace" not in rows or rows["Ada Lovelace"].completed_sessions == 0
    hours = logged_in(app, w["cora"]).get("/tracking/hours?month=2027-03")
    assert hours.html.find(id=f"hours-mentor-{w['bob'].id}") is not None
    # Monitoring by mentor: the substitute's, not the group mentor's.
    with app.test_request_context():
        by_bob = db.session.scalars(monitored_sessions(MonitorFilters(w["bob"].id), PARIS)).all()
        by_ada = db.session.scalars(monitored_sessions(MonitorFilters(w["ada"].id), PARIS)).all()
    assert [o.id for o in by_bob] == [past.id] and past.id not in [o.id for o in by_ada]
    monitor = logged_in(app, w["cora"]).get(f"/tracking/?mentor={w['bob'].id}")
    assert "Bob Brown (cover for Ada Lovelace)" in text_of(monitor.html)


# --- Calendar feed ------------------------------------------------------------------------------


def test_the_substitutes_feed_holds_the_sessions_they_cover(app, covered_maths):
    w = covered_maths
    feeds = {person: own_feed(w[person]).token for person in ("bob", "ada", "sam")}
    db.session.commit()
    anyone = browser(app)
    bob = anyone.get(f"/calendar/{feeds['bob']}.ics").text.replace("\r\n ", "")
    for key in ("covered", "moved", "past"):
        assert f"UID:session-{w[key].id}@termtable" in bob
    assert f"UID:session-{w['own'].id}@termtable" not in bob
    assert "Mentor: Bob Brown (cover for Ada Lovelace)" in bob
    ada = anyone.get(f"/calendar/{feeds['ada']}.ics").text.replace("\r\n ", "")
    assert f"UID:session-{w['covered'].id}@termtable" in ada
    assert "Mentor: Bob Brown (cover for Ada Lovelace)" in ada
    sam = anyone.get(f"/calendar/{feeds['sam']}.ics").text.replace("\r\n ", "")
    assert "SUMMARY:Mathematics with Bob Brown (cover for Ada Lovelace)" in sam
    assert "SUMMARY:Mathematics with Ada Lovelace" in sam  # 29 March, her own


@pytest.mark.parametrize("view", ["week", "day", "month"])
def test_a_covered_session_shows_in_every_view_of_the_substitutes_timetable(
    app, covered_maths, view
):
    w = covered_maths
    page = logged_in(app, w["bob"]).get(f"/schedule/mine?view={view}&date=2027-03-15")
    assert f"/sessions/{w['covered'].id}" in page.text
