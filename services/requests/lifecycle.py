"""Session requests: a student asks a mentor for one session, specific dates or a weekly
schedule; the mentor approves (creating everything in one transaction), in whole or in part
(the dates left out are declined, each with why), or rejects with a reason; the student may
withdraw; a request whose first session has passed expires. An approval declines the mentor's
other pending requests automatically only when none of their dates can still be held.

State changes are conditional updates (`... WHERE status = 'pending'`), so two clicks, two
tabs or two workers can never approve twice or create sessions twice. Services flush only;
the caller commits (or rolls back everything, notifications included).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import exists, select, update

from models import (
    CourseGroup,
    DateOverride,
    Enrolment,
    GroupKind,
    MentorSubject,
    Occurrence,
    OccurrenceMode,
    OccurrenceStatus,
    RequestedSlot,
    RequestStatus,
    Role,
    ScheduleKind,
    Series,
    SessionRequest,
    Subject,
    User,
    db,
)
from models.series import WEEKDAY_NAMES, weekdays_to_mask
from services.availability import unavailable_times
from services.common.errors import ConflictError, InvalidTransition, NotFoundError, ValidationError
from services.common.numbers import is_row_id
from services.common.timeutil import (
    clock_label,
    end_before_start_message,
    placement_range,
    resolve_span,
    times_refused,
    today_in,
)
from services.common.wording import plural
from services.notifications.inbox import (
    REQUEST_APPROVED,
    REQUEST_DATES_TAKEN,
    REQUEST_DECLINED,
    REQUEST_NEW,
    REQUEST_REJECTED,
    REQUEST_WITHDRAWN,
    notify,
)
from services.permissions import can_decide, enrolled_in_group, requests_visible_to
from services.timetable.conflicts import lock_schedule, overlapping
from services.timetable.recurrence import plan_occurrences
from services.timetable.video_rooms import new_room_ids

DURATIONS = (30, 60, 90, 120)
MAX_SESSIONS = 200
MAX_WEEKS = 26
TITLE_MAX = 200
DESCRIPTION_MAX = 5000
REASON_MAX = 2000
# The fields that say when the sessions are (a mistake in one stops the schedule's checks).
SCHEDULE_FIELDS = frozenset(
    {"schedule_kind", "day", "start", "duration", "end", "dates", "weekdays", "first_date", "weeks"}
)


@dataclass
class RequestInput:
    """What the request form gives (any field may be missing or wrong: it is checked)."""

    mentor_id: int | None = None
    subject_id: int | None = None
    title: str = ""
    description: str = ""
    mode: str = "online"
    schedule_kind: str = "single"
    # One session: a date, a start and a duration in minutes.
    day: date | None = None
    start: time | None = None
    duration: int | None = None
    # Specific dates: the dates, one start and one end.
    dates: list[date] = field(default_factory=list)
    end: time | None = None
    # Weekly: weekdays (0 = Monday), start and end, first date and number of weeks.
    weekdays: list[int] = field(default_factory=list)
    first_date: date | None = None
    weeks: int | None = None


@dataclass(frozen=True)
class PlannedSlot:
    local_date: date
    start_utc: datetime
    end_utc: datetime


# --- Reading -------------------------------------------------------------------------------


def effective_status(request: SessionRequest, now: datetime | None = None) -> RequestStatus:
    """The status as the user should read it: a pending request whose first session has
    started is expired, even before `expire_requests` has stored it."""
    now = now or datetime.now(UTC)
    if request.status == RequestStatus.PENDING and request.first_start_utc <= now:
        return RequestStatus.EXPIRED
    return request.status


def get_visible_request(user: User, request_id: int) -> SessionRequest:
    """The request if `user` may see it; NotFoundError otherwise (ids are not probed)."""
    request = None
    if is_row_id(request_id):
        request = db.session.scalar(
            requests_visible_to(user).where(SessionRequest.id == request_id)
        )
    if request is None:
        raise NotFoundError("No such request.")
    return request


def mentor_subject_ids(mentor_id: int) -> set[int]:
    """The subjects a mentor offers: those listed for them, and those of the classes they
    teach."""
    listed = db.session.scalars(
        select(MentorSubject.subject_id).where(MentorSubject.mentor_id == mentor_id)
    )
    taught = db.session.scalars(
        select(CourseGroup.subject_id).where(
            CourseGroup.mentor_id == mentor_id,
            CourseGroup.active.is_(True),
            CourseGroup.kind == GroupKind.CLASS,
        )
    )
    return set(listed) | set(taught)


@dataclass
class SlotClash:
    slot: RequestedSlot
    sessions: list[Occurrence]


def slot_clashes(requests: list[SessionRequest]) -> dict[int, list[SlotClash]]:
    """For each request, its slots with the mentor's sessions that overlap them (one query
    per mentor; cancelled sessions do not clash)."""
    by_mentor: dict[int, list[SessionRequest]] = defaultdict(list)
    for request in requests:
        if request.slots:
            by_mentor[request.mentor_id].append(request)
    clashes: dict[int, list[SlotClash]] = {r.id: [] for r in requests}
    for mentor_id, mentor_requests in by_mentor.items():
        slots = [slot for r in mentor_requests for slot in r.slots]
        sessions = _mentor_sessions(
            mentor_id, min(s.start_utc for s in slots), max(s.end_utc for s in slots)
        )
        for request in mentor_requests:
            for slot in request.slots:
                overlapping = [
                    o for o in sessions if o.start_utc < slot.end_utc and o.end_utc > slot.start_utc
                ]
                clashes[request.id].append(SlotClash(slot, overlapping))
    return clashes


def _mentor_sessions(mentor_id: int, start: datetime, end: datetime) -> list[Occurrence]:
    return list(
        db.session.scalars(
            select(Occurrence)
            .join(CourseGroup, CourseGroup.id == Occurrence.group_id)
            .where(
                CourseGroup.mentor_id == mentor_id,
                Occurrence.status != OccurrenceStatus.CANCELLED,
                overlapping(Occurrence.start_utc, Occurrence.end_utc, start, end),
            )
            .order_by(Occurrence.start_utc)
        ).unique()
    )


# --- Creating ------------------------------------------------------------------------------


def create_request(
    student: User, data: RequestInput, *, tz: ZoneInfo, now: datetime | None = None
) -> SessionRequest:
    """Check everything, then store the request and its expanded slots and tell the mentor.

    Raises ValidationError with a message per field; nothing is written then.
    """
    now = now or datetime.now(UTC)
    errors: dict[str, str] = {}
    mentor = _check_mentor_and_subject(data, errors)
    title = (data.title or "").strip()
    if not title:
        errors["title"] = "Give the request a title."
    elif len(title) > TITLE_MAX:
        errors["title"] = f"Keep the title under {TITLE_MAX} characters."
    description = (data.description or "").strip()
    if len(description) > DESCRIPTION_MAX:
        errors["description"] = f"Keep the description under {DESCRIPTION_MAX:,} characters."
    if data.mode not in (OccurrenceMode.ONLINE, OccurrenceMode.IN_PERSON):
        errors["mode"] = "Choose online or in person."
    kind = data.schedule_kind
    if kind not in tuple(ScheduleKind):
        errors["schedule_kind"] = "Choose one session, specific dates or a weekly schedule."
        raise ValidationError(errors)
    start, end, days = _schedule_days(data, errors, today_in(tz, now))
    # Every mistake at once: a schedule that could be read is checked further (dates in the
    # past, too many sessions) even when another field (an empty title) is wrong.
    slots = []
    if days and start is not None and end is not None and not errors.keys() & SCHEDULE_FIELDS:
        slots = _plan_slots(days, start, end, tz)
    past = [s for s in slots if s.start_utc <= now]
    if past:
        field_name = {"single": "day", "dates": "dates", "weekly": "first_date"}[kind]
        errors[field_name] = "Choose a date and time in the future" + (
            f": {_format_slot(past[0], tz)} has passed." if kind != "single" else "."
        )
    if len(slots) > MAX_SESSIONS:
        errors["schedule_kind"] = (
            f"That is {len(slots)} sessions; one request can ask for at most {MAX_SESSIONS}."
        )
    elif slots and not past and mentor is not None:
        refused = unavailable_times(
            mentor.id, [(s.start_utc, s.end_utc) for s in slots], now=now, org_tz=tz
        )
        if refused:
            field_name = {"single": "day", "dates": "dates", "weekly": "first_date"}[kind]
            errors[field_name] = _unavailable_message(mentor, slots, refused, tz)
    if errors or not slots:
        raise ValidationError(errors or {"schedule_kind": "Choose when the sessions are."})
    if student.role != Role.STUDENT:
        raise ValidationError("Only students can request sessions.", field="mentor")
    if (twin := _same_pending_request(student, mentor, data.subject_id, slots, now)) is not None:
        # A double-clicked Send, or a second tab: one request is what the student meant.
        raise ValidationError(
            f"You already asked {mentor.name} for these sessions: “{twin.title}” is waiting "
            "for an answer.",
            field="schedule_kind",
        )

    request = SessionRequest(
        student_id=student.id,
        mentor_id=mentor.id,
        subject_id=data.subject_id,
        title=title,
        description=description,
        mode=OccurrenceMode(data.mode),
        schedule_kind=ScheduleKind(kind),
        start_time=start,
        end_time=end,
        weekday_mask=weekdays_to_mask(data.weekdays) if kind == ScheduleKind.WEEKLY else None,
        first_date=data.first_date if kind == ScheduleKind.WEEKLY else None,
        weeks=data.weeks if kind == ScheduleKind.WEEKLY else None,
        status=RequestStatus.PENDING,
        first_start_utc=slots[0].start_utc,
        slots=[
            RequestedSlot(local_date=s.local_date, start_utc=s.start_utc, end_utc=s.end_utc)
            for s in slots
        ],
    )
    db.session.add(request)
    db.session.flush()
    notify(
        mentor.id,
        REQUEST_NEW,
        f"New request from {student.name}: {title}",
        f"{plural(len(slots), 'session')}, from {_format_slot(slots[0], tz)}.",
        link=f"/requests/{request.id}",
    )
    return request


def _unavailable_message(
    mentor: User, slots: list, refused: list[tuple[int, str]], tz: ZoneInfo
) -> str:
    index, reason = refused[0]
    others = f" (and {plural(len(refused) - 1, 'other date')})" if len(refused) > 1 else ""
    return f"{mentor.name} cannot be booked on {_format_slot(slots[index], tz)}{others}: {reason}."


def _same_pending_request(
    student: User, mentor: User, subject_id: int, slots: list[PlannedSlot], now: datetime
) -> SessionRequest | None:
    """The student's pending request to this mentor for this subject asking for exactly
    these sessions, if there is one. The student's row is locked first, so two copies of
    one request sent at once (PostgreSQL) are checked one after the other."""
    db.session.execute(select(User.id).where(User.id == student.id).with_for_update())
    wanted = {(s.start_utc, s.end_utc) for s in slots}
    pending = db.session.scalars(
        select(SessionRequest).where(
            SessionRequest.student_id == student.id,
            SessionRequest.mentor_id == mentor.id,
            SessionRequest.subject_id == subject_id,
            SessionRequest.status == RequestStatus.PENDING,
            SessionRequest.first_start_utc > now,
        )
    ).all()
    for request in pending:
        if {(s.start_utc, s.end_utc) for s in request.slots} == wanted:
            return request
    return None


def _check_mentor_and_subject(data: RequestInput, errors: dict) -> User | None:
    mentor = db.session.get(User, data.mentor_id) if data.mentor_id else None
    if mentor is None or mentor.role != Role.MENTOR or not mentor.is_active_account:
        errors["mentor"] = "Choose a mentor."
        mentor = None
    subject = db.session.get(Subject, data.subject_id) if data.subject_id else None
    if subject is None or not subject.active:
        errors["subject"] = "Choose a subject."
    elif mentor is not None and subject.id not in mentor_subject_ids(mentor.id):
        errors["subject"] = f"{mentor.name} does not teach {subject.name}."
    return mentor


def _date_problem(day: date, today: date, *, naming: bool = False) -> str:
    """Why `day` cannot be requested ("" if it may be): outside the range sessions may be
    placed in, which also keeps date arithmetic inside the calendar. A day that passed
    recently is left to the check of each planned time (same message, with the time)."""
    earliest, latest = placement_range(today)
    if day < earliest:
        return "Choose a date and time in the future" + (
            f": {day:%a %d %b %Y} has passed." if naming else "."
        )
    if day > latest:
        return f"Choose dates up to {latest:%d %b %Y}" + (
            f": {day:%a %d %b %Y} is too far ahead." if naming else "."
        )
    return ""


def _schedule_days(
    data: RequestInput, errors: dict, today: date
) -> tuple[time | None, time | None, list]:
    """The start, the end and the local dates a schedule asks for (errors by field)."""
    kind = data.schedule_kind
    start = data.start
    if start is None:
        errors["start"] = "Choose a start time."
    if kind == ScheduleKind.SINGLE:
        if data.day is None:
            errors["day"] = "Choose a date."
        elif message := _date_problem(data.day, today):
            errors["day"] = message
        if data.duration not in DURATIONS:
            errors["duration"] = "Choose 30, 60, 90 or 120 minutes."
        if start is None or errors.keys() & {"day", "duration"}:
            return start, None, []
        # A late slot may end past midnight (23:30 for 60 minutes ends at 00:30 the next day).
        finish = datetime.combine(data.day, start) + timedelta(minutes=data.duration)
        return start, finish.time(), [data.day]
    end = data.end
    if end is None:
        errors["end"] = "Choose an end time."
    elif start is not None and times_refused(start, end):  # 23:30-00:30 ends the next day
        errors["end"] = end_before_start_message(start, end)
    if kind == ScheduleKind.DATES:
        days = sorted(set(data.dates))
        if not days:
            errors["dates"] = "Add at least one date."
        elif problems := [p for p in (_date_problem(d, today, naming=True) for d in days) if p]:
            errors["dates"] = problems[0]
            return start, end, []
        return start, end, days
    # Weekly: the same half-open rule as generation (8 weeks of Mon/Wed/Fri is 24 sessions).
    weekdays = sorted(set(data.weekdays))
    if not weekdays or any(not 0 <= d <= 6 for d in weekdays):
        errors["weekdays"] = "Choose at least one weekday."
    if data.first_date is None:
        errors["first_date"] = "Choose the first date."
    elif message := _date_problem(data.first_date, today):
        errors["first_date"] = message
    if data.weeks is None or not 1 <= data.weeks <= MAX_WEEKS:
        errors["weeks"] = f"Choose between 1 and {MAX_WEEKS} weeks."
    if errors.keys() & {"weekdays", "first_date", "weeks"}:
        return start, end, []
    days = [
        data.first_date + timedelta(days=n)
        for n in range(7 * data.weeks)
        if (data.first_date + timedelta(days=n)).weekday() in weekdays
    ]
    if days and (message := _date_problem(days[-1], today, naming=True)):
        errors["weeks"] = message
        return start, end, []
    return start, end, days


def _plan_slots(days: list[date], start: time, end: time, tz: ZoneInfo) -> list[PlannedSlot]:
    slots = []
    for day in days:
        # An end earlier on the clock is the next day; a start moved out of a DST gap past
        # the end keeps the typed length.
        start_utc, end_utc, _ = resolve_span(day, start, end, tz)
        slots.append(PlannedSlot(day, start_utc, end_utc))
    return slots


def _format_slot(slot, tz: ZoneInfo) -> str:
    start = slot.start_utc.astimezone(tz)
    return f"{start:%a %d %b %Y %H:%M}"


def describe_schedule(request: SessionRequest) -> str:
    """A request's schedule in words: "Mon, Wed 10:00-11:00 for 8 weeks from 07 Sep 2026"."""
    times = clock_label(request.start_time, request.end_time, "-")
    if request.schedule_kind == ScheduleKind.WEEKLY:
        days = ", ".join(WEEKDAY_NAMES[d] for d in range(7) if request.weekday_mask & (1 << d))
        return (
            f"{days} {times} for {plural(request.weeks, 'week')} from {request.first_date:%d %b %Y}"
        )
    count = len(request.slots)
    if request.schedule_kind == ScheduleKind.DATES:
        return f"{plural(count, 'date')} at {times}"
    return f"one session at {times}"


