"""Timetable pages: course groups, generation, per-date exceptions."""

from __future__ import annotations

from datetime import date, timedelta

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from wtforms import SelectChoice

from blueprints.access import is_htmx, is_htmx_partial, load_or_404, org_tz, staff_required
from blueprints.feedback import form_action, page_or_fragment
from blueprints.timetable.forms import (
    DateOverrideChangeForm,
    DateOverrideForm,
    GenerateForm,
    change_from_form,
    exception_editor_form,
    generate_group_choices,
)
from blueprints.typed_choice import (
    resolve_typed,
    resolve_typed_filters,
    sent_typed,
    show_chosen,
)
from models import CourseGroup, DateOverride, GenerationRun, Occurrence, Series, db
from services.common.errors import ConflictError, DomainError, InvalidTransition, ValidationError
from services.common.numbers import row_id
from services.common.pagination import Page, page_number, paginate
from services.common.timeutil import today_in
from services.timetable.exceptions import (
    OVERRIDE_KINDS,
    delete_override,
    overrides_query,
    save_override,
)
from services.timetable.generation import CHANGE_KINDS, resolve_window
from services.timetable.generation_jobs import (
    conflict_count,
    generate_or_queue,
    progress_of,
    run_summary,
)
from services.timetable.schedule.filter_choices import choice_named

bp = Blueprint("timetable", __name__, url_prefix="/timetable")


@bp.get("/groups")
@staff_required
def groups():
    """The old read-only list of groups: course groups are managed under /manage/groups."""
    return redirect(url_for("manage.groups"), 301)


@bp.app_template_global("forced_preview_url")
def forced_preview_url(occurrence: Occurrence) -> str:
    """The Generate preview, with force, of a series session's group and date: its fix."""
    day = occurrence.original_date
    return url_for(
        "timetable.generate",
        group=occurrence.group_id,
        start=day.isoformat(),
        end=(day + timedelta(days=1)).isoformat(),
        force=1,
        preview=1,
    )


# The preview lists at most this many sessions of each kind at once (then pages).
PREVIEW_PER_PAGE = 25
# A run's page lists at most this many conflicts (and says how many there are).
CONFLICTS_LISTED = 100


def _generate_form(run: GenerationRun | None = None) -> GenerateForm:
    """The Generate form: posted, or on GET prefilled from the query string (a session page
    links here with its group, its date and force), or from a run by a worker."""
    form = GenerateForm() if request.method == "POST" else GenerateForm(formdata=None)
    choices = generate_group_choices()
    wanted = row_id(request.values.get("group"))
    if wanted and wanted not in {c.value for c in choices}:
        group = db.session.get(CourseGroup, wanted)
        if group is not None:  # an inactive group, asked for by a link: offer it too
            choices.append(SelectChoice(group.id, f"{group.name} (inactive)"))
    form.group.choices = choices
    if request.method == "GET":
        args = request.args
        form.group.data = wanted if wanted in {c.value for c in choices} else 0
        form.start.data = _date_arg(args.get("start")) or today_in(org_tz())
        end = _date_arg(args.get("end"))
        if end is not None:
            form.span.data, form.end.data = "range", end
        form.force.data = args.get("force") == "1"
    if run is not None and request.method == "GET":
        form.group.data = run.group_id if run.group_id in {c.value for c in choices} else 0
        form.start.data, form.span.data, form.end.data = run.start, "range", run.end
        form.force.data = run.force
    return form


def _date_arg(text: str | None) -> date | None:
    try:
        return date.fromisoformat((text or "").strip())
    except ValueError:
        return None


