"""Cover for absent mentors: their absences (recorded by staff, or reported by the mentor and
confirmed by staff), the sessions an absence touches, the substitutes Termtable suggests for
each (active mentors free then, those who teach the subject first, then the least loaded
that week), and assigning one: the session's mentor changes for that date only, as the
date's exception (so regeneration keeps it), a double booking refused naming the other
session. The cover board gathers a day's affected sessions and what is still open.

Absences are stored as instants (`start_utc`, `end_utc`): whole local days from the first
day's midnight to the midnight after the last, or part of one day.
"""

from __future__ import annotations

import csv
import io
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, or_, select
from sqlalchemy.orm import selectinload

from models import (
    AbsenceStatus,
    CourseGroup,
    DateOverride,
    MentorAbsence,
    MentorSubject,
    Occurrence,
    OccurrenceStatus,
    Role,
    User,
    db,
)
from models.occurrence import mentor_of
from services.common.errors import InvalidTransition, NotAllowed, ValidationError
from services.common.timeutil import date_outside, local_day_bounds, week_start
from services.notifications.inbox import notify, participants_of
from services.output.spreadsheets import csv_cell
from services.timetable.conflicts import ensure_slot_free, lock_schedule, overlapping
from services.timetable.exceptions import find_override

# An absence longer than this is a leave, not cover (and a typo like 2072 is refused).
LONGEST_ABSENCE = timedelta(days=120)
REASON_LENGTH = 200
ABSENCE_REPORTED = "absence_reported"
ABSENCE_DECIDED = "absence_decided"
COVER_ASSIGNED = "cover_assigned"


@dataclass
class AbsenceData:
    mentor_id: int | None
    first_day: date | None
    last_day: date | None = None  # None: the first day
    # Part of one day: both times, local; None: whole days.
    start_time: time | None = None
    end_time: time | None = None
    reason: str = ""


# --- Absences ------------------------------------------------------------------------------


def _span(data: AbsenceData, tz: ZoneInfo, errors: dict) -> tuple[datetime, datetime] | None:
    """The absence's instants, or None with each problem in `errors`."""
    first, last = data.first_day, data.last_day or data.first_day
    if first is None:
        errors["first_day"] = "Enter the first day (YYYY-MM-DD)."
        return None
    for key, day in (("first_day", first), ("last_day", last)):
        if problem := date_outside(day):
            errors[key] = problem
    if errors:
        return None
    if last < first:
        errors["last_day"] = "The last day cannot be before the first day."
        return None
    if last - first >= LONGEST_ABSENCE:
        errors["last_day"] = f"An absence lasts at most {LONGEST_ABSENCE.days} days."
        return None
    if (data.start_time is None) != (data.end_time is None):
        errors["end_time" if data.end_time is None else "start_time"] = (
            "Give both times for part of a day, or neither for whole days."
        )
        return None
    if data.start_time is None:
        return local_day_bounds(first, last + timedelta(days=1), tz)
    if last != first:
        errors["last_day"] = "Part of a day is one day: leave the last day empty."
        return None
    if data.end_time <= data.start_time:
        errors["end_time"] = "The end time must be after the start time."
        return None
    start = datetime.combine(first, data.start_time, tz).astimezone(UTC)
    return start, datetime.combine(first, data.end_time, tz).astimezone(UTC)


def _mentor(mentor_id: int | None, errors: dict) -> User | None:
    mentor = db.session.get(User, mentor_id) if mentor_id else None
    if mentor is None or mentor.role != Role.MENTOR:
        errors["mentor"] = "Choose a mentor."
        return None
    return mentor


