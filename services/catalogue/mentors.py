"""Mentors as students find them (subjects, rating, sessions taught) and the subjects a
mentor offers (set by staff).

A mentor's subjects follow `services.requests.lifecycle.mentor_subject_ids`: the subjects listed for
them (MentorSubject) and those of the active classes they teach. Only active subjects are
shown, since only those can be requested.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import and_, case, exists, func, or_, select, union

from models import (
    CourseGroup,
    GroupKind,
    MentorSubject,
    Occurrence,
    OccurrenceStatus,
    Rating,
    Role,
    Subject,
    User,
    db,
)
from services.common.errors import ValidationError
from services.common.numbers import is_row_id
from services.common.pagination import DEFAULT_PER_PAGE, Page, contains
from services.requests.lifecycle import mentor_subject_ids


@dataclass(frozen=True)
class MentorCard:
    """One mentor of the directory."""

    mentor: User
    subjects: list[Subject]
    rating: float | None  # average score, None when nobody rated yet
    ratings: int
    sessions_taught: int


def _offers(subject_id: int):
    """SQL: the mentor (User) offers this subject (listed, or taught in an active class)."""
    return or_(
        exists().where(MentorSubject.mentor_id == User.id, MentorSubject.subject_id == subject_id),
        exists().where(
            CourseGroup.mentor_id == User.id,
            CourseGroup.subject_id == subject_id,
            CourseGroup.active.is_(True),
            CourseGroup.kind == GroupKind.CLASS,
        ),
    )


def _subject_pairs():
    """SQL: (mentor_id, subject_id) of every subject a mentor offers."""
    listed = select(MentorSubject.mentor_id, MentorSubject.subject_id)
    taught = select(CourseGroup.mentor_id, CourseGroup.subject_id).where(
        CourseGroup.active.is_(True), CourseGroup.kind == GroupKind.CLASS
    )
    return union(listed, taught).subquery()


def mentor_directory(
    *, q: str = "", subject_id: int | None = None, page: int = 1, per_page: int = DEFAULT_PER_PAGE
) -> Page:
    """Active mentors, best rated first (unrated last, then by name), whose name contains `q`
    and who offer `subject_id`; a Page of MentorCard.

    Two statements: the page of mentors with their rating and completed sessions (and the
    total, as a window count), then the subjects of those mentors.
    """
    ratings = (
        select(
            CourseGroup.mentor_id.label("mentor_id"),
            func.avg(Rating.score).label("average"),
            func.count(Rating.id).label("count"),
        )
        .join(Occurrence, Occurrence.id == Rating.occurrence_id)
        .join(CourseGroup, CourseGroup.id == Occurrence.group_id)
        .group_by(CourseGroup.mentor_id)
        .subquery()
    )
    taught = (
        select(
            CourseGroup.mentor_id.label("mentor_id"),
            func.count(Occurrence.id).label("count"),
        )
        .join(CourseGroup, CourseGroup.id == Occurrence.group_id)
        .where(Occurrence.status == OccurrenceStatus.COMPLETED)
        .group_by(CourseGroup.mentor_id)
        .subquery()
    )
    query = (
        select(
            User,
            ratings.c.average,
            func.coalesce(ratings.c.count, 0),
            func.coalesce(taught.c.count, 0),
            func.count().over().label("total"),
        )
        .outerjoin(ratings, ratings.c.mentor_id == User.id)
        .outerjoin(taught, taught.c.mentor_id == User.id)
        .where(User.role == Role.MENTOR, User.is_active_account.is_(True))
        .order_by(
            case((ratings.c.average.is_(None), 1), else_=0),
            ratings.c.average.desc(),
            func.lower(User.name),
            User.id,
        )
    )
    if q.strip():
        query = query.where(contains(User.name, q))
    if subject_id is not None:
        query = query.where(_offers(subject_id))
    page = max(page, 1)
    rows = db.session.execute(query.limit(per_page).offset((page - 1) * per_page)).all()
    if not rows and page > 1:
        # Past the end (a stale link): show the last page, as the other lists do.
        total = db.session.scalar(select(func.count()).select_from(query.subquery()))
        page = max(1, -(-total // per_page))
        rows = db.session.execute(query.limit(per_page).offset((page - 1) * per_page)).all()
    total = rows[0].total if rows else 0
    subjects = _subjects_of([row[0].id for row in rows])
    cards = [
        MentorCard(
            mentor=mentor,
            subjects=subjects.get(mentor.id, []),
            rating=float(average) if average is not None else None,
            ratings=int(count),
            sessions_taught=int(done),
        )
        for mentor, average, count, done, _total in rows
    ]
    return Page(items=cards, number=page, per_page=per_page, total=total)


def _subjects_of(mentor_ids: list[int]) -> dict[int, list[Subject]]:
    if not mentor_ids:
        return {}
    pairs = _subject_pairs()
    rows = db.session.execute(
        select(pairs.c.mentor_id, Subject)
        .join(Subject, Subject.id == pairs.c.subject_id)
        .where(pairs.c.mentor_id.in_(mentor_ids), Subject.active.is_(True))
        .order_by(Subject.name)
    ).all()
    by_mentor: dict[int, list[Subject]] = defaultdict(list)
    for mentor_id, subject in rows:
        by_mentor[mentor_id].append(subject)
    return by_mentor


def offered_subjects() -> list[Subject]:
    """Active subjects that at least one active mentor offers (the directory's filter)."""
    pairs = _subject_pairs()
    return list(
        db.session.scalars(
            select(Subject)
            .join(pairs, pairs.c.subject_id == Subject.id)
            .join(User, User.id == pairs.c.mentor_id)
            .where(
                Subject.active.is_(True),
                User.role == Role.MENTOR,
                User.is_active_account.is_(True),
            )
            .distinct()
            .order_by(Subject.name)
        )
    )


def subjects_of_mentor(mentor_id: int | None) -> list[Subject]:
    """The active subjects a mentor offers (none for an unknown id)."""
    if not is_row_id(mentor_id):
        return []
    ids = mentor_subject_ids(mentor_id)
    if not ids:
        return []
    return list(
        db.session.scalars(
            select(Subject)
            .where(Subject.id.in_(ids), Subject.active.is_(True))
            .order_by(Subject.name)
        )
    )


# --- Staff: the subjects a mentor offers -----------------------------------------------------


def listed_subject_ids(mentor: User) -> set[int]:
    return set(
        db.session.scalars(
            select(MentorSubject.subject_id).where(MentorSubject.mentor_id == mentor.id)
        )
    )


def taught_subjects(mentor: User) -> list[Subject]:
    """Subjects of the active classes a mentor teaches (offered whatever the list says)."""
    return list(
        db.session.scalars(
            select(Subject)
            .where(
                exists().where(
                    and_(
                        CourseGroup.subject_id == Subject.id,
                        CourseGroup.mentor_id == mentor.id,
                        CourseGroup.active.is_(True),
                        CourseGroup.kind == GroupKind.CLASS,
                    )
                )
            )
            .order_by(Subject.name)
        )
    )


def subject_choices(mentor: User) -> list[Subject]:
    """What the staff form offers: every active subject, and inactive ones already listed."""
    listed = listed_subject_ids(mentor)
    return list(
        db.session.scalars(
            select(Subject)
            .where(or_(Subject.active.is_(True), Subject.id.in_(listed or {0})))
            .order_by(Subject.name)
        )
    )


def set_mentor_subjects(actor: User, mentor: User, subject_ids: list[int]) -> set[int]:
    """Make `mentor`'s listed subjects exactly `subject_ids`; returns the ids listed now.

    Staff only, for a mentor's account. Every id must be an active subject, or an inactive
    one that is already listed (kept where it is used, never newly offered).
    """
    if not actor.is_staff:
        raise ValidationError("Only staff set a mentor's subjects.", field="subjects")
    if mentor.role != Role.MENTOR:
        raise ValidationError("Only mentors offer subjects.", field="subjects")
    wanted = set(subject_ids)
    current = listed_subject_ids(mentor)
    valid_ids = [i for i in wanted if is_row_id(i)]
    found = {
        subject.id: subject
        for subject in db.session.scalars(select(Subject).where(Subject.id.in_(valid_ids or [0])))
    }
    if len(found) != len(wanted):
        raise ValidationError("Choose subjects from the list.", field="subjects")
    newly_inactive = sorted(s.name for i, s in found.items() if not s.active and i not in current)
    if newly_inactive:
        raise ValidationError(
            f"{', '.join(newly_inactive)} is deactivated and cannot be offered.",
            field="subjects",
        )
    for row in db.session.scalars(
        select(MentorSubject).where(
            MentorSubject.mentor_id == mentor.id, MentorSubject.subject_id.in_(current - wanted)
        )
    ):
        db.session.delete(row)
    db.session.add_all(
        MentorSubject(mentor_id=mentor.id, subject_id=i) for i in sorted(wanted - current)
    )
    db.session.flush()
    return wanted
