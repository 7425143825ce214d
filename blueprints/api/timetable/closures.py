"""Closures (staff): listed, added (the sessions on their days are cancelled at once),
changed (the sessions follow its new days) and removed (they come back)."""

from __future__ import annotations

import marshmallow as ma
from flask import url_for
from marshmallow import fields, validate

from blueprints.api.common import (
    Id,
    PageArgs,
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
from blueprints.api.timetable.schemas import ClosureSchema, closure_json
from models import Closure, ClosureKind, db
from services.closures import ClosureOutcome, add_closure, change_closure, remove_closure
from services.common.errors import ValidationError
from services.day_changes import cancel_day, run_day_as
from services.school_year import ClosureData

KINDS = [kind.value for kind in ClosureKind]


class ClosureListArgs(PageArgs):
    start = fields.Date(metadata={"description": "Closures ending on or after this day"})
    end = fields.Date(metadata={"description": "Closures starting on or before this day"})


@blp.get("/closures")
@blp.arguments(ClosureListArgs, location="query", as_kwargs=False)
@blp.response(200, page_schema(ClosureSchema))
def list_closures(args):
    """Closures (staff), by first day."""
    require_staff()
    query = db.select(Closure)
    if args.get("start"):
        query = query.where(Closure.last_day >= args["start"])
    if args.get("end"):
        query = query.where(Closure.first_day <= args["end"])
    page = paginate(query, [Closure.first_day, Closure.id], args)
    return paged(page, [closure_json(c) for c in page["items"]])


class ClosureInput(StrictSchema):
    """Days without teaching, both included: for the whole school, or for `groups`."""

    name = fields.String(required=True, validate=validate.Length(min=1, max=120))
    kind = fields.String(load_default=ClosureKind.HOLIDAY.value, validate=validate.OneOf(KINDS))
    first_day = fields.Date(required=True)
    last_day = fields.Date(required=True, metadata={"description": "Included"})
    groups = fields.List(
        Id(),
        load_default=None,
        allow_none=True,
        metadata={"description": "The groups it closes; absent or null: the whole school"},
    )


@blp.post("/closures")
@blp.arguments(ClosureInput)
@blp.response(201, ClosureSchema)
def create_closure(values):
    """Add a closure (staff): the sessions already made on its days are cancelled by it, but
    completed, hand-edited, started ones and those with notes or files (`kept`); each group's
    people are told."""
    user = require_staff()
    outcome = add_closure(_closure_data(values), actor=user, tz=org_tz())
    db.session.commit()
    location = url_for("api_timetable.get_closure", closure_id=outcome.closure.id)
    return _outcome_json(outcome), 201, {"Location": location}


def _closure_data(values: dict) -> ClosureData:
    return ClosureData(
        values["name"], values["first_day"], values["last_day"], ClosureKind(values["kind"]),
        values["groups"], values.get("runs_as"),
    )  # fmt: skip


def _outcome_json(outcome: ClosureOutcome) -> dict:
    body = closure_json(outcome.closure)
    for key in ("cancelled", "kept", "restored", "clashing"):
        body[key] = [s.id for s in getattr(outcome, key)]
    return body


@blp.get("/closures/<id:closure_id>")
@blp.response(200, ClosureSchema)
def get_closure(closure_id: int):
    """One closure (staff)."""
    require_staff()
    return closure_json(load_or_404(Closure, closure_id, "closure"))


class ClosurePatch(StrictSchema):
    name = fields.String(validate=validate.Length(min=1, max=120))
    kind = fields.String(validate=validate.OneOf(KINDS))
    first_day = fields.Date()
    last_day = fields.Date(metadata={"description": "Included"})
    groups = fields.List(
        Id(),
        allow_none=True,
        metadata={"description": "The groups it closes; null: the whole school"},
    )


@blp.patch("/closures/<id:closure_id>")
@blp.arguments(ClosurePatch)
@blp.response(200, ClosureSchema)
def patch_closure(values, closure_id: int):
    """Change a closure (staff), only the fields sent: the sessions on days it no longer closes
    come back (`restored`; `clashing` those that now clash), those on days it now closes are
    cancelled (`cancelled`), protected ones are left (`kept`); their people are told."""
    require_staff()
    closure = load_or_404(Closure, closure_id, "closure")
    current = {
        "name": closure.name,
        "kind": str(closure.kind),
        "first_day": closure.first_day,
        "last_day": closure.last_day,
        "groups": None if closure.whole_school else [g.id for g in closure.groups],
        "runs_as": closure.runs_as,
    }
    outcome = change_closure(closure, _closure_data(current | values), tz=org_tz())
    db.session.commit()
    return _outcome_json(outcome)


@blp.delete("/closures/<id:closure_id>")
@blp.response(204)
def delete_closure(closure_id: int):
    """Remove a closure (staff): the sessions it cancelled come back (unless edited since),
    and those its days kept from being made are made."""
    require_staff()
    remove_closure(load_or_404(Closure, closure_id, "closure"), tz=org_tz())
    db.session.commit()
    return no_content()


class DayChangeInput(StrictSchema):
    """A whole-day change of `day`: `cancel` every session of it, or `run_as` the timetable
    of the day `runs_as` (a make-up day)."""

    action = fields.String(required=True, validate=validate.OneOf(["cancel", "run_as"]))
    day = fields.Date(required=True)
    runs_as = fields.Date(metadata={"description": "run_as: the day whose timetable runs"})
    name = fields.String(load_default="", validate=validate.Length(max=120))
    groups = fields.List(
        Id(),
        load_default=None,
        allow_none=True,
        metadata={"description": "run_as: the groups it concerns; absent or null: all"},
    )
    preview = fields.Boolean(
        load_default=False, metadata={"description": "true: what it would do, nothing changed"}
    )


class SessionLineSchema(ma.Schema):
    id = fields.Integer()
    group = fields.String()
    when = fields.String(metadata={"description": "Local: Wed 14 Jan 09:00-10:00"})
    room = fields.String()
    clashes_with = fields.String(metadata={"description": "What it would double-book, or ''"})


class DayChangeSchema(ma.Schema):
    closure = fields.Nested(
        ClosureSchema, allow_none=True, metadata={"description": "null in a preview"}
    )
    preview = fields.Boolean()
    cancelled = fields.List(fields.Nested(SessionLineSchema))
    made = fields.List(fields.Nested(SessionLineSchema), metadata={"description": "run_as"})
    kept = fields.List(fields.Nested(SessionLineSchema))
    notified = fields.Integer()


@blp.post("/day-changes")
@blp.arguments(DayChangeInput)
@blp.response(200, DayChangeSchema, description="A preview: nothing changed")
@blp.alt_response(201, schema=DayChangeSchema, description="Done")
def change_day(values):
    """Cancel every session of a day, or run another day's timetable on it (staff). With
    `preview`, what it would do (200, nothing changed); else it is done (201, a closure of
    the day: DELETE /closures/{id} undoes it) and the people concerned are told."""
    user = require_staff()
    try:
        change = _day_change(values, user)
    except ValidationError as err:
        names = {"first_day": "day", "last_day": "day"}
        raise ValidationError({names.get(k, k): v for k, v in err.errors.items()}) from err
    body = {
        "closure": closure_json(change.closure) if change.closure else None,
        "preview": change.preview,
        "cancelled": [vars(line) for line in change.cancelled],
        "made": [vars(line) for line in change.made],
        "kept": [vars(line) for line in change.kept],
        "notified": change.notified,
    }
    if change.preview:
        return body
    db.session.commit()
    location = url_for("api_timetable.get_closure", closure_id=change.closure.id)
    return body, 201, {"Location": location}


def _day_change(values: dict, user):
    if values["action"] == "run_as":
        return run_day_as(
            values["day"], values.get("runs_as"), values["name"], group_ids=values["groups"],
            actor=user, tz=org_tz(), preview=values["preview"],
        )  # fmt: skip
    if values.get("runs_as") or values["groups"]:
        raise ValidationError({"runs_as": "Only a make-up day (run_as) takes runs_as or groups."})
    return cancel_day(
        values["day"], values["name"] or "Closed", actor=user, tz=org_tz(),
        preview=values["preview"],
    )  # fmt: skip
