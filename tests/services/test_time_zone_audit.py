"""Time-zone audit of the texts services write for people (notification titles and bodies, the
e-mails made of them, history, request messages, dashboard labels, conflict descriptions) and
of the local-date windows they read (dashboard filters, monthly hours).

The organisation is in Pacific/Auckland (UTC+12/+13): a session at 08:00 there starts on the
previous UTC date, and the sessions sit on both sides of a DST change, so formatting a UTC (or
naive) instant shows the wrong hour and the wrong day. The web surfaces are audited in
tests/blueprints/test_time_zone_audit.py.
"""

from __future__ import annotations

import queue
import socket
from datetime import UTC, date, datetime, time, timedelta
from email import message_from_bytes, policy
from zoneinfo import ZoneInfo

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select

from models import MentorSubject, Notification, Occurrence, SessionEvent, Subject, db
from services.common.errors import ConflictError
from services.common.timeutil import today_in
from services.notifications.mail import send_pending
from services.output.reports import mentor_hours
from services.requests.lifecycle import RequestInput, approve_request, create_request
from services.timetable.conflicts import describe_occurrence, label_occurrence
from services.timetable.exceptions import (
    OverrideChange,
    delete_override,
    find_override,
    save_override,
)
from services.timetable.generation import generate_occurrences
from services.timetable.sessions import (
    cancel_session,
    create_one_time_session,
    delete_one_time_session,
    restore_session,
    update_one_time_session,
)
from services.tracking.dashboard import dashboard_page, when_label
from services.tracking.history import DashboardFilters

AKL = ZoneInfo("Pacific/Auckland")


def next_dst_change(tz: ZoneInfo, after: date) -> date:
    """The first local date after `after` on which the zone's UTC offset changes."""
    day = after
    while (
        datetime.combine(day, time(12), tz).utcoffset()
        == datetime.combine(day + timedelta(days=1), time(12), tz).utcoffset()
    ):
        day += timedelta(days=1)
    return day + timedelta(days=1)


def at(day: date, clock: time) -> datetime:
    return datetime.combine(day, clock, tzinfo=AKL).astimezone(UTC)


def titles(user) -> list[str]:
    return list(
        db.session.scalars(
            select(Notification.title)
            .where(Notification.user_id == user.id)
            .order_by(Notification.id)
        )
    )


def bodies(user) -> list[str]:
    return list(
        db.session.scalars(
            select(Notification.body)
            .where(Notification.user_id == user.id)
            .order_by(Notification.id)
        )
    )


@pytest.fixture
def term(app, make_user, make_room, make_group, make_series, monkeypatch):
    """Maths 7A (mentor Ada, student Noah, room R1) on Mondays 08:00-09:00, the Monday before
    and the Monday after the next Auckland DST change; a one-time session on the Tuesday after."""
    monkeypatch.setitem(app.config, "TIMEZONE", "Pacific/Auckland")
    change = next_dst_change(AKL, today_in(AKL) + timedelta(days=14))
    before, after = change - timedelta(days=6), change + timedelta(days=1)
    ada = make_user("mentor", name="Ada Lovelace", email="ada@school.test")
    noah = make_user("student", name="Noah Bernard", email="noah@school.test")
    room = make_room("R1")
    maths = Subject(name="Mathematics")
    db.session.add(maths)
    group = make_group("Maths 7A", mentor=ada, subject=maths, room=room, students=[noah])
    series = make_series(
        group, weekdays=(0,), start=time(8), end=time(9), first_date=before, last_date=after
    )
    generate_occurrences(before, after + timedelta(days=1), tz=AKL)
    tuesday = after + timedelta(days=1)
    one_time = create_one_time_session(
        group_id=group.id, day=tuesday, start=time(8), end=time(9), room_id=room.id,
        actor=None, tz=AKL,
    ).occurrence  # fmt: skip
    db.session.commit()
    sessions = db.session.scalars(
        select(Occurrence).where(Occurrence.series_id == series.id).order_by(Occurrence.start_utc)
    ).all()
    offsets = {datetime.combine(d, time(8), AKL).utcoffset() for d in (before, after)}
    assert len(offsets) == 2
    assert all(o.start_utc.date() == o.original_date - timedelta(days=1) for o in sessions)
    return {
        "before": before,
        "after": after,
        "tuesday": tuesday,
        "ada": ada,
        "noah": noah,
        "room": room,
        "maths": maths,
        "group": group,
        "series": series,
        "sessions": sessions,
        "one_time": one_time,
    }


