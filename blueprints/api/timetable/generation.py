"""Generation (staff): the sessions of every active series over a window."""

from __future__ import annotations

from flask import current_app
from marshmallow import fields, validate

from blueprints.api.common import StrictSchema, org_tz, require_staff
from blueprints.api.timetable import blp
from blueprints.api.timetable.schemas import GenerationSummarySchema
from models import db
from services.timetable.generation import generate_occurrences, resolve_window


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