def _preview_pages(summary) -> dict:
    """{kind: Page} of the summary's sessions, at the page each kind's pager asked for."""
    pages = {}
    for kind in CHANGE_KINDS:
        items = summary.changes_of(kind)
        per = PREVIEW_PER_PAGE
        last = max(1, -(-len(items) // per))
        number = min(page_number(request.values.get(f"page_{kind}")), last)
        pages[kind] = Page(items[(number - 1) * per : number * per], number, per, len(items))
    return pages


@bp.route("/generate", methods=["GET", "POST"])
@staff_required
def generate():
    """The Generate page. POST runs a preview (nothing written) or a generation; a pager
    button of the preview posts the form again with its page. GET with `preview=1` (and
    `group`, `start`, `end`, `force`) opens a preview directly: nothing is written."""
    form = _generate_form()
    summary, status, note, run = None, 200, "", None
    posted = request.method == "POST" and form.validate_on_submit()
    linked = request.method == "GET" and request.args.get("preview") == "1"
    if posted or linked:
        # Preview, or a pager button of a preview; Generate (or a bare POST) writes.
        paging = any(name.startswith("page_") for name in request.form)
        dry_run = linked or "preview" in request.form or paging
        with form_action(form) as outcome:
            start, end = resolve_window(
                form.start.data,
                weeks=form.weeks.data if form.span.data == "weeks" else None,
                end=form.end.data if form.span.data == "range" else None,
                max_days=current_app.config["MAX_GENERATION_DAYS"],
            )
            outcome_of_run = generate_or_queue(
                start, end, actor=current_user, tz=org_tz(), force=form.force.data,
                dry_run=dry_run, group_id=form.group.data or None, details=True,
                limit=current_app.config["MAX_WEB_GENERATION_SESSIONS"],
            )  # fmt: skip
            if isinstance(outcome_of_run, GenerationRun):
                # Too large for the page to wait for: a worker runs it (progress in place).
                run = outcome_of_run
            else:
                summary = outcome_of_run
        if outcome.ok and run is not None:
            if not is_htmx():
                return redirect(url_for("timetable.generation_run", run_id=run.id), 303)
            return _run_panel(run, form, 202)
        if outcome.ok:
            note = form.unused_field_note()
        status = outcome.status
    elif request.method == "POST":
        status = 422
    return page_or_fragment(
        "timetable/generate.html",
        "timetable/_generate_panel.html",
        status,
        form=form,
        summary=summary,
        span_note=note,
        pages=_preview_pages(summary) if summary is not None else {},
        group_name=dict((c.value, c.label) for c in form.group.choices).get(form.group.data),
        conflicts_listed=CONFLICTS_LISTED,
    )


@bp.get("/generations/<id:run_id>")
@staff_required
def generation_run(run_id: int):
    """A generation run by a worker: its progress while it runs (the panel polls this), then
    its outcome."""
    run = load_or_404(GenerationRun, run_id)
    form = _generate_form(run)
    return _run_panel(run, form, 200)


def _run_panel(run: GenerationRun, form, status: int):
    summary = run_summary(run)
    return page_or_fragment(
        "timetable/generation_run.html",
        "timetable/_generate_panel.html",
        status,
        form=form,
        run=run,
        progress=progress_of(run),
        summary=summary,
        span_note="",
        pages={},
        group_name=run.group.name if run.group_id and run.group else None,
        conflicts_listed=CONFLICTS_LISTED,
        conflict_total=conflict_count(run),
    )


def _new_override_form() -> DateOverrideForm:
    form = DateOverrideForm()
    if request.method == "GET":
        # Linked with ids (?series=3&room=5): the fields show their names.
        form.series.data = request.args.get("series", "")
        form.room.data = request.args.get("room", "")
    show_chosen(form, "series", "series")
    show_chosen(form, "room", "room")
    return form


def _edit_override_form(override: DateOverride) -> DateOverrideChangeForm:
    return exception_editor_form(
        override, f"exception{override.id}", prefill=request.method == "GET"
    )


def _exception_filters() -> tuple[dict, dict, dict]:
    """The list's filters from the URL, a message per filter that could not be read, and
    the groups a typed text names when it names several (to offer beside the field).

    The group is an id (`group=7`, what links carry) or, sent from the filter form, a text
    (`group_q`) resolved with the id beside it; `clear=group` removes it. A text that names
    nothing or several keeps the filter as it was."""
    typed = resolve_typed_filters(request.args, {"group": row_id(request.args.get("group", ""))})
    args, errors, matches = dict(typed.chosen), dict(typed.errors), typed.matches
    kind = request.args.get("kind", "")
    args["kind"] = kind if kind in OVERRIDE_KINDS else None
    for name in ("from", "to"):
        raw = request.args.get(name, "")
        args[name] = None
        if raw:
            try:
                args[name] = date.fromisoformat(raw)
            except ValueError:
                errors[name] = f"{raw!r} is not a date (YYYY-MM-DD): filter ignored."
    return args, errors, matches


def _exceptions_page(form: DateOverrideForm, status: int = 200):
    """The exceptions page: the add form (with its errors, if any), the filters and the list;
    the list alone for an htmx request from the filters or the pager (with the filters out of
    band when sent from them: what was chosen, or why not, beside the field)."""
    filters, filter_errors, filter_matches = _exception_filters()
    typed = request.method == "GET" and sent_typed(request.args, ("group",))
    if filter_errors.get("group"):
        status = 422
    list_args = {
        k: (v.isoformat() if isinstance(v, date) else v)
        for k, v in filters.items()
        if v is not None
    }
    if typed and status == 200 and not is_htmx():
        # Sent by the filter form: a good answer has its canonical URL (ids, no text).
        return redirect(url_for("timetable.exceptions", **list_args), 303)
    page = paginate(
        overrides_query(
            group_id=filters["group"],
            kind=filters["kind"],
            start=filters["from"],
            end=filters["to"],
        ),
        page_number(request.args.get("page")),
    )
    context = {
        "page": page,
        "filters": filters,
        "filter_errors": filter_errors,
        "filter_matches": filter_matches,
        "chosen_group": choice_named("group", filters["group"]),
        "list_args": list_args,
    }
    if request.method == "GET" and is_htmx_partial():
        body = render_template("timetable/_exceptions_list.html", **context)
        headers = {}
        if typed:
            body += render_template("timetable/_exception_filters.html", oob=True, **context)
            if status == 200:
                headers["HX-Push-Url"] = url_for("timetable.exceptions", **list_args)
        return body, status, headers
    return render_template("timetable/exceptions.html", form=form, **context), status


@bp.get("/exceptions")
@staff_required
def exceptions():
    return _exceptions_page(_new_override_form())


def _save(form: DateOverrideChangeForm, series: Series | None, original_date):
    """Save the form's exception; returns (saved or None, status) with errors on the form.
    The room (and for a new exception the series) is resolved from what was typed first."""
    room_id, room_ok = resolve_typed(form, "room", "room")
    if series is None or not room_ok:
        return None, 422
    with form_action(form, catch=(ValidationError, ConflictError, InvalidTransition)) as outcome:
        saved, _ = save_override(
            series, original_date, change_from_form(form, room_id), actor=current_user, tz=org_tz()
        )
    return (None if outcome.failed else saved), outcome.status


@bp.post("/exceptions")
@staff_required
def create_exception():
    form = _new_override_form()
    valid = form.validate_on_submit()
    series_id, series_ok = resolve_typed(form, "series", "series", required="Choose a series.")
    status = 422
    if valid and series_ok:
        series = db.session.get(Series, series_id)
        if series is None:
            form.series_q.errors = [*form.series_q.errors, "Choose a series."]
        saved, status = _save(form, series, form.original_date.data)
        if saved is not None:
            flash(
                f"Exception saved for {saved.series.group.name} on "
                f"{saved.original_date:%a %d %b %Y}.",
                "success",
            )
            return redirect(url_for("timetable.exceptions"))
    elif valid:
        resolve_typed(form, "room", "room")  # its message too, if any
    return _exceptions_page(form, status)


@bp.route("/exceptions/<id:override_id>/edit", methods=["GET", "POST"])
@staff_required
def edit_exception(override_id: int):
    override = load_or_404(DateOverride, override_id)
    # The series and date are the exception's identity; only what happens to it changes.
    form = _edit_override_form(override)
    status = 200
    if request.method == "POST":
        status = 422
        if form.validate_on_submit():
            saved, status = _save(form, override.series, override.original_date)
            if saved is not None:
                if is_htmx():
                    return render_template("timetable/_exception_row.html", override=saved)
                flash("Exception updated.", "success")
                return redirect(url_for("timetable.exceptions"))
    return page_or_fragment(
        "timetable/exception_edit.html", "timetable/_exception_edit_row.html", status,
        form=form, override=override,
    )  # fmt: skip


@bp.get("/exceptions/<id:override_id>")
@staff_required
def exception_row(override_id: int):
    override = load_or_404(DateOverride, override_id)
    return render_template("timetable/_exception_row.html", override=override)


@bp.post("/exceptions/<id:override_id>/delete")
@staff_required
def delete_exception(override_id: int):
    override = load_or_404(DateOverride, override_id)
    label = f"{override.series.group.name} on {override.original_date:%a %d %b %Y}"
    with form_action(catch=DomainError) as outcome:
        delete_override(override, tz=org_tz(), actor=current_user)
    if outcome.failed:
        if is_htmx():
            return render_template(
                "timetable/_exception_row.html", override=override, error=outcome.message
            ), 409
        flash(outcome.message, "error")
        return redirect(url_for("timetable.exceptions"))
    if is_htmx():
        return "", 200
    flash(f"Exception removed; {label} is back to its series' time and room.", "success")
    return redirect(url_for("timetable.exceptions"))
