"""The timetable over JSON: rooms, subjects, course groups, weekly series, sessions, per-date
exceptions and generation.

Reads follow the pages' row-level rules: staff see everything, a mentor the groups they teach
(and their series and sessions), a student the groups they are enrolled in; anything else is
404. Writes are for staff (403 for other roles). Each write calls one service and commits once.
"""

from __future__ import annotations

from datetime import time

import marshmallow as ma
from flask import current_app, url_for
from marshmallow import fields, validate
from sqlalchemy import exists, select

from blueprints.api.common import (
    ApiBlueprint,
    Id,
    LocalTime,
    PageArgs,
    QueryId,
    StrictSchema,
    abort_problem,
    api_user,
    load_or_404,
    no_content,
    org_tz,
    page_schema,
    paged,
    paginate,
    ref,
    require_staff,
)
from blueprints.api.timetable.schemas import (
    MODES,
    NEXT_DAY_END,
    STATUSES,
    WEEKDAY_NAMES,
    ExceptionSchema,
    GenerationSummarySchema,
    GroupDetailSchema,
    GroupSchema,
    RoomSchema,
    SeriesSchema,
    SessionDetailSchema,
    SessionSchema,
    SubjectSchema,
    exception_json,
    group_json,
    room_json,
    series_json,
    session_detail,
    session_json,
)
from models import (
    CourseGroup,
    DateOverride,
    Occurrence,
    OccurrenceMode,
    OccurrenceStatus,
    Room,
    Series,
    Subject,
    db,
)
from models.series import mask_to_weekdays
from services.catalogue.groups import SeriesData, add_series, update_series
from services.common.errors import InvalidTransition, ValidationError
from services.common.timeutil import local_day_bounds
from services.permissions import (
    can_view_group,
    enrolled_in_group,
    may_see_conflicts,
    may_see_group_students,
    visible_groups,
    visible_to,
)
from services.timetable.conflicts import conflicts_in_window
from services.timetable.exceptions import (
    OverrideChange,
    delete_override,
    find_override,
    overrides_query,
    save_override,
)
from services.timetable.generation import generate_occurrences, resolve_window
from services.timetable.sessions import (
    cancel_session,
    create_one_time_session,
    delete_one_time_session,
    get_visible_session,
    reschedule_session,
    restore_session,
)

blp = ApiBlueprint(
    "api_timetable",
    __name__,
    description="Rooms, subjects, course groups, weekly series, sessions, exceptions",
)
MAX_RANGE_DAYS = 366


# --- Rooms and subjects -------------------------------------------------------------------------


class CatalogueArgs(PageArgs):
    active = fields.Boolean(metadata={"description": "Only active (true) or inactive (false)"})


@blp.get("/rooms")
@blp.arguments(CatalogueArgs, location="query", as_kwargs=False)
@blp.response(200, page_schema(RoomSchema))
def list_rooms(args):
    """Rooms, by name (every signed-in user may read them)."""
    query = select(Room)
    if args.get("active") is not None:
        query = query.where(Room.active.is_(args.get("active")))
    page = paginate(query, [Room.name, Room.id], args)
    return paged(page, [room_json(r) for r in page["items"]])


@blp.get("/subjects")
@blp.arguments(CatalogueArgs, location="query", as_kwargs=False)
@blp.response(200, page_schema(SubjectSchema))
def list_subjects(args):
    """Subjects, by name (every signed-in user may read them)."""
    query = select(Subject)
    if args.get("active") is not None:
        query = query.where(Subject.active.is_(args.get("active")))
    page = paginate(query, [Subject.name, Subject.id], args)
    return paged(page, [{"id": s.id, "name": s.name, "active": s.active} for s in page["items"]])


# --- Course groups ------------------------------------------------------------------------------


def load_visible_group(group_id: int) -> CourseGroup:
    group = load_or_404(CourseGroup, group_id, "course group")
    ensure_group_visible(group.id, "course group")
    return group


def ensure_group_visible(group_id: int, what: str) -> None:
    """404 (as for a missing row) unless the user may see this group."""
    if not can_view_group(api_user(), group_id):
        abort_problem(404, f"No such {what}.")


class GroupListArgs(CatalogueArgs):
    subject = QueryId()
    mentor = QueryId()


@blp.get("/groups")
@blp.arguments(GroupListArgs, location="query", as_kwargs=False)
@blp.response(200, page_schema(GroupSchema))
def list_groups(args):
    """Course groups the user may see, by name."""
    query = visible_groups(api_user())
    if args.get("active") is not None:
        query = query.where(CourseGroup.active.is_(args.get("active")))
    if args.get("subject"):
        query = query.where(CourseGroup.subject_id == args.get("subject"))
    if args.get("mentor"):
        query = query.where(CourseGroup.mentor_id == args.get("mentor"))
    page = paginate(query, [CourseGroup.name, CourseGroup.id], args)
    return paged(page, [group_json(g) for g in page["items"]])


