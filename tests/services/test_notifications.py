"""Notifications: who is told when a session is cancelled, moved or restored, and that a
change rolled back tells nobody (the outbox shares the change's transaction)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from models import EmailStatus, Notification, db
from services.notifications.inbox import bell_state, latest_id, mark_read, notify, unread_count
from services.timetable.exceptions import (
    OverrideChange,
    delete_override,
    find_occurrence,
    save_override,
)
from services.timetable.generation import generate_occurrences, resolve_window
from services.timetable.sessions import cancel_session, create_one_time_session, restore_session

PARIS = ZoneInfo("Europe/Paris")
TERM = date(2026, 9, 7)


def notes() -> list[tuple[int, str, str]]:
    db.session.expire_all()
    return [
        (n.user_id, n.kind, n.title)
        for n in db.session.scalars(select(Notification).order_by(Notification.id))
    ]


@pytest.fixture
def lesson(make_user, make_group, make_series, make_room):
    mentor = make_user("mentor", name="Ada")
    alice, bob = make_user("student", name="Alice"), make_user("student", name="Bob")
    group = make_group("Maths 7A", mentor=mentor, students=[alice, bob], room=make_room("R101"))
    series = make_series(group, weekdays=(0,), start=time(10), end=time(11))
    first, end = resolve_window(TERM, weeks=2)
    generate_occurrences(first, end, tz=PARIS, now=datetime(2026, 9, 1, tzinfo=UTC))
    db.session.commit()
    return {"mentor": mentor, "alice": alice, "bob": bob, "series": series, "group": group}


def test_cancelling_a_date_tells_the_mentor_and_students_but_not_who_did_it(lesson, make_user):
    coordinator = make_user("coordinator")
    save_override(lesson["series"], TERM, OverrideChange(cancelled=True, notes="Strike"),
                  actor=coordinator, tz=PARIS)  # fmt: skip
    db.session.commit()
    title = "Maths 7A on Mon 07 Sep 10:00 is cancelled"
    assert notes() == [
        (lesson["mentor"].id, "session_cancelled", title),
        (lesson["alice"].id, "session_cancelled", title),
        (lesson["bob"].id, "session_cancelled", title),
    ]
    note = db.session.scalar(select(Notification))
    assert note.body == "Strike"
    assert note.link == f"/sessions/{find_occurrence(lesson['series'].id, TERM).id}"


def test_moving_and_restoring_a_date_say_where_it_goes(lesson, make_room):
    lab = make_room("Lab")
    override, _ = save_override(
        lesson["series"], TERM, OverrideChange(start_time=time(14), end_time=time(15),
                                               room_id=lab.id),
        actor=lesson["mentor"], tz=PARIS,
    )  # fmt: skip
    db.session.commit()
    moved = "Maths 7A on Mon 07 Sep 10:00 moves to 14:00 in Lab"
    assert notes() == [
        (lesson["alice"].id, "session_moved", moved),
        (lesson["bob"].id, "session_moved", moved),
    ]
    delete_override(override, tz=PARIS, actor=lesson["mentor"])
    db.session.commit()
    back = "Maths 7A is back on Mon 07 Sep 10:00 in R101"
    assert notes()[2:] == [
        (lesson["alice"].id, "session_restored", back),
        (lesson["bob"].id, "session_restored", back),
    ]


def test_a_room_change_alone_says_the_new_room_and_same_time(lesson, make_room):
    library = make_room("Library")
    save_override(lesson["series"], TERM, OverrideChange(room_id=library.id),
                  actor=lesson["mentor"], tz=PARIS)  # fmt: skip
    db.session.commit()
    # Not "moves to Mon 07 Sep 10:00 in Library", as if the time had changed too.
    moved = "Maths 7A on Mon 07 Sep 10:00 moves to Library (same time)"
    assert [title for _, _, title in notes()] == [moved, moved]


def test_a_time_change_alone_names_only_the_time(lesson):
    save_override(lesson["series"], TERM, OverrideChange(start_time=time(11), end_time=time(12)),
                  actor=lesson["mentor"], tz=PARIS)  # fmt: skip
    db.session.commit()
    moved = "Maths 7A on Mon 07 Sep 10:00 moves to 11:00"
    assert [title for _, _, title in notes()] == [moved, moved]


def test_a_room_named_room_is_not_called_room_twice(lesson, make_room, make_group):
    from services.common.errors import ConflictError
    from services.timetable.sessions import create_one_time_session as create

    room = make_room("Room 101")
    create(group_id=lesson["group"].id, day=date(2030, 1, 7), start=time(9), end=time(10),
           room_id=room.id, actor=None, tz=PARIS, today=date(2030, 1, 1))  # fmt: skip
    other = make_group("Art 8B", room=room)
    with pytest.raises(ConflictError) as caught:
        create(group_id=other.id, day=date(2030, 1, 7), start=time(9, 30), end=time(10, 30),
               room_id=room.id, actor=None, tz=PARIS, today=date(2030, 1, 1))  # fmt: skip
    assert caught.value.message.startswith("Room 101 is already booked by Maths 7A on")


def test_an_exception_that_changes_nothing_visible_tells_nobody(lesson):
    save_override(lesson["series"], TERM, OverrideChange(start_time=time(10)), actor=None,
                  tz=PARIS)  # fmt: skip
    db.session.commit()
    assert notes() == []


def test_one_time_sessions_cancelled_and_restored_are_announced(lesson):
    outcome = create_one_time_session(
        group_id=lesson["group"].id, day=date(2030, 1, 7), start=time(9), end=time(10),
        room_id=lesson["group"].default_room_id, actor=None, tz=PARIS, today=date(2030, 1, 1),
    )  # fmt: skip
    cancel_session(outcome.occurrence, reason="Ill", actor=lesson["mentor"], tz=PARIS)
    restore_session(outcome.occurrence, actor=lesson["mentor"], tz=PARIS)
    db.session.commit()
    assert [kind for _, kind, _ in notes()] == ["session_cancelled"] * 2 + ["session_restored"] * 2


def test_a_rolled_back_change_notifies_nobody(lesson):
    save_override(lesson["series"], TERM, OverrideChange(cancelled=True), actor=None, tz=PARIS)
    db.session.rollback()
    assert notes() == []


def test_unread_counts_latest_id_and_marking_read(lesson):
    alice = lesson["alice"].id
    first, second = notify([alice], "x", "One") + notify(alice, "x", "Two")
    db.session.commit()
    assert unread_count(alice) == 2 and latest_id(alice) == second.id
    assert bell_state(alice) == (2, second.id)
    assert mark_read(alice, [first.id]) == 1
    assert unread_count(alice) == 1
    assert mark_read(alice) == 1 and unread_count(alice) == 0
    assert latest_id(lesson["bob"].id) == 0 and bell_state(lesson["bob"].id) == (0, 0)


def test_mail_is_queued_only_when_a_mail_server_is_set(app, lesson):
    [without] = notify(lesson["alice"].id, "x", "No mail")
    app.config["MAIL_SERVER"] = "127.0.0.1"
    try:
        [with_mail] = notify(lesson["alice"].id, "x", "Mail")
    finally:
        del app.config["MAIL_SERVER"]
    assert without.email_status == EmailStatus.NONE
    assert with_mail.email_status == EmailStatus.PENDING


def test_each_change_is_written_to_the_sessions_history(lesson, make_room, make_user):
    from models import SessionEvent

    coordinator = make_user("coordinator", name="Cora")
    save_override(lesson["series"], TERM, OverrideChange(cancelled=True, notes="Strike"),
                  actor=coordinator, tz=PARIS)  # fmt: skip
    db.session.commit()
    occurrence = find_occurrence(lesson["series"].id, TERM)
    [event] = db.session.scalars(select(SessionEvent)).all()
    assert (event.occurrence_id, event.kind, event.actor_id) == (
        occurrence.id, "cancelled", coordinator.id,
    )  # fmt: skip
    assert event.summary == "Maths 7A on Mon 07 Sep 10:00 is cancelled: Strike"