# --- Deciding ------------------------------------------------------------------------------


@dataclass
class Approval:
    request: SessionRequest
    group: CourseGroup
    sessions: list[Occurrence]
    # The mentor's other pending requests declined automatically: none of their dates is free.
    declined: list[SessionRequest]
    # This request's dates left out (approved in part), each with its `declined_reason`.
    declined_slots: list[RequestedSlot] = field(default_factory=list)
    # The mentor's other pending requests that stay pending with some dates now clashing.
    now_clashing: list[SessionRequest] = field(default_factory=list)


def approve_request(
    request: SessionRequest,
    *,
    actor: User,
    tz: ZoneInfo,
    now: datetime | None = None,
    dates: Iterable[date] | None = None,
    reason: str = "",
) -> Approval:
    """Approve a pending request: enrol the student in the tutoring group of this mentor and
    subject (made if needed), create the sessions (dates as one-time sessions, a weekly
    schedule as a series expanded by the engine), give online ones a video room, decline the
    mentor's other pending requests none of whose dates can still be held, and notify.

    `dates` (local dates of the request) approves it in part: the other dates are declined,
    each with `reason` or, without one, why (a clash, or not chosen), and the student is told
    which dates were approved and which not. Without `dates`, every date is approved.

    Raises InvalidTransition (not pending any more, expired, or not the actor's to decide),
    ValidationError (`dates` empty or naming a date not requested, `reason` too long) or
    ConflictError naming the chosen dates that clash with the mentor's sessions. The caller
    rolls back on any error: nothing is half-created.
    """
    now = now or datetime.now(UTC)
    if not can_decide(actor, request):
        raise InvalidTransition("Only the mentor asked (or an admin) can approve this request.")
    chosen = _chosen_dates(request, dates)
    reason = (reason or "").strip()
    if len(reason) > REASON_MAX:
        raise ValidationError(f"Keep the reason under {REASON_MAX:,} characters.", field="reason")
    lock_schedule()
    _claim(request, RequestStatus.APPROVED, actor=actor, now=now)
    clashes = slot_clashes([request])[request.id]
    taken = [c for c in clashes if c.sessions and c.slot.local_date in chosen]
    if taken:
        everything = len(taken) == len(clashes)
        raise _clash_refusal(taken, partly=dates is not None, everything=everything, tz=tz)
    accepted = [c.slot for c in clashes if c.slot.local_date in chosen]
    # The mentor's availability may have changed since it was asked for (a day off, an
    # absence, a closure, a day now full); how soon and how far ahead counted when it was.
    refused = unavailable_times(
        request.mentor_id,
        [(slot.start_utc, slot.end_utc) for slot in accepted],
        now=now,
        org_tz=tz,
        asking=False,
    )
    if refused:
        raise ConflictError(
            "Not approved: "
            + _unavailable_message(request.mentor, accepted, refused, tz)
            + (
                " Leave that date out, or reject the request."
                if len(request.slots) > 1
                else " Reject it, or ask the student for another time."
            )
        )
    left_out = [c for c in clashes if c.slot.local_date not in chosen]
    for clash in left_out:
        clash.slot.declined_reason = reason or (
            f"{request.mentor.name} has another session at that time."
            if clash.sessions
            else f"Not chosen when {actor.name} approved the other dates."
        )
    declined_slots = [c.slot for c in left_out]
    group = _tutoring_group(request)
    if request.schedule_kind == ScheduleKind.WEEKLY:
        sessions = _create_weekly(request, group, tz, declined_slots, actor=actor)
    else:
        sessions = _create_one_time(request, group, accepted)
    request.group_id = group.id
    db.session.flush()
    declined, now_clashing = _decline_clashing(request, sessions, actor=actor, now=now, tz=tz)
    _tell_of_approval(request, sessions, declined_slots, actor=actor, tz=tz)
    return Approval(request, group, sessions, declined, declined_slots, now_clashing)


