"""The API's session list page by page, as a client walking `next` sees it: many sessions at one
instant split across pages neither repeat nor go missing, and each page's `conflict` flags are
the ones a computation over the whole range gives (room, mentor and student clashes, partners
on another page, outside the range or outside the filter; cancelled and touching sessions never
clash), for staff and for a mentor."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from models import Occurrence, OccurrenceStatus, db
from services.timetable.clashes import sessions_in_conflict
from services.timetable.conflicts import conflicts_in_window
from tests.api.conftest import MONDAY
from tests.conftest import counted_statements

PARIS = ZoneInfo("Europe/Paris")


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(MONDAY + timedelta(days=day), time(hour, minute), tzinfo=PARIS)


def sessions_url(days: int = 7, **filters) -> str:
    query = f"start={MONDAY}&end={MONDAY + timedelta(days=days)}"
    return "/api/v1/sessions?" + query + "".join(f"&{k}={v}" for k, v in filters.items())


def pages(client, url: str) -> list[list[dict]]:
    """Every page of a list, following `next`."""
    found = []
    while url:
        body = client.get(url).json
        found.append(body["items"])
        url = body["next"]
        assert len(found) < 100, "the cursor does not move"
    return found


@pytest.fixture
def school(make_user, make_room, make_group, make_session):
    """A week with clashes of every kind, and many sessions at one instant.

    Monday 09:00 holds twelve sessions of twelve groups, each in its own room with its own
    mentor and students, except: G1 and G2 share a room (room clash), G3 and G4 a mentor
    (mentor clash), G5 and G6 a student (student clash), G7 clashes in its room with a
    cancelled session (no clash), G8's mentor teaches again at 10:00 just after (touching:
    no clash), G9 clashes with its own group's extra session (mentor clash, never a student
    one), and G10's student is double-booked on Sunday 23:30-00:30 by a session that starts
    before the listed week. Tuesday repeats G1/G2's room clash at 14:00 with a third session
    in another room.
    """
    rooms = [make_room(f"Room {n:02d}") for n in range(14)]
    mentors = [make_user("mentor", name=f"Mentor {n:02d}") for n in range(14)]
    students = [make_user("student", name=f"Student {n:02d}") for n in range(14)]
    shared_student = make_user("student", name="Shared Student")
    groups = []
    for n in range(12):
        enrolled = [students[n]]
        if n in (5, 6, 10):
            enrolled.append(shared_student)
        groups.append(
            make_group(
                f"G{n:02d}",
                mentor=mentors[4 if n == 3 else n],  # G3 and G4: one mentor
                room=rooms[1 if n == 2 else n],  # G1 and G2: one room
                students=enrolled,
            )
        )
    listed = [make_session(group, at(0, 9)) for group in groups]
    other = make_group("Other", mentor=mentors[12], room=rooms[12])
    # A cancelled session in G7's room at that time: no clash.
    make_session(other, at(0, 9), room=rooms[7], status=OccurrenceStatus.CANCELLED)
    # G8's mentor again right after (10:00-11:00): touching, no clash.
    make_session(make_group("After", mentor=mentors[8], room=rooms[13]), at(0, 10))
    # G9 twice at once: a mentor clash of one group.
    make_session(groups[9], at(0, 9, 30), room=rooms[12])
    # G10's shared student: Sunday 23:30 to Monday 00:30 in another group (before the week),
    # and G10 again at Monday 00:00.
    make_session(make_group("Night", students=[shared_student]), at(-1, 23, 30))
    make_session(groups[10], at(0, 0), room=rooms[10])
    # Tuesday 14:00: G1 and G2 in one room, G11 alone.
    for n in (1, 2, 11):
        make_session(groups[n], at(1, 14))
    db.session.commit()
    return {"groups": groups, "mentors": mentors, "listed": listed}


def select_week():
    return select(Occurrence).where(
        Occurrence.start_utc >= at(0, 0), Occurrence.start_utc < at(7, 0)
    )


def whole_range_flags() -> set[int]:
    """The sessions in a conflict, computed over the whole listed range and a day around it."""
    start = at(-1, 0)
    flagged = set()
    for conflict in conflicts_in_window(start, start + timedelta(days=9)):
        flagged.update((conflict.first_id, conflict.second_id))
    return flagged


def test_the_school_has_clashes_of_every_kind(school):
    start = at(-1, 0)
    kinds = {c.kind for c in conflicts_in_window(start, start + timedelta(days=9))}
    assert kinds == {"room", "mentor", "student"}
    listed = [o.id for o in school["listed"]]
    assert sessions_in_conflict(listed) == {listed[n] for n in (1, 2, 3, 4, 5, 6, 9, 10)}


@pytest.mark.parametrize("limit", [1, 2, 3, 5, 50])
def test_pages_at_one_instant_neither_repeat_nor_skip(api_as, school, limit):
    client = api_as("coordinator")
    walked = [s["id"] for page in pages(client, sessions_url(limit=limit)) for s in page]
    everything = db.session.scalars(
        select_week().order_by(Occurrence.start_utc, Occurrence.id)
    ).all()
    assert walked == [o.id for o in everything]
    assert len(set(walked)) == len(walked)


@pytest.mark.parametrize("limit", [2, 3, 50])
def test_each_pages_flags_are_the_whole_ranges(api_as, school, limit):
    truth = whole_range_flags()
    client = api_as("coordinator")
    walked = pages(client, sessions_url(limit=limit))
    assert len(walked) > 1 or limit == 50
    flags = {s["id"]: s["conflict"] for page in walked for s in page}
    assert flags == {o.id: o.id in truth for o in db.session.scalars(select_week())}
    # Page 2 on its own (fetched again from its cursor) says the same.
    if len(walked) > 1:
        second = client.get(client.get(sessions_url(limit=limit)).json["next"]).json["items"]
        assert [s["conflict"] for s in second] == [s["id"] in truth for s in second]
    assert sum(flags.values()) >= 8


def test_a_filtered_list_flags_clashes_with_sessions_it_does_not_show(api_as, school):
    """G3 and G4 share a mentor but not a room: listing G3's room still flags G3."""
    truth = whole_range_flags()
    g3 = school["groups"][3]
    items = api_as("coordinator").get(sessions_url(room=g3.default_room_id)).json["items"]
    assert [s["conflict"] for s in items] == [True]
    assert all(s["conflict"] == (s["id"] in truth) for s in items)


