"""The school year: academic years and their terms, and closures (days without teaching, for the
whole school or for some groups), with the checks a coordinator's input must pass, and the
closed days of a window as generation and the schedule read them.

Closed days are counted in the organisation's zone, both ends included (a closure of "Mon 21
Dec to Fri 1 Jan" closes twelve days). A group is closed on a day when a whole-school closure
or one of its own covers it.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta

from sqlalchemy import String, func, or_, select, update
from sqlalchemy.orm import joinedload

from models import AcademicYear, Closure, ClosureKind, CourseGroup, Series, Term, User, db
from models.types import one_of
from services.catalogue.rooms import clean_name, flush_unique, name_taken
from services.common.errors import ValidationError
from services.common.timeutil import date_outside

# A year is at most this long (a typo like 2062 for 2026 is refused, not planned).
LONGEST_YEAR = timedelta(days=400)
# A closure longer than a year is a mistake (a year has several, each a few weeks at most).
LONGEST_CLOSURE = timedelta(days=366)
CLOSURE_NAME_LENGTH = 120


@dataclass
class YearData:
    name: str
    first_day: date | None
    last_day: date | None


@dataclass
class TermData:
    name: str
    first_day: date | None
    last_day: date | None


@dataclass
class ClosureData:
    name: str
    first_day: date | None
    last_day: date | None
    kind: ClosureKind = ClosureKind.HOLIDAY
    # None: the whole school; else the groups it closes (at least one).
    group_ids: list[int] | None = None
    # A make-up day: the day whose timetable runs instead of its own.
    runs_as: date | None = None


def _check_days(data, errors: dict, *, longest: timedelta, what: str) -> None:
    """Both days given, real, in order, and not absurdly far apart."""
    if data.first_day is None:
        errors["first_day"] = "Enter the first day (YYYY-MM-DD)."
    elif problem := date_outside(data.first_day):
        errors["first_day"] = problem
    if data.last_day is None:
        errors["last_day"] = "Enter the last day (YYYY-MM-DD)."
    elif problem := date_outside(data.last_day):
        errors["last_day"] = problem
    if errors.keys() & {"first_day", "last_day"}:
        return
    if data.last_day < data.first_day:
        errors["last_day"] = "The last day cannot be before the first day."
    elif data.last_day - data.first_day >= longest:
        errors["last_day"] = f"A {what} lasts at most {longest.days} days."


def _span(first: date, last: date) -> str:
    return f"{first:%a %d %b %Y} to {last:%a %d %b %Y}"


# --- Academic years and terms ------------------------------------------------------------


def list_years() -> list[AcademicYear]:
    return list(db.session.scalars(select(AcademicYear).order_by(AcademicYear.first_day.desc())))


def save_year(data: YearData, year: AcademicYear | None = None) -> AcademicYear:
    """Create a year, or change one (its terms must still fit in it)."""
    name, problem = clean_name(data.name, what="year")
    errors: dict[str, str] = {}
    if problem:
        errors["name"] = problem
    elif name_taken(AcademicYear, name, exclude_id=year.id if year else None):
        errors["name"] = f"A year named {name} already exists."
    _check_days(data, errors, longest=LONGEST_YEAR, what="year")
    if not errors and year is not None:
        outside = [
            t
            for t in year.terms
            if not data.first_day <= t.first_day <= t.last_day <= data.last_day
        ]
        if outside:
            errors["first_day"] = (
                f"{outside[0].name} ({_span(outside[0].first_day, outside[0].last_day)}) would"
                " fall outside the year: change or remove that term first."
            )
    if not errors and (other := _overlapping_year(data, year)):
        errors["first_day"] = (
            f"These days overlap {other.name} ({_span(other.first_day, other.last_day)})."
        )
    if errors:
        raise ValidationError(errors)
    if year is None:
        year = AcademicYear()
        db.session.add(year)
    year.name, year.first_day, year.last_day = name, data.first_day, data.last_day
    flush_unique({"name": f"A year named {name} already exists."})
    return year


def _overlapping_year(data: YearData, year: AcademicYear | None) -> AcademicYear | None:
    query = select(AcademicYear).where(
        AcademicYear.first_day <= data.last_day, AcademicYear.last_day >= data.first_day
    )
    if year is not None:
        query = query.where(AcademicYear.id != year.id)
    return db.session.scalars(query.order_by(AcademicYear.first_day).limit(1)).first()


def delete_year(year: AcademicYear) -> None:
    """Remove a year and its terms (closures are not part of a year: they stay)."""
    db.session.delete(year)
    db.session.flush()


def save_term(year: AcademicYear, data: TermData, term: Term | None = None) -> Term:
    """Create a term of `year`, or change one: within the year, apart from its other terms."""
    name, problem = clean_name(data.name, what="term")
    errors: dict[str, str] = {}
    others = [t for t in year.terms if term is None or t.id != term.id]
    if problem:
        errors["name"] = problem
    elif any(t.name.lower() == name.lower() for t in others):
        errors["name"] = f"{year.name} already has a term named {name}."
    _check_days(data, errors, longest=LONGEST_YEAR, what="term")
    if not errors:
        if not year.first_day <= data.first_day <= data.last_day <= year.last_day:
            errors["first_day"] = (
                f"A term of {year.name} lies within it ({_span(year.first_day, year.last_day)})."
            )
        elif clash := next(
            (t for t in others if t.first_day <= data.last_day and t.last_day >= data.first_day),
            None,
        ):
            errors["first_day"] = (
                f"These days overlap {clash.name} ({_span(clash.first_day, clash.last_day)})."
            )
    if errors:
        raise ValidationError(errors)
    if term is None:
        term = Term(year=year)
        db.session.add(term)
    term.name, term.first_day, term.last_day = name, data.first_day, data.last_day
    flush_unique({"name": f"{year.name} already has a term named {name}."})
    return term


def series_following(term: Term) -> int:
    """Give the series run for `term` its days again (after the term changed); how many.
    Like any change of a series, their sessions follow at the next generation with force."""
    moved = db.session.execute(
        update(Series)
        .where(
            Series.term_id == term.id,
            or_(
                Series.first_date != term.first_day,
                Series.last_date.is_(None),
                Series.last_date != term.last_day,
            ),
        )
        .values(first_date=term.first_day, last_date=term.last_day)
        .execution_options(synchronize_session="fetch")
    )
    return moved.rowcount


def delete_term(term: Term) -> None:
    db.session.delete(term)
    db.session.flush()


def terms_to_choose(today: date, keep: int | None = None) -> list[Term]:
    """The terms a series may run for: those not over by `today`, and `keep` (a series'
    own, even if over), by first day."""
    query = select(Term).options(joinedload(Term.year)).order_by(Term.first_day)
    condition = Term.last_day >= today
    if keep is not None:
        condition = or_(condition, Term.id == keep)
    return list(db.session.scalars(query.where(condition)))


def term_of(day: date) -> Term | None:
    """The term holding `day`, if any."""
    return db.session.scalars(
        select(Term).where(Term.first_day <= day, Term.last_day >= day).limit(1)
    ).first()


# --- Closures ------------------------------------------------------------------------------


def list_closures(first: date | None = None, last: date | None = None) -> list[Closure]:
    """Closures overlapping [first, last] (both included; either open), by first day."""
    query = select(Closure).order_by(Closure.first_day, Closure.id)
    if first is not None:
        query = query.where(Closure.last_day >= first)
    if last is not None:
        query = query.where(Closure.first_day <= last)
    return list(db.session.scalars(query))


def check_closure(data: ClosureData) -> tuple[str, list[CourseGroup] | None]:
    """The closure's cleaned name and its groups (None: the whole school), or every field's
    problem at once (ValidationError)."""
    name, problem = clean_name(data.name, what="closure", length=CLOSURE_NAME_LENGTH)
    errors: dict[str, str] = {}
    if problem:
        errors["name"] = problem
    if data.kind not in set(ClosureKind):
        errors["kind"] = "Choose holiday, school closed or staff day."
    _check_days(data, errors, longest=LONGEST_CLOSURE, what="closure")
    if data.runs_as is not None:
        if problem := date_outside(data.runs_as):
            errors["runs_as"] = problem
        elif not errors and data.first_day != data.last_day:
            errors["last_day"] = "A day that runs another day's timetable is a single day."
        elif not errors and data.runs_as == data.first_day:
            errors["runs_as"] = "Choose another day than the one it runs on."
    groups = None
    if data.group_ids is not None:
        wanted = set(data.group_ids)
        groups = (
            list(
                db.session.scalars(
                    select(CourseGroup)
                    .where(one_of(CourseGroup.id, name="ids"))
                    .order_by(CourseGroup.name),
                    {"ids": wanted},
                )
            )
            if wanted
            else []
        )
        if not wanted:
            errors["groups"] = "Choose the groups it closes, or the whole school."
        elif len(groups) != len(wanted):
            errors["groups"] = "Some of these groups no longer exist: choose them again."
    if errors:
        raise ValidationError(errors)
    return name, groups


def save_closure_record(
    data: ClosureData, closure: Closure | None = None, *, actor: User | None = None
) -> Closure:
    """The closure row as `data` says (checked), flushed; what it does to sessions is the
    caller's (generation skips closed days; applying it cancels sessions already made)."""
    name, groups = check_closure(data)
    if closure is None:
        closure = Closure(created_by_id=actor.id if actor else None)
        db.session.add(closure)
    closure.name, closure.kind = name, ClosureKind(data.kind)
    closure.first_day, closure.last_day = data.first_day, data.last_day
    closure.whole_school = groups is None
    closure.groups = groups or []
    closure.runs_as = data.runs_as
    db.session.flush()
    return closure


