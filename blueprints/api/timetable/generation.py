"""Generation (staff): the sessions of every active series over a window."""

from __future__ import annotations

import marshmallow as ma
from flask import current_app, jsonify, url_for
from marshmallow import fields, validate

from blueprints.api.common import Id, Instant, StrictSchema, load_or_404, org_tz, require_staff
from blueprints.api.timetable import blp
from blueprints.api.timetable.schemas import GenerationSummarySchema
from models import GenerationRun, db
from services.timetable.generation import resolve_window
from services.timetable.generation_jobs import conflict_count, generate_or_queue, progress_of


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


class ProgressSchema(ma.Schema):
    done = fields.Integer(metadata={"description": "Parts (weeks of the window) written"})
    total = fields.Integer()


class GenerationRunSchema(ma.Schema):
    """A generation run by a background worker: queued, running, then done (with its summary)
    or failed (with why; nothing was written)."""

    id = Id()
    status = fields.String(metadata={"enum": ["queued", "running", "done", "failed"]})
    start = fields.Date()
    end = fields.Date()
    force = fields.Boolean()
    dry_run = fields.Boolean()
    sessions = fields.Integer(metadata={"description": "Sessions the window held when queued"})
    progress = fields.Nested(ProgressSchema, allow_none=True)
    summary = fields.Nested(GenerationSummarySchema, allow_none=True, metadata={
        "description": "Once done; `conflicts` lists the first 100, `conflict_count` counts all"
    })  # fmt: skip
    conflict_count = fields.Integer(allow_none=True)
    error = fields.String(allow_none=True)
    created_at = Instant()
    started_at = Instant(allow_none=True)
    finished_at = Instant(allow_none=True)


def run_json(run: GenerationRun) -> dict:
    progress = progress_of(run) if not run.finished else None
    return {
        "id": run.id,
        "status": run.status.value,
        "start": run.start,
        "end": run.end,
        "force": run.force,
        "dry_run": run.dry_run,
        "sessions": run.sessions,
        "progress": {"done": progress[0], "total": progress[1]} if progress else None,
        "summary": run.summary,
        "conflict_count": conflict_count(run) if run.summary else None,
        "error": run.error,
        "created_at": run.created_at,
        "started_at": run.started_at,
        "finished_at": run.finished_at,
    }


@blp.post("/generate")
@blp.arguments(GenerateInput)
@blp.response(200, GenerationSummarySchema)
@blp.alt_response(202, schema=GenerationRunSchema, description="Queued for a worker")
def generate(values):
    """Generate the sessions of every active series over a window (staff); the summary is the
    one `flask generate-sessions --json` prints. A window holding more sessions than
    `MAX_WEB_GENERATION_SESSIONS` is run by a background worker instead: 202 with the run,
    whose `Location` (GET /generations/{id}) tells its progress, then its summary."""
    user = require_staff()
    start, end = resolve_window(
        values["start"],
        weeks=values["weeks"],
        end=values["end"],
        max_days=current_app.config["MAX_GENERATION_DAYS"],
    )
    outcome = generate_or_queue(
        start, end, actor=user, tz=org_tz(), force=values["force"], dry_run=values["dry_run"],
        limit=current_app.config["MAX_WEB_GENERATION_SESSIONS"],
    )  # fmt: skip
    db.session.commit()
    if isinstance(outcome, GenerationRun):
        response = jsonify(GenerationRunSchema().dump(run_json(outcome)))
        response.status_code = 202
        response.headers["Location"] = url_for("api_timetable.get_generation", run_id=outcome.id)
        return response
    return outcome.as_dict()


@blp.get("/generations/<id:run_id>")
@blp.response(200, GenerationRunSchema)
def get_generation(run_id: int):
    """A generation run by a background worker (staff): its progress, then its outcome."""
    require_staff()
    return run_json(load_or_404(GenerationRun, run_id, "generation run"))