def _chosen_dates(request: SessionRequest, dates: Iterable[date] | None) -> set[date]:
    """The requested dates to approve: all without `dates`; else `dates`, each requested."""
    requested = {slot.local_date for slot in request.slots}
    if dates is None:
        return requested
    chosen = set(dates)
    if not chosen:
        raise ValidationError(
            "Choose at least one date to approve, or reject the request.", field="dates"
        )
    unknown = sorted(chosen - requested)
    if unknown:
        listed = ", ".join(f"{d:%a %d %b %Y}" for d in unknown[:5])
        what = "Not a requested date" if len(unknown) == 1 else "Not requested dates"
        raise ValidationError(f"{what}: {listed}.", field="dates")
    return chosen


def _clash_refusal(taken: list[SlotClash], *, partly: bool, everything: bool, tz) -> ConflictError:
    listed = "; ".join(
        f"{_format_slot(c.slot, tz)} ({_session_label(c.sessions[0], tz)})" for c in taken[:5]
    )
    more = f" and {len(taken) - 5} more" if len(taken) > 5 else ""
    if everything:
        advice = "Reject it, or ask the student for other dates."
    elif partly:
        advice = "Leave them out to approve the other dates."
    else:
        advice = "Approve the other dates only (leave these out), or reject it."
    return ConflictError(
        f"Not approved: {plural(len(taken), 'requested date')} "
        f"{'clashes' if len(taken) == 1 else 'clash'} with your sessions: "
        f"{listed}{more}. {advice}",
        others=[c.sessions[0] for c in taken],
    )


