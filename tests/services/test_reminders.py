"""Reminders before sessions (services/reminders.py): due a day and an hour before by default,
each sent once (also by two workers at once), never for a cancelled session, again for a
moved one, only the nearest when a worker was down, as each person chose. Every `now` is
given."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from models import Notification, OccurrenceMode, OccurrenceStatus, SessionReminder, db
from services.common.errors import ValidationError
from services.jobs.queue import enqueue, run_queued_jobs
from services.reminders import (
    SESSION_REMINDER,
    reminder_minutes,
    send_due_reminders,
    set_reminder_minutes,
)

PARIS = ZoneInfo("Europe/Paris")
START = datetime(2027, 3, 11, 8, tzinfo=UTC)  # Thursday 11 March 2027, 09:00 in Paris


@pytest.fixture
def lesson(make_user, make_group, make_session):
    ada = make_user("mentor", name="Ada Lovelace")
    alice = make_user("student", name="Alice Martin")
    bruno = make_user("student", name="Bruno Silva")
    group = make_group("Maths 7A", mentor=ada, students=[alice, bruno])
    return {"ada": ada, "alice": alice, "bruno": bruno,
            "session": make_session(group, START)}  # fmt: skip


def reminders() -> list[tuple[int, str]]:
    db.session.expire_all()
    return [
        (n.user_id, n.title)
        for n in db.session.scalars(
            select(Notification)
            .where(Notification.kind == SESSION_REMINDER)
            .order_by(Notification.id)
        )
    ]


def send(now: datetime) -> int:
    sent = send_due_reminders(now, PARIS)
    db.session.commit()
    return sent


def test_a_day_and_an_hour_before_each_participant_is_reminded_once(lesson):
    ada, alice, bruno = lesson["ada"], lesson["alice"], lesson["bruno"]
    assert send(START - timedelta(days=1, minutes=1)) == 0  # not yet
    assert send(START - timedelta(days=1)) == 3
    day_before = "Reminder: Maths 7A tomorrow at 09:00"
    assert sorted(reminders()) == sorted((u.id, day_before) for u in (ada, alice, bruno))
    assert send(START - timedelta(hours=23)) == 0  # sent once
    assert send(START - timedelta(hours=1)) == 3
    hour_before = "Reminder: Maths 7A today at 09:00"
    assert sorted(reminders()[-3:]) == sorted((u.id, hour_before) for u in (ada, alice, bruno))
    assert send(START - timedelta(minutes=30)) == 0
    assert send(START + timedelta(minutes=1)) == 0  # it has started: nothing more


def test_an_online_session_gives_its_join_link_and_a_room_session_its_room(lesson):
    from services.timetable.video_rooms import join_url

    room = lesson["session"].room.name
    send(START - timedelta(days=1))
    online = lesson["session"]
    online.mode, online.video_room_id = OccurrenceMode.ONLINE, "abc-defg-hij"
    db.session.commit()
    send(START - timedelta(hours=1))
    bodies = [n.body for n in db.session.scalars(select(Notification).order_by(Notification.id))]
    assert bodies[0] == f"Thu 11 Mar 2027, 09:00\u201310:00. Room: {room}."
    assert bodies[-1] == f"Thu 11 Mar 2027, 09:00\u201310:00. Join: {join_url('abc-defg-hij')}"


def test_a_cancelled_session_gets_no_reminder_and_a_moved_one_is_reminded_again(lesson):
    session = lesson["session"]
    assert send(START - timedelta(hours=1)) == 3
    session.start_utc += timedelta(hours=3)  # moved to 12:00
    session.end_utc += timedelta(hours=3)
    db.session.commit()
    assert send(START + timedelta(hours=2)) == 3
    assert reminders()[-1][1] == "Reminder: Maths 7A today at 12:00"
    session.status = OccurrenceStatus.CANCELLED
    session.start_utc += timedelta(days=1)
    session.end_utc += timedelta(days=1)
    db.session.commit()
    assert send(session.start_utc - timedelta(hours=1)) == 0


def test_after_a_worker_was_down_only_the_nearest_reminder_is_sent(lesson):
    assert send(START - timedelta(minutes=50)) == 3  # the day's and the hour's were both due
    assert [title for _, title in reminders()] == ["Reminder: Maths 7A today at 09:00"] * 3
    skipped = db.session.scalars(
        select(SessionReminder).where(SessionReminder.sent.is_(False))
    ).all()
    assert sorted(r.minutes_before for r in skipped) == [24 * 60] * 3
    assert send(START - timedelta(minutes=40)) == 0


def test_each_person_chooses_when_or_none(lesson):
    ada, alice, bruno = lesson["ada"], lesson["alice"], lesson["bruno"]
    set_reminder_minutes(alice, [])
    set_reminder_minutes(bruno, [15, 48 * 60])
    db.session.commit()
    assert reminder_minutes(ada) == (24 * 60, 60)
    assert reminder_minutes(bruno) == (48 * 60, 15)
    send(START - timedelta(days=2))
    send(START - timedelta(days=1))
    send(START - timedelta(hours=1))
    send(START - timedelta(minutes=15))
    got = reminders()
    assert [u for u, _ in got].count(alice.id) == 0
    assert [u for u, _ in got].count(bruno.id) == 2
    assert [u for u, _ in got].count(ada.id) == 2
    with pytest.raises(ValidationError, match="Choose reminders among 15 minutes before"):
        set_reminder_minutes(alice, [7])


def test_a_covered_session_reminds_its_substitute_not_the_absent_mentor(lesson, make_user):
    cover = make_user("mentor", name="Carl Cover")
    lesson["session"].cover_mentor_id = cover.id
    db.session.commit()
    send(START - timedelta(hours=1))
    reminded = {user_id for user_id, _ in reminders()}
    assert reminded == {cover.id, lesson["alice"].id, lesson["bruno"].id}


def test_the_worker_sends_them_each_minute_and_a_second_run_sends_nothing(lesson, clock):
    from services.jobs.tasks import send_reminders

    clock.travel(START - timedelta(hours=1))
    enqueue(send_reminders)
    run_queued_jobs()
    assert len(reminders()) == 3
    enqueue(send_reminders)
    run_queued_jobs()
    assert len(reminders()) == 3


def test_two_workers_at_once_send_each_reminder_once(app, lesson):
    """Both read "not sent yet"; the unique row lets one of them insert it, and only the
    inserted ones become notifications (on PostgreSQL truly at once; SQLite serialises)."""
    from tests.services.test_concurrency import run_together

    db.session.commit()
    db.session.remove()
    now = START - timedelta(hours=1)
    results = run_together(
        app, lambda: send_due_reminders(now, PARIS), lambda: send_due_reminders(now, PARIS)
    )
    assert sorted(results) == [0, 3]
    assert len(reminders()) == 3


def test_a_time_chosen_after_a_nearer_reminder_was_sent_does_not_come_late(lesson):
    alice = lesson["alice"]
    assert send(START - timedelta(hours=1)) == 3
    set_reminder_minutes(alice, [60, 48 * 60])  # two days before: long past, and after 1 h
    db.session.commit()
    assert send(START - timedelta(minutes=50)) == 0