def record_absence(
    data: AbsenceData, *, actor: User | None, tz: ZoneInfo, absence: MentorAbsence | None = None
) -> MentorAbsence:
    """Record (staff, or None: the command line; confirmed at once) or report (a mentor,
    their own: pending until staff confirm it) an absence, or change one. Overlapping
    another of the same mentor's is refused, naming it."""
    staff = actor is None or actor.is_staff
    if not staff and not (actor.role == Role.MENTOR and data.mentor_id == actor.id):
        raise NotAllowed("Mentors report their own absences; staff record anyone's.")
    errors: dict[str, str] = {}
    mentor = _mentor(data.mentor_id, errors)
    span = _span(data, tz, errors)
    reason = " ".join((data.reason or "").split())
    if len(reason) > REASON_LENGTH:
        errors["reason"] = f"A reason is at most {REASON_LENGTH} characters."
    if not errors and (other := _overlapping_absence(mentor.id, *span, absence)):
        errors["first_day"] = f"{mentor.name} is already away then ({describe_absence(other, tz)})."
    if errors:
        raise ValidationError(errors)
    if absence is None:
        absence = MentorAbsence(reported_by_id=actor.id if actor else None)
        db.session.add(absence)
    absence.mentor_id = mentor.id
    absence.start_utc, absence.end_utc = span
    absence.all_day = data.start_time is None
    absence.reason = reason
    absence.status = AbsenceStatus.CONFIRMED if staff else AbsenceStatus.PENDING
    absence.decided_by_id = actor.id if staff and actor else None
    db.session.flush()
    if not staff:
        staff = db.session.scalars(
            select(User.id).where(
                User.role.in_([Role.COORDINATOR, Role.ADMIN]), User.is_active_account.is_(True)
            )
        ).all()
        title = f"{mentor.name} reports an absence: {describe_absence(absence, tz)}"
        notify(staff, ABSENCE_REPORTED, title, absence.reason, link="/cover/absences")
    return absence


def _overlapping_absence(mentor_id, start, end, absence) -> MentorAbsence | None:
    query = select(MentorAbsence).where(
        MentorAbsence.mentor_id == mentor_id,
        MentorAbsence.status != AbsenceStatus.DECLINED,
        MentorAbsence.start_utc < end,
        MentorAbsence.end_utc > start,
    )
    if absence is not None and absence.id is not None:
        query = query.where(MentorAbsence.id != absence.id)
    return db.session.scalars(query.limit(1)).first()


def decide_absence(absence: MentorAbsence, confirm: bool, *, actor: User, tz: ZoneInfo) -> None:
    """Staff confirm a reported absence (its sessions then need cover) or decline it."""
    if not absence.is_pending:
        raise InvalidTransition("This absence is no longer waiting for a decision.")
    absence.status = AbsenceStatus.CONFIRMED if confirm else AbsenceStatus.DECLINED
    absence.decided_by_id = actor.id
    db.session.flush()
    word = "confirmed" if confirm else "declined"
    notify(
        absence.mentor_id, ABSENCE_DECIDED,
        f"Your absence {describe_absence(absence, tz)} is {word}", link="/cover/mine",
    )  # fmt: skip


def delete_absence(absence: MentorAbsence, *, actor: User) -> None:
    """Staff remove any absence; a mentor withdraws their own while it is pending. Cover
    already assigned stays (each is the date's exception, removed on its own)."""
    if not actor.is_staff and not (absence.mentor_id == actor.id and absence.is_pending):
        raise NotAllowed("Only staff remove a confirmed absence.")
    db.session.delete(absence)
    db.session.flush()


def describe_absence(absence: MentorAbsence, tz: ZoneInfo) -> str:
    """'Mon 11 Jan 2027', 'Mon 11 to Wed 13 Jan 2027', 'Mon 11 Jan 2027 13:00-15:30'."""
    start, end = absence.start_utc.astimezone(tz), absence.end_utc.astimezone(tz)
    if not absence.all_day:
        return f"{start:%a %d %b %Y %H:%M}-{end:%H:%M}"
    last = (end - timedelta(days=1)).date()
    if last == start.date():
        return f"{start:%a %d %b %Y}"
    return f"{start:%a %d %b} to {last:%a %d %b %Y}"


def absences(
    *, mentor_id: int | None = None, start: datetime | None = None, end: datetime | None = None,
    statuses: tuple[AbsenceStatus, ...] | None = None,
) -> list[MentorAbsence]:  # fmt: skip
    """Absences overlapping [start, end) (either open), by start."""
    query = select(MentorAbsence).order_by(MentorAbsence.start_utc, MentorAbsence.id)
    if mentor_id is not None:
        query = query.where(MentorAbsence.mentor_id == mentor_id)
    if start is not None:
        query = query.where(MentorAbsence.end_utc > start)
    if end is not None:
        query = query.where(MentorAbsence.start_utc < end)
    if statuses is not None:
        query = query.where(MentorAbsence.status.in_(statuses))
    return list(db.session.scalars(query))


# --- Sessions needing cover, and their substitutes ----------------------------------------


@dataclass
class Substitute:
    mentor: User
    teaches_subject: bool
    load: int  # sessions they teach that week