def _tell_of_approval(
    request: SessionRequest,
    sessions: list[Occurrence],
    declined_slots: list[RequestedSlot],
    *,
    actor: User,
    tz: ZoneInfo,
) -> None:
    """Tell the student what was approved (and which dates not, and why); tell the mentor
    too when an admin decided for them."""
    created = (
        f"{plural(len(sessions), 'session')} created, the first on {_format_slot(sessions[0], tz)}."
        if sessions
        else ""
    )
    if declined_slots:
        listed = "; ".join(
            f"{_format_slot(s, tz)}: {s.declined_reason}" for s in declined_slots[:5]
        )
        more = f"; and {len(declined_slots) - 5} more" if len(declined_slots) > 5 else ""
        created += f" Declined: {plural(len(declined_slots), 'date')} ({listed}{more})."
    total = len(request.slots)
    in_part = f" in part ({total - len(declined_slots)} of {total} dates)" if declined_slots else ""
    by_mentor = actor.id == request.mentor_id
    approved = (
        f"{actor.name} approved “{request.title}”"
        + ("" if by_mentor else f" for {request.mentor.name}")
        + in_part
    )
    # A full approval leads to the timetable; one in part to the request, which lists both.
    link = f"/requests/{request.id}" if declined_slots else "/dashboard/"
    notify(request.student_id, REQUEST_APPROVED, approved, created.strip(), link=link)
    if not by_mentor:
        # An admin decided for the mentor, whose timetable just gained the sessions.
        notify(
            request.mentor_id,
            REQUEST_APPROVED,
            f"{actor.name} approved {request.student.name}'s request “{request.title}”{in_part}",
            created.strip(),
            link=f"/requests/{request.id}",
        )