def group_ids_named(text: str) -> list[int]:
    """The groups named in `text`, one per line (case and spacing aside), for a closure of
    some groups; every unknown name at once (ValidationError on `groups`)."""
    names = [" ".join(line.split()) for line in (text or "").splitlines()]
    names = list(dict.fromkeys(n for n in names if n))
    if not names:
        raise ValidationError("Name the groups it closes, one per line.", field="groups")
    found = dict(
        db.session.execute(
            select(func.lower(CourseGroup.name), CourseGroup.id).where(
                one_of(func.lower(CourseGroup.name), name="names", of=String)
            ),
            {"names": {n.lower() for n in names}},
        ).all()
    )
    unknown = [n for n in names if n.lower() not in found]
    if unknown:
        listed = ", ".join(unknown[:10]) + (
            f" and {len(unknown) - 10} more" if len(unknown) > 10 else ""
        )
        raise ValidationError(f"No group is named {listed}.", field="groups")
    return [found[n.lower()] for n in names]


@dataclass
class ClosedDays:
    """The closed days of a window: the whole school's, and each group's own, each with the
    closure that closes it (the first made, when several do)."""

    whole_school: dict[date, int] = field(default_factory=dict)
    by_group: dict[int, dict[date, int]] = field(default_factory=lambda: defaultdict(dict))

    def closure_for(self, group_id: int, day: date) -> int | None:
        closure_id = self.whole_school.get(day)
        if closure_id is None:
            closure_id = self.by_group.get(group_id, {}).get(day)
        return closure_id

    def __bool__(self) -> bool:
        return bool(self.whole_school or self.by_group)


