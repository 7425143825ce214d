"""Weekly series: read as their group is; created, changed and deleted by staff."""

from __future__ import annotations

import marshmallow as ma
from flask import url_for
from marshmallow import fields, validate
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from blueprints.api.common import (
    Id,
    LocalTime,
    PageArgs,
    QueryId,
    StrictSchema,
    api_user,
    load_or_404,
    no_content,
    page_schema,
    paged,
    paginate,
    require_staff,
)
from blueprints.api.timetable import blp
from blueprints.api.timetable.groups import ensure_group_visible
from blueprints.api.timetable.schemas import (
    MODES,
    NEXT_DAY_END,
    WEEKDAY_NAMES,
    SeriesSchema,
    series_json,
)
from models import CourseGroup, OccurrenceMode, Series, db
from models.series import mask_to_weekdays
from services.catalogue.groups import SeriesData, add_series, delete_unused_series, update_series
from services.common.errors import ValidationError
from services.permissions import visible_groups


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
        "first_date": fields.Date(metadata={"description": "Required unless `term` is given"}),
        "last_date": fields.Date(
            allow_none=True, metadata={"description": "Included; null: no end"}
        ),
        "term": Id(
            allow_none=True,
            metadata={
                "description": "Term id: the series runs over the term's days, and follows"
                " them when the term changes (its dates are then the term's); null: between"
                " first_date and last_date. Sending dates without `term` leaves the term."
            },
        ),
    }


class SeriesCreate(StrictSchema.from_dict(_series_fields(required=True))):
    group = Id(required=True)

    @ma.validates_schema(skip_on_field_errors=False)
    def _dates_or_term(self, data, **kwargs):
        if data.get("term") is None and "first_date" not in data:
            raise ma.ValidationError(
                ["Missing data for required field (or give a `term`)."], "first_date"
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
    if "term" in values:
        data.term_id = values["term"]
    elif values.keys() & {"first_date", "last_date"}:
        data.term_id = None
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
    user = api_user()
    # Each series' group is named: loaded with it, not one query per series.
    query = select(Series).options(joinedload(Series.group), joinedload(Series.term))
    if not user.is_staff:
        # Staff see every group: no filter, so a page is one range of the primary key
        # (with an always-true `IN (every group)`, SQLite sorted every series for each page).
        groups = visible_groups(user).with_only_columns(CourseGroup.id)
        query = query.where(Series.group_id.in_(groups.scalar_subquery()))
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
        term_id=series.term_id,
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
    delete_unused_series(series)
    db.session.commit()
    return no_content()