@dataclass
class CoverNeed:
    """A session an absence touches: open (no cover yet), covered, or cancelled."""

    session: Occurrence
    absence: MentorAbsence
    substitutes: list[Substitute] = field(default_factory=list)
    # How many mentors are free then (`substitutes` may hold only the best of them).
    free: int = 0

    @property
    def covered(self) -> bool:
        """Someone other than the absent mentor teaches it."""
        cover = self.session.cover_mentor_id
        return cover is not None and (self.absence is None or cover != self.absence.mentor_id)

    @property
    def cancelled(self) -> bool:
        return self.session.status == OccurrenceStatus.CANCELLED

    @property
    def is_open(self) -> bool:
        return not self.covered and not self.cancelled


def _touched(found: list[MentorAbsence], start: datetime, end: datetime) -> list[CoverNeed]:
    """The sessions of [start, end) the absent mentors teach while they are away (their
    groups', and those they were to cover), in one statement, by start: still theirs,
    covered since, or cancelled."""
    if not found:
        return []
    by_mentor: dict[int, list[MentorAbsence]] = defaultdict(list)
    for absence in found:
        by_mentor[absence.mentor_id].append(absence)
    sessions = db.session.scalars(
        select(Occurrence)
        .join(CourseGroup, CourseGroup.id == Occurrence.group_id)
        .options(selectinload(Occurrence.cover_mentor))
        .where(
            overlapping(Occurrence.start_utc, Occurrence.end_utc, start, end),
            or_(CourseGroup.mentor_id.in_(by_mentor), Occurrence.cover_mentor_id.in_(by_mentor)),
            Occurrence.status != OccurrenceStatus.COMPLETED,
        )
        .order_by(Occurrence.start_utc, Occurrence.id)
    )
    needs = []
    for session in sessions:
        # Whoever should teach it and is away: its cover, else its group's mentor.
        for mentor_id in dict.fromkeys((session.cover_mentor_id, session.group.mentor_id)):
            absence = next(
                (
                    a
                    for a in by_mentor.get(mentor_id, ())
                    if session.start_utc < a.end_utc and session.end_utc > a.start_utc
                ),
                None,
            )
            if absence is not None:
                needs.append(CoverNeed(session, absence))
                break
    return needs


def absence_needs(
    absence: MentorAbsence, tz: ZoneInfo, *, now: datetime | None = None
) -> list[CoverNeed]:
    """The sessions an absence touches (from now on), each with its substitutes."""
    start = max(absence.start_utc, now or datetime.now(UTC))
    needs = _touched([absence], start, absence.end_utc) if start < absence.end_utc else []
    _suggest(needs, tz)
    return needs


def cover_board(day: date, tz: ZoneInfo, *, best: int | None = None) -> list[CoverNeed]:
    """Every session of `day` a confirmed absence touches, open ones with their
    substitutes (the `best` only, if given): a fixed number of statements whatever the
    number of mentors."""
    start, end = local_day_bounds(day, day + timedelta(days=1), tz)
    found = absences(start=start, end=end, statuses=(AbsenceStatus.CONFIRMED,))
    needs = _touched(found, start, end)
    _suggest(needs, tz, best=best)
    return needs


def need_of(session: Occurrence, tz: ZoneInfo, *, best: int | None = None) -> CoverNeed:
    """One session as the board shows it: the confirmed absence touching it (if any), and,
    open, its substitutes (the `best` only, if given)."""
    away = absences(
        start=session.start_utc, end=session.end_utc, statuses=(AbsenceStatus.CONFIRMED,)
    )
    teachers = {session.group.mentor_id, session.cover_mentor_id}
    need = CoverNeed(session, next((a for a in away if a.mentor_id in teachers), None))
    if need.is_open:
        _suggest([need], tz, best=best)
    return need


def suggest_substitutes(session: Occurrence, tz: ZoneInfo) -> list[Substitute]:
    """The substitutes for one session (whether or not an absence touches it)."""
    need = CoverNeed(session, None)
    _suggest([need], tz, only_open=False)
    return need.substitutes


