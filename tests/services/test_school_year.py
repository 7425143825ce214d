"""Academic years, terms and closures: what a coordinator's input must pass, and the closed days
generation and the schedule read."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select

from models import AcademicYear, Closure, ClosureKind, Term, db
from services.common.errors import ValidationError
from services.school_year import (
    ClosureData,
    TermData,
    YearData,
    closed_days,
    save_closure_record,
    save_term,
    save_year,
    term_of,
)

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
