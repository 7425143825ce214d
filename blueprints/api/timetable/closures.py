"""Closures (staff): listed, added (the sessions on their days are cancelled at once),
changed (the sessions follow its new days) and removed (they come back)."""

from __future__ import annotations

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
        values["groups"],
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