@blp.get("/groups/<id:group_id>")
@blp.response(200, GroupDetailSchema)
def get_group(group_id: int):
    """A course group with its weekly series (and its students, for staff and its mentor)."""
    group = load_visible_group(group_id)
    user = api_user()
    data = group_json(group)
    data["series"] = [series_json(s) for s in group.series]
    data["students"] = None
    if may_see_group_students(user, group):
        enrolments = sorted(group.enrolments, key=lambda e: (e.student.name, e.student_id))
        data["students"] = [ref(e.student) for e in enrolments]
    return data


# --- Weekly series ------------------------------------------------------------------------------


class SeriesListArgs(PageArgs):
    group = QueryId()


def _series_fields(required: bool) -> dict:
    """The fields of a series as sent: all required to create one, any subset to change one."""
    return {
        "weekdays": fields.List(
            fields.String(validate=validate.OneOf(WEEKDAY_NAMES)),
            required=required,
            validate=validate.Length(min=1, max=7),
            metadata={"description": "Weekday names: mon, tue, wed, thu, fri, sat, sun"},
        ),
        "every_weeks": fields.Integer(
            strict=True, validate=validate.Range(1, 52), metadata={"description": "Default 1"}
        ),
        "start": LocalTime(required=required),
        "end": LocalTime(
            required=required,
            metadata={"description": f"Local time HH:MM; {NEXT_DAY_END}"},
        ),
        "room": Id(
            allow_none=True,
            metadata={"description": "Room id; null: none (online). Default: the group's room"},
        ),
        "mode": fields.String(
            validate=validate.OneOf(MODES), metadata={"description": "Default in_person"}
        ),
        "first_date": fields.Date(required=required),
        "last_date": fields.Date(
            allow_none=True, metadata={"description": "Included; null: no end"}
        ),
    }


SeriesCreate = StrictSchema.from_dict(
    {"group": Id(required=True), **_series_fields(required=True)}, name="SeriesCreate"
)
SeriesPatch = StrictSchema.from_dict(_series_fields(required=False), name="SeriesPatch")

# The service's field names, as the API spells them.
_SERIES_FIELDS = {"start_time": "start", "end_time": "end"}


def _renamed(err: ValidationError, names: dict[str, str]) -> ValidationError:
    return ValidationError({names.get(k, k): v for k, v in err.errors.items()})


def _series_data(values: dict, base: SeriesData) -> SeriesData:
    data = SeriesData(**vars(base))
    if "weekdays" in values:
        data.weekdays = [WEEKDAY_NAMES.index(d) for d in values["weekdays"]]
    for key, attr in (
        ("every_weeks", "every_weeks"),
        ("start", "start_time"),
        ("end", "end_time"),
        ("room", "room_id"),
        ("mode", "mode"),
        ("first_date", "first_date"),
        ("last_date", "last_date"),
    ):
        if key in values:
            setattr(data, attr, values[key])
    return data


def load_visible_series(series_id: int) -> Series:
    series = load_or_404(Series, series_id, "series")
    ensure_group_visible(series.group_id, "series")
    return series


@blp.get("/series")
@blp.arguments(SeriesListArgs, location="query", as_kwargs=False)
@blp.response(200, page_schema(SeriesSchema))
def list_series(args):
    """Weekly series of the groups the user may see, oldest first."""
    groups = visible_groups(api_user()).with_only_columns(CourseGroup.id)
    query = select(Series).where(Series.group_id.in_(groups.scalar_subquery()))
    if args.get("group"):
        query = query.where(Series.group_id == args.get("group"))
    page = paginate(query, [Series.id], args)
    return paged(page, [series_json(s) for s in page["items"]])


@blp.post("/series")
@blp.arguments(SeriesCreate)
@blp.response(201, SeriesSchema)
def create_series(values):
    """Add a weekly series to a group (staff). Its sessions appear at the next generation.
    `room` defaults to the group's default room."""
    require_staff()
    group = db.session.get(CourseGroup, values["group"])
    if group is None:
        raise ValidationError({"group": "Choose an existing course group."})
    values.setdefault("room", group.default_room_id)
    data = _series_data(values, SeriesData(mode=OccurrenceMode.IN_PERSON.value))
    try:
        series = add_series(group, data)
    except ValidationError as err:
        raise _renamed(err, _SERIES_FIELDS) from err
    db.session.commit()
    location = url_for("api_timetable.get_series", series_id=series.id)
    return series_json(series), 201, {"Location": location}


