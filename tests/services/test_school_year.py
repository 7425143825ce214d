"""Academic years, terms and closures: what a coordinator's input must pass, and the closed days
generation and the schedule read."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from models import (
    AcademicYear,
    Closure,
    ClosureKind,
    Notification,
    Occurrence,
    OccurrenceStatus,
    Series,
    Term,
    db,
)
from services.catalogue.groups import SeriesData, add_series, end_series
from services.closure_import import import_closures
from services.closures import add_closure, change_closure, remove_closure
from services.common.errors import ValidationError
from services.public_holidays import (
    add_public_holidays,
    countries,
    country_of_zone,
    public_holidays,
    regions,
)
from services.school_year import (
    ClosureData,
    TermData,
    YearData,
    closed_days,
    save_closure_record,
    save_term,
    save_year,
    series_following,
    term_of,
)
from services.timetable.csv_reading import ImportErrors
from services.timetable.generation import generate_occurrences

YEAR = YearData("2026-2027", date(2026, 9, 1), date(2027, 7, 9))


def refused(action) -> dict[str, str]:
    """The field messages of a refused change; nothing of it stays."""
    with pytest.raises(ValidationError) as caught:
        action()
    db.session.rollback()
    return caught.value.errors


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def test_a_year_holds_terms_that_do_not_overlap(app):
    year = save_year(YEAR)
    autumn = save_term(year, TermData("Autumn", date(2026, 9, 1), date(2026, 12, 18)))
    save_term(year, TermData("Spring", date(2027, 1, 4), date(2027, 4, 2)))
    db.session.commit()
    assert [t.name for t in year.terms] == ["Autumn", "Spring"]
    assert term_of(date(2026, 10, 5)) == autumn and term_of(date(2026, 12, 25)) is None

    errors = refused(
        lambda: save_term(year, TermData("Winter", date(2026, 12, 1), date(2027, 1, 10)))
    )
    assert errors == {
        "first_day": "These days overlap Autumn (Tue 01 Sep 2026 to Fri 18 Dec 2026)."
    }
    errors = refused(
        lambda: save_term(year, TermData("autumn ", date(2027, 5, 1), date(2027, 6, 1)))
    )
    assert errors == {"name": "2026-2027 already has a term named autumn."}
    errors = refused(
        lambda: save_term(year, TermData("Summer", date(2027, 4, 19), date(2027, 7, 31)))
    )
    assert "lies within it (Tue 01 Sep 2026 to Fri 09 Jul 2027)" in errors["first_day"]
    assert count(Term) == 2


def test_bad_year_input_is_named_field_by_field_and_writes_nothing(app):
    assert refused(lambda: save_year(YearData("  ", None, date(2027, 1, 1)))) == {
        "name": "Enter the year's name.",
        "first_day": "Enter the first day (YYYY-MM-DD).",
    }
    assert refused(lambda: save_year(YearData("Y", date(2027, 1, 2), date(2027, 1, 1)))) == {
        "last_day": "The last day cannot be before the first day."
    }
    assert refused(lambda: save_year(YearData("Y", date(2026, 9, 1), date(2062, 7, 1)))) == {
        "last_day": "A year lasts at most 400 days."
    }
    save_year(YEAR)
    db.session.commit()
    assert refused(lambda: save_year(YearData("Next", date(2027, 7, 1), date(2028, 7, 1)))) == {
        "first_day": "These days overlap 2026-2027 (Tue 01 Sep 2026 to Fri 09 Jul 2027)."
    }
    assert refused(lambda: save_year(YearData("2026-2027", date(2028, 9, 1), date(2029, 7, 1))))[
        "name"
    ] == ("A year named 2026-2027 already exists.")
    assert count(AcademicYear) == 1


def test_a_year_cannot_shrink_away_from_its_terms(app):
    year = save_year(YEAR)
    save_term(year, TermData("Summer", date(2027, 4, 19), date(2027, 7, 9)))
    db.session.commit()
    errors = refused(
        lambda: save_year(YearData("2026-2027", date(2026, 9, 1), date(2027, 6, 30)), year)
    )
    assert errors["first_day"].startswith("Summer (Mon 19 Apr 2027 to Fri 09 Jul 2027) would")
    db.session.refresh(year)
    assert year.last_day == date(2027, 7, 9)


def test_closures_close_the_whole_school_or_their_groups_both_ends_included(app, make_group):
    maths, art = make_group("Maths"), make_group("Art")
    winter = save_closure_record(ClosureData("Winter break", date(2026, 12, 21), date(2027, 1, 1)))
    trip = save_closure_record(
        ClosureData("Art trip", date(2027, 1, 1), date(2027, 1, 5), ClosureKind.CLOSED, [art.id])
    )
    db.session.commit()
    closed = closed_days(date(2026, 12, 28), date(2027, 1, 11))
    assert closed.closure_for(maths.id, date(2026, 12, 28)) == winter.id
    assert closed.closure_for(maths.id, date(2027, 1, 1)) == winter.id  # last day included
    assert closed.closure_for(maths.id, date(2027, 1, 2)) is None
    assert closed.closure_for(art.id, date(2027, 1, 1)) == winter.id  # the first made wins
    assert closed.closure_for(art.id, date(2027, 1, 5)) == trip.id
    assert closed.closure_for(art.id, date(2027, 1, 6)) is None
    # Clipped to the window asked for.
    assert min(closed.whole_school) == date(2026, 12, 28)
    assert not closed_days(date(2027, 1, 6), date(2027, 2, 1))
    assert [g.name for g in db.session.get(Closure, trip.id).groups] == ["Art"]


def test_bad_closure_input_is_named_field_by_field_and_writes_nothing(app, make_group):
    assert refused(lambda: save_closure_record(ClosureData("", date(2027, 1, 2), None))) == {
        "name": "Enter the closure's name.",
        "last_day": "Enter the last day (YYYY-MM-DD).",
    }
    assert refused(
        lambda: save_closure_record(
            ClosureData("Trip", date(2027, 1, 1), date(2027, 1, 2), group_ids=[])
        )
    ) == {"groups": "Choose the groups it closes, or the whole school."}
    gone = make_group()
    gone_id = gone.id
    db.session.delete(gone)
    db.session.commit()
    assert refused(
        lambda: save_closure_record(
            ClosureData("Trip", date(2027, 1, 1), date(2027, 1, 2), group_ids=[gone_id])
        )
    ) == {"groups": "Some of these groups no longer exist: choose them again."}
    assert refused(
        lambda: save_closure_record(ClosureData("Long", date(2027, 1, 1), date(2028, 6, 1)))
    ) == {"last_day": "A closure lasts at most 366 days."}
    assert count(Closure) == 0


# --- Generation on closed days -----------------------------------------------------------------

PARIS = ZoneInfo("Europe/Paris")
MONDAY = date(2026, 12, 14)
LONG_AGO = datetime(2026, 1, 1, tzinfo=UTC)


def generate(weeks=3, **kwargs):
    summary = generate_occurrences(
        MONDAY, MONDAY + timedelta(weeks=weeks), tz=PARIS, now=LONG_AGO, **kwargs
    )
    db.session.commit()
    return summary


def dates_of(group) -> dict[date, str]:
    db.session.expire_all()
    return {
        o.start_utc.astimezone(PARIS).date(): str(o.status)
        for o in db.session.scalars(select(Occurrence).where(Occurrence.group_id == group.id))
    }


def test_generation_makes_no_session_on_closed_days_and_counts_them(app, make_group, make_series):
    maths, art = make_group("Maths"), make_group("Art")
    make_series(maths, weekdays=(0, 2), first_date=MONDAY)
    make_series(art, weekdays=(0,), first_date=MONDAY)
    # The whole school from Mon 21 Dec to Fri 1 Jan; Art alone on its first Monday too.
    save_closure_record(ClosureData("Winter break", date(2026, 12, 21), date(2027, 1, 1)))
    save_closure_record(
        ClosureData("Art trip", MONDAY, MONDAY, ClosureKind.CLOSED, group_ids=[art.id])
    )
    db.session.commit()
    summary = generate(details=True)
    assert (summary.created, summary.closed) == (2, 7)
    assert summary.as_dict()["closed"] == 7
    assert [(c.group, c.original_date) for c in summary.changes_of("closed")][:3] == [
        ("Art", MONDAY),
        ("Art", date(2026, 12, 21)),
        ("Maths", date(2026, 12, 21)),
    ]
    assert sorted(dates_of(maths)) == [MONDAY, date(2026, 12, 16)]
    assert sorted(dates_of(art)) == []
    # Unchanged on a second run: the closed days are counted again, nothing is made.
    again = generate()
    assert (again.created, again.unchanged, again.closed) == (0, 2, 7)


def test_a_closure_over_sessions_already_made_cancels_them_with_force_never_protected_ones(
    app, make_group, make_series
):
    maths = make_group("Maths")
    make_series(maths, weekdays=(0, 2), first_date=MONDAY)
    generate(weeks=1)
    done = db.session.scalars(
        select(Occurrence).where(Occurrence.group_id == maths.id).order_by(Occurrence.start_utc)
    ).first()
    done.status = OccurrenceStatus.COMPLETED
    db.session.commit()
    closure = save_closure_record(ClosureData("Snow", MONDAY, MONDAY + timedelta(days=2)))
    db.session.commit()
    assert generate(weeks=1).out_of_date == 1  # Wednesday's, made before; Monday's is kept
    forced = generate(weeks=1, force=True)
    assert (forced.updated, forced.kept, forced.closed) == (1, 1, 0)
    assert dates_of(maths) == {MONDAY: "completed", date(2026, 12, 16): "cancelled"}
    wednesday = db.session.scalars(
        select(Occurrence).where(Occurrence.closure_id == closure.id)
    ).one()
    assert wednesday.start_utc.astimezone(PARIS).date() == date(2026, 12, 16)
    assert generate(weeks=1).closed == 1  # now in step with its closure


# --- A closure over sessions already made ------------------------------------------------------

NOW = datetime(2026, 12, 10, 9, tzinfo=UTC)


def sessions_of(group) -> list[Occurrence]:
    db.session.expire_all()
    return list(
        db.session.scalars(
            select(Occurrence).where(Occurrence.group_id == group.id).order_by(Occurrence.start_utc)
        )
    )


def test_adding_a_closure_cancels_its_days_sessions_and_tells_their_people(
    app, make_user, make_group, make_series
):
    ada = make_user("student", name="Ada")
    maths = make_group("Maths", students=[ada])
    art = make_group("Art", students=[ada])
    make_series(maths, weekdays=(0, 2), first_date=MONDAY)
    make_series(art, weekdays=(0,), first_date=MONDAY)
    generate(weeks=2)
    _, wednesday, *_ = sessions_of(maths)
    wednesday.status = OccurrenceStatus.COMPLETED  # a record: never touched
    db.session.commit()

    outcome = add_closure(
        ClosureData("Snow", MONDAY, MONDAY + timedelta(days=2)), actor=None, tz=PARIS, now=NOW
    )
    db.session.commit()
    cancelled = {(s.group.name, s.start_utc.astimezone(PARIS).date()) for s in outcome.cancelled}
    assert cancelled == {("Art", MONDAY), ("Maths", MONDAY)}
    assert [s.id for s in outcome.kept] == [wednesday.id]
    assert [str(s.status) for s in sessions_of(maths)] == [
        "cancelled",
        "completed",
        "scheduled",
        "scheduled",
    ]
    assert sessions_of(maths)[0].closure_id == outcome.closure.id
    titles = {
        n.title
        for n in db.session.scalars(select(Notification).where(Notification.user_id == ada.id))
    }
    assert "Maths: 1 session cancelled, Snow (Mon 14 Dec to Wed 16 Dec)" in titles
    assert "Art: 1 session cancelled, Snow (Mon 14 Dec to Wed 16 Dec)" in titles


def test_removing_a_closure_brings_its_sessions_back_and_makes_the_skipped_ones(
    app, make_group, make_series
):
    maths, art = make_group("Maths"), make_group("Art")
    make_series(maths, weekdays=(0,), first_date=MONDAY)
    make_series(art, weekdays=(0,), first_date=MONDAY)
    generate(weeks=1)  # this week's Mondays exist; next week's are not made yet
    closure = add_closure(
        ClosureData("Trip", MONDAY, MONDAY + timedelta(weeks=1), group_ids=[maths.id]),
        actor=None,
        tz=PARIS,
        now=NOW,
    ).closure
    db.session.commit()
    assert generate(weeks=2).closed == 2  # one cancelled by it, one not made
    assert [str(s.status) for s in sessions_of(maths)] == ["cancelled"]
    assert [str(s.status) for s in sessions_of(art)] == ["scheduled", "scheduled"]

    outcome = remove_closure(closure, tz=PARIS, now=NOW)
    db.session.commit()
    assert (len(outcome.restored), outcome.created) == (1, 1)
    assert [str(s.status) for s in sessions_of(maths)] == ["scheduled", "scheduled"]
    assert all(s.closure_id is None for s in sessions_of(maths))
    assert db.session.get(Closure, closure.id) is None
    assert generate(weeks=2).closed == 0


def test_a_session_edited_while_closed_stays_as_it_was_made(app, make_group, make_series):
    maths = make_group("Maths")
    make_series(maths, weekdays=(0,), first_date=MONDAY)
    generate(weeks=1)
    closure = add_closure(
        ClosureData("Snow", MONDAY, MONDAY), actor=None, tz=PARIS, now=NOW
    ).closure
    session = sessions_of(maths)[0]
    session.edited_by_hand = True  # someone changed it by hand meanwhile
    db.session.commit()
    outcome = remove_closure(closure, tz=PARIS, now=NOW)
    db.session.commit()
    assert (outcome.restored, [s.id for s in outcome.kept]) == ([], [session.id])
    assert [str(s.status) for s in sessions_of(maths)] == ["cancelled"]


def test_changing_a_closure_brings_back_what_it_leaves_and_cancels_what_it_takes(
    app, make_user, make_group, make_series
):
    ada = make_user("student", name="Ada")
    maths = make_group("Maths", students=[ada])
    art = make_group("Art")
    make_series(maths, weekdays=(0, 1, 2), first_date=MONDAY)
    make_series(art, weekdays=(1,), first_date=MONDAY)
    generate(weeks=1)
    closure = add_closure(
        ClosureData("Trip", MONDAY, MONDAY + timedelta(days=1), group_ids=[maths.id]),
        actor=None,
        tz=PARIS,
        now=NOW,
    ).closure
    db.session.commit()
    assert list(dates_of(maths).values()) == ["cancelled", "cancelled", "scheduled"]

    # One day later, and Art's too: Monday comes back, Wednesday and Art's Tuesday go.
    outcome = change_closure(
        closure,
        ClosureData(
            "Trip to Lyon",
            MONDAY + timedelta(days=1),
            MONDAY + timedelta(days=2),
            group_ids=[maths.id, art.id],
        ),
        tz=PARIS,
        now=NOW,
    )
    db.session.commit()
    assert [s.start_utc.astimezone(PARIS).date() for s in outcome.restored] == [MONDAY]
    assert sorted((s.group.name, s.start_utc.astimezone(PARIS).day) for s in outcome.cancelled) == [
        ("Art", 15),
        ("Maths", 16),
    ]
    assert list(dates_of(maths).values()) == ["scheduled", "cancelled", "cancelled"]
    assert list(dates_of(art).values()) == ["cancelled"]
    assert {s.closure_id for s in sessions_of(maths) if s.status == "cancelled"} == {closure.id}
    titles = {
        n.title
        for n in db.session.scalars(select(Notification).where(Notification.user_id == ada.id))
    }
    assert (
        "Maths: 1 session back on, Trip to Lyon (Tue 15 Dec to Wed 16 Dec) is no longer closed"
        in titles
    )
    assert "Maths: 1 session cancelled, Trip to Lyon (Tue 15 Dec to Wed 16 Dec)" in titles


def test_changing_a_closure_makes_the_sessions_it_kept_from_being_made(
    app, make_group, make_series
):
    maths = make_group("Maths")
    make_series(maths, weekdays=(0,), first_date=MONDAY)
    closure = save_closure_record(ClosureData("Break", MONDAY, MONDAY + timedelta(weeks=1)))
    db.session.commit()
    assert generate(weeks=2).closed == 2
    outcome = change_closure(
        closure, ClosureData("Break", MONDAY + timedelta(weeks=1), MONDAY + timedelta(weeks=1)),
        tz=PARIS, now=NOW,
    )  # fmt: skip
    db.session.commit()
    assert outcome.created == 1
    assert dates_of(maths) == {MONDAY: "scheduled"}


def test_bad_input_changing_a_closure_leaves_it_and_its_sessions_as_they_were(
    app, make_group, make_series
):
    maths = make_group("Maths")
    make_series(maths, weekdays=(0,), first_date=MONDAY)
    generate(weeks=1)
    closure = add_closure(ClosureData("Snow", MONDAY, MONDAY), actor=None, tz=PARIS, now=NOW)
    db.session.commit()
    errors = refused(
        lambda: change_closure(
            closure.closure, ClosureData("", MONDAY, MONDAY - timedelta(days=1)), tz=PARIS, now=NOW
        )
    )
    assert errors == {
        "name": "Enter the closure's name.",
        "last_day": "The last day cannot be before the first day.",
    }
    kept = db.session.get(Closure, closure.closure.id)
    assert (kept.name, kept.first_day, kept.last_day) == ("Snow", MONDAY, MONDAY)
    assert dates_of(maths) == {MONDAY: "cancelled"}


def test_a_day_two_closures_close_stays_closed_when_one_goes(app, make_group, make_series):
    maths = make_group("Maths")
    make_series(maths, weekdays=(0,), first_date=MONDAY)
    generate(weeks=1)
    trip = add_closure(
        ClosureData("Trip", MONDAY, MONDAY, group_ids=[maths.id]), actor=None, tz=PARIS, now=NOW
    ).closure
    snow = add_closure(ClosureData("Snow", MONDAY, MONDAY), actor=None, tz=PARIS, now=NOW).closure
    db.session.commit()
    outcome = remove_closure(trip, tz=PARIS, now=NOW)
    db.session.commit()
    assert outcome.restored == []
    assert [(str(s.status), s.closure_id) for s in sessions_of(maths)] == [("cancelled", snow.id)]
    outcome = remove_closure(snow, tz=PARIS, now=NOW)
    db.session.commit()
    assert len(outcome.restored) == 1
    assert [(str(s.status), s.closure_id) for s in sessions_of(maths)] == [("scheduled", None)]


def test_a_session_back_on_that_now_clashes_is_reported_and_its_people_told(
    app, make_user, make_group, make_series, make_room
):
    ada = make_user("student", name="Ada")
    room = make_room("Lab")
    maths = make_group("Maths", students=[ada], room=room)
    make_series(maths, weekdays=(0,), first_date=MONDAY)
    generate(weeks=1)
    closure = add_closure(
        ClosureData("Trip", MONDAY, MONDAY, group_ids=[maths.id]), actor=None, tz=PARIS, now=NOW
    ).closure
    db.session.commit()
    # While Maths was away, Art was booked into the Lab at the same time.
    art = make_group("Art", room=room)
    make_series(art, weekdays=(0,), first_date=MONDAY)
    generate(weeks=1)
    outcome = remove_closure(closure, tz=PARIS, now=NOW)
    db.session.commit()
    assert [s.group.name for s in outcome.clashing] == ["Maths"]
    body = db.session.scalars(
        select(Notification.body)
        .where(Notification.user_id == ada.id)
        .order_by(Notification.id.desc())
    ).first()
    assert body == "Mon 14 Dec 10:00 (it now clashes with another session)"


# --- A series for a term -----------------------------------------------------------------------


def test_a_series_for_a_term_runs_over_its_days_and_follows_them(app, make_group):
    year = save_year(YEAR)
    spring = save_term(year, TermData("Spring term", date(2027, 1, 4), date(2027, 3, 26)))
    group = make_group("Maths")
    series = add_series(
        group,
        SeriesData(
            weekdays=[0],
            start_time=time(9),
            end_time=time(10),
            room_id=group.default_room_id,
            first_date=date(2026, 9, 7),
            term_id=spring.id,
        ),
    )
    db.session.commit()
    assert (series.first_date, series.last_date, series.term.name) == (
        date(2027, 1, 4),
        date(2027, 3, 26),
        "Spring term",
    )
    save_term(year, TermData("Spring term", date(2027, 1, 5), date(2027, 4, 2)), spring)
    assert series_following(spring) == 1
    db.session.commit()
    db.session.refresh(series)
    assert (series.first_date, series.last_date) == (date(2027, 1, 5), date(2027, 4, 2))
    # Ended early, it no longer follows the term.
    end_series(series, date(2027, 2, 12))
    save_term(year, TermData("Spring term", date(2027, 1, 4), date(2027, 3, 26)), spring)
    assert series_following(spring) == 0
    db.session.commit()
    assert (series.first_date, series.last_date, series.term_id) == (
        date(2027, 1, 5),
        date(2027, 2, 12),
        None,
    )


def test_a_series_for_a_term_that_is_gone_is_refused(app, make_group):
    group = make_group("Maths")
    errors = refused(
        lambda: add_series(
            group,
            SeriesData(
                weekdays=[0],
                start_time=time(9),
                end_time=time(10),
                room_id=group.default_room_id,
                term_id=424242,
            ),
        )
    )
    assert errors == {"term": "This term no longer exists: choose another, or dates."}
    assert count(Series) == 0


# --- Importing closures ------------------------------------------------------------------------


def test_a_csv_of_closures_is_imported_all_or_nothing_line_by_line(app, make_group):
    make_group("Art 8B")
    good = (
        "name,kind,first_day,last_day,groups\n"
        "Winter break,holiday,2026-12-21,2027-01-01,\n"
        "Art trip,closed,2027-01-05,,art 8b\n"
    )
    summary = import_closures(good.encode(), "closures.csv", tz=PARIS, now=NOW)
    db.session.commit()
    assert summary.closures == 2
    closures = db.session.scalars(select(Closure).order_by(Closure.first_day)).all()
    assert [(c.name, c.last_day, c.whole_school) for c in closures] == [
        ("Winter break", date(2027, 1, 1), True),
        ("Art trip", date(2027, 1, 5), False),
    ]
    bad = (
        "name,first_day,last_day,groups\n"
        "Half term,2027-02-15,2027-02-19,\n"
        ",2027-03-01,,\n"
        "Trip,2027-03-10,2027-03-09,\n"
        "Choir day,2027-04-01,,Choir\n"
    )
    with pytest.raises(ImportErrors) as caught:
        import_closures(bad.encode(), "closures.csv", tz=PARIS, now=NOW)
    db.session.rollback()
    assert caught.value.messages == [
        "line 3: name is required",
        "line 4: The last day cannot be before the first day.",
        "line 5: no group named Choir",
    ]
    assert count(Closure) == 2  # nothing of the file kept, not even its good lines


def test_an_icalendar_of_holidays_is_imported_each_all_day_event_a_closure(app):
    ics = (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//School//Holidays//EN\r\n"
        "BEGIN:VEVENT\r\nUID:1@school\r\nSUMMARY:Vacances de Noël\r\n"
        "DTSTART;VALUE=DATE:20261219\r\nDTEND;VALUE=DATE:20270104\r\nEND:VEVENT\r\n"
        "BEGIN:VEVENT\r\nUID:2@school\r\nSUMMARY:Armistice\r\n"
        "DTSTART;VALUE=DATE:20261111\r\nEND:VEVENT\r\n"
        "END:VCALENDAR\r\n"
    )
    summary = import_closures(ics.encode(), "holidays.ics", tz=PARIS, now=NOW)
    db.session.commit()
    assert summary.closures == 2
    closures = db.session.scalars(select(Closure).order_by(Closure.first_day)).all()
    assert [(c.name, c.first_day, c.last_day) for c in closures] == [
        ("Armistice", date(2026, 11, 11), date(2026, 11, 11)),
        ("Vacances de Noël", date(2026, 12, 19), date(2027, 1, 3)),
    ]
    with pytest.raises(ImportErrors) as caught:
        import_closures(b"BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n", "empty.ics", tz=PARIS)
    assert caught.value.messages == ["the calendar holds no event"]


# --- Public holidays ---------------------------------------------------------------------------


def test_a_countrys_public_holidays_are_offered_for_a_range_with_its_regions_own(app):
    easter_monday = date(2027, 3, 29)
    french = public_holidays("FR", None, date(2027, 1, 1), date(2027, 4, 30))
    assert [(h.day, h.name) for h in french] == [
        (date(2027, 1, 1), "New Year's Day"),
        (easter_monday, "Easter Monday"),
    ]
    scottish = public_holidays("GB", "SCT", date(2027, 11, 1), date(2027, 11, 30))
    assert [h.name for h in scottish] == ["Saint Andrew's Day"]
    assert public_holidays("GB", "ENG", date(2027, 11, 1), date(2027, 11, 30)) == []
    assert {"ENG", "SCT"} <= {r.code for r in regions("GB")}
    assert countries()["FR"] == "France" and country_of_zone("Europe/Paris") == "FR"


def test_bad_public_holiday_choices_are_named_field_by_field(app):
    assert refused(lambda: public_holidays("XX", None, date(2027, 1, 1), date(2027, 2, 1))) == {
        "country": "Choose a country from the list."
    }
    assert refused(lambda: public_holidays("FR", "ZZ", date(2027, 2, 1), date(2027, 1, 1))) == {
        "region": "Choose one of this country's regions, or none.",
        "last_day": "The last day cannot be before the first day.",
    }
    assert refused(lambda: public_holidays("FR", None, date(2027, 1, 1), date(2030, 1, 1))) == {
        "last_day": "Choose at most 731 days at a time."
    }


def test_the_ticked_public_holidays_become_closures_and_cancel_their_sessions(
    app, make_group, make_series
):
    maths = make_group("Maths")
    easter_monday = date(2027, 3, 29)
    make_series(maths, weekdays=(0,), first_date=easter_monday - timedelta(weeks=1))
    generate_occurrences(
        easter_monday - timedelta(weeks=1), easter_monday + timedelta(weeks=1), tz=PARIS, now=NOW
    )
    save_closure_record(ClosureData("Winter break", date(2027, 1, 1), date(2027, 1, 1)))
    db.session.commit()
    first, last = date(2027, 1, 1), date(2027, 5, 31)
    offered = public_holidays("FR", None, first, last)
    assert offered[0].closed_by == "Winter break"  # New Year's Day: closed already
    # A forged day (not a holiday) refuses the whole request.
    errors = refused(
        lambda: add_public_holidays(
            "FR", None, first, last, [easter_monday, date(2027, 3, 30)], actor=None, tz=PARIS
        )
    )
    assert errors == {"days": "Not a public holiday of this country and range: Tue 30 Mar 2027."}
    assert count(Closure) == 1
    added = add_public_holidays(
        "FR", None, first, last, [date(2027, 1, 1), easter_monday, date(2027, 5, 1)],
        actor=None, tz=PARIS,
    )  # fmt: skip
    db.session.commit()
    assert [(o.closure.name, o.closure.first_day) for o in added] == [
        ("Easter Monday", easter_monday),
        ("Labor Day", date(2027, 5, 1)),
    ]
    assert dates_of(maths) == {
        easter_monday - timedelta(weeks=1): "scheduled",
        easter_monday: "cancelled",
    }
