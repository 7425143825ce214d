"""Notifications: for every change a participant would want to hear about (requests, one-time
sessions, series dates and exceptions, their CSV import, forced generation), exactly who is told
(the other side, never the actor, never an unrelated user), that the words say what changed in
the organisation's local time, and that a refused or rolled-back change tells nobody (the outbox
shares the change's transaction)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from models import EmailStatus, MentorSubject, Notification, Occurrence, OccurrenceStatus, db
from services.common.errors import ConflictError, InvalidTransition, ValidationError
from services.common.timeutil import week_start
from services.notifications.inbox import bell_state, latest_id, mark_read, notify, unread_count
from services.requests.lifecycle import (
    RequestInput,
    approve_request,
    create_request,
    reject_request,
    withdraw_request,
)
from services.timetable.csv_reading import ImportErrors
from services.timetable.exception_import import import_exceptions
from services.timetable.exceptions import (
    OverrideChange,
    delete_override,
    find_occurrence,
    save_override,
)
from services.timetable.generation import generate_occurrences, resolve_window
from services.timetable.sessions import (
    cancel_session,
    create_one_time_session,
    delete_one_time_session,
    reschedule_session,
    restore_session,
    update_one_time_session,
)
from tests.conftest import PINNED_TODAY

PARIS = ZoneInfo("Europe/Paris")
TERM = date(2026, 9, 7)

# Dates are constants of the module: its clock is pinned, so they never go stale.
pytestmark = pytest.mark.usefixtures("pinned_clock")


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


# A Monday two weeks ahead: every session below is in the future, so nothing is history.
MONDAY = week_start(PINNED_TODAY) + timedelta(weeks=2)


TUESDAY, WEDNESDAY = MONDAY + timedelta(days=1), MONDAY + timedelta(days=2)


def day(d) -> str:
    """How notifications write a date: 'Mon 07 Sep'."""
    return f"{d:%a %d %b}"


def told() -> list[tuple[int, str, str, str, str | None]]:
    """Every notification stored (committed or flushed), oldest first."""
    db.session.expire_all()
    return [
        (n.user_id, n.kind, n.title, n.body, n.link)
        for n in db.session.scalars(select(Notification).order_by(Notification.id))
    ]


def count() -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count(Notification.id)))


def recipients(since: int = 0) -> set[int]:
    return {user_id for user_id, *_ in told()[since:]}


@pytest.fixture
def maths_and_art(make_user, make_room, make_group, make_series):
    """Maths 7A (Ada; Alice and Bob) meets Mondays 10:00-11:00 in R101; Art 8B (another
    mentor; Carl) meets Mondays 10:00-11:00 in the Studio. Two weeks generated."""
    ada = make_user("mentor", name="Ada Lovelace")
    alice, bob = make_user("student", name="Alice"), make_user("student", name="Bob")
    carl, bea = make_user("student", name="Carl"), make_user("mentor", name="Bea")
    r101, lab, studio = make_room("R101"), make_room("Lab"), make_room("Studio")
    maths = make_group("Maths 7A", mentor=ada, students=[alice, bob], room=r101)
    art = make_group("Art 8B", mentor=bea, students=[carl], room=studio)
    series = make_series(maths, weekdays=(0,), start=time(10), end=time(11), first_date=MONDAY)
    make_series(art, weekdays=(0,), start=time(10), end=time(11), first_date=MONDAY)
    generate_occurrences(MONDAY, MONDAY + timedelta(weeks=2), tz=PARIS)
    db.session.add(MentorSubject(mentor_id=ada.id, subject_id=maths.subject_id))
    db.session.commit()
    return {
        "ada": ada,
        "alice": alice,
        "bob": bob,
        "carl": carl,
        "bea": bea,
        "coordinator": make_user("coordinator", name="Cora"),
        "admin": make_user("admin"),
        "r101": r101,
        "lab": lab,
        "studio": studio,
        "maths": maths,
        "art": art,
        "series": series,
        "monday": find_occurrence(series.id, MONDAY),
    }


def participants(maths_and_art) -> set[int]:
    return {maths_and_art["ada"].id, maths_and_art["alice"].id, maths_and_art["bob"].id}


def one_time(
    maths_and_art, d=WEDNESDAY, start=time(14), end=time(15), room="r101", **kw
) -> Occurrence:
    outcome = create_one_time_session(
        group_id=maths_and_art["maths"].id,
        day=d,
        start=start,
        end=end,
        room_id=maths_and_art[room].id if room else None,
        actor=maths_and_art["coordinator"],
        tz=PARIS,
        **kw,
    )
    db.session.commit()
    return outcome.occurrence


def ask(maths_and_art, student="alice", d=TUESDAY, start=time(10), title="Help with algebra"):
    data = RequestInput(
        mentor_id=maths_and_art["ada"].id,
        subject_id=maths_and_art["maths"].subject_id,
        title=title,
        schedule_kind="single",
        day=d,
        start=start,
        duration=60,
    )
    request = create_request(maths_and_art[student], data, tz=PARIS)
    db.session.commit()
    return request


def test_a_request_tells_the_mentor_and_its_approval_the_students_in_local_time(maths_and_art):
    ada, alice, bob = maths_and_art["ada"], maths_and_art["alice"], maths_and_art["bob"]
    chosen = ask(maths_and_art)
    clashing = ask(maths_and_art, student="bob", start=time(10, 30), title="Geometry")
    assert [(u, k) for u, k, *_ in told()] == [(ada.id, "request_new")] * 2
    _, _, title, body, link = told()[0]
    assert title == "New request from Alice: Help with algebra"
    # 10:00 in Paris, not the stored UTC instant (08:00 or 09:00).
    assert body == f"1 session, from {TUESDAY:%a %d %b %Y} 10:00."
    assert link == f"/requests/{chosen.id}"

    approve_request(chosen, actor=ada, tz=PARIS)
    db.session.commit()
    after = told()[2:]
    assert [(u, k) for u, k, *_ in after] == [
        (bob.id, "request_declined"),
        (alice.id, "request_approved"),
    ]
    declined, approved = after
    assert declined[2] == "“Geometry” was declined automatically"
    assert declined[3] == (
        f"Declined automatically: {TUESDAY:%a %d %b %Y} 10:30 is now taken by "
        "“Help with algebra”, which Ada Lovelace approved."
    )
    assert declined[4] == f"/requests/{clashing.id}"
    assert approved[2] == "Ada Lovelace approved “Help with algebra”"
    assert approved[3] == f"1 session created, the first on {TUESDAY:%a %d %b %Y} 10:00."
    assert approved[4] == "/dashboard/"
    assert ada.id not in recipients(2)  # the actor is not told what they did


def test_rejecting_tells_the_student_and_withdrawing_the_mentor_never_the_actor(maths_and_art):
    ada, alice = maths_and_art["ada"], maths_and_art["alice"]
    rejected, withdrawn = ask(maths_and_art), ask(maths_and_art, start=time(15), title="Fractions")
    reject_request(rejected, "Fully booked that week.", actor=ada)
    withdraw_request(withdrawn, actor=alice)
    db.session.commit()
    assert told()[2:] == [
        (
            alice.id,
            "request_rejected",
            "Ada Lovelace rejected “Help with algebra”",
            "Fully booked that week.",
            f"/requests/{rejected.id}",
        ),
        (
            ada.id,
            "request_withdrawn",
            "Alice withdrew “Fractions”",
            "",
            f"/requests/{withdrawn.id}",
        ),
    ]


def test_an_admins_approval_tells_the_mentor_too(maths_and_art):
    request = ask(maths_and_art)
    approve_request(request, actor=maths_and_art["admin"], tz=PARIS)
    db.session.commit()
    assert recipients(1) == {maths_and_art["alice"].id, maths_and_art["ada"].id}
    admin = maths_and_art["admin"].name
    assert {(user_id, title, link) for user_id, _, title, _, link in told()[1:]} == {
        (
            maths_and_art["alice"].id,
            f"{admin} approved “Help with algebra” for Ada Lovelace",
            "/dashboard/",
        ),
        (
            maths_and_art["ada"].id,
            f"{admin} approved Alice's request “Help with algebra”",
            f"/requests/{request.id}",
        ),
    }


def test_a_deactivated_account_is_not_told(maths_and_art):
    maths_and_art["bob"].is_active_account = False
    db.session.commit()
    occurrence = one_time(maths_and_art, d=TUESDAY)
    cancel_session(occurrence, reason="Ill", actor=maths_and_art["coordinator"], tz=PARIS)
    db.session.commit()
    assert recipients() == {maths_and_art["ada"].id, maths_and_art["alice"].id}


def test_refused_request_decisions_tell_nobody(maths_and_art):
    ada, alice, bob = maths_and_art["ada"], maths_and_art["alice"], maths_and_art["bob"]
    request = ask(maths_and_art)
    before = count()
    attempts = [
        (ValidationError, lambda: reject_request(request, "   ", actor=ada)),
        (InvalidTransition, lambda: reject_request(request, "No", actor=maths_and_art["bea"])),
        (
            InvalidTransition,
            lambda: approve_request(request, actor=maths_and_art["coordinator"], tz=PARIS),
        ),
        (InvalidTransition, lambda: withdraw_request(request, actor=bob)),
    ]
    # A request clashing with Ada's Monday class is refused as a whole.
    monday_request = ask(maths_and_art, d=MONDAY, start=time(10, 30))
    before += 1
    attempts.append((ConflictError, lambda: approve_request(monday_request, actor=ada, tz=PARIS)))
    for error, attempt in attempts:
        with pytest.raises(error):
            attempt()
        db.session.rollback()
        assert count() == before, error
    approve_request(request, actor=ada, tz=PARIS)
    db.session.commit()
    before = count()
    for attempt in (
        lambda: approve_request(request, actor=ada, tz=PARIS),
        lambda: withdraw_request(request, actor=alice),
    ):
        with pytest.raises(InvalidTransition, match="approved already"):
            attempt()
        db.session.rollback()
    assert count() == before


def test_moving_a_one_time_session_tells_its_participants_where_in_local_time(maths_and_art):
    occurrence = one_time(maths_and_art)
    update_one_time_session(
        occurrence,
        day=WEDNESDAY + timedelta(days=1),
        start=time(15, 30),
        end=time(16, 30),
        room_id=maths_and_art["lab"].id,
        mode="in_person",
        title=None,
        actor=maths_and_art["coordinator"],
        tz=PARIS,
    )
    db.session.commit()
    title = (
        f"Maths 7A on {day(WEDNESDAY)} 14:00 moves to "
        f"{day(WEDNESDAY + timedelta(days=1))} 15:30 in Lab"
    )
    assert told() == [
        (user_id, "session_moved", title, "", f"/sessions/{occurrence.id}")
        for user_id in sorted(participants(maths_and_art))
    ]
    # The mentor moving it is not told; the students are.
    update_one_time_session(
        occurrence,
        day=WEDNESDAY,
        start=time(14),
        end=time(15),
        room_id=maths_and_art["r101"].id,
        mode="in_person",
        title=None,
        actor=maths_and_art["ada"],
        tz=PARIS,
    )
    db.session.commit()
    assert recipients(3) == {maths_and_art["alice"].id, maths_and_art["bob"].id}


def test_cancelling_and_restoring_a_one_time_session_say_when_and_why(maths_and_art):
    occurrence = one_time(maths_and_art)
    cancel_session(
        occurrence, reason="  Teacher ill  ", actor=maths_and_art["coordinator"], tz=PARIS
    )
    restore_session(occurrence, actor=maths_and_art["coordinator"], tz=PARIS)
    db.session.commit()
    link = f"/sessions/{occurrence.id}"
    cancelled = f"Maths 7A on {day(WEDNESDAY)} 14:00 is cancelled"
    restored = f"Maths 7A on {day(WEDNESDAY)} 14:00 takes place again"
    assert told() == [
        (u, "session_cancelled", cancelled, "Teacher ill", link)
        for u in sorted(participants(maths_and_art))
    ] + [(u, "session_restored", restored, "", link) for u in sorted(participants(maths_and_art))]


def test_refused_one_time_changes_tell_nobody(maths_and_art):
    occurrence = one_time(maths_and_art)
    coordinator = maths_and_art["coordinator"]

    def move(**kw):
        values = dict(
            day=WEDNESDAY,
            start=time(14),
            end=time(15),
            room_id=maths_and_art["r101"].id,
            mode="in_person",
            title=None,
            actor=coordinator,
            tz=PARIS,
        )
        return lambda: update_one_time_session(occurrence, **values | kw)

    attempts = [
        # Into the Studio while Art 8B is there.
        (
            ConflictError,
            move(day=MONDAY, start=time(10), end=time(11), room_id=maths_and_art["studio"].id),
        ),
        (ValidationError, move(start=time(15), end=time(14))),
        (
            ValidationError,
            lambda: cancel_session(occurrence, reason=" ", actor=coordinator, tz=PARIS),
        ),
        (InvalidTransition, lambda: restore_session(occurrence, actor=coordinator, tz=PARIS)),
    ]
    for error, attempt in attempts:
        with pytest.raises(error):
            attempt()
        db.session.rollback()
        assert count() == 0, error
    # Cancelled, then its slot taken by another session: restoring it is refused.
    cancel_session(occurrence, reason="Trip", actor=coordinator, tz=PARIS)
    db.session.commit()
    told_before = count()
    create_one_time_session(
        group_id=maths_and_art["art"].id,
        day=WEDNESDAY,
        start=time(14),
        end=time(15),
        room_id=maths_and_art["r101"].id,
        actor=coordinator,
        tz=PARIS,
    )
    db.session.commit()
    with pytest.raises(ConflictError):
        restore_session(occurrence, actor=coordinator, tz=PARIS)
    db.session.rollback()
    assert count() == told_before
    # A completed session can be neither cancelled nor moved.
    done = one_time(maths_and_art, d=WEDNESDAY + timedelta(days=1))
    done.status = OccurrenceStatus.COMPLETED
    db.session.commit()
    with pytest.raises(InvalidTransition):
        cancel_session(done, reason="Late", actor=coordinator, tz=PARIS)
    db.session.rollback()
    assert count() == told_before


def test_deleting_a_one_time_session_tells_its_participants(maths_and_art):
    occurrence = one_time(maths_and_art)
    delete_one_time_session(occurrence, actor=maths_and_art["coordinator"], tz=PARIS)
    db.session.commit()
    assert recipients() == participants(maths_and_art)


def test_switching_a_one_time_session_online_tells_its_participants(maths_and_art):
    occurrence = one_time(maths_and_art)
    update_one_time_session(
        occurrence,
        day=WEDNESDAY,
        start=time(14),
        end=time(15),
        room_id=maths_and_art["r101"].id,
        mode="online",
        title=None,
        actor=maths_and_art["coordinator"],
        tz=PARIS,
    )
    db.session.commit()
    assert recipients() == participants(maths_and_art)


def test_a_long_titled_session_moved_still_says_where_it_goes(maths_and_art):
    occurrence = one_time(maths_and_art, title="Revision " + "x" * 180)
    update_one_time_session(
        occurrence,
        day=WEDNESDAY,
        start=time(16),
        end=time(17),
        room_id=maths_and_art["lab"].id,
        mode="in_person",
        title=occurrence.title,
        actor=maths_and_art["coordinator"],
        tz=PARIS,
    )
    db.session.commit()
    _, _, title, body, _ = told()[0]
    assert "moves to 16:00 in Lab" in title + " " + body


def test_an_online_session_moved_is_said_to_be_online(maths_and_art, make_series):
    online = make_series(
        maths_and_art["maths"], weekdays=(3,), start=time(17), end=time(18), room=None,
        mode="online", first_date=MONDAY,
    )  # fmt: skip
    generate_occurrences(MONDAY, MONDAY + timedelta(weeks=1), tz=PARIS)
    db.session.commit()
    thursday = MONDAY + timedelta(days=3)
    save_override(
        online, thursday, OverrideChange(start_time=time(18), end_time=time(19)),
        actor=maths_and_art["coordinator"], tz=PARIS,
    )  # fmt: skip
    db.session.commit()
    assert {title for _, _, title, _, _ in told()} == {
        f"Maths 7A on {day(thursday)} 17:00 moves to 18:00"  # still online: only the time
    }


def test_editing_a_series_date_tells_participants_each_step(maths_and_art):
    monday, coordinator = maths_and_art["monday"], maths_and_art["coordinator"]
    link = f"/sessions/{monday.id}"

    def step(kind, title, body=""):
        return [(u, kind, title, body, link) for u in sorted(participants(maths_and_art))]

    reschedule_session(
        monday,
        day=TUESDAY,
        start=time(14),
        end=time(15),
        room_id=maths_and_art["lab"].id,
        notes="Lab day",
        actor=coordinator,
        tz=PARIS,
    )
    db.session.commit()
    expected = step(
        "session_moved",
        f"Maths 7A on {day(MONDAY)} 10:00 moves to {day(TUESDAY)} 14:00 in Lab",
        "Lab day",
    )
    assert told() == expected
    # Back to the series' own values: the exception goes and the date is "back".
    reschedule_session(
        monday, day=MONDAY, start=time(10), end=time(11), room_id=None, actor=coordinator, tz=PARIS
    )
    db.session.commit()
    expected += step("session_restored", f"Maths 7A is back on {day(MONDAY)} 10:00 in R101")
    assert told() == expected
    cancel_session(monday, reason="Strike", actor=coordinator, tz=PARIS)
    db.session.commit()
    expected += step("session_cancelled", f"Maths 7A on {day(MONDAY)} 10:00 is cancelled", "Strike")
    assert told() == expected
    restore_session(monday, actor=coordinator, tz=PARIS)
    db.session.commit()
    expected += step("session_restored", f"Maths 7A is back on {day(MONDAY)} 10:00 in R101")
    assert told() == expected
    assert (
        maths_and_art["carl"].id not in recipients() and maths_and_art["bea"].id not in recipients()
    )


def test_changing_an_exception_says_where_from_and_where_to(maths_and_art):
    series, coordinator = maths_and_art["series"], maths_and_art["coordinator"]
    save_override(
        series,
        MONDAY,
        OverrideChange(start_time=time(12), end_time=time(13)),
        actor=coordinator,
        tz=PARIS,
    )
    save_override(
        series,
        MONDAY,
        OverrideChange(start_time=time(15), end_time=time(16), room_id=maths_and_art["lab"].id),
        actor=coordinator,
        tz=PARIS,
    )
    # Only the notes change: nothing a participant would notice, nobody told.
    save_override(
        series,
        MONDAY,
        OverrideChange(
            start_time=time(15),
            end_time=time(16),
            room_id=maths_and_art["lab"].id,
            notes="Bring kit",
        ),
        actor=coordinator,
        tz=PARIS,
    )
    db.session.commit()
    titles = [title for _, _, title, *_ in told()[::3]]
    assert titles == [
        f"Maths 7A on {day(MONDAY)} 10:00 moves to 12:00",  # same room: only the time
        f"Maths 7A on {day(MONDAY)} 12:00 moves to 15:00 in Lab",
    ]
    assert count() == 6


def test_refused_exception_changes_tell_nobody(maths_and_art, make_group):
    series, coordinator = maths_and_art["series"], maths_and_art["coordinator"]
    attempts = [
        # The Studio is Art 8B's at that time.
        (ConflictError, OverrideChange(room_id=maths_and_art["studio"].id)),
        (ValidationError, OverrideChange(start_time=time(12), end_time=time(11))),
        (ValidationError, OverrideChange(cancelled=True, notes="x" * 2001)),
    ]
    for error, change in attempts:
        with pytest.raises(error):
            save_override(series, MONDAY, change, actor=coordinator, tz=PARIS)
        db.session.rollback()
        assert count() == 0, change
    # Moved away, then its old slot taken: deleting the exception is refused (409).
    override, _ = save_override(
        series,
        MONDAY,
        OverrideChange(start_time=time(14), end_time=time(15)),
        actor=coordinator,
        tz=PARIS,
    )
    create_one_time_session(
        group_id=make_group("Drama").id,
        day=MONDAY,
        start=time(10),
        end=time(11),
        room_id=maths_and_art["r101"].id,
        actor=coordinator,
        tz=PARIS,
    )
    db.session.commit()
    told_before = count()
    with pytest.raises(ConflictError):
        delete_override(override, tz=PARIS, actor=coordinator)
    db.session.rollback()
    assert count() == told_before
    # A completed session's date cannot be cancelled.
    next_monday = find_occurrence(series.id, MONDAY + timedelta(weeks=1))
    next_monday.status = OccurrenceStatus.COMPLETED
    db.session.commit()
    with pytest.raises(InvalidTransition):
        save_override(
            series,
            next_monday.original_date,
            OverrideChange(cancelled=True),
            actor=coordinator,
            tz=PARIS,
        )
    db.session.rollback()
    assert count() == told_before


def test_a_failure_after_notifying_rolls_the_notifications_back(maths_and_art, monkeypatch):
    import services.timetable.exceptions as overrides

    def broken(*_args, **_kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(overrides.events, "record_event", broken)
    with pytest.raises(RuntimeError):
        save_override(
            maths_and_art["series"],
            MONDAY,
            OverrideChange(cancelled=True),
            actor=maths_and_art["coordinator"],
            tz=PARIS,
        )
    db.session.rollback()
    assert count() == 0
    assert find_occurrence(maths_and_art["series"].id, MONDAY).status == OccurrenceStatus.SCHEDULED


def exceptions_csv(*rows: str) -> bytes:
    return ("group,date,action,start,end,room,notes\n" + "\n".join(rows) + "\n").encode()


def test_an_imported_exception_tells_everyone_and_a_failed_import_nobody(maths_and_art):
    bad = exceptions_csv(
        f"Maths 7A,{MONDAY},cancel,,,,Trip",
        f"Maths 7A,{TUESDAY},cancel,,,,Not a Monday",
    )
    with pytest.raises(ImportErrors):
        import_exceptions(bad, tz=PARIS)
    db.session.commit()  # what a caller might do: the import's own savepoint dropped it all
    assert count() == 0

    import_exceptions(exceptions_csv(f"Maths 7A,{MONDAY},cancel,,,,Trip"), tz=PARIS)
    db.session.commit()
    # No actor (a command): the mentor is told too.
    title = f"Maths 7A on {day(MONDAY)} 10:00 is cancelled"
    link = f"/sessions/{maths_and_art['monday'].id}"
    assert told() == [
        (u, "session_cancelled", title, "Trip", link) for u in sorted(participants(maths_and_art))
    ]


def test_forced_generation_moving_sessions_tells_their_participants(maths_and_art):
    maths_and_art["series"].start_time, maths_and_art["series"].end_time = time(12), time(13)
    db.session.commit()
    summary = generate_occurrences(MONDAY, MONDAY + timedelta(weeks=2), tz=PARIS, force=True)
    db.session.commit()
    assert summary.updated == 2
    assert recipients() == participants(maths_and_art)
    # One notification per person for the group, each change said in local time.
    [(kind, title, body, link)] = {note[1:] for note in told()}
    assert (kind, link) == ("session_moved", "/schedule/mine")
    assert title == "Maths 7A: 2 sessions changed by a timetable update"
    weeks = [MONDAY, MONDAY + timedelta(weeks=1)]
    assert body.splitlines() == [f"{day(d)} 10:00: moves to 12:00" for d in weeks]


def test_forced_generation_removing_sessions_tells_their_participants(maths_and_art):
    maths_and_art["series"].last_date = MONDAY
    db.session.commit()
    summary = generate_occurrences(MONDAY, MONDAY + timedelta(weeks=2), tz=PARIS, force=True)
    db.session.commit()
    assert summary.removed == 1
    assert recipients() == participants(maths_and_art)
    [(kind, title, body, _)] = {note[1:] for note in told()}
    assert kind == "session_removed"
    assert title == "Maths 7A: 1 removed by a timetable update"
    assert body == f"{day(MONDAY + timedelta(weeks=1))} 10:00: removed"


def test_generation_at_the_same_values_tells_nobody(maths_and_art):
    generate_occurrences(MONDAY, MONDAY + timedelta(weeks=2), tz=PARIS, force=True)
    db.session.commit()
    assert count() == 0
    assert datetime.now(UTC) < maths_and_art["monday"].start_utc


def test_saving_the_same_exception_again_tells_nobody_twice(maths_and_art):
    change = OverrideChange(cancelled=True, notes="Strike")
    save_override(maths_and_art["series"], MONDAY, change, actor=None, tz=PARIS)
    db.session.commit()
    save_override(maths_and_art["series"], MONDAY, change, actor=None, tz=PARIS)
    db.session.commit()
    assert count() == 3