def _claim(request: SessionRequest, status: RequestStatus, *, actor: User, now: datetime) -> None:
    """Move a pending, unexpired request to `status` with one conditional UPDATE; refuse
    (InvalidTransition) if another click, tab or worker got there first."""
    table = SessionRequest.__table__
    values = {"status": status, "decided_at": now, "decided_by_id": actor.id}
    if status in (RequestStatus.REJECTED, RequestStatus.DECLINED):
        values["rejection_reason"] = request.rejection_reason
    result = db.session.execute(
        update(table)
        .where(
            table.c.id == request.id,
            table.c.status == RequestStatus.PENDING,
            table.c.first_start_utc > now,
        )
        .values(**values)
    )
    db.session.refresh(request)
    if result.rowcount != 1:
        current = effective_status(request, now)
        raise InvalidTransition(
            f"This request is {current.value} already: nothing was changed.", field="status"
        )


def _session_label(occurrence: Occurrence, tz: ZoneInfo) -> str:
    start, end = occurrence.start_utc.astimezone(tz), occurrence.end_utc.astimezone(tz)
    name = occurrence.title or occurrence.group.name
    return f"{name} {start:%H:%M}-{end:%H:%M}"


def _tutoring_group(request: SessionRequest) -> CourseGroup:
    """The student's one-to-one group with this mentor in this subject, made if needed."""
    group = db.session.scalar(
        select(CourseGroup)
        .where(
            CourseGroup.kind == GroupKind.TUTORING,
            CourseGroup.mentor_id == request.mentor_id,
            CourseGroup.subject_id == request.subject_id,
            enrolled_in_group(CourseGroup.id, request.student_id),
        )
        .order_by(CourseGroup.id)
        .limit(1)
    )
    if group is not None:
        group.active = True
        return group
    base = f"{request.subject.name}: {request.mentor.name} with {request.student.name}"[:72]
    name, n = base, 1
    while db.session.scalar(select(exists().where(CourseGroup.name == name))):
        n += 1
        name = f"{base} ({n})"
    group = CourseGroup(
        name=name,
        subject_id=request.subject_id,
        mentor_id=request.mentor_id,
        default_room_id=None,
        kind=GroupKind.TUTORING,
        active=True,
    )
    db.session.add(group)
    db.session.flush()
    db.session.add(Enrolment(group_id=group.id, student_id=request.student_id))
    db.session.flush()
    return group