def _suggest(
    needs: list[CoverNeed], tz: ZoneInfo, *, only_open: bool = True, best: int | None = None
) -> None:
    """Fill each open need's substitutes: active mentors free at its time (no session of
    theirs overlaps it, no confirmed absence), those who teach its subject first, then the
    least loaded that week, then by name."""
    wanted = [n for n in needs if n.is_open or not only_open]
    if not wanted:
        return
    first = min(n.session.start_utc for n in wanted)
    last = max(n.session.end_utc for n in wanted)
    mentors = list(
        db.session.scalars(
            select(User)
            .where(User.role == Role.MENTOR, User.is_active_account.is_(True))
            .order_by(User.name, User.id)
        )
    )
    busy = _busy(first, last)
    away = [
        (a.mentor_id, a.start_utc, a.end_utc)
        for a in absences(
            start=first, end=last, statuses=(AbsenceStatus.CONFIRMED, AbsenceStatus.PENDING)
        )
    ]
    teaching = _subject_teachers({n.session.group.subject_id for n in wanted})
    loads = _weekly_loads(wanted, tz)
    # Plain values read once: the loops below run for every session and every mentor.
    people = [(m.id, m, m.name.casefold()) for m in mentors]
    for need in wanted:
        session = need.session
        start, end, own_id = session.start_utc, session.end_utc, session.id
        taken = {
            m for m, s, e, occurrence in busy if s < end and e > start and occurrence != own_id
        }
        taken.update(m for m, s, e in away if s < end and e > start)
        taken.update((session.group.mentor_id, session.cover_mentor_id))
        week = loads[week_start(start.astimezone(tz).date())]
        subject_teachers = teaching.get(session.group.subject_id, set())
        ranked = sorted(
            (i not in subject_teachers, week[i], name, i, m)
            for i, m, name in people
            if i not in taken
        )
        need.free = len(ranked)
        need.substitutes = [
            Substitute(m, not other, load) for other, load, _, _, m in ranked[:best]
        ]


def _busy(start: datetime, end: datetime) -> list[tuple[int, datetime, datetime, int]]:
    """(who teaches, start, end, session) of every session overlapping [start, end)."""
    rows = db.session.execute(
        select(
            mentor_of(Occurrence, CourseGroup),
            Occurrence.start_utc,
            Occurrence.end_utc,
            Occurrence.id,
        )
        .join(CourseGroup, CourseGroup.id == Occurrence.group_id)
        .where(
            Occurrence.status != OccurrenceStatus.CANCELLED,
            overlapping(Occurrence.start_utc, Occurrence.end_utc, start, end),
        )
    )
    return [tuple(row) for row in rows]


def _subject_teachers(subject_ids: set[int]) -> dict[int, set[int]]:
    """Per subject, the mentors who teach it: they offer it, or one of their groups is of it."""
    teaching: dict[int, set[int]] = defaultdict(set)
    for subject_id, mentor_id in db.session.execute(
        select(MentorSubject.subject_id, MentorSubject.mentor_id)
        .where(MentorSubject.subject_id.in_(subject_ids))
        .union(
            select(CourseGroup.subject_id, CourseGroup.mentor_id).where(
                CourseGroup.subject_id.in_(subject_ids), CourseGroup.active.is_(True)
            )
        )
    ):
        teaching[subject_id].add(mentor_id)
    return teaching


def _weekly_loads(needs: list[CoverNeed], tz: ZoneInfo) -> dict[date, Counter]:
    """For each week of the needs, the number of sessions each mentor teaches (one
    statement per week: a board is one day, so one)."""
    loads: dict[date, Counter] = {}
    for week in {week_start(n.session.start_utc.astimezone(tz).date()) for n in needs}:
        start, end = local_day_bounds(week, week + timedelta(days=7), tz)
        teacher = mentor_of(Occurrence, CourseGroup)
        loads[week] = Counter(
            dict(
                db.session.execute(
                    select(teacher, func.count(Occurrence.id))
                    .join(CourseGroup, CourseGroup.id == Occurrence.group_id)
                    .where(
                        Occurrence.status != OccurrenceStatus.CANCELLED,
                        Occurrence.start_utc >= start,
                        Occurrence.start_utc < end,
                    )
                    .group_by(teacher)
                ).all()
            )
        )
    return loads


# --- Assigning cover ----------------------------------------------------------------------