def test_a_mentor_sees_flags_on_their_own_sessions_only(api_as, school):
    truth = whole_range_flags()
    mentor = school["mentors"][4]  # teaches G3 and G4, which clash
    items = [s for page in pages(api_as(mentor), sessions_url(limit=1)) for s in page]
    assert {s["group"]["name"] for s in items} == {"G03", "G04"}
    assert [s["conflict"] for s in items] == [s["id"] in truth for s in items] == [True, True]


def test_a_week_of_cancellations_names_each_reason_in_a_few_statements(
    api_as, make_group, make_series
):
    """A snow week: every session of five groups cancelled with its own reason; the list names
    each reason, and reads them in one statement, not one per session."""
    from services.timetable.generation import generate_occurrences

    series = [make_series(make_group(f"Snow {n}"), weekdays=(0, 1, 2, 3, 4), first_date=MONDAY)
              for n in range(5)]  # fmt: skip
    generate_occurrences(MONDAY, MONDAY + timedelta(days=7), tz=PARIS)
    db.session.commit()
    client = api_as("coordinator")
    for s in series:
        for day in range(5):
            occurrence = db.session.scalar(
                select(Occurrence).where(
                    Occurrence.series_id == s.id,
                    Occurrence.original_date == MONDAY + timedelta(days=day),
                )
            )
            client.post(
                f"/api/v1/sessions/{occurrence.id}/cancel", {"reason": f"Snow {s.id}-{day}"}
            )
    with counted_statements() as found:
        items = client.get(sessions_url(limit=50)).json["items"]
    assert len(items) == 25
    assert all(s["status"] == "cancelled" for s in items)
    reasons = {s["cancel_reason"] for s in items}
    assert reasons == {f"Snow {s.id}-{day}" for s in series for day in range(5)}
    assert len(found) <= 5, found
