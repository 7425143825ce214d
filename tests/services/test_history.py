"""Tracking dashboard queries: filters parsed from plain values, the mentor's Completed table
(counts of notes and files), the History timeline (an entry for every kind, from the services
that write them, plus creations), filters and pages on each, and statement counts that stay
flat as rows grow."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta

import pytest

from models import (
    Attachment,
    NoteKind,
    Occurrence,
    OccurrenceStatus,
    SessionNote,
    db,
)
from services.common.timeutil import zone
from services.timetable.sessions import cancel_session, restore_session, update_one_time_session
from services.tracking import events
from services.tracking.dashboard import DashboardTab, dashboard_page
from services.tracking.history import (
    CREATED,
    EVENT_KINDS,
    MESSAGE_BAD_DATE,
    MESSAGE_DATE_RANGE,
    MESSAGE_REVERSED,
    SESSION_STATUSES,
    DashboardFilters,
    completed_page,
    group_choices,
    history_page,
    parse_filters,
)
from services.tracking.notes import add_note, delete_note, edit_note
from tests.conftest import counted_statements

PARIS = zone("Europe/Paris")
_codes = itertools.count(1)
_stored = itertools.count(1)


def at(day: int, hour: int = 8) -> datetime:
    """An instant in September 2026 (UTC; 10:00 in Paris at hour 8)."""
    return datetime(2026, 9, day, hour, tzinfo=UTC)


def add_session(group, start, *, status="scheduled", completion_notes=None, title=None):
    o = Occurrence(
        group_id=group.id,
        start_utc=start,
        end_utc=start + timedelta(hours=1),
        room_id=group.default_room_id,
        status=OccurrenceStatus(status),
        title=title,
    )
    if status == "completed":
        o.actual_start_utc = start + timedelta(minutes=5)
        o.actual_end_utc = start + timedelta(minutes=55)
        o.completion_code = f"CODE-{next(_codes):04d}"
        o.completion_notes = completion_notes
        o.completed_at = start + timedelta(hours=2)
    db.session.add(o)
    db.session.commit()
    return o


def add_file(occurrence, uploader):
    db.session.add(
        Attachment(
            occurrence_id=occurrence.id,
            uploader_id=uploader.id,
            original_name="worksheet.pdf",
            stored_name=f"{next(_stored):032d}",
            content_type="application/pdf",
            size_bytes=10,
            sha256="0" * 64,
        )
    )
    db.session.commit()


def add_raw_note(occurrence, author, kind="general", body="Note"):
    db.session.add(
        SessionNote(
            occurrence_id=occurrence.id, author_id=author.id, kind=NoteKind(kind), body=body
        )
    )
    db.session.commit()


# --- Filters ------------------------------------------------------------------------------------


def test_filters_parse_plain_values_and_leave_out_bad_ones_with_a_message():
    f = parse_filters(
        {"group": "7", "from": "2026-09-01", "to": "2026-09-30", "status": "cancelled",
         "q": "  fractions   homework "},
        statuses=SESSION_STATUSES,
    )  # fmt: skip
    assert (f.group_id, f.start, f.end, f.status, f.q, f.errors) == (
        7, date(2026, 9, 1), date(2026, 9, 30), "cancelled", "fractions homework", {},
    )  # fmt: skip
    assert f.active and f.as_args() == {
        "group": "7", "from": "2026-09-01", "to": "2026-09-30", "status": "cancelled",
        "q": "fractions homework",
    }  # fmt: skip
    assert parse_filters({}) == DashboardFilters() and not DashboardFilters().active


@pytest.mark.parametrize("raw", ["2026-02-30", "2027-02-29", "2026-13-01", "05/01/2026", "x"])
def test_a_bad_date_is_left_out_and_said(raw):
    f = parse_filters({"from": raw, "to": raw})
    assert (f.start, f.end) == (None, None)
    assert f.errors == {"from": MESSAGE_BAD_DATE, "to": MESSAGE_BAD_DATE}


@pytest.mark.parametrize("raw", ["0001-01-01", "9999-12-31"])
def test_dates_far_out_are_refused_rather_than_overflowing(raw):
    assert parse_filters({"from": raw}).errors == {"from": MESSAGE_DATE_RANGE}


def test_a_reversed_range_keeps_its_start_and_says_so():
    f = parse_filters({"from": "2026-09-10", "to": "2026-09-01"})
    assert (f.start, f.end, f.errors) == (date(2026, 9, 10), None, {"to": MESSAGE_REVERSED})


@pytest.mark.parametrize("group", ["0", "-1", "abc", "3.5", str(2**63), ""])
def test_a_group_that_is_not_a_positive_id_is_ignored(group):
    assert parse_filters({"group": group}).group_id is None


def test_statuses_and_kinds_not_offered_are_ignored():
    assert parse_filters({"status": "ongoing"}, statuses=SESSION_STATUSES).status is None
    assert parse_filters({"status": "completed"}).status is None  # the tab has no status
    kinds = parse_filters({"kind": "note_added"}, statuses=EVENT_KINDS, status_name="kind")
    assert kinds.status == "note_added" and kinds.as_args("kind") == {"kind": "note_added"}
    assert parse_filters({"q": "x" * 500}).q == "x" * 200


def test_group_choices_are_the_viewers_own_groups(three_groups):
    assert [name for _, name in group_choices(three_groups["ada"])] == ["Maths 7A", "Physics 8B"]
    assert [name for _, name in group_choices(three_groups["alice"])] == ["Art 7A", "Maths 7A"]
    assert group_choices(three_groups["cora"]) == []


# --- Session tabs: filters ----------------------------------------------------------------------


def test_upcoming_and_past_are_filtered_by_group_dates_status_and_text_in_notes(three_groups):
    now = at(1)
    maths = add_session(three_groups["maths"], at(7))
    physics = add_session(three_groups["physics"], at(8))
    cancelled = add_session(three_groups["maths"], at(14), status="cancelled")
    add_raw_note(maths, three_groups["ada"], "achievement", "Fractions mastered")
    add_raw_note(physics, three_groups["ada"], "issue", "Fractions confusing SECRET")

    def ids(viewer, **raw):
        filters = parse_filters(raw, statuses=SESSION_STATUSES)
        page = dashboard_page(viewer, tz=PARIS, now=now, filters=filters)
        return [c.occurrence.id for c in page.items]

    ada = three_groups["ada"]
    assert ids(ada) == [maths.id, physics.id, cancelled.id]
    assert ids(ada, group=str(three_groups["physics"].id)) == [physics.id]
    assert ids(ada, **{"from": "2026-09-08", "to": "2026-09-08"}) == [physics.id]
    assert ids(ada, **{"to": "2026-09-07"}) == [maths.id]
    assert ids(ada, status="cancelled") == [cancelled.id]
    assert ids(ada, q="fractions") == [maths.id, physics.id]
    assert ids(ada, q="SECRET") == [physics.id]
    # A student's search reads only the notes they may read.
    alice = three_groups["alice"]
    assert ids(alice, q="fractions") == [maths.id]
    assert ids(alice, q="confusing") == []
    past = dashboard_page(ada, tz=PARIS, now=at(30), tab=DashboardTab.PAST,
                          filters=parse_filters({"q": "mastered"}))  # fmt: skip
    assert [c.occurrence.id for c in past.items] == [maths.id]


def test_a_search_with_like_wildcards_matches_them_literally(three_groups):
    a = add_session(three_groups["maths"], at(7))
    b = add_session(three_groups["maths"], at(8))
    add_raw_note(a, three_groups["ada"], body="100% done")
    add_raw_note(b, three_groups["ada"], body="1000 done")
    page = dashboard_page(
        three_groups["ada"], tz=PARIS, now=at(1), filters=parse_filters({"q": "100%"})
    )
    assert [c.occurrence.id for c in page.items] == [a.id]


# --- Completed ----------------------------------------------------------------------------------


def test_completed_lists_the_mentors_completed_sessions_latest_first_with_counts(three_groups):
    first = add_session(three_groups["maths"], at(7), status="completed")
    second = add_session(three_groups["physics"], at(9), status="completed")
    add_session(three_groups["maths"], at(10))  # scheduled: not listed
    add_session(three_groups["art"], at(8), status="completed")  # Ben's
    add_raw_note(first, three_groups["ada"])
    add_raw_note(first, three_groups["cora"], "issue")
    add_file(first, three_groups["ada"])
    add_file(second, three_groups["ada"])
    add_file(second, three_groups["ada"])
    add_file(second, three_groups["cora"])
    page = completed_page(three_groups["ada"], tz=PARIS)
    assert [(r.occurrence.id, r.notes, r.files) for r in page.items] == [
        (second.id, 0, 3),
        (first.id, 2, 1),
    ]
    assert page.total == 2 and page.items[0].title == "Physics 8B"


def test_completed_is_filtered_by_group_dates_and_text_in_notes_or_completion_notes(three_groups):
    first = add_session(
        three_groups["maths"], at(7), status="completed", completion_notes="Quadratics"
    )
    second = add_session(three_groups["physics"], at(9), status="completed")
    add_raw_note(second, three_groups["ada"], "follow_up", "Revise vectors")

    def ids(**raw):
        page = completed_page(three_groups["ada"], tz=PARIS, filters=parse_filters(raw))
        return [r.occurrence.id for r in page.items]

    assert ids(group=str(three_groups["maths"].id)) == [first.id]
    assert ids(**{"from": "2026-09-08"}) == [second.id]
    assert ids(**{"from": "2026-09-07", "to": "2026-09-07"}) == [first.id]
    assert ids(q="quadratic") == [first.id]
    assert ids(q="VECTORS") == [second.id]
    assert ids(q="nothing like it") == []


def test_completed_comes_in_pages_in_a_flat_number_of_statements(three_groups):
    def statements_for(count: int) -> tuple[int, int]:
        for day in range(count):
            o = add_session(three_groups["maths"], at(1) + timedelta(days=day), status="completed")
            add_raw_note(o, three_groups["ada"])
            add_file(o, three_groups["ada"])
        db.session.expire_all()
        assert three_groups["ada"].role  # the viewer is loaded, as a request's user is
        with counted_statements() as found:
            page = completed_page(three_groups["ada"], tz=PARIS, page=2, per_page=5)
            [(r.occurrence.group.name, r.occurrence.room, r.notes, r.files) for r in page.items]
        return len(found), page.total

    small, _ = statements_for(6)
    large, total = statements_for(20)
    assert small == large == 2 and total == 26
    last = completed_page(three_groups["ada"], tz=PARIS, page=99, per_page=5)
    assert last.number == 6 and len(last.items) == 1


# --- History ------------------------------------------------------------------------------------


def test_history_has_an_entry_for_every_kind_with_its_actor_newest_first(three_groups):
    ada, cora = three_groups["ada"], three_groups["cora"]
    one_time = add_session(three_groups["maths"], at(28))
    one_time.created_at = at(1)
    db.session.commit()
    # Written by the services that own them: move, cancel, restore; notes.
    update_one_time_session(
        one_time, day=date(2026, 9, 29), start=one_time.start_utc.astimezone(PARIS).time(),
        end=one_time.end_utc.astimezone(PARIS).time(), room_id=one_time.room_id,
        mode=one_time.mode, title=None, actor=cora, tz=PARIS, today=date(2026, 9, 1),
    )  # fmt: skip
    cancel_session(one_time, reason="Teacher ill", actor=cora, tz=PARIS)
    restore_session(one_time, actor=cora, tz=PARIS)
    note = add_note(ada, one_time, kind="achievement", body="All present")
    edit_note(ada, note, kind="achievement", body="All present and on time")
    delete_note(cora, note)
    # Written by the completion and attachment services (not mine): the same table.
    for kind in (events.COMPLETED, events.COMPLETION_CORRECTED, events.FILE_ADDED,
                 events.FILE_DELETED):  # fmt: skip
        events.record_event(one_time.id, kind, actor=ada, summary=f"{kind} summary")
    db.session.commit()
    page = history_page(ada, tz=PARIS)
    kinds = [e.kind for e in page.items]
    assert kinds == [
        events.FILE_DELETED, events.FILE_ADDED, events.COMPLETION_CORRECTED, events.COMPLETED,
        events.NOTE_DELETED, events.NOTE_EDITED, events.NOTE_ADDED, events.RESTORED,
        events.CANCELLED, events.MOVED, CREATED,
    ]  # fmt: skip
    by_kind = {e.kind: e for e in page.items}
    assert by_kind[events.MOVED].actor == cora and "moves to" in by_kind[events.MOVED].summary
    assert "Teacher ill" in by_kind[events.CANCELLED].summary
    assert by_kind[events.NOTE_DELETED].actor == cora
    assert by_kind[events.NOTE_ADDED].label == "Note added"
    created = by_kind[CREATED]
    assert (created.actor, created.at, created.summary) == (
        None, at(1), "One-time session created.",
    )  # fmt: skip
    assert {e.occurrence.id for e in page.items} == {one_time.id}
    assert EVENT_KINDS[0] == (CREATED, "Created")


def test_history_shows_only_the_mentors_sessions(three_groups):
    mine = add_session(three_groups["maths"], at(7))
    theirs = add_session(three_groups["art"], at(7))
    events.record_event(theirs.id, events.NOTE_ADDED, actor=three_groups["ben"], summary="Ben's")
    db.session.commit()
    assert [
        (e.kind, e.occurrence.id) for e in history_page(three_groups["ada"], tz=PARIS).items
    ] == [(CREATED, mine.id)]


def test_creations_say_where_a_session_came_from(three_groups, make_series):
    series = make_series(three_groups["maths"])
    from_series = add_session(three_groups["maths"], at(7))
    from_series.series_id, from_series.original_date = series.id, date(2026, 9, 7)
    db.session.commit()
    summaries = {
        e.occurrence.id: e.summary for e in history_page(three_groups["ada"], tz=PARIS).items
    }
    assert summaries == {from_series.id: "Generated from the weekly schedule."}


def test_history_is_filtered_by_kind_group_time_and_text(three_groups):
    maths = add_session(three_groups["maths"], at(20))
    physics = add_session(three_groups["physics"], at(21))
    for o in (maths, physics):
        o.created_at = at(1)
    db.session.commit()
    add_note(three_groups["ada"], maths, kind="issue", body="Broken projector")
    add_note(three_groups["ada"], physics, kind="general", body="Lab tidy")
    db.session.commit()

    def kinds(**raw):
        filters = parse_filters(raw, statuses=EVENT_KINDS, status_name="kind")
        page = history_page(three_groups["ada"], tz=PARIS, filters=filters)
        return [(e.kind, e.occurrence.id) for e in page.items]

    assert kinds(kind="note_added") == [
        (events.NOTE_ADDED, physics.id),
        (events.NOTE_ADDED, maths.id),
    ]
    assert kinds(kind="created", group=str(three_groups["maths"].id)) == [(CREATED, maths.id)]
    assert kinds(q="projector") == [(events.NOTE_ADDED, maths.id)]
    # Dates are when things happened: the creations on 1 September, the notes today.
    assert sorted(kinds(**{"from": "2026-09-01", "to": "2026-09-01"})) == sorted(
        [(CREATED, maths.id), (CREATED, physics.id)]
    )
    assert kinds(**{"to": "2026-09-02"}, kind="note_added") == []


def test_history_comes_in_pages_in_a_flat_number_of_statements(three_groups):
    def statements_for(count: int) -> tuple[int, int]:
        for day in range(count):
            o = add_session(three_groups["maths"] if day % 2 else three_groups["physics"],
                            at(1) + timedelta(days=day))  # fmt: skip
            add_note(
                three_groups["ada"] if day % 3 else three_groups["cora"],
                o,
                kind="general",
                body="n",
            )
        db.session.commit()
        db.session.expire_all()
        assert three_groups["ada"].role  # the viewer is loaded, as a request's user is
        with counted_statements() as found:
            page = history_page(three_groups["ada"], tz=PARIS, page=2, per_page=6)
            [(e.label, e.actor and e.actor.name, e.session_title, e.occurrence.room)
             for e in page.items]  # fmt: skip
        return len(found), page.total

    small, _ = statements_for(5)
    large, total = statements_for(25)
    assert small == large == 4 and total == 60