def _new_sessions(
    request: SessionRequest, group: CourseGroup, times: list[tuple], series_id: int | None = None
) -> list[Occurrence]:
    """The request's sessions at `times` ((original date or None, start, end, and the reason
    of a date declined at approval, which makes it a cancelled session, or None) each), with
    a video room each when online."""
    online = request.mode == OccurrenceMode.ONLINE
    rooms = iter(new_room_ids(len(times)) if online else [])
    sessions = [
        Occurrence(
            group_id=group.id,
            series_id=series_id,
            original_date=original_date,
            start_utc=start,
            end_utc=end,
            room_id=None,
            mode=request.mode,
            video_room_id=next(rooms) if online else None,
            status=OccurrenceStatus.CANCELLED if declined else OccurrenceStatus.SCHEDULED,
            cancel_reason=declined,
            title=request.title,
            request_id=request.id,
        )
        for original_date, start, end, declined in times
    ]
    db.session.add_all(sessions)
    db.session.flush()
    return sessions


def _create_one_time(
    request: SessionRequest, group: CourseGroup, slots: list[RequestedSlot]
) -> list[Occurrence]:
    return _new_sessions(request, group, [(None, s.start_utc, s.end_utc, None) for s in slots])


def _create_weekly(
    request: SessionRequest,
    group: CourseGroup,
    tz: ZoneInfo,
    declined_slots: list[RequestedSlot],
    *,
    actor: User,
) -> list[Occurrence]:
    """A series for the weekly schedule, and its sessions as the engine plans them (so
    regeneration finds them unchanged, and exceptions and the grid work on them). A date
    declined at approval is a cancelled exception of the series (with its reason), so the
    series never brings it back. Returns the sessions that take place."""
    from services.timetable.exceptions import rule_of, rule_of_override

    last_date = request.first_date + timedelta(weeks=request.weeks, days=-1)
    series = Series(
        group_id=group.id,
        weekday_mask=request.weekday_mask,
        every_weeks=1,
        start_time=request.start_time,
        end_time=request.end_time,
        room_id=None,
        mode=request.mode,
        first_date=request.first_date,
        last_date=last_date,
    )
    db.session.add(series)
    db.session.flush()
    request.series_id = series.id
    reasons = {slot.local_date: slot.declined_reason for slot in declined_slots}
    overrides = [
        DateOverride(
            series_id=series.id,
            original_date=day,
            cancelled=True,
            notes=f"Declined when “{request.title}” was approved: {reason}",
            created_by_id=actor.id,
        )
        for day, reason in reasons.items()
    ]
    db.session.add_all(overrides)
    db.session.flush()
    planned = plan_occurrences(
        [rule_of(series)],
        {(o.series_id, o.original_date): rule_of_override(o) for o in overrides},
        request.first_date,
        last_date + timedelta(days=1),
        tz,
    )
    times = [
        (p.original_date, p.start_utc, p.end_utc, reasons[p.original_date] if p.cancelled else None)
        for p in planned
    ]
    sessions = _new_sessions(request, group, times, series_id=series.id)
    return [s for s in sessions if s.status != OccurrenceStatus.CANCELLED]


