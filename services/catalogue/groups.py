"""Course groups, their weekly series and their enrolled students.

Changing a series here does not touch its sessions: generation (with force) brings them in
line, so the pages that call these functions tell the user to regenerate. A new choice of
subject, mentor or room must be active; a group or series may keep one that was deactivated
since (its history stays as it was).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, time

from sqlalchemy import exists, func, or_, select

from models import (
    CourseGroup,
    DateOverride,
    Enrolment,
    Occurrence,
    OccurrenceMode,
    Role,
    Room,
    Series,
    Subject,
    Term,
    User,
    db,
)
from models.series import weekdays_to_mask
from services.catalogue.rooms import clean_name, filter_status, flush_unique, name_taken
from services.common.errors import InvalidTransition, NotFoundError, ValidationError
from services.common.numbers import is_row_id
from services.common.pagination import DEFAULT_PER_PAGE, Page, contains, paginate
from services.common.timeutil import LONGEST_OVERNIGHT_HOURS, date_outside, times_refused
from services.common.wording import named

MAX_EVERY_WEEKS = 52
# Dates outside this range are typos (0001-01-01, 9999-12-31), not terms.
SEARCH_LIMIT = 10


def _get(model, ident: int | None):
    return db.session.get(model, ident) if is_row_id(ident) else None


# --- Groups -------------------------------------------------------------------------------------


@dataclass
class GroupData:
    name: str
    subject_id: int | None
    mentor_id: int | None
    default_room_id: int | None = None
    active: bool = True


def list_groups(
    search: str = "", *, status: str | None = None, page: int = 1, per_page=DEFAULT_PER_PAGE
) -> Page:
    """Groups whose name, subject or mentor contains `search`; active ones first, then by name."""
    query = (
        select(CourseGroup)
        .join(Subject, Subject.id == CourseGroup.subject_id)
        .join(User, User.id == CourseGroup.mentor_id)
        .order_by(CourseGroup.active.desc(), CourseGroup.name)
    )
    if search.strip():
        query = query.where(
            or_(
                contains(CourseGroup.name, search),
                contains(Subject.name, search),
                contains(User.name, search),
            )
        )
    return paginate(filter_status(query, CourseGroup.active, status), page, per_page)


def active_mentors() -> list[User]:
    return list(
        db.session.scalars(
            select(User)
            .where(User.role == Role.MENTOR, User.is_active_account.is_(True))
            .order_by(User.name)
        )
    )


def active_subjects() -> list[Subject]:
    return list(
        db.session.scalars(select(Subject).where(Subject.active.is_(True)).order_by(Subject.name))
    )


def _check_room(room_id: int | None, current_id: int | None, errors: dict, key: str) -> None:
    if room_id is None or room_id == current_id:
        return
    room = _get(Room, room_id)
    if room is None:
        errors[key] = "Choose a room from the list."
    elif not room.active:
        errors[key] = f"{named(room.name, 'room')} is deactivated; choose an active room."


def _validate_group(data: GroupData, group: CourseGroup | None) -> str:
    errors: dict[str, str] = {}
    name, problem = clean_name(data.name, what="group")
    if problem is None and name_taken(CourseGroup, name, exclude_id=group.id if group else None):
        problem = f"A group named {name} already exists."
    if problem:
        errors["name"] = problem

    if not data.subject_id:
        errors["subject"] = "Choose the subject."
    elif group is None or data.subject_id != group.subject_id:
        subject = _get(Subject, data.subject_id)
        if subject is None:
            errors["subject"] = "Choose a subject from the list."
        elif not subject.active:
            errors["subject"] = f"{subject.name} is deactivated; choose an active subject."

    if not data.mentor_id:
        errors["mentor"] = "Choose the mentor."
    elif group is None or data.mentor_id != group.mentor_id:
        mentor = _get(User, data.mentor_id)
        if mentor is None or mentor.role != Role.MENTOR:
            errors["mentor"] = "Choose a mentor from the list."
        elif not mentor.is_active_account:
            errors["mentor"] = f"{mentor.name}'s account is deactivated; choose an active mentor."

    _check_room(
        data.default_room_id, group.default_room_id if group else None, errors, "default_room"
    )
    if errors:
        raise ValidationError(errors)
    return name


def create_group(data: GroupData) -> CourseGroup:
    name = _validate_group(data, None)
    group = CourseGroup(
        name=name,
        subject_id=data.subject_id,
        mentor_id=data.mentor_id,
        default_room_id=data.default_room_id,
        active=data.active,
    )
    db.session.add(group)
    flush_unique({"name": f"A group named {name} already exists."})
    return group


def update_group(group: CourseGroup, data: GroupData) -> CourseGroup:
    """Change a group; a deactivated group generates no new sessions (existing ones stay)."""
    name = _validate_group(data, group)
    group.name = name
    group.subject_id = data.subject_id
    group.mentor_id = data.mentor_id
    group.default_room_id = data.default_room_id
    group.active = data.active
    flush_unique({"name": f"A group named {name} already exists."})
    # The joined relationships still point at the old rows until they are reloaded.
    db.session.refresh(group)
    return group


def group_counts(groups: list[CourseGroup]) -> dict[int, dict[str, int]]:
    """Enrolled students and series of each group, in two queries (not one per group)."""
    ids = [g.id for g in groups]
    counts = {i: {"students": 0, "series": 0} for i in ids}
    if not ids:
        return counts
    for key, model in (("students", Enrolment), ("series", Series)):
        rows = db.session.execute(
            select(model.group_id, func.count(model.id))
            .where(model.group_id.in_(ids))
            .group_by(model.group_id)
        )
        for group_id, number in rows:
            counts[group_id][key] = number
    return counts


# --- Series -------------------------------------------------------------------------------------


@dataclass
class SeriesData:
    """A weekly recurrence as typed: weekday numbers (Monday = 0), local times, dates."""

    weekdays: list[int] = field(default_factory=list)
    every_weeks: int | None = 1
    start_time: time | None = None
    end_time: time | None = None
    room_id: int | None = None
    mode: str = OccurrenceMode.IN_PERSON.value
    first_date: date | None = None
    last_date: date | None = None
    # A series for a term runs over the term's days (first_date and last_date are then its).
    term_id: int | None = None


def _check_date(value: date | None, key: str, errors: dict) -> None:
    if value is not None and (message := date_outside(value)):
        errors[key] = message


def _validate_series(data: SeriesData, series: Series | None) -> OccurrenceMode:
    errors: dict[str, str] = {}
    days = set(data.weekdays or [])
    if not days:
        errors["weekdays"] = "Choose at least one weekday."
    elif not days <= set(range(7)):
        errors["weekdays"] = "Choose weekdays from Monday to Sunday."

    if data.every_weeks is None:
        errors["every_weeks"] = "Enter how many weeks apart the sessions are (1 = every week)."
    elif not 1 <= data.every_weeks <= MAX_EVERY_WEEKS:
        errors["every_weeks"] = f"Every N weeks must be between 1 and {MAX_EVERY_WEEKS}."

    if data.start_time is None:
        errors["start_time"] = "Enter the start time."
    if data.end_time is None:
        errors["end_time"] = "Enter the end time."
    elif data.start_time is not None and times_refused(data.start_time, data.end_time):
        # An end earlier on the clock is the next day (23:30-00:30), up to 12 hours later.
        errors["end_time"] = "The end time must be after the start time" + (
            f", or at most {LONGEST_OVERNIGHT_HOURS} hours later on the next day."
            if data.end_time < data.start_time
            else "."
        )

    try:
        mode = OccurrenceMode(data.mode)
    except ValueError:
        mode = None
        errors["mode"] = "Choose in person or online."

    if data.room_id is None:
        if mode == OccurrenceMode.IN_PERSON:
            errors["room"] = "Choose a room for in-person sessions."
    else:
        _check_room(data.room_id, series.room_id if series else None, errors, "room")

    if data.term_id is not None:
        term = _get(Term, data.term_id)
        if term is None:
            errors["term"] = "This term no longer exists: choose another, or dates."
        else:
            data.first_date, data.last_date = term.first_day, term.last_day
    if data.first_date is None and "term" not in errors:
        errors["first_date"] = "Choose the first date."
    _check_date(data.first_date, "first_date", errors)
    _check_date(data.last_date, "last_date", errors)
    if (
        data.first_date is not None
        and data.last_date is not None
        and "last_date" not in errors
        and data.last_date < data.first_date
    ):
        errors["last_date"] = "The last date cannot be before the first date."
    if errors:
        raise ValidationError(errors)
    return mode


def _apply(series: Series, data: SeriesData, mode: OccurrenceMode) -> None:
    series.weekday_mask = weekdays_to_mask(sorted(set(data.weekdays)))
    series.every_weeks = data.every_weeks
    series.start_time = data.start_time
    series.end_time = data.end_time
    series.room_id = data.room_id
    series.mode = mode
    series.first_date = data.first_date
    series.last_date = data.last_date
    series.term_id = data.term_id


def add_series(group: CourseGroup, data: SeriesData) -> Series:
    """A new weekly recurrence; its sessions appear at the next generation."""
    mode = _validate_series(data, None)
    series = Series(group_id=group.id)
    _apply(series, data, mode)
    twin = db.session.scalar(
        select(Series).where(
            Series.group_id == group.id,
            Series.weekday_mask == series.weekday_mask,
            Series.every_weeks == series.every_weeks,
            Series.start_time == series.start_time,
            Series.end_time == series.end_time,
            Series.first_date == series.first_date,
        )
    )
    if twin is not None:
        # A double-clicked Add: a second copy would make every session twice.
        raise ValidationError(
            f"{group.name} already has this series ({twin.weekday_label} "
            f"{twin.start_time:%H:%M}-{twin.end_time:%H:%M} from {twin.first_date:%d %b %Y}).",
            field="weekdays",
        )
    db.session.add(series)
    db.session.flush()
    return series


def update_series(series: Series, data: SeriesData) -> Series:
    """Change a series; existing sessions follow only when generation is run with force."""
    mode = _validate_series(data, series)
    _apply(series, data, mode)
    db.session.flush()
    db.session.refresh(series)
    return series


def end_series(series: Series, last_date: date | None) -> Series:
    """Stop a series after `last_date` (kept: its sessions up to then stay as they are)."""
    errors: dict[str, str] = {}
    if last_date is None:
        errors["last_date"] = "Choose the last date of the series."
    else:
        _check_date(last_date, "last_date", errors)
        if not errors and last_date < series.first_date:
            errors["last_date"] = (
                f"The last date cannot be before the first date ({series.first_date:%d %b %Y})."
            )
    if errors:
        raise ValidationError(errors)
    series.last_date = last_date
    # Ended early, it no longer follows its term's days.
    series.term_id = None
    db.session.flush()
    return series


def delete_unused_series(series: Series) -> None:
    """Delete a series nothing stems from yet (no sessions, no exceptions), e.g. one made by
    mistake. One with history is refused: ending it (`end_series`) keeps its sessions. The
    message names the API's `last_date`, the only caller."""
    has_sessions = db.session.scalar(select(exists().where(Occurrence.series_id == series.id)))
    has_exceptions = db.session.scalar(select(exists().where(DateOverride.series_id == series.id)))
    if has_sessions or has_exceptions:
        raise InvalidTransition(
            "This series has sessions or exceptions: end it by setting its last_date instead."
        )
    db.session.delete(series)
    db.session.flush()


