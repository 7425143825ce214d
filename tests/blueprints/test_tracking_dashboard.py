"""The mentor's tracking dashboard: the tabs (full pages and fragments), the Completed table,
the History timeline, filters and pages kept in the URLs, who gets which tab, and a number
of statements per page that does not grow with the rows."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, time, timedelta
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import pytest

from models import Attachment, NoteKind, Occurrence, OccurrenceStatus, SessionNote, db
from services.tracking import events
from services.tracking.history import MESSAGE_BAD_DATE
from tests.blueprints.test_security import assert_security_headers, scan
from tests.conftest import PINNED_TODAY, counted_statements

_codes = itertools.count(1)
_stored = itertools.count(1)


def log_in(web, login_as, user):
    web.reset()
    return login_as(user)


def add_session(group, start, *, status="scheduled"):
    o = Occurrence(
        group_id=group.id,
        start_utc=start,
        end_utc=start + timedelta(hours=1),
        room_id=group.default_room_id,
        status=OccurrenceStatus(status),
    )
    if status == "completed":
        o.actual_start_utc = start + timedelta(minutes=10)
        o.actual_end_utc = start + timedelta(minutes=70)
        o.completion_code = f"MATH-{next(_codes):04d}"
        o.completed_at = start + timedelta(hours=2)
    db.session.add(o)
    db.session.commit()
    return o


def add_note(occurrence, author, kind="general", body="Note"):
    db.session.add(
        SessionNote(
            occurrence_id=occurrence.id, author_id=author.id, kind=NoteKind(kind), body=body
        )
    )
    db.session.commit()


def add_file(occurrence, uploader):
    db.session.add(
        Attachment(
            occurrence_id=occurrence.id, uploader_id=uploader.id, original_name="a.pdf",
            stored_name=f"{next(_stored):032d}", content_type="application/pdf",
            size_bytes=1, sha256="0" * 64,
        )
    )  # fmt: skip
    db.session.commit()


def past(days: int) -> datetime:
    return (datetime.now(UTC) - timedelta(days=days)).replace(hour=9, minute=0, second=0,
                                                              microsecond=0)  # fmt: skip


def tab_links(page) -> dict[str, dict]:
    nav = page.html.find("nav", class_="dashboard-tabs")
    return {a.text.strip(): a for a in nav.find_all("a")}


# --- Tabs -----------------------------------------------------------------------------------------


def test_mentors_get_four_tabs_students_two(web, login_as, three_groups):
    log_in(web, login_as, three_groups["ada"])
    links = tab_links(web.get("/dashboard/"))
    assert list(links) == ["Upcoming", "Past sessions", "Completed", "History"]
    for a in links.values():
        assert a["hx-get"] == a["href"] and a["hx-target"] == "#dashboard-sessions"
        assert a["hx-push-url"] == "true" and a["hx-swap"] == "outerHTML"
    assert links["Completed"]["href"] == "/dashboard/completed"
    assert links["History"]["href"] == "/dashboard/history"
    log_in(web, login_as, three_groups["alice"])
    assert list(tab_links(web.get("/dashboard/"))) == ["Upcoming", "Past sessions"]


@pytest.mark.parametrize("url", ["/dashboard/completed", "/dashboard/history"])
def test_each_tab_is_a_page_and_a_fragment(web, htmx, login_as, three_groups, url):
    log_in(web, login_as, three_groups["ada"])
    page = web.get(url)
    assert "<html" in page.text and page.html.find(id="dashboard-sessions")
    assert tab_links(page)["Completed" if "completed" in url else "History"]["aria-current"]
    assert_security_headers(page)
    assert scan(page).problems == []
    fragment = htmx.get(url)
    assert fragment.text.lstrip().startswith('<section id="dashboard-sessions"')
    assert "<html" not in fragment.text and "HX-Request" in fragment.headers["Vary"]
    assert not fragment.html.find(id="dashboard-sessions").has_attr("hx-trigger")


@pytest.mark.parametrize("url", ["/dashboard/completed", "/dashboard/history"])
def test_students_go_to_their_dashboard_staff_to_the_schedule_strangers_to_login(
    web, login_as, three_groups, url
):
    assert urlsplit(web.get(url, status=302).headers["Location"]).path == "/auth/login"
    log_in(web, login_as, three_groups["alice"])
    assert urlsplit(web.get(url, status=302).headers["Location"]).path == "/dashboard/"
    log_in(web, login_as, three_groups["cora"])
    assert urlsplit(web.get(url, status=302).headers["Location"]).path == "/schedule/"


# --- Completed ----------------------------------------------------------------------------------


def test_the_completed_table_shows_date_group_actual_times_code_and_counts(
    web, login_as, three_groups
):
    done = add_session(three_groups["maths"], past(3), status="completed")
    add_session(three_groups["maths"], past(2))  # not completed
    other = add_session(three_groups["art"], past(2), status="completed")  # Ben's
    add_note(done, three_groups["ada"], "issue")
    add_note(done, three_groups["cora"])
    add_file(done, three_groups["ada"])
    log_in(web, login_as, three_groups["ada"])
    page = web.get("/dashboard/completed")
    rows = page.html.find("table", class_="completed-table").find("tbody").find_all("tr")
    assert [r["id"] for r in rows] == [f"completed-{done.id}"]
    cells = [td.text.strip() for td in rows[0].find_all("td")]
    paris = ZoneInfo("Europe/Paris")
    local = (done.actual_start_utc.astimezone(paris), done.actual_end_utc.astimezone(paris))
    assert cells[0] == f"{local[0]:%a %d %b %Y}"
    assert cells[1] == "Maths 7A" and cells[2] == "Maths 7A"
    assert cells[3] == f"{local[0]:%H:%M}\u2013{local[1]:%H:%M}"
    assert cells[4] == done.completion_code and cells[5:] == ["2", "1"]
    assert rows[0].find("a", href=f"/sessions/{done.id}") is not None
    assert f"completed-{other.id}" not in page.text


def test_the_completed_tab_filters_and_keeps_its_filters_in_its_pages(web, login_as, three_groups):
    for day in range(1, 44):
        o = add_session(three_groups["maths"], past(day), status="completed")
        if day % 2:
            add_note(o, three_groups["ada"], "follow_up", f"Revise chapter {day}")
    add_session(three_groups["physics"], past(1) + timedelta(hours=3), status="completed")
    log_in(web, login_as, three_groups["ada"])
    everything = web.get("/dashboard/completed")
    assert everything.html.find(attrs={"data-total": True})["data-total"] == "44"
    group = str(three_groups["maths"].id)
    page = web.get(f"/dashboard/completed?group={group}&q=revise")
    assert page.html.find(attrs={"data-total": True})["data-total"] == "22"
    next_link = page.html.find("a", rel="next")
    query = parse_qs(urlsplit(next_link["href"]).query)
    assert query == {"group": [group], "q": ["revise"], "page": ["2"]}
    assert next_link["hx-target"] == "#dashboard-sessions"
    second = web.get(next_link["href"])
    assert len(second.html.find("tbody").find_all("tr")) == 2
    form = page.html.find("form", id="dashboard-filters-completed")
    assert form["hx-get"] == "/dashboard/completed" and form["hx-push-url"] == "true"
    assert form.find("input", attrs={"name": "q"})["value"] == "revise"
    assert form.find("option", selected=True)["value"] == group
    assert page.html.find("a", string="Clear the filters")["href"] == "/dashboard/completed"
    assert "No completed sessions match" in web.get("/dashboard/completed?q=zzz").text


def test_a_bad_date_in_the_filters_is_said_and_left_out(web, login_as, three_groups):
    add_session(three_groups["maths"], past(3), status="completed")
    log_in(web, login_as, three_groups["ada"])
    page = web.get("/dashboard/completed?from=2026-02-30")
    assert page.status_int == 200
    error = page.html.find(id="dashboard-filter-completed-from-error")
    assert MESSAGE_BAD_DATE in error.text
    assert len(page.html.find("tbody").find_all("tr")) == 1


def test_the_completed_page_takes_as_many_statements_for_3_rows_as_for_20(
    web, login_as, three_groups
):
    log_in(web, login_as, three_groups["ada"])

    def statements(count):
        for _ in range(count):
            o = add_session(three_groups["maths"], past(1 + next(_codes) % 300), status="completed")
            add_note(o, three_groups["ada"])
            add_file(o, three_groups["ada"])
        with counted_statements() as found:
            web.get("/dashboard/completed")
        return len(found)

    assert statements(3) == statements(17)


# --- History ------------------------------------------------------------------------------------


def test_the_history_lists_what_happened_with_time_actor_and_link(web, login_as, three_groups):
    o = add_session(three_groups["maths"], past(3))
    events.record_event(o.id, events.CANCELLED, actor=three_groups["cora"], summary="Teacher ill")
    events.record_event(
        o.id, events.NOTE_ADDED, actor=three_groups["ada"], summary="Issue note added"
    )
    db.session.commit()
    log_in(web, login_as, three_groups["ada"])
    page = web.get("/dashboard/history")
    entries = page.html.find("ol", class_="timeline").find_all("li")
    assert [li["data-kind"] for li in entries] == ["note_added", "cancelled", "created"]
    cancelled = entries[1]
    assert cancelled.find(class_="badge").text == "Cancelled"
    assert "by Cora Coordinator" in cancelled.text and "Teacher ill" in cancelled.text
    assert cancelled.find("a", href=f"/sessions/{o.id}") is not None
    assert cancelled.find("time")["datetime"]
    assert entries[2].find(class_="timeline-actor") is None
    assert "One-time session created." in entries[2].text


def test_the_history_filters_by_kind_and_text(web, login_as, three_groups):
    o = add_session(three_groups["maths"], past(3))
    events.record_event(o.id, events.MOVED, actor=three_groups["cora"], summary="Moves to Friday")
    events.record_event(o.id, events.FILE_ADDED, actor=three_groups["ada"], summary="worksheet.pdf")
    db.session.commit()
    log_in(web, login_as, three_groups["ada"])
    kinds = web.get("/dashboard/history?kind=moved").html.find_all("li", class_="timeline-entry")
    assert [li["data-kind"] for li in kinds] == ["moved"]
    text = web.get("/dashboard/history?q=WORKSHEET").html.find_all("li", class_="timeline-entry")
    assert [li["data-kind"] for li in text] == ["file_added"]
    page = web.get("/dashboard/history?kind=moved")
    assert (
        page.html.find("select", attrs={"name": "kind"}).find("option", selected=True)["value"]
        == "moved"
    )


def test_the_history_page_takes_as_many_statements_for_3_entries_as_for_30(
    web, login_as, three_groups
):
    log_in(web, login_as, three_groups["ada"])

    def statements(count):
        for n in range(count):
            o = add_session(
                three_groups["maths"] if n % 2 else three_groups["physics"], past(n + 1)
            )
            events.record_event(o.id, events.NOTE_ADDED, actor=three_groups["cora"], summary="x")
        db.session.commit()
        with counted_statements() as found:
            web.get("/dashboard/history")
        return len(found)

    assert statements(2) == statements(15)


# --- Filters on the session tabs ----------------------------------------------------------------


def test_upcoming_filters_keep_the_poll_url_and_students_search_only_what_they_read(
    web, login_as, three_groups
):
    soon = datetime.now(UTC).replace(microsecond=0) + timedelta(days=2)
    maths = add_session(three_groups["maths"], soon)
    add_note(maths, three_groups["ada"], "issue", "Parents meeting SECRET")
    add_note(maths, three_groups["ada"], "achievement", "Great progress")
    log_in(web, login_as, three_groups["ada"])
    page = web.get("/dashboard/?q=secret")
    section = page.html.find(id="dashboard-sessions")
    assert section["hx-get"] == "/dashboard/?q=secret"
    assert section["hx-trigger"] == "every 60s, notification-arrived from:body"
    assert page.html.find(id=f"session-dashboard-{maths.id}") is not None
    box = page.html.find("details", id="dashboard-filters-box-upcoming")
    assert box.has_attr("hx-preserve") and box.find("form", id="dashboard-filters-upcoming")
    log_in(web, login_as, three_groups["alice"])
    hidden = web.get("/dashboard/?q=secret")
    assert hidden.html.find(id=f"session-dashboard-{maths.id}") is None
    assert "No sessions match these filters." in hidden.text
    shown = web.get("/dashboard/?q=progress")
    assert shown.html.find(id=f"session-dashboard-{maths.id}") is not None
    status = web.get("/dashboard/?status=cancelled")
    assert status.html.find(id=f"session-dashboard-{maths.id}") is None


@pytest.mark.usefixtures("pinned_clock")
def test_history_text_finds_the_summary_shown_for_a_creation(
    web, login_as, make_user, make_group, make_session
):
    ann = make_user("mentor", name="Ann")
    past = datetime.combine(PINNED_TODAY - timedelta(days=10), time(10), ZoneInfo("Europe/Paris"))
    session = make_session(
        make_group(mentor=ann), past, created_at=datetime(2026, 1, 5, 9, tzinfo=UTC)
    )
    login_as(ann)
    page = web.get("/dashboard/history", {"kind": "created"})
    assert "One-time session created." in page.html.find("p", class_="timeline-summary").text
    found = web.get("/dashboard/history", {"q": "one-time"}).html.select("li.timeline-entry a")
    assert [a["href"] for a in found] == [f"/sessions/{session.id}"]
