"""Per-date exceptions of series (staff): listed, recorded (cancel or move one date), removed."""

from __future__ import annotations

from flask import url_for
from marshmallow import fields, validate

from blueprints.api.common import (
    Id,
    LocalTime,
    PageArgs,
    QueryId,
    StrictSchema,
    load_or_404,
    no_content,
    org_tz,
    page_schema,
    paged,
    paginate,
    require_staff,
)
from blueprints.api.timetable import blp
from blueprints.api.timetable.schemas import NEXT_DAY_END, ExceptionSchema, exception_json
from models import DateOverride, Series, db
from services.common.errors import ValidationError
from services.timetable.exceptions import (
    OverrideChange,
    delete_override,
    find_override,
    overrides_query,
    save_override,
)


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