@blp.get("/series/<id:series_id>")
@blp.response(200, SeriesSchema)
def get_series(series_id: int):
    """One weekly series (of a group the user may see)."""
    return series_json(load_visible_series(series_id))


@blp.patch("/series/<id:series_id>")
@blp.arguments(SeriesPatch)
@blp.response(200, SeriesSchema)
def patch_series(values, series_id: int):
    """Change a series (staff): only the fields sent. Existing sessions follow at the next
    generation with `force`; end a series by setting its `last_date`."""
    series = load_visible_series(series_id)
    require_staff()
    current = SeriesData(
        weekdays=mask_to_weekdays(series.weekday_mask),
        every_weeks=series.every_weeks,
        start_time=series.start_time,
        end_time=series.end_time,
        room_id=series.room_id,
        mode=str(series.mode),
        first_date=series.first_date,
        last_date=series.last_date,
    )
    try:
        series = update_series(series, _series_data(values, current))
    except ValidationError as err:
        raise _renamed(err, _SERIES_FIELDS) from err
    db.session.commit()
    return series_json(series)


@blp.delete("/series/<id:series_id>")
@blp.response(204)
def delete_series(series_id: int):
    """Delete a series that has no sessions and no exceptions yet (staff), e.g. one made by
    mistake. A series with history is refused (409): end it instead with PATCH `last_date`,
    which keeps its sessions."""
    series = load_visible_series(series_id)
    require_staff()
    has_sessions = db.session.scalar(select(exists().where(Occurrence.series_id == series.id)))
    has_exceptions = db.session.scalar(select(exists().where(DateOverride.series_id == series.id)))
    if has_sessions or has_exceptions:
        raise InvalidTransition(
            "This series has sessions or exceptions: end it by setting its last_date instead."
        )
    db.session.delete(series)
    db.session.commit()
    return no_content()


# --- Sessions -----------------------------------------------------------------------------------


class SessionListArgs(PageArgs):
    start = fields.Date(required=True, metadata={"description": "First local date (included)"})
    end = fields.Date(
        required=True,
        metadata={"description": f"Last local date, excluded; at most {MAX_RANGE_DAYS} days"},
    )
    group = QueryId()
    room = QueryId()
    mentor = QueryId()
    student = QueryId()
    status = fields.String(validate=validate.OneOf(STATUSES))

    @ma.validates_schema
    def _range(self, data, **kwargs):
        if "start" in data and "end" in data:
            days = (data["end"] - data["start"]).days
            if days <= 0:
                raise ma.ValidationError("The end must be after the start.", "end")
            if days > MAX_RANGE_DAYS:
                raise ma.ValidationError(f"At most {MAX_RANGE_DAYS} days at a time.", "end")


@blp.get("/sessions")
@blp.arguments(SessionListArgs, location="query", as_kwargs=False)
@blp.response(200, page_schema(SessionSchema))
def list_sessions(args):
    """Sessions the user may see starting in [start, end) (local dates), cancelled ones
    included, by start."""
    user, tz = api_user(), org_tz()
    start_utc, end_utc = local_day_bounds(args.get("start"), args.get("end"), tz)
    query = (
        select(Occurrence)
        .join(CourseGroup, CourseGroup.id == Occurrence.group_id)
        .where(Occurrence.start_utc >= start_utc, Occurrence.start_utc < end_utc)
    )
    query = visible_to(query, user)
    if args.get("group"):
        query = query.where(Occurrence.group_id == args.get("group"))
    if args.get("room"):
        query = query.where(Occurrence.room_id == args.get("room"))
    if args.get("mentor"):
        query = query.where(CourseGroup.mentor_id == args.get("mentor"))
    if args.get("student"):
        query = query.where(enrolled_in_group(Occurrence.group_id, args.get("student")))
    if args.get("status"):
        query = query.where(Occurrence.status == OccurrenceStatus(args.get("status")))
    page = paginate(query, [Occurrence.start_utc, Occurrence.id], args)
    items = page["items"]
    in_conflict: set[int] = set()
    if items:
        first = min(o.start_utc for o in items)
        last = max(o.end_utc for o in items)
        for c in conflicts_in_window(first, last):
            in_conflict.update((c.first_id, c.second_id))
    return paged(
        page,
        [
            session_json(o, tz, (o.id in in_conflict) if may_see_conflicts(user, o) else None)
            for o in items
        ],
    )