def group_series(group: CourseGroup) -> list[Series]:
    return list(
        db.session.scalars(
            select(Series).where(Series.group_id == group.id).order_by(Series.first_date, Series.id)
        )
    )


# --- Enrolments ---------------------------------------------------------------------------------


def group_enrolments(group: CourseGroup) -> list[Enrolment]:
    return list(
        db.session.scalars(
            select(Enrolment)
            .join(User, User.id == Enrolment.student_id)
            .where(Enrolment.group_id == group.id)
            .order_by(User.name, User.email)
        )
    )


def search_students(group: CourseGroup, text: str, *, limit: int = SEARCH_LIMIT) -> list[User]:
    """Active students not yet in the group whose name or e-mail contains `text`."""
    if not text.strip():
        return []
    enrolled = exists().where(Enrolment.group_id == group.id, Enrolment.student_id == User.id)
    query = (
        select(User)
        .where(
            User.role == Role.STUDENT,
            User.is_active_account.is_(True),
            ~enrolled,
            or_(contains(User.name, text), contains(User.email, text)),
        )
        .order_by(User.name, User.email)
        .limit(limit)
    )
    return list(db.session.scalars(query))


def enrol_student(group: CourseGroup, student_id: int | None) -> Enrolment:
    student = _get(User, student_id)
    if student is None or student.role != Role.STUDENT:
        raise ValidationError({"student": "Choose a student from the search results."})
    if not student.is_active_account:
        raise ValidationError(
            {"student": f"{student.name}'s account is deactivated; they cannot be enrolled."}
        )
    already = db.session.scalar(
        select(Enrolment.id).where(
            Enrolment.group_id == group.id, Enrolment.student_id == student.id
        )
    )
    if already is not None:
        raise ValidationError({"student": f"{student.name} is already in {group.name}."})
    enrolment = Enrolment(group_id=group.id, student_id=student.id)
    db.session.add(enrolment)
    flush_unique({"student": f"{student.name} is already in {group.name}."})
    return enrolment


def unenrol_student(group: CourseGroup, enrolment_id: int) -> User:
    """Remove one student from the group; returns the student."""
    enrolment = _get(Enrolment, enrolment_id)
    if enrolment is None or enrolment.group_id != group.id:
        raise NotFoundError("This student is not enrolled in this group.")
    student = enrolment.student
    db.session.delete(enrolment)
    db.session.flush()
    return student
