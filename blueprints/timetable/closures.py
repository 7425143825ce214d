"""Closures (holidays, the school closed, staff days): the list, adding one (the sessions on
its days are cancelled at once), changing one in place and removing one (they come back)."""

from __future__ import annotations

from datetime import timedelta

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user

from blueprints.access import is_htmx, is_htmx_partial, load_or_404, org_tz, staff_required
from blueprints.feedback import form_action, page_or_fragment, toast
from blueprints.timetable.forms import ClosureForm, ClosureImportForm
from blueprints.timetable.routes import bp
from models import Closure, ClosureKind, db
from services.closure_import import import_closures
from services.closures import ClosureOutcome, add_closure, change_closure, remove_closure
from services.common.timeutil import today_in
from services.common.wording import plural
from services.school_year import ClosureData, group_ids_named, list_closures
from services.timetable.csv_reading import ImportErrors

KIND_LABELS = {
    ClosureKind.HOLIDAY: "Holiday",
    ClosureKind.CLOSED: "School closed",
    ClosureKind.STAFF_DAY: "Staff day",
}


def _page(
    form: ClosureForm,
    status: int = 200,
    import_form: ClosureImportForm | None = None,
    import_errors: list[str] | None = None,
):
    today = today_in(org_tz())
    closures = list_closures()
    return render_template(
        "timetable/closures.html",
        form=form,
        import_form=import_form or ClosureImportForm(),
        import_errors=import_errors or [],
        coming=[c for c in closures if c.last_day >= today],
        past=[c for c in reversed(closures) if c.last_day < today][:20],
        kind_labels=KIND_LABELS,
        days_of=closure_days,
    ), status


@bp.get("/closures")
@staff_required
def closures():
    return _page(ClosureForm())


@bp.post("/closures")
@staff_required
def create_closure():
    form = ClosureForm()
    if not form.validate_on_submit():
        return _page(form, 422)
    with form_action(form) as outcome:
        done = add_closure(_closure_data(form), actor=current_user, tz=org_tz())
    if outcome.failed:
        return _page(form, outcome.status)
    flash(_said(f"{done.closure.name} added", done), "success")
    return redirect(url_for("timetable.closures"))


def _closure_data(form: ClosureForm, runs_as=None) -> ClosureData:
    """The form's closure; `runs_as`, a make-up day's (kept when it is edited here)."""
    group_ids = group_ids_named(form.groups.data) if form.scope.data == "groups" else None
    return ClosureData(
        form.name.data, form.first_day.data, form.last_day.data, ClosureKind(form.kind.data),
        group_ids, runs_as,
    )  # fmt: skip


def _row(closure: Closure):
    return render_template(
        "timetable/_closure_row.html",
        closure=closure,
        kind_labels=KIND_LABELS,
        days_of=closure_days,
    )


@bp.get("/closures/<id:closure_id>")
@staff_required
def closure_row(closure_id: int):
    """The closure's row again (an editor's Cancel)."""
    closure = load_or_404(Closure, closure_id)
    if not is_htmx_partial():
        return redirect(url_for("timetable.closures", _anchor=f"closure-{closure.id}"))
    return _row(closure)


@bp.route("/closures/<id:closure_id>/edit", methods=["GET", "POST"])
@staff_required
def edit_closure(closure_id: int):
    """Change a closure: the sessions on days it no longer closes come back, those on days it
    now closes are cancelled."""
    closure = load_or_404(Closure, closure_id)
    form = ClosureForm(prefix=f"closure{closure.id}")
    if request.method == "GET":
        form.process(obj=closure)
        form.scope.data = "school" if closure.whole_school else "groups"
        form.groups.data = "\n".join(g.name for g in closure.groups)
    status = 200
    if request.method == "POST":
        status = 422
        if form.validate_on_submit():
            with form_action(form) as outcome:
                done = change_closure(closure, _closure_data(form, closure.runs_as), tz=org_tz())
            if outcome.ok:
                message = _said(f"{closure.name} saved", done)
                if is_htmx_partial():
                    return _row(closure), 200, toast(message)
                flash(message, "success")
                return redirect(url_for("timetable.closures"))
        closure = db.session.get(Closure, closure_id)
    return page_or_fragment(
        "timetable/closure_edit.html", "timetable/_closure_edit_row.html", status,
        form=form, closure=closure,
    )  # fmt: skip


@bp.post("/closures/import")
@staff_required
def import_closures_route():
    """A CSV or iCalendar file of closures, all or nothing: every bad line listed."""
    form = ClosureImportForm()
    if not form.validate_on_submit():
        return _page(ClosureForm(), 422, form)
    upload = form.file.data
    try:
        summary = import_closures(
            upload.read(), upload.filename or "", tz=org_tz(), actor=current_user
        )
        db.session.commit()
    except ImportErrors as err:
        db.session.rollback()
        return _page(ClosureForm(), 422, form, err.messages)
    flash(
        f"Imported {upload.filename}: {plural(summary.closures, 'closure')},"
        f" {plural(summary.cancelled, 'session')} cancelled, {summary.kept} kept.",
        "success",
    )
    return redirect(url_for("timetable.closures"))


@bp.post("/closures/<id:closure_id>/delete")
@staff_required
def delete_closure(closure_id: int):
    closure = load_or_404(Closure, closure_id)
    name = closure.name
    with form_action() as outcome:
        done = remove_closure(closure, tz=org_tz())
    if outcome.ok:
        flash(_said(f"{name} removed", done), "success")
    target = url_for("timetable.closures")
    # From the confirming button (htmx): the browser loads the list, with the message.
    return ("", 200, {"HX-Redirect": target}) if is_htmx() else redirect(target)


def _said(what: str, done: ClosureOutcome) -> str:
    """'Snow day added: 12 sessions cancelled, 1 kept (completed, edited by hand, started or
    with notes or files).'"""
    parts = []
    if done.cancelled:
        parts.append(f"{plural(len(done.cancelled), 'session')} cancelled")
    if done.restored:
        parts.append(f"{plural(len(done.restored), 'session')} back on")
    if done.created:
        parts.append(f"{plural(done.created, 'session')} made")
    if done.kept:
        parts.append(
            f"{len(done.kept)} kept as they are (completed, edited by hand, started, or with"
            " notes or files)"
        )
    if done.clashing:
        tz = org_tz()
        named = ", ".join(
            f"{s.group.name} {s.start_utc.astimezone(tz):%a %d %b %H:%M}" for s in done.clashing[:5]
        )
        more = f" and {len(done.clashing) - 5} more" if len(done.clashing) > 5 else ""
        parts.append(f"back on and now clashing with another session: {named}{more}")
    return f"{what}: {', '.join(parts)}." if parts else f"{what}; no session was on its days."


def closure_days(closure: Closure) -> str:
    first, last = closure.first_day, closure.last_day
    if first == last:
        return f"{first:%a %d %b %Y}"
    return (
        f"{first:%a %d %b} to {last:%a %d %b %Y} ({(last - first + timedelta(days=1)).days} days)"
    )
