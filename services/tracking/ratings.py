"""Ratings: a participating student rates a completed session 1 to 5, once; a mentor's rating
is the average of the ratings of the sessions of the groups they teach.

"Participating" means enrolled in the session's group when rating (the same rule that lets a
student see the session). A rating belongs to the session, so a mentor's average counts the
sessions of the groups they teach now.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from models import CourseGroup, Occurrence, Rating, User, db
from services.common.errors import InvalidTransition, NotFoundError, ValidationError
from services.permissions import is_participating_student

MIN_SCORE, MAX_SCORE = 1, 5
SCORE_MESSAGE = f"Choose a score from {MIN_SCORE} to {MAX_SCORE}."


def student_rating(student: User, occurrence: Occurrence) -> Rating | None:
    return db.session.scalar(
        select(Rating).where(Rating.occurrence_id == occurrence.id, Rating.student_id == student.id)
    )


def rate_session(student: User, occurrence: Occurrence, score) -> Rating:
    """Record `student`'s rating of `occurrence`.

    Refusals, in this order: NotFoundError when the user is not a student enrolled in the
    session's group (the page answers 404, as for any session one may not see);
    InvalidTransition when the session is not completed or was already rated by this student;
    ValidationError (field "score") for anything but a whole number from 1 to 5. The unique
    constraint (occurrence, student) is the backstop against two concurrent submissions: the
    loser gets the same "already rated" refusal. Flushes; the caller commits.
    """
    if not is_participating_student(student, occurrence):
        raise NotFoundError("No such session.")
    if not occurrence.is_completed:
        raise InvalidTransition("Only a completed session can be rated.", field="score")
    existing = student_rating(student, occurrence)
    if existing is not None:
        raise InvalidTransition(
            f"You have already rated this session ({existing.score}/{MAX_SCORE}).", field="score"
        )
    if isinstance(score, bool) or not isinstance(score, int) or not MIN_SCORE <= score <= MAX_SCORE:
        raise ValidationError(SCORE_MESSAGE, field="score")
    rating = Rating(occurrence_id=occurrence.id, student_id=student.id, score=score)
    try:
        # A savepoint, so the transaction stays usable (to show the card) after a lost race.
        with db.session.begin_nested():
            db.session.add(rating)
    except IntegrityError as err:
        raise InvalidTransition("You have already rated this session.", field="score") from err
    return rating


def mentor_ratings(mentor_ids) -> dict[int, tuple[float, int]]:
    """{mentor id: (average score, number of ratings)} in one query, for the mentors among
    `mentor_ids` that have at least one rating (absent: "no ratings yet")."""
    ids = sorted({int(i) for i in mentor_ids})
    if not ids:
        return {}
    rows = db.session.execute(
        select(CourseGroup.mentor_id, func.avg(Rating.score), func.count(Rating.id))
        .select_from(Rating)
        .join(Occurrence, Occurrence.id == Rating.occurrence_id)
        .join(CourseGroup, CourseGroup.id == Occurrence.group_id)
        .where(CourseGroup.mentor_id.in_(ids))
        .group_by(CourseGroup.mentor_id)
    )
    return {mentor_id: (float(average), count) for mentor_id, average, count in rows}