def closed_days(start: date, end: date, *, without: int | None = None) -> ClosedDays:
    """The closed days in [start, end) (two statements at most, whatever the number of
    groups: the closures, and their groups loaded together), the closure `without` aside."""
    closed = ClosedDays()
    for closure in list_closures(start, end - timedelta(days=1)):
        if closure.id == without:
            continue
        # By first day then id: the first made wins a shared day.
        for day in _days_of(closure, start, end):
            if closure.whole_school:
                closed.whole_school.setdefault(day, closure.id)
            else:
                for group in closure.groups:
                    closed.by_group[group.id].setdefault(day, closure.id)
    return closed


def _days_of(closure: Closure, start: date, end: date):
    """The closure's days within [start, end)."""
    day = max(closure.first_day, start)
    while day <= min(closure.last_day, end - timedelta(days=1)):
        yield day
        day += timedelta(days=1)


def closed_labels(start: date, end: date, group_ids: set[int] | None = None) -> dict[date, str]:
    """The days of [start, end) a schedule marks as closed, with the closure's name: the
    whole school's closures, and those of `group_ids` (a group's or a person's timetable)."""
    labels: dict[date, str] = {}
    for closure in list_closures(start, end - timedelta(days=1)):
        if closure.whole_school or any(g.id in (group_ids or ()) for g in closure.groups):
            for day in _days_of(closure, start, end):
                labels.setdefault(day, closure.name)
    return labels


def term_label(day: date) -> str:
    """'Autumn term, week 14' for a day of a term (weeks counted from the term's first,
    Monday based), '' outside every term."""
    term = term_of(day)
    return _week_of(term, day) if term is not None else ""


def _week_of(term: Term, day: date) -> str:
    week = (day - term.first_day + timedelta(days=term.first_day.weekday())).days // 7 + 1
    return f"{term.name}, week {week}"


def term_weeks(first: date, last: date) -> dict[date, str]:
    """The term week of each week (by its Monday) from `first` to `last`, as `term_label`
    says it for the week's first day in a term (a term may start midweek); weeks outside
    every term are left out. One statement."""
    terms = list(
        db.session.scalars(
            select(Term)
            .where(Term.first_day <= last, Term.last_day >= first)
            .order_by(Term.first_day)
        )
    )
    labels: dict[date, str] = {}
    monday = first - timedelta(days=first.weekday())
    while terms and monday <= last:
        for day in (monday + timedelta(days=n) for n in range(7)):
            term = next((t for t in terms if t.first_day <= day <= t.last_day), None)
            if term is not None:
                labels[monday] = _week_of(term, day)
                break
        monday += timedelta(weeks=1)
    return labels
