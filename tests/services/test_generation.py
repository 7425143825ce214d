"""Generation: idempotence, force, kept sessions, identity, exceptions and conflicts."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from models import (
    NoteKind,
    Occurrence,
    OccurrenceStatus,
    SessionNote,
    db,
)
from models.series import weekdays_to_mask
from services.common.errors import ValidationError
from services.timetable import generation
from services.timetable.exceptions import (
    OverrideChange,
    delete_override,
    save_override,
)
from services.timetable.generation import generate_occurrences, resolve_window, series_standing
from services.timetable.sessions import (
    delete_one_time_session,
)
from tests.conftest import AKL, auckland_at
from tests.services.conftest import bodies, titles

PARIS = ZoneInfo("Europe/Paris")
TERM = date(2026, 9, 7)  # a Monday
BEFORE_TERM = datetime(2026, 9, 1, tzinfo=UTC)


def generate(weeks=2, *, start=TERM, force=False, now=BEFORE_TERM, dry_run=False):
    start, end = resolve_window(start, weeks=weeks)
    summary = generate_occurrences(start, end, tz=PARIS, force=force, now=now, dry_run=dry_run)
    db.session.commit()
    return summary


def occurrences():
    return list(db.session.scalars(select(Occurrence).order_by(Occurrence.start_utc)))


def count():
    return db.session.scalar(select(func.count(Occurrence.id)))


def test_creates_the_dated_sessions_in_local_time(make_series):
    series = make_series(weekdays=(0, 2, 4), start=time(10), end=time(11, 30))
    summary = generate(weeks=8)
    assert summary.created == 24
    rows = occurrences()
    assert len(rows) == 24
    first = rows[0]
    assert first.series_id == series.id and first.original_date == TERM
    assert first.start_utc.astimezone(PARIS).time() == time(10)
    assert first.end_utc.astimezone(PARIS).time() == time(11, 30)
    assert first.status == OccurrenceStatus.SCHEDULED
    assert first.room_id == series.room_id


def test_second_run_with_nothing_changed_touches_nothing(make_series):
    make_series(weekdays=(0, 3))
    generate(weeks=4)
    before = [(o.id, o.start_utc, o.updated_at) for o in occurrences()]
    summary = generate(weeks=4, force=True)
    assert (summary.created, summary.updated, summary.removed) == (0, 0, 0)
    assert summary.unchanged == 8
    db.session.expire_all()
    assert [(o.id, o.start_utc, o.updated_at) for o in occurrences()] == before


def test_inactive_groups_generate_nothing(make_group, make_series):
    make_series(make_group(active=False))
    assert generate().created == 0
    assert count() == 0


def test_weeks_must_be_positive_and_ranges_forward():
    for bad in (0, -1, 3.5, True):
        with pytest.raises(ValidationError):
            resolve_window(TERM, weeks=bad)
    with pytest.raises(ValidationError):
        resolve_window(TERM, end=TERM)
    with pytest.raises(ValidationError):
        resolve_window(TERM, end=TERM - timedelta(days=1))
    with pytest.raises(ValidationError, match=r"(?i)at most"):
        resolve_window(TERM, weeks=10_000)


def test_time_change_without_force_reports_out_of_date_and_changes_nothing(make_series):
    series = make_series(weekdays=(0,))
    generate(weeks=3)
    series.start_time, series.end_time = time(14), time(15)
    db.session.commit()
    summary = generate(weeks=3)
    assert summary.out_of_date == 3 and summary.updated == 0
    assert all(o.start_utc.astimezone(PARIS).hour == 10 for o in occurrences())


def test_force_updates_future_sessions_in_place_and_keeps_history(make_series):
    series = make_series(weekdays=(0,))
    generate(weeks=4)
    ids = [o.id for o in occurrences()]
    first, second, third, _fourth = occurrences()
    first.status = OccurrenceStatus.COMPLETED  # recorded by a teacher
    second.edited_by_hand = True  # changed directly by a coordinator
    series.start_time, series.end_time = time(14), time(15)
    db.session.commit()
    # "Now" is during the third session: it has started, so it is history too.
    now = third.start_utc + timedelta(minutes=5)
    summary = generate(weeks=4, force=True, now=now)
    assert (summary.updated, summary.kept, summary.removed) == (1, 3, 0)
    db.session.expire_all()
    rows = occurrences()
    assert [o.id for o in rows] == ids  # same identities, nothing recreated
    hours = [o.start_utc.astimezone(PARIS).hour for o in rows]
    assert hours == [10, 10, 10, 14]
    assert rows[3].sequence == 1


def test_weekday_change_removes_old_untouched_days_and_creates_new_ones(make_series):
    series = make_series(weekdays=(0,))
    generate(weeks=2)
    series.weekday_mask = weekdays_to_mask([1])
    db.session.commit()
    summary = generate(weeks=2, force=True)
    assert (summary.created, summary.removed) == (2, 2)
    assert {o.original_date.weekday() for o in occurrences()} == {1}


def test_without_force_stale_sessions_stay_and_count_out_of_date(make_series):
    series = make_series(weekdays=(0,))
    generate(weeks=2)
    series.weekday_mask = weekdays_to_mask([1])
    db.session.commit()
    summary = generate(weeks=2)
    assert summary.created == 2 and summary.removed == 0 and summary.out_of_date == 2
    assert count() == 4


def test_completed_session_of_a_deactivated_group_is_never_removed(make_group, make_series):
    group = make_group()
    make_series(group, weekdays=(0,))
    generate(weeks=2)
    done = occurrences()[0]
    done.status = OccurrenceStatus.COMPLETED
    group.active = False
    db.session.commit()
    summary = generate(weeks=2, force=True)
    assert summary.removed == 1 and summary.kept == 1
    assert [o.status for o in occurrences()] == [OccurrenceStatus.COMPLETED]


def test_every_two_weeks_and_last_date(make_series):
    make_series(weekdays=(0,), every_weeks=2, last_date=TERM + timedelta(weeks=5))
    generate(weeks=10)
    assert [o.original_date for o in occurrences()] == [
        TERM,
        TERM + timedelta(weeks=2),
        TERM + timedelta(weeks=4),
    ]


def test_cancelled_exception_survives_regeneration_and_deleting_it_restores(make_series):
    series = make_series(weekdays=(0,))
    generate(weeks=2)
    override, occurrence = save_override(
        series, TERM, OverrideChange(cancelled=True), actor=None, tz=PARIS
    )
    db.session.commit()
    assert occurrence.status == OccurrenceStatus.CANCELLED
    series.start_time, series.end_time = time(8), time(9)
    db.session.commit()
    summary = generate(weeks=2, force=True)
    # The cancelled date is never compared on time or room: unchanged, not updated.
    assert summary.unchanged == 1 and summary.updated == 1
    db.session.expire_all()
    cancelled = db.session.get(Occurrence, occurrence.id)
    assert cancelled.status == OccurrenceStatus.CANCELLED
    delete_override(override, tz=PARIS)
    db.session.commit()
    restored = db.session.get(Occurrence, occurrence.id)
    assert restored.status == OccurrenceStatus.SCHEDULED
    assert restored.start_utc.astimezone(PARIS).time() == time(8)  # series' current values


def test_cancelled_date_generated_after_the_exception_is_created_cancelled(make_series):
    series = make_series(weekdays=(0,))
    save_override(
        series, TERM + timedelta(weeks=1), OverrideChange(cancelled=True), actor=None, tz=PARIS
    )
    db.session.commit()
    generate(weeks=2)
    assert [o.status for o in occurrences()] == [
        OccurrenceStatus.SCHEDULED,
        OccurrenceStatus.CANCELLED,
    ]


def test_moved_session_keeps_identity_even_on_another_day(make_series, make_room):
    series = make_series(weekdays=(0,))
    generate(weeks=1)
    [before] = occurrences()
    other_room = make_room()
    _, moved = save_override(
        series,
        TERM,
        OverrideChange(
            new_date=TERM + timedelta(days=3),
            start_time=time(15),
            end_time=time(16),
            room_id=other_room.id,
        ),
        actor=None,
        tz=PARIS,
    )
    db.session.commit()
    assert moved.id == before.id and moved.original_date == TERM
    assert moved.start_utc.astimezone(PARIS) == datetime(2026, 9, 10, 15, tzinfo=PARIS)
    assert moved.room_id == other_room.id
    summary = generate(weeks=1, force=True)
    assert summary.unchanged == 1 and summary.updated == 0 and summary.created == 0


def test_dry_run_reports_but_writes_nothing(make_series):
    make_series(weekdays=(0, 1))
    summary = generate(weeks=3, dry_run=True)
    assert summary.dry_run and summary.created == 6
    assert count() == 0


@pytest.mark.parametrize(
    ("second_start", "second_end", "conflict"),
    [((11, 0), (12, 0), False), ((10, 59), (12, 0), True), ((9, 0), (10, 0), False)],
)
def test_room_overlap_is_half_open(
    make_group, make_series, make_room, second_start, second_end, conflict
):
    room = make_room()
    make_series(make_group(room=room), weekdays=(0,))
    make_series(
        make_group(room=room), weekdays=(0,), start=time(*second_start), end=time(*second_end)
    )
    summary = generate(weeks=1)
    kinds = [c["kind"] for c in summary.conflicts]
    assert kinds == (["room"] if conflict else [])


def test_conflicts_of_each_kind_are_reported_with_both_sessions(
    make_user, make_group, make_series, make_room
):
    mentor, student = make_user("mentor"), make_user("student")
    # Same mentor, different rooms.
    make_series(make_group("Algebra", mentor=mentor), weekdays=(0,))
    make_series(
        make_group("Geometry", mentor=mentor), weekdays=(0,), start=time(10, 30), end=time(11, 30)
    )
    # Shared student, different mentors and rooms, Tuesday.
    make_series(make_group("Chemistry", students=[student]), weekdays=(1,))
    make_series(
        make_group("Physics", students=[student]),
        weekdays=(1,),
        start=time(10, 45),
        end=time(11, 45),
    )
    summary = generate(weeks=1)
    by_kind = {c["kind"]: c for c in summary.conflicts}
    assert set(by_kind) == {"mentor", "student"}
    assert {s["group"] for s in by_kind["mentor"]["sessions"]} == {"Algebra", "Geometry"}
    assert by_kind["mentor"]["shared"] == [mentor.name]
    assert {s["group"] for s in by_kind["student"]["sessions"]} == {"Chemistry", "Physics"}
    assert by_kind["student"]["shared"] == [student.name]


def test_cancelled_sessions_never_conflict(make_group, make_series, make_room):
    room = make_room()
    first = make_series(make_group(room=room), weekdays=(0,))
    make_series(make_group(room=room), weekdays=(0,), start=time(10, 30), end=time(11, 30))
    save_override(first, TERM, OverrideChange(cancelled=True), actor=None, tz=PARIS)
    db.session.commit()
    assert generate(weeks=1).conflicts == []


def test_dst_gap_is_reported_in_the_summary(make_series):
    make_series(weekdays=(6,), start=time(2, 30), end=time(4), first_date=date(2026, 3, 1))
    summary = generate(weeks=1, start=date(2026, 3, 23), now=datetime(2026, 3, 1, tzinfo=UTC))
    assert summary.shifted == [{"series_id": summary.shifted[0]["series_id"], "date": "2026-03-29"}]
    [occurrence] = occurrences()
    assert occurrence.start_utc.astimezone(PARIS).time() == time(3, 30)


def test_series_time_change_past_a_one_sided_exception_regenerates_without_error(make_series):
    series = make_series(weekdays=(0,), start=time(10), end=time(11, 30))
    generate(weeks=1)
    save_override(series, TERM, OverrideChange(start_time=time(11)), actor=None, tz=PARIS)
    db.session.commit()
    # The series moves to 08:00-09:00: the exception's 11:00 start is now after the
    # series' end, which the session would otherwise keep.
    series.start_time, series.end_time = time(8), time(9)
    db.session.commit()
    summary = generate(weeks=1, force=True)
    assert summary.updated == 1 and summary.shifted
    [occurrence] = occurrences()
    assert occurrence.start_utc.astimezone(PARIS).time() == time(11)
    assert occurrence.end_utc.astimezone(PARIS).time() == time(12)


def test_summary_json_keys(make_series):
    make_series()
    data = generate(weeks=1).as_dict()
    for key in ("created", "updated", "removed", "unchanged", "kept", "out_of_date", "conflicts"):
        assert key in data


def test_sessions_with_notes_or_files_are_kept_even_with_force(make_series, make_user):
    from models import Attachment

    series = make_series(weekdays=(0,), start=time(10), end=time(11))
    generate(weeks=3)
    first, second, _third = occurrences()
    mentor = make_user("mentor")
    db.session.add(
        SessionNote(
            occurrence_id=first.id,
            author_id=mentor.id,
            kind=NoteKind.ACHIEVEMENT,
            body="Solved every exercise",
        )
    )
    db.session.add(
        Attachment(
            occurrence_id=second.id,
            uploader_id=mentor.id,
            original_name="worksheet.pdf",
            stored_name="a" * 32,
            content_type="application/pdf",
            size_bytes=10,
            sha256="0" * 64,
        )
    )
    db.session.commit()  # fmt: skip
    series.start_time, series.end_time = time(14), time(15)
    db.session.commit()
    summary = generate(weeks=3, force=True)
    assert (summary.kept, summary.updated) == (2, 1)
    db.session.expire_all()
    times = [o.start_utc.astimezone(PARIS).time() for o in occurrences()]
    assert times == [time(10), time(10), time(14)]
    # Removing the series' weekday removes only the session without records.
    series.weekday_mask = weekdays_to_mask([1])
    db.session.commit()
    summary = generate(weeks=3, force=True)
    assert summary.kept == 2 and summary.removed == 1


# --- Sessions past midnight ---------------------------------------------------------------------


def test_a_late_weekly_series_ends_the_next_day_and_regenerates_idempotently(make_series):
    # Saturdays 23:30-00:30 over the night Paris clocks go back (Sun 25 Oct 2026, 03:00).
    make_series(weekdays=(5,), start=time(23, 30), end=time(0, 30), first_date=TERM)
    summary = generate(weeks=8)
    assert summary.created == 8 and summary.shifted == []
    for occurrence in occurrences():
        start, end = occurrence.start_utc.astimezone(PARIS), occurrence.end_utc.astimezone(PARIS)
        assert (start.time(), end.time()) == (time(23, 30), time(0, 30))
        assert end.date() == start.date() + timedelta(days=1)
        assert occurrence.end_utc - occurrence.start_utc == timedelta(hours=1)
    again = generate(weeks=8, force=True)
    assert (again.created, again.updated, again.removed, again.unchanged) == (0, 0, 0, 8)


@pytest.mark.parametrize(("next_start", "conflict"), [((0, 0), True), ((0, 30), False)])
def test_conflicts_across_midnight_are_found(
    make_group, make_series, make_room, next_start, conflict
):
    room = make_room("Studio")
    make_series(make_group("Late", room=room), weekdays=(0,), start=time(23), end=time(0, 30))
    start = time(*next_start)
    end = time(start.hour + 1, start.minute)
    make_series(make_group("Early", room=room), weekdays=(1,), start=start, end=end)
    summary = generate(weeks=1)
    assert [c["kind"] for c in summary.conflicts] == (["room"] if conflict else [])
    if conflict:
        assert {s["group"] for s in summary.conflicts[0]["sessions"]} == {"Late", "Early"}


# --- What a run says it does (the Generate preview) -----------------------------------------


def details(weeks=2, *, start=TERM, force=False, now=BEFORE_TERM, group_ids=None):
    first, end = resolve_window(start, weeks=weeks)
    return generate_occurrences(
        first, end, tz=PARIS, force=force, now=now, dry_run=True, group_ids=group_ids,
        details=True,
    )  # fmt: skip


def test_a_preview_lists_every_session_with_its_old_and_new_values(
    make_group, make_series, make_room
):
    lab = make_room("Lab")
    maths = make_series(make_group("Maths 7A", room=make_room("R101")), weekdays=(0, 2))
    generate(weeks=2)
    rows = {o.original_date: o for o in occurrences()}
    # The series moves to 14:00 in the lab and drops Wednesdays; one Monday was completed.
    maths.start_time, maths.end_time, maths.room_id = time(14), time(15), lab.id
    maths.weekday_mask = weekdays_to_mask((0, 4))
    rows[TERM].status = OccurrenceStatus.COMPLETED
    db.session.commit()

    summary = details(weeks=2)
    assert (summary.created, summary.out_of_date, summary.kept) == (2, 3, 1)
    by_kind = {kind: summary.changes_of(kind) for kind in ("create", "out_of_date", "keep")}
    assert [(c.group, c.original_date, c.before, c.after) for c in by_kind["create"]] == [
        ("Maths 7A", date(2026, 9, 11), None, "Fri 11 Sep 14:00\u201315:00 in Lab"),
        ("Maths 7A", date(2026, 9, 18), None, "Fri 18 Sep 14:00\u201315:00 in Lab"),
    ]
    wednesday, monday = by_kind["out_of_date"][0], by_kind["out_of_date"][1]
    assert (wednesday.before, wednesday.after) == ("Wed 09 Sep 10:00\u201311:00 in R101", None)
    assert wednesday.reason == "force would remove it"
    assert (monday.original_date, monday.before, monday.after, monday.reason) == (
        date(2026, 9, 14),
        "Mon 14 Sep 10:00\u201311:00 in R101",
        "Mon 14 Sep 14:00\u201315:00 in Lab",
        "force would update it",
    )
    (kept,) = by_kind["keep"]
    assert (kept.original_date, kept.reason, kept.occurrence_id) == (
        TERM,
        "completed",
        rows[TERM].id,
    )
    assert count() == 4  # a preview writes nothing

    forced = details(weeks=2, force=True)
    assert [len(forced.changes_of(k)) for k in ("create", "update", "remove", "keep")] == [
        2, 1, 2, 1,
    ]  # fmt: skip
    assert forced.changes_of("update")[0].after == "Mon 14 Sep 14:00\u201315:00 in Lab"
    assert "changes" not in forced.as_dict()  # the CLI's and API's summary is unchanged


def test_a_run_can_be_narrowed_to_one_group(make_group, make_series):
    maths, art = make_group("Maths 7A"), make_group("Art 7A")
    make_series(maths, weekdays=(0,))
    make_series(art, weekdays=(1,))
    summary = details(weeks=2, group_ids=[art.id])
    assert summary.created == 2
    assert {c.group for c in summary.changes} == {"Art 7A"}
    first, end = resolve_window(TERM, weeks=2)
    generate_occurrences(first, end, tz=PARIS, now=BEFORE_TERM, group_ids=[art.id])
    db.session.commit()
    assert {o.group_id for o in occurrences()} == {art.id}


def test_a_window_after_every_series_ended_says_so(make_group, make_series):
    make_series(make_group("Maths 7A"), weekdays=(0,), last_date=date(2027, 3, 14))
    make_series(make_group("Art 7A"), weekdays=(1,), last_date=date(2027, 2, 1))
    summary = details(weeks=4, start=date(2027, 3, 15))
    assert summary.created == 0
    assert summary.nothing_because == (
        "Nothing to generate: every series of these groups ends by 14 Mar 2027, before 15 Mar 2027."
    )
    assert details(weeks=2).nothing_because is None  # sessions to create: nothing to explain


def test_nothing_to_do_for_a_group_before_its_series_or_inactive(make_group, make_series):
    chess = make_group("Chess club")
    make_series(chess, weekdays=(0,), first_date=date(2026, 10, 5))
    soon = details(weeks=2, group_ids=[chess.id])
    assert soon.nothing_because == (
        "Nothing to generate: the series of Chess club start on 05 Oct 2026 or later."
    )
    chess.active = False
    db.session.commit()
    assert details(weeks=2, group_ids=[chess.id]).nothing_because == (
        "Nothing to generate: Chess club is inactive, and inactive groups generate nothing."
    )


# --- One session against its series (the session page) -----------------------------------


def test_a_session_knows_whether_it_still_follows_its_series(make_group, make_series, make_room):
    lab = make_room("Lab")
    series = make_series(make_group("Maths 7A", room=make_room("R101")), weekdays=(0,))
    generate(weeks=2)
    first, second = occurrences()
    now = BEFORE_TERM
    assert series_standing(first, tz=PARIS, now=now).state == "in_step"
    series.start_time, series.end_time, series.room_id = time(14), time(15), lab.id
    db.session.commit()
    standing = series_standing(first, tz=PARIS, now=now)
    assert (standing.state, standing.has, standing.series_says) == (
        "out_of_date",
        "Mon 07 Sep 10:00\u201311:00 in R101",
        "Mon 07 Sep 14:00\u201315:00 in Lab",
    )
    second.status = OccurrenceStatus.COMPLETED
    db.session.commit()
    kept = series_standing(second, tz=PARIS, now=now)
    assert (kept.state, kept.reason) == ("keep", "completed")
    # Once its date has passed without completion, it is history too.
    assert series_standing(first, tz=PARIS, now=datetime(2026, 9, 8, tzinfo=UTC)).reason == (
        "already started"
    )
    # Generation with force over its date brings it in line.
    generate_occurrences(TERM, TERM + timedelta(days=1), tz=PARIS, force=True, now=now)
    db.session.commit()
    assert series_standing(first, tz=PARIS, now=now).state == "in_step"


LONG_AGO = datetime(2025, 1, 1, tzinfo=UTC)  # "now" before every date used here


def count_rows(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def sessions() -> list[Occurrence]:
    return list(db.session.scalars(select(Occurrence).order_by(Occurrence.start_utc)))


@pytest.mark.parametrize(
    ("zone_name", "sunday"),
    [
        ("Europe/Paris", date(2026, 3, 29)),  # spring forward
        ("Europe/Paris", date(2026, 10, 25)),  # fall back
        ("Australia/Sydney", date(2026, 4, 5)),  # southern autumn: back
        ("Australia/Sydney", date(2026, 10, 4)),  # southern spring: forward
    ],
)
@pytest.mark.parametrize("clock", [time(13), time(17, 30)])
def test_an_afternoon_start_on_the_transition_day_itself_stays_local(
    make_series, zone_name, sunday, clock
):
    tz = ZoneInfo(zone_name)
    end = (datetime.combine(sunday, clock) + timedelta(hours=1)).time()
    make_series(weekdays=(6,), start=clock, end=end, first_date=sunday - timedelta(weeks=1))
    summary = generate_occurrences(
        sunday - timedelta(weeks=1), sunday + timedelta(weeks=1, days=1), tz=tz, now=LONG_AGO
    )
    db.session.commit()
    assert summary.created == 3 and summary.shifted == []
    rows = sessions()
    local = [o.start_utc.astimezone(tz) for o in rows]
    assert [s.date() for s in local] == [sunday + timedelta(weeks=n) for n in (-1, 0, 1)]
    assert all((s.hour, s.minute) == (clock.hour, clock.minute) for s in local)
    assert all(o.end_utc - o.start_utc == timedelta(hours=1) for o in rows)
    # By the afternoon the change has happened: the transition day has the new offset.
    offsets = [s.utcoffset() for s in local]
    assert offsets[0] != offsets[1] == offsets[2]


@pytest.mark.parametrize(
    ("zone_name", "sunday", "first_instant"),
    [
        ("Europe/Paris", date(2026, 10, 25), datetime(2026, 10, 25, 0, 30, tzinfo=UTC)),
        ("Australia/Sydney", date(2026, 4, 5), datetime(2026, 4, 4, 15, 30, tzinfo=UTC)),
    ],
)
def test_a_series_at_a_time_that_happens_twice_makes_one_session_at_the_first_instant(
    make_series, zone_name, sunday, first_instant
):
    tz = ZoneInfo(zone_name)
    make_series(weekdays=(6,), start=time(2, 30), end=time(3, 30), first_date=sunday)
    window = (sunday - timedelta(weeks=1), sunday + timedelta(weeks=2))
    summary = generate_occurrences(*window, tz=tz, now=LONG_AGO)
    db.session.commit()
    assert summary.created == 2 and summary.shifted == []
    on_the_day = [o for o in sessions() if o.original_date == sunday]
    assert len(on_the_day) == 1
    assert on_the_day[0].start_utc == first_instant
    assert on_the_day[0].start_utc.astimezone(tz).time() == time(2, 30)
    again = generate_occurrences(*window, tz=tz, force=True, now=LONG_AGO)
    db.session.commit()
    assert (again.created, again.updated, again.removed, again.unchanged) == (0, 0, 0, 2)
    assert count_rows(Occurrence) == 2


def test_a_forced_generation_that_fails_midway_leaves_every_session_as_it_was(
    make_series, monkeypatch
):
    term = date(2026, 9, 7)
    series = make_series(weekdays=(0, 2), first_date=term)
    generate_occurrences(term, term + timedelta(weeks=3), tz=PARIS, now=LONG_AGO)
    db.session.commit()

    def snapshot():
        db.session.expire_all()
        return [
            (o.id, o.original_date, o.start_utc, o.end_utc, o.status, o.sequence)
            for o in sessions()
        ]

    before = snapshot()
    # Mondays move (updates), Wednesdays go (deletes), Fridays come (inserts)...
    series.weekday_mask = weekdays_to_mask([0, 4])
    series.start_time, series.end_time = time(14), time(15)
    db.session.commit()

    def worker_killed(*_args, **_kwargs):
        raise RuntimeError("worker killed")

    # ...and the worker dies after writing them, while finding and storing their conflicts.
    monkeypatch.setattr(generation, "store_span", worker_killed)
    with pytest.raises(RuntimeError):
        generate_occurrences(term, term + timedelta(weeks=3), tz=PARIS, force=True, now=LONG_AGO)
    db.session.rollback()
    assert snapshot() == before


def test_forced_regeneration_and_deletion_are_told_in_local_time(auckland_term):
    series, before, after, noah = (
        auckland_term["series"],
        auckland_term["before"],
        auckland_term["after"],
        auckland_term["noah"],
    )
    series.start_time, series.end_time = time(7), time(8)
    db.session.commit()
    generate_occurrences(before, after + timedelta(days=1), tz=AKL, force=True)
    assert [o.start_utc for o in auckland_term["sessions"]] == [
        auckland_at(before, time(7)),
        auckland_at(after, time(7)),
    ]
    lines = bodies(noah)[-1].splitlines()
    for day in (before, after):
        assert any(line.startswith(f"{day:%a %d %b} 08:00: moves to 07:00") for line in lines)
    delete_one_time_session(auckland_term["one_time"], actor=None, tz=AKL)
    assert titles(noah)[-1].startswith(f"Maths 7A on {auckland_term['tuesday']:%a %d %b} 08:00 ")