def _decline_clashing(
    approved: SessionRequest,
    sessions: list[Occurrence],
    *,
    actor: User,
    now: datetime,
    tz: ZoneInfo,
) -> tuple[list[SessionRequest], list[SessionRequest]]:
    """The mentor's other pending requests that overlap the new sessions: declined
    automatically when none of their dates can still be held (each clashes with one of the
    mentor's sessions), else left pending, their clashing dates marked wherever they are
    shown. Returns (declined, still pending with a clash)."""
    if not sessions:
        return [], []
    start = min(s.start_utc for s in sessions)
    end = max(s.end_utc for s in sessions)
    candidates = list(
        db.session.scalars(
            select(SessionRequest)
            .where(
                SessionRequest.mentor_id == approved.mentor_id,
                SessionRequest.id != approved.id,
                SessionRequest.status == RequestStatus.PENDING,
                SessionRequest.first_start_utc > now,
                exists().where(
                    RequestedSlot.request_id == SessionRequest.id,
                    RequestedSlot.start_utc < end,
                    RequestedSlot.end_utc > start,
                ),
            )
            .order_by(SessionRequest.id)
        ).unique()
    )
    clashes = slot_clashes(candidates)
    declined, now_clashing = [], []
    for other in candidates:
        newly_taken = [
            c.slot
            for c in clashes[other.id]
            if any(s.start_utc < c.slot.end_utc and s.end_utc > c.slot.start_utc for s in sessions)
        ]
        if not newly_taken:
            continue
        if not all(c.sessions for c in clashes[other.id]):
            now_clashing.append(other)
            _tell_of_dates_taken(other, newly_taken, approved.mentor, tz)
            continue
        other.rejection_reason = _declined_reason(other, newly_taken[0], approved, tz)
        _claim(other, RequestStatus.DECLINED, actor=actor, now=now)
        notify(
            other.student_id,
            REQUEST_DECLINED,
            f"“{other.title}” was declined automatically",
            other.rejection_reason,
            link=f"/requests/{other.id}",
        )
        declined.append(other)
    return declined, now_clashing