def assign_cover(
    session: Occurrence, mentor_id: int | None, *, actor: User | None, tz: ZoneInfo
) -> Occurrence:
    """`mentor_id` teaches `session` instead of its group's mentor, for that date only (the
    date's exception carries it, so regeneration keeps it); None gives it back to the
    group's mentor. A substitute who is away or teaching then is refused, naming why."""
    lock_schedule()
    db.session.refresh(session)
    if session.status != OccurrenceStatus.SCHEDULED:
        raise InvalidTransition(
            "Only a scheduled session can be covered: this one is " + str(session.status) + "."
        )
    group_mentor = session.group.mentor_id
    if mentor_id == group_mentor:
        mentor_id = None  # their own group's mentor: no cover
    substitute = None
    if mentor_id is not None:
        substitute = db.session.get(User, mentor_id)
        if substitute is None or substitute.role != Role.MENTOR or not substitute.is_active_account:
            raise ValidationError({"mentor": "Choose an active mentor."})
        away = absences(
            mentor_id=mentor_id, start=session.start_utc, end=session.end_utc,
            statuses=(AbsenceStatus.CONFIRMED,),
        )  # fmt: skip
        if away:
            raise ValidationError(
                {"mentor": f"{substitute.name} is away then ({describe_absence(away[0], tz)})."}
            )
        ensure_slot_free(
            session.start_utc, session.end_utc, room_id=None, mentor_id=mentor_id, tz=tz,
            ignore_ids=[session.id],
        )  # fmt: skip
    if session.cover_mentor_id == mentor_id:
        return session
    before = session.mentor
    if session.series_id is not None:
        _set_date_cover(session, mentor_id, actor)
    session.cover_mentor_id = mentor_id
    session.sequence += 1
    db.session.flush()
    _tell_cover(session, before, substitute, actor, tz)
    return session


def _set_date_cover(session: Occurrence, mentor_id: int | None, actor: User | None) -> None:
    """The date's exception names the substitute (made for it if the date had none; removed
    again when it only named one)."""
    override = find_override(session.series_id, session.original_date)
    if override is None:
        if mentor_id is None:
            return
        override = DateOverride(
            series_id=session.series_id, original_date=session.original_date,
            created_by_id=actor.id if actor else None,
        )  # fmt: skip
        db.session.add(override)
    override.mentor_id = mentor_id
    only_cover = not (
        override.cancelled or override.new_date or override.start_time or override.end_time
        or override.room_id or override.notes
    )  # fmt: skip
    if mentor_id is None and only_cover:
        db.session.delete(override)


def _tell_cover(session: Occurrence, before: User, substitute: User | None, actor, tz) -> None:
    when = f"{session.group.name}, {session.start_utc.astimezone(tz):%a %d %b %H:%M}"
    teacher = substitute or session.group.mentor
    title = (
        f"{when}: taught by {teacher.name} (cover for {session.group.mentor.name})"
        if substitute
        else f"{when}: taught by {teacher.name} again"
    )
    recipients = participants_of(session) | {before.id, teacher.id}
    recipients -= {actor.id} if actor is not None else set()
    notify(recipients, COVER_ASSIGNED, title, link=f"/sessions/{session.id}")


def mentors_away(start: datetime, end: datetime) -> set[int]:
    """Mentors with a confirmed absence overlapping [start, end)."""
    return {
        a.mentor_id for a in absences(start=start, end=end, statuses=(AbsenceStatus.CONFIRMED,))
    }


def open_count(needs: list[CoverNeed]) -> int:
    return sum(1 for n in needs if n.is_open)


def pending_reports() -> int:
    return db.session.scalar(
        select(func.count(MentorAbsence.id)).where(MentorAbsence.status == AbsenceStatus.PENDING)
    )


ABSENCE_COLUMNS = ("mentor", "email", "first_day", "last_day", "start", "end", "status", "reason")


def absences_csv(first: date, last: date, tz: ZoneInfo) -> str:
    """The absences overlapping [first, last] (days, both included), one per line, in the
    organisation's zone: whole days have no times."""
    start, end = local_day_bounds(first, last + timedelta(days=1), tz)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(ABSENCE_COLUMNS)
    for absence in absences(start=start, end=end):
        begin, finish = absence.start_utc.astimezone(tz), absence.end_utc.astimezone(tz)
        last_day = (finish - timedelta(days=1)).date() if absence.all_day else begin.date()
        writer.writerow(
            [
                csv_cell(absence.mentor.name), absence.mentor.email, begin.date().isoformat(),
                last_day.isoformat(), "" if absence.all_day else f"{begin:%H:%M}",
                "" if absence.all_day else f"{finish:%H:%M}", str(absence.status),
                csv_cell(absence.reason),
            ]
        )  # fmt: skip
    return out.getvalue()