class SessionCreate(StrictSchema):
    group = Id(required=True)
    date = fields.Date(required=True)
    start = LocalTime(required=True)
    end = LocalTime(required=True, metadata={"description": f"Local time HH:MM; {NEXT_DAY_END}"})
    room = Id(allow_none=True, load_default=None, metadata={"description": "null: no room"})
    mode = fields.String(
        load_default=OccurrenceMode.IN_PERSON.value, validate=validate.OneOf(MODES)
    )
    title = fields.String(load_default=None, allow_none=True)


@blp.post("/sessions")
@blp.arguments(SessionCreate)
@blp.response(201, SessionDetailSchema)
def create_session(values):
    """Create a one-time session (staff). A room or mentor double booking is refused (409)."""
    user = require_staff()
    outcome = create_one_time_session(
        group_id=values["group"],
        day=values["date"],
        start=values["start"],
        end=values["end"],
        room_id=values["room"],
        mode=values["mode"],
        title=values["title"],
        actor=user,
        tz=org_tz(),
    )
    db.session.commit()
    occurrence = outcome.occurrence
    location = url_for("api_timetable.get_session", occurrence_id=occurrence.id)
    return session_detail(occurrence, outcome.adjustments), 201, {"Location": location}


def load_visible_session(occurrence_id: int) -> Occurrence:
    """The session, or 404 (also for one the user may not see)."""
    return get_visible_session(api_user(), occurrence_id)


@blp.get("/sessions/<id:occurrence_id>")
@blp.response(200, SessionDetailSchema)
def get_session(occurrence_id: int):
    """One session, with the sessions it conflicts with (staff and its mentor)."""
    return session_detail(load_visible_session(occurrence_id))


class SessionReschedule(StrictSchema):
    """The fields left out keep the session's current values."""

    date = fields.Date()
    start = LocalTime()
    end = LocalTime(metadata={"description": f"Local time HH:MM; {NEXT_DAY_END}"})
    room = Id(
        allow_none=True,
        metadata={"description": "null: the series' room (series session) or no room"},
    )
    notes = fields.String(metadata={"description": "Notes of the exception (series session)"})


@blp.patch("/sessions/<id:occurrence_id>")
@blp.arguments(SessionReschedule)
@blp.response(200, SessionDetailSchema)
def reschedule(values, occurrence_id: int):
    """Move a session (staff). A one-time session changes; a series session records an
    exception for its date (values equal to the series' follow the series)."""
    occurrence = load_visible_session(occurrence_id)
    user = require_staff()
    tz = org_tz()
    start = occurrence.start_utc.astimezone(tz)
    end = occurrence.end_utc.astimezone(tz)
    outcome = reschedule_session(
        occurrence,
        day=values.get("date", start.date()),
        start=values.get("start", _clock(start.time())),
        end=values.get("end", _clock(end.time())),
        room_id=values.get("room", occurrence.room_id),
        notes=values.get("notes"),
        actor=user,
        tz=tz,
    )
    db.session.commit()
    return session_detail(outcome.occurrence, outcome.adjustments)


def _clock(value: time) -> time:
    return value.replace(second=0, microsecond=0, tzinfo=None)


class CancelInput(StrictSchema):
    reason = fields.String(required=True, metadata={"description": "Why (shown to attendees)"})


@blp.post("/sessions/<id:occurrence_id>/cancel")
@blp.arguments(CancelInput)
@blp.response(200, SessionDetailSchema)
def cancel(values, occurrence_id: int):
    """Cancel a session with a reason (staff); a series date gets a cancelling exception."""
    occurrence = load_visible_session(occurrence_id)
    user = require_staff()
    cancel_session(occurrence, reason=values["reason"], actor=user, tz=org_tz())
    db.session.commit()
    return session_detail(occurrence)


@blp.post("/sessions/<id:occurrence_id>/restore")
@blp.response(200, SessionDetailSchema)
def restore(occurrence_id: int):
    """Bring a cancelled session back (staff), if its slot is still free (else 409)."""
    occurrence = load_visible_session(occurrence_id)
    user = require_staff()
    restore_session(occurrence, actor=user, tz=org_tz())
    db.session.commit()
    return session_detail(occurrence)


@blp.delete("/sessions/<id:occurrence_id>")
@blp.response(204)
def delete_session(occurrence_id: int):
    """Delete a one-time session (staff); series and completed sessions are refused (409)."""
    occurrence = load_visible_session(occurrence_id)
    user = require_staff()
    delete_one_time_session(occurrence, actor=user, tz=org_tz())
    db.session.commit()
    return no_content()


# --- Exceptions ---------------------------------------------------------------------------------


