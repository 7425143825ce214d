"""The timetable and exceptions CSV imports in the browser (staff): upload, a preview of what
each line would create, change or why it is refused, then apply all or nothing.

The preview runs the import for real inside a savepoint and rolls it back, so it says exactly
what applying will do. The file is kept server-side between the two steps (services/
import_staging.py), named by its SHA-256: applying takes that file, not a new upload. Applying
imports it again and compares what it did with what the preview said (a digest of the preview's
lines): if the database changed meanwhile so that the outcome differs, nothing is kept and the
new preview is shown to be applied instead.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path

from flask import abort, current_app, flash, redirect, render_template, url_for
from flask_login import current_user

from blueprints.access import (
    body_limit_text,
    is_htmx,
    is_htmx_partial,
    org_tz,
    staff_required,
    takes_uploads,
)
from blueprints.timetable.forms import ImportApplyForm, ImportUploadForm
from blueprints.timetable.routes import bp
from models import db
from services.common.errors import DomainError
from services.import_staging import KINDS, discard_import, stage_import, staged_import
from services.timetable.csv_reading import (
    CHANGED,
    CREATED,
    ENDED,
    REFUSED,
    REMOVED,
    UNCHANGED,
    ImportErrors,
    ImportLine,
    preview_lines,
)
from services.timetable.exception_import import import_exceptions
from services.timetable.timetable_import import import_timetable

# Lines shown in a preview; the counts above it always cover the whole file.
SHOWN_LINES = 1000
TITLES = {"timetable": "Timetable", "exceptions": "Exceptions"}
CHANGE_LABELS = {
    CREATED: "Created",
    CHANGED: "Changed",
    ENDED: "Ended",
    REMOVED: "Removed",
    UNCHANGED: "Unchanged",
    REFUSED: "Refused",
}


@dataclass
class Preview:
    """What importing a file would do, line by line."""

    kind: str
    filename: str
    sha256: str
    lines: list[ImportLine] = field(default_factory=list)
    message: str = ""  # why the preview is shown again (changed meanwhile, file gone)

    @property
    def counts(self) -> dict[str, int]:
        counts = dict.fromkeys(CHANGE_LABELS, 0)
        for item in self.lines:
            counts[item.change] += 1
        return counts

    @property
    def refused(self) -> int:
        return self.counts[REFUSED]

    @property
    def shown(self) -> list[ImportLine]:
        """The lines worth reading: unchanged ones are only counted."""
        return [item for item in self.lines if item.change != UNCHANGED][:SHOWN_LINES]

    @property
    def hidden(self) -> int:
        return len([i for i in self.lines if i.change != UNCHANGED]) - len(self.shown)

    @property
    def digest(self) -> str:
        return _digest(self.lines)


def _digest(lines: list[ImportLine]) -> str:
    text = "\n".join(f"{i.line}\t{i.change}\t{i.text}" for i in lines)
    return hashlib.sha256(text.encode()).hexdigest()


def _folder() -> Path:
    return Path(current_app.config["IMPORT_FOLDER"])


def _clean_filename(name: str) -> str:
    """A file name to show: no path, no control or direction characters, not too long."""
    name = re.split(r"[\\/]", name or "")[-1]
    name = re.sub(r"[\x00-\x1f\x7f\u200e\u200f\u202a-\u202e\u2066-\u2069]", "", name).strip()
    return name[:120] or "the file"


def _run(kind: str, data: bytes, *, dry_run: bool):
    if kind == "timetable":
        return import_timetable(data, tz=org_tz(), dry_run=dry_run)
    return import_exceptions(data, tz=org_tz(), actor=current_user, dry_run=dry_run)


def _preview(kind: str, data: bytes, filename: str, sha256: str) -> Preview:
    """A dry run of the import: its lines, or its refusals beside what the rest would do."""
    preview = Preview(kind, filename, sha256)
    try:
        summary = _run(kind, data, dry_run=True)
    except ImportErrors as err:
        db.session.rollback()
        preview.lines = preview_lines(err.lines, err.messages)
    except DomainError as err:
        db.session.rollback()
        preview.lines = preview_lines([], [err.message])
    else:
        db.session.rollback()  # a preview holds no lock while the page is read
        preview.lines = summary.lines
    return preview


def _kind_or_404(kind: str) -> str:
    if kind not in KINDS:
        abort(404)
    return kind


def _page(status: int = 200, **panels):
    """The Imports page, or (htmx) the one panel that changed."""
    context = {
        kind: {"kind": kind, "form": ImportUploadForm(), "preview": None, "apply_form": None}
        for kind in KINDS
    }
    for kind, panel in panels.items():
        context[kind].update(panel)
    if is_htmx_partial() and len(panels) == 1:
        (kind,) = panels
        return render_template(
            "timetable/_import_panel.html", panel=context[kind], titles=TITLES,
            labels=CHANGE_LABELS,
        ), status  # fmt: skip
    return render_template(
        "timetable/imports.html", panels=context, titles=TITLES, labels=CHANGE_LABELS,
        limit=body_limit_text(current_app.config["MAX_IMPORT_KB"] * 1024),
    ), status  # fmt: skip


def _apply_form(preview: Preview) -> ImportApplyForm:
    # Prefixed: both panels' forms may be on the page at once.
    form = ImportApplyForm(formdata=None, prefix=preview.kind)
    form.sha256.data, form.digest.data = preview.sha256, preview.digest
    form.filename.data = preview.filename
    return form


@bp.get("/imports")
@staff_required
def imports():
    return _page()


@bp.post("/imports/<kind>/preview")
@staff_required
@takes_uploads
def preview_import(kind: str):
    """Upload a file: keep it, and show what importing it would do."""
    kind = _kind_or_404(kind)
    form = ImportUploadForm()
    if not form.validate_on_submit():
        return _page(422, **{kind: {"form": form}})
    limit = current_app.config["MAX_IMPORT_KB"] * 1024
    data = form.file.data.read(limit + 1)
    if len(data) > limit:
        form.file.errors = [
            f"This file is larger than {body_limit_text(limit)}, the most "
            "an import takes here; split it, or use the flask command."
        ]
        return _page(413, **{kind: {"form": form}})
    filename = _clean_filename(form.file.data.filename)
    sha256 = stage_import(_folder(), kind, current_user.id, data)
    preview = _preview(kind, data, filename, sha256)
    status = 422 if preview.refused else 200
    apply_form = None if preview.refused else _apply_form(preview)
    return _page(status, **{kind: {"preview": preview, "apply_form": apply_form}})


@bp.post("/imports/<kind>/apply")
@staff_required
def apply_import(kind: str):
    """Import the previewed file, all or nothing, if it still does what the preview said."""
    kind = _kind_or_404(kind)
    form = ImportApplyForm(prefix=kind)
    form.validate_on_submit()  # the CSRF token; the fields are checked below
    sha256, filename = form.sha256.data or "", _clean_filename(form.filename.data)
    data = staged_import(_folder(), kind, current_user.id, sha256)
    if data is None:
        form.form_errors.append(
            "The previewed file is no longer here (it was imported already, or previewed over "
            "a day ago): upload it again to see a new preview."
        )
        return _page(409, **{kind: {"form": ImportUploadForm(), "upload_errors": form.form_errors}})
    try:
        summary = _run(kind, data, dry_run=False)
    except (ImportErrors, DomainError):
        db.session.rollback()
        summary = None
    if summary is None or _digest(summary.lines) != form.digest.data:
        # The database changed since the preview (or the preview was not this one): keep
        # nothing, show what the file would do now.
        db.session.rollback()
        preview = _preview(kind, data, filename, sha256)
        preview.message = (
            "Nothing was imported: what this file does has changed since its preview (someone "
            "changed the timetable meanwhile, or the file was imported already). Check the "
            "preview below" + (" and apply it." if not preview.refused else ".")
        )
        apply_form = None if preview.refused else _apply_form(preview)
        status = 422 if preview.refused else 409
        return _page(status, **{kind: {"preview": preview, "apply_form": apply_form}})
    db.session.commit()
    discard_import(_folder(), kind, current_user.id, sha256)
    flash(_applied(kind, filename, summary), "success")
    target = url_for("timetable.imports")
    return ("", 200, {"HX-Redirect": target}) if is_htmx() else redirect(target)


def _applied(kind: str, filename: str, summary) -> str:
    counts = Preview(kind, filename, "", summary.lines).counts
    said = ", ".join(
        f"{counts[change]} {CHANGE_LABELS[change].lower()}"
        for change in (CREATED, CHANGED, ENDED, REMOVED, UNCHANGED)
        if counts[change]
    )
    message = f"Imported {filename}: {said or 'nothing to change'}."
    if kind == "timetable" and summary.series_changed:
        message += (
            " Existing sessions follow the new series after generating again with force "
            "(Generate page)."
        )
    return message