def _tell_of_dates_taken(
    other: SessionRequest, taken: list[RequestedSlot], mentor: User, tz: ZoneInfo
) -> None:
    """Tell a student that some dates of their pending request are no longer free: it stays
    pending, and the mentor may approve the other dates."""
    listed = "; ".join(_format_slot(slot, tz) for slot in taken[:5])
    more = f" and {len(taken) - 5} more" if len(taken) > 5 else ""
    notify(
        other.student_id,
        REQUEST_DATES_TAKEN,
        f"“{other.title}”: {plural(len(taken), 'date')} no longer free",
        f"{mentor.name} approved another request for {listed}{more}. Yours is still pending; "
        f"{mentor.name} may approve its other dates.",
        link=f"/requests/{other.id}",
    )


def _declined_reason(
    other: SessionRequest, slot: RequestedSlot, approved: SessionRequest, tz: ZoneInfo
) -> str:
    """Why a request was declined automatically: the same words on its page, in its list,
    in the student's notification and in the API."""
    taken = (
        f"{_format_slot(slot, tz)} is now taken by “{approved.title}”, which "
        f"{approved.mentor.name} approved"
    )
    if len(other.slots) == 1:
        return f"Declined automatically: {taken}."
    return (
        f"Declined automatically: none of its {len(other.slots)} dates is free any more ({taken})."
    )


def reject_request(
    request: SessionRequest, reason: str, *, actor: User, now: datetime | None = None
) -> SessionRequest:
    """Reject a pending request; a reason is required (and stored, and sent to the student)."""
    now = now or datetime.now(UTC)
    if not can_decide(actor, request):
        raise InvalidTransition("Only the mentor asked (or an admin) can reject this request.")
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError("Say why the request is rejected.", field="reason")
    if len(reason) > REASON_MAX:
        raise ValidationError(f"Keep the reason under {REASON_MAX:,} characters.", field="reason")
    request.rejection_reason = reason
    _claim(request, RequestStatus.REJECTED, actor=actor, now=now)
    notify(
        request.student_id,
        REQUEST_REJECTED,
        f"{request.mentor.name} rejected “{request.title}”",
        reason,
        link=f"/requests/{request.id}",
    )
    return request


def withdraw_request(
    request: SessionRequest, *, actor: User, now: datetime | None = None
) -> SessionRequest:
    """The requesting student takes back a pending request; the mentor is told."""
    now = now or datetime.now(UTC)
    if actor.id != request.student_id:
        raise InvalidTransition("Only the student who asked can withdraw this request.")
    _claim(request, RequestStatus.WITHDRAWN, actor=actor, now=now)
    notify(
        request.mentor_id,
        REQUEST_WITHDRAWN,
        f"{request.student.name} withdrew “{request.title}”",
        link=f"/requests/{request.id}",
    )
    return request


def expire_requests(now: datetime | None = None) -> int:
    """Store `expired` on every pending request whose first session has started (for cron:
    `flask expire-requests`); returns how many."""
    now = now or datetime.now(UTC)
    table = SessionRequest.__table__
    result = db.session.execute(
        update(table)
        .where(table.c.status == RequestStatus.PENDING, table.c.first_start_utc <= now)
        .values(status=RequestStatus.EXPIRED)
    )
    return result.rowcount