class ExceptionListArgs(PageArgs):
    group = QueryId()
    series = QueryId()
    kind = fields.String(validate=validate.OneOf(["cancel", "override"]))
    start = fields.Date(metadata={"description": "Series dates from"})
    end = fields.Date(metadata={"description": "Series dates to (included)"})


@blp.get("/exceptions")
@blp.arguments(ExceptionListArgs, location="query", as_kwargs=False)
@blp.response(200, page_schema(ExceptionSchema))
def list_exceptions(args):
    """Per-date exceptions (staff), by series date."""
    require_staff()
    query = overrides_query(
        group_id=args.get("group"),
        kind=args.get("kind"),
        start=args.get("start"),
        end=args.get("end"),
    )
    if args.get("series"):
        query = query.where(DateOverride.series_id == args.get("series"))
    page = paginate(query, [DateOverride.original_date, DateOverride.id], args)
    return paged(page, [exception_json(o) for o in page["items"]])


class ExceptionInput(StrictSchema):
    """Cancel one date of a series, or move it (new date, start, end and/or room)."""

    series = Id(required=True)
    original_date = fields.Date(required=True, metadata={"description": "The series date"})
    cancelled = fields.Boolean(load_default=False)
    new_date = fields.Date(load_default=None, allow_none=True)
    start = LocalTime(load_default=None, allow_none=True)
    end = LocalTime(
        load_default=None,
        allow_none=True,
        metadata={"description": f"Local time HH:MM; {NEXT_DAY_END}"},
    )
    room = Id(load_default=None, allow_none=True)
    notes = fields.String(load_default="")


@blp.post("/exceptions")
@blp.arguments(ExceptionInput)
@blp.response(201, ExceptionSchema)
@blp.alt_response(200, schema=ExceptionSchema, description="The date's exception, replaced")
def create_exception(values):
    """Record the exception of a series date (staff); its session changes at once. A date
    that already has one gets it replaced (200). A double booking is refused (409)."""
    user = require_staff()
    series = db.session.get(Series, values["series"])
    if series is None:
        raise ValidationError({"series": "Choose an existing series."})
    existed = find_override(series.id, values["original_date"]) is not None
    change = OverrideChange(
        cancelled=values["cancelled"],
        new_date=values["new_date"],
        start_time=values["start"],
        end_time=values["end"],
        room_id=values["room"],
        notes=values["notes"],
    )
    override, _ = save_override(series, values["original_date"], change, actor=user, tz=org_tz())
    db.session.commit()
    location = url_for("api_timetable.get_exception", override_id=override.id)
    return exception_json(override), 200 if existed else 201, {"Location": location}


@blp.get("/exceptions/<id:override_id>")
@blp.response(200, ExceptionSchema)
def get_exception(override_id: int):
    """One exception (staff)."""
    require_staff()
    return exception_json(load_or_404(DateOverride, override_id, "exception"))


@blp.delete("/exceptions/<id:override_id>")
@blp.response(204)
def delete_exception(override_id: int):
    """Remove an exception (staff): its session takes the series' values again, unless that
    would double-book its room or mentor (409, the exception stays)."""
    user = require_staff()
    override = load_or_404(DateOverride, override_id, "exception")
    delete_override(override, tz=org_tz(), actor=user)
    db.session.commit()
    return no_content()


# --- Generation ---------------------------------------------------------------------------------


class GenerateInput(StrictSchema):
    start = fields.Date(required=True)
    weeks = fields.Integer(
        strict=True,
        load_default=None,
        validate=validate.Range(1, 1000),
        metadata={"description": "[start, start + 7 x weeks); give weeks or end"},
    )
    end = fields.Date(load_default=None, metadata={"description": "Excluded; give weeks or end"})
    force = fields.Boolean(load_default=False)
    dry_run = fields.Boolean(load_default=False)


@blp.post("/generate")
@blp.arguments(GenerateInput)
@blp.response(200, GenerationSummarySchema)
def generate(values):
    """Generate the sessions of every active series over a window (staff); the summary is the
    one `flask generate-sessions --json` prints. A window holding more sessions than
    `MAX_WEB_GENERATION_SESSIONS` is refused (422; the command line has no limit)."""
    require_staff()
    start, end = resolve_window(
        values["start"],
        weeks=values["weeks"],
        end=values["end"],
        max_days=current_app.config["MAX_GENERATION_DAYS"],
    )
    summary = generate_occurrences(
        start,
        end,
        tz=org_tz(),
        force=values["force"],
        dry_run=values["dry_run"],
        max_sessions=current_app.config["MAX_WEB_GENERATION_SESSIONS"],
    )
    db.session.commit()
    return summary.as_dict()