# --- Notifications and the history they share a text with ------------------------------------


def test_series_date_cancelled_and_restored_is_told_in_local_time(term):
    series, before, noah = term["series"], term["before"], term["noah"]
    save_override(series, before, OverrideChange(cancelled=True), actor=None, tz=AKL)
    delete_override(find_override(series.id, before), tz=AKL, actor=None)
    assert titles(noah) == [
        f"Maths 7A on {before:%a %d %b} 08:00 is cancelled",
        f"Maths 7A is back on {before:%a %d %b} 08:00 in R1",
    ]


def test_one_time_session_cancelled_restored_and_moved_is_told_in_local_time(term):
    occurrence, tuesday, noah = term["one_time"], term["tuesday"], term["noah"]
    cancel_session(occurrence, reason="Ill", actor=None, tz=AKL)
    restore_session(occurrence, actor=None, tz=AKL)
    wednesday = tuesday + timedelta(days=1)
    update_one_time_session(
        occurrence, day=wednesday, start=time(7, 30), end=time(8, 30),
        room_id=term["room"].id, mode=occurrence.mode, title=None, actor=None, tz=AKL,
    )  # fmt: skip
    db.session.commit()
    assert occurrence.start_utc == at(wednesday, time(7, 30))
    was = f"Maths 7A on {tuesday:%a %d %b} 08:00"
    expected = [
        f"{was} is cancelled",
        f"{was} takes place again",
        f"{was} moves to {wednesday:%a %d %b} 07:30",  # same room: not repeated
    ]
    assert titles(noah) == expected
    history = db.session.scalars(
        select(SessionEvent.summary)
        .where(SessionEvent.occurrence_id == occurrence.id)
        .order_by(SessionEvent.id)
    ).all()
    assert history == [f"{expected[0]}: Ill", *expected[1:]]


def test_request_messages_name_local_dates_and_times(term):
    ada, noah, before, after = term["ada"], term["noah"], term["before"], term["after"]
    db.session.add(MentorSubject(mentor_id=ada.id, subject_id=term["maths"].id))
    db.session.commit()

    def ask(title, **fields):
        data = RequestInput(
            mentor_id=ada.id, subject_id=term["maths"].id, title=title, description="",
            **fields,
        )  # fmt: skip
        return create_request(noah, data, tz=AKL)

    clashing = ask("Clashing", schedule_kind="dates", dates=[before, after], start=time(8),
                   end=time(9))  # fmt: skip
    wednesday = after + timedelta(days=2)
    wanted = ask("Wanted", schedule_kind="single", day=wednesday, start=time(7), duration=120)
    overlapping = ask("Overlapping", schedule_kind="single", day=wednesday, start=time(8),
                      duration=60)  # fmt: skip
    db.session.commit()
    assert bodies(ada)[0] == f"2 sessions, from {before:%a %d %b %Y} 08:00."

    with pytest.raises(ConflictError) as refused:
        approve_request(clashing, actor=ada, tz=AKL)
    db.session.rollback()
    assert (
        f"{before:%a %d %b %Y} 08:00 (Maths 7A 08:00-09:00); "
        f"{after:%a %d %b %Y} 08:00 (Maths 7A 08:00-09:00)"
    ) in refused.value.message

    approve_request(wanted, actor=ada, tz=AKL)
    db.session.commit()
    declined = (
        f"Declined automatically: {wednesday:%a %d %b %Y} 08:00 is now taken by “Wanted”, "
        "which Ada Lovelace approved."
    )
    assert bodies(noah)[-2:] == [
        declined,
        f"1 session created, the first on {wednesday:%a %d %b %Y} 07:00.",
    ]
    assert overlapping.rejection_reason == declined


# --- E-mail ------------------------------------------------------------------------------------


class Inbox:
    def __init__(self):
        self.received: queue.Queue = queue.Queue()

    async def handle_DATA(self, server, session, envelope):
        self.received.put(message_from_bytes(envelope.content, policy=policy.default))
        return "250 OK"


def test_the_email_of_a_notification_says_the_local_day_and_time(app, term, monkeypatch):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        for key, value in {"MAIL_SERVER": "127.0.0.1", "MAIL_PORT": port}.items():
            monkeypatch.setitem(app.config, key, value)
        after = term["after"]
        moved_to = after + timedelta(days=2)
        change = OverrideChange(new_date=moved_to, start_time=time(18), end_time=time(19))
        save_override(term["series"], after, change, actor=term["ada"], tz=AKL)
        db.session.commit()
        assert send_pending().sent == 1  # Noah (Ada made the change)
        message = inbox.received.get(timeout=5)
    finally:
        controller.stop()
    title = f"Maths 7A on {after:%a %d %b} 08:00 moves to {moved_to:%a %d %b} 18:00"
    assert message["Subject"] == title
    assert message.get_content().splitlines()[0] == title


# --- Labels and descriptions -------------------------------------------------------------------


def test_dashboard_when_label_is_local_and_crosses_midnight_locally(term):
    occurrence = term["one_time"]
    tuesday = term["tuesday"]
    now = at(tuesday, time(6))
    this_year = tuesday.year == now.astimezone(AKL).year
    day = f"{tuesday:%a %d %b}" if this_year else f"{tuesday:%a %d %b %Y}"
    assert when_label(occurrence, AKL, now) == f"{day} 08:00\u201309:00 (1 h)"
    # 23:30 to 00:30: the end is on the next local day (the same UTC day).
    late = at(tuesday, time(23, 30))
    occurrence.start_utc, occurrence.end_utc = late, late + timedelta(hours=1)
    wednesday = tuesday + timedelta(days=1)
    assert occurrence.start_utc.date() == occurrence.end_utc.date()
    assert when_label(occurrence, AKL, now) == (
        f"{day} 23:30\u2013{wednesday:%a %d %b} 00:30 (1 h)"
    )
    db.session.rollback()


def test_conflict_descriptions_are_local(term):
    for occurrence in term["sessions"]:
        day = occurrence.original_date
        assert describe_occurrence(occurrence, AKL) | {"id": 0} == {
            "id": 0, "group": "Maths 7A", "date": day.isoformat(), "start": "08:00",
            "end": "09:00", "end_date": day.isoformat(), "room": "R1",
        }  # fmt: skip
        assert label_occurrence(occurrence, AKL) == f"Maths 7A on {day:%a %d %b %Y} 08:00-09:00"


# --- Local-date windows ------------------------------------------------------------------------


def test_dashboard_date_filters_read_local_dates(term):
    before, after = term["before"], term["after"]
    now = at(before - timedelta(days=1), time(12))
    for first, last, expected in (
        (before, before, [term["sessions"][0].id]),
        (after, after, [term["sessions"][1].id]),
        (before - timedelta(days=1), before - timedelta(days=1), []),  # the UTC date
    ):
        filters = DashboardFilters(start=first, end=last)
        page = dashboard_page(term["ada"], tz=AKL, now=now, filters=filters)
        assert [card.occurrence.id for card in page.items] == expected


def test_monthly_hours_count_the_local_month(term):
    """A session at 08:00 on the 1st of a month is, in UTC, on the last day of the previous
    one: it counts in the local month."""
    first = (term["after"] + timedelta(days=70)).replace(day=1)  # the month before is empty
    create_one_time_session(
        group_id=term["group"].id, day=first, start=time(8), end=time(9, 30),
        room_id=term["room"].id, actor=None, tz=AKL,
    )  # fmt: skip
    db.session.commit()
    assert at(first, time(8)).month != first.month
    [row] = mentor_hours(first, AKL).rows
    assert (row.scheduled_sessions, row.scheduled_seconds) == (1, 5400)
    assert mentor_hours((first - timedelta(days=1)).replace(day=1), AKL).rows == []


def test_forced_regeneration_and_deletion_are_told_in_local_time(term):
    series, before, after, noah = term["series"], term["before"], term["after"], term["noah"]
    series.start_time, series.end_time = time(7), time(8)
    db.session.commit()
    generate_occurrences(before, after + timedelta(days=1), tz=AKL, force=True)
    assert [o.start_utc for o in term["sessions"]] == [at(before, time(7)), at(after, time(7))]
    lines = bodies(noah)[-1].splitlines()
    for day in (before, after):
        assert any(line.startswith(f"{day:%a %d %b} 08:00: moves to 07:00") for line in lines)
    delete_one_time_session(term["one_time"], actor=None, tz=AKL)
    assert titles(noah)[-1].startswith(f"Maths 7A on {term['tuesday']:%a %d %b} 08:00 ")
