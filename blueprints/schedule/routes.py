"""The schedule: week grid (by time or by room), day and month views, personal timetables,
and the grid's inline exception editor.

Every grid URL is a full page, and answers only the `#schedule` fragment to an htmx partial
request (navigation and filters swap the grid in place and push the URL). The editor's
URLs carry the grid's own parameters, so a saved change redraws exactly the cells it
touched, with the same filters.
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import date, datetime, time, timedelta
from urllib.parse import urlencode

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user, login_required

from blueprints.access import (
    htmx_target_id,
    is_htmx,
    is_htmx_partial,
    load_or_404,
    org_tz,
    staff_required,
)
from blueprints.feedback import form_action, page_or_fragment, toast
from blueprints.timetable.forms import CellEditorForm, cell_editor_form, change_from_form
from blueprints.typed_choice import TypedFilters, resolve_typed_filters, sent_typed, show_chosen
from models import MAX_ID, CourseGroup, Occurrence, Room, db
from services.common.errors import ConflictError, DomainError, InvalidTransition, ValidationError
from services.common.numbers import whole_number
from services.common.timeutil import date_outside, today_in
from services.output.spreadsheets import sessions_csv, week_workbook
from services.permissions import visible_groups
from services.school_year import closed_labels, term_label, term_weeks
from services.timetable.exceptions import delete_override, find_override, save_override
from services.timetable.listing import ListedOccurrence
from services.timetable.schedule.entries import (
    GridEntry,
    entries_affected_by,
    load_entries,
    load_entry,
)
from services.timetable.schedule.filter_choices import (
    CHOOSABLE,
    KINDS,
    resolve_choice,
    room_options,
    selected_names,
    suggest,
    window_with_changes,
)
from services.timetable.schedule.layout import Grid, build_grid, build_month, cell_id_of
from services.timetable.schedule.paging import GridPlan, plan_grid
from services.timetable.schedule.view import (
    ScheduleFilters,
    ScheduleView,
    parse_view,
    personal_filters,
)

bp = Blueprint("schedule", __name__, url_prefix="/schedule")


# --- Pages -------------------------------------------------------------------------------


@bp.get("/")
@staff_required
def week():
    return _schedule_page("week")


@bp.get("/day")
@staff_required
def day():
    return _schedule_page("day")


@bp.get("/month")
@staff_required
def month():
    return _schedule_page("month")


@bp.get("/mine")
@login_required
def mine():
    """A mentor's own sessions or a student's own timetable (staff: the whole schedule)."""
    if current_user.is_staff:
        return redirect(url_for("schedule.week", **request.args))
    view_name = request.args.get("view", "week")
    return _schedule_page(view_name if view_name in ("week", "day", "month") else "week", True)


def _schedule_page(view_name: str, personal: bool = False):
    args = request.args.to_dict()
    args["view"] = view_name
    view, errors = parse_view(args, today=today_in(org_tz()))
    if personal:
        view = replace(view, filters=personal_filters(current_user), page=1, whole=False)
        return _render_schedule(view, errors, personal)
    if not sent_typed(args, KINDS):
        return _render_schedule(view, errors, personal)
    # Sent by the filter form: what was typed is resolved, and a good answer gets its
    # canonical URL (ids, no text), which a bookmark keeps.
    view, bar = _with_typed_filters(view, args)
    if bar.errors:
        return _render_schedule(view, errors, personal, bar, status=422)
    canonical = url_for(request.endpoint, **view.query_args(view=None))
    if not is_htmx():
        return redirect(canonical, 303)
    response = _render_schedule(view, errors, personal, bar)
    response.headers["HX-Push-Url"] = canonical
    return response


def _with_typed_filters(view: ScheduleView, args: dict) -> tuple[ScheduleView, TypedFilters]:
    """`view` with the filter bar's texts resolved, and what the bar shows beside its fields
    (a field that names nothing or several keeps its filter as it was, and says why)."""
    f = view.filters
    bar = resolve_typed_filters(
        args,
        {"room": f.room_id, "mentor": f.mentor_id, "group": f.group_id, "student": f.student_id},
    )
    chosen = bar.chosen
    filters = ScheduleFilters(chosen["room"], chosen["mentor"], chosen["group"], chosen["student"])
    return replace(view, filters=filters, page=1), bar


def _render_schedule(
    view: ScheduleView,
    errors: dict,
    personal: bool,
    bar: TypedFilters | None = None,
    status: int = 200,
):
    tz = org_tz()
    plan = grid_plan(view, personal)
    view = plan.view
    context = {
        "schedule_url": schedule_url,
        "links": CardLinks(view),
        "view": view,
        "errors": errors,
        "personal": personal,
        "endpoint": request.endpoint,
        "grid": None,
        "month_weeks": None,
        "today": today_in(tz),
        "editable": current_user.is_staff and not personal,
        "plan": plan,
        "closed": closed_labels(view.first_day, view.last_day, _groups_shown(view, personal)),
        "term": term_label(view.day),
    }
    if view.view == "month":
        context["month_weeks"] = build_month(view, plan.entries, plan.day_totals)
        context["term_weeks"] = term_weeks(view.first_day, view.last_day)
    else:
        context["grid"] = build_grid(view, plan.entries, plan.pinned_rooms)
    if not personal:
        context["chosen"] = selected_names(view.filters)
        context["bar"] = bar or TypedFilters()
    if is_htmx_partial() and htmx_target_id() in (None, "schedule"):
        body = render_template("schedule/_schedule.html", **context)
        if bar is not None:
            # Sent from the filter bar: it shows what was chosen, or why not, beside each field.
            body += render_template("schedule/_filters.html", oob=True, **context)
            body += render_template("schedule/_filters_summary.html", oob=True, **context)
        return _response(body, status)
    return _response(render_template("schedule/page.html", **context), status)


def _groups_shown(view: ScheduleView, personal: bool) -> set[int] | None:
    """The groups whose own closures the view marks: the filtered group, or the viewer's
    (their timetable); the whole school's closures are always marked."""
    if view.filters.group_id:
        return {view.filters.group_id}
    if personal:
        user = current_user._get_current_object()
        return set(db.session.scalars(visible_groups(user).with_only_columns(CourseGroup.id)))
    return None


def grid_plan(view: ScheduleView, personal: bool = False) -> GridPlan:
    """The grid `view` asks for, or by room a page at a time when it is too big (paging.py)."""
    config = current_app.config
    return plan_grid(
        view,
        tz=org_tz(),
        # The user itself, not the proxy: it is asked about every session shown.
        viewer=current_user._get_current_object(),
        pinned_rooms=_pinned_rooms(view),
        max_sessions=None if personal else config["SCHEDULE_GRID_MAX_SESSIONS"],
        per_page=config["SCHEDULE_ROOMS_PER_PAGE"],
    )


def schedule_url(current: ScheduleView, personal: bool, **changes) -> str:
    """The URL of `current` with `changes` (view, layout, day...), on the page it belongs to."""
    base = ScheduleView(current.view, current.layout, current.day) if personal else current
    if changes and "page" not in changes:
        base = replace(base, page=1)  # another week, day or layout starts at its first page
    args = base.query_args(**{k: v for k, v in changes.items() if k != "day"})
    if "day" in changes:
        args["date"] = changes["day"].isoformat()
    endpoint = "schedule.mine" if personal else "schedule." + args.pop("view")
    return _endpoint_url(endpoint) + _query(args)


# A grid page has a few dozen links and a card per session; url_for costs tens of
# microseconds a call, so links are built from each endpoint's path, found once per request,
# and a query string encoded as Werkzeug does (none of these arguments is a path variable).
_QUERY_SAFE = "!$'()*,/:;?@"


def _query(args: dict) -> str:
    return "?" + urlencode(args, safe=_QUERY_SAFE) if args else ""


def _endpoint_url(endpoint: str, **values) -> str:
    urls = g.setdefault("_schedule_urls", {})
    key = (endpoint, *values.items())
    url = urls.get(key)
    if url is None:
        url = urls[key] = url_for(endpoint, **values)
    return url


class CardLinks:
    """The URLs on the cards of one grid: a session's editor (with the grid's parameters) and
    its page, each its endpoint's path with the id in place of a placeholder id."""

    _PLACEHOLDER = 987654321

    def __init__(self, view: ScheduleView):
        query = _query(view.query_args())
        editor = _endpoint_url("schedule.editor", occurrence_id=self._PLACEHOLDER)
        self._editor = self._split(editor, query)
        self._detail = self._split(
            _endpoint_url("sessions.detail", occurrence_id=self._PLACEHOLDER), ""
        )

    @classmethod
    def _split(cls, url: str, query: str) -> tuple[str, str]:
        head, _, tail = url.rpartition(str(cls._PLACEHOLDER))
        return head, tail + query

    def editor(self, occurrence_id: int) -> str:
        return f"{self._editor[0]}{occurrence_id}{self._editor[1]}"

    def detail(self, occurrence_id: int) -> str:
        return f"{self._detail[0]}{occurrence_id}{self._detail[1]}"


def _response(body: str, status: int = 200, headers: dict | None = None):
    response = make_response(body, status)
    response.headers.update(headers or {})
    return response


def _pinned_rooms(view: ScheduleView) -> list[Room]:
    """Rooms shown as rows even when empty: the room filtered on."""
    if view.layout != "rooms" or not view.filters.room_id:
        return []
    room = db.session.get(Room, view.filters.room_id)
    return [room] if room is not None else []


# --- Exports ---------------------------------------------------------------------------------

EXPORT_MAX_DAYS = 366


@bp.get("/export.<fmt>")
@login_required
def export(fmt: str):
    """The sessions of the grid's dates (or of `start` to `end`, end excluded, at most a
    year) with the grid's filters, as CSV or as an Excel workbook (a sheet per week)."""
    if fmt not in ("csv", "xlsx"):
        abort(404)
    tz = org_tz()
    view, _errors = parse_view(request.args.to_dict(), today=today_in(tz))
    if not current_user.is_staff:
        view = ScheduleView(view.view, view.layout, view.day, personal_filters(current_user))
    first, last = view.first_day, view.last_day
    try:
        if request.args.get("start"):
            first = date.fromisoformat(request.args["start"])
            last = date.fromisoformat(request.args.get("end") or "")
    except ValueError:
        abort(400, "start and end are dates (YYYY-MM-DD).")
    if not 0 < (last - first).days <= EXPORT_MAX_DAYS:
        abort(400, f"Export from one to {EXPORT_MAX_DAYS} days (the end is excluded).")
    if message := date_outside(first) or date_outside(last - timedelta(days=1)):
        abort(400, message)
    entries = load_entries(first, last, tz=tz, filters=view.filters, viewer=current_user)
    name = f"termtable-{first.isoformat()}-to-{(last - timedelta(days=1)).isoformat()}"
    if fmt == "csv":
        rows = [ListedOccurrence(e.occurrence, bool(e.conflicts)).as_dict(tz) for e in entries]
        response = make_response(sessions_csv(rows))
        response.mimetype, response.charset = "text/csv", "utf-8"
    else:
        body = week_workbook(first, last, entries, by_room=view.layout == "rooms")
        response = make_response(body)
        response.mimetype = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    response.headers["Content-Disposition"] = f'attachment; filename="{name}.{fmt}"'
    return response


# --- Inline exception editor -----------------------------------------------------------------


def _grid_view() -> ScheduleView:
    """The grid the editor was opened from (its parameters travel with the editor's URLs)."""
    view, _ = parse_view(request.args.to_dict(), today=today_in(org_tz()))
    if view.view == "month":
        view = replace(view, view="week")
    return view


def _series_occurrence(occurrence_id: int) -> Occurrence:
    occurrence = load_or_404(Occurrence, occurrence_id)
    if occurrence.series_id is None:
        abort(404)  # one-time sessions are edited on their own page
    return occurrence


def _editor_form(occurrence: Occurrence) -> CellEditorForm:
    # Several editors can be open on one grid: their fields (and labels) need their own ids.
    prefill = request.method == "GET"
    override = find_override(occurrence.series_id, occurrence.original_date) if prefill else None
    return cell_editor_form(override, f"occ{occurrence.id}", prefill=prefill)


def _render_editor(entry: GridEntry, view: ScheduleView, form, status: int = 200, **headers):
    if form.room_q.data is None:
        # Sent with a room id and no text (a script, not the page): the room shown by name.
        show_chosen(form, "room", "room")
    return page_or_fragment(
        "schedule/editor_page.html",
        "schedule/_editor.html",
        status,
        headers,
        entry=entry,
        view=view,
        form=form,
        override=find_override(entry.occurrence.series_id, entry.occurrence.original_date),
        cell_id=cell_id_of(entry, view.layout),
        page=not is_htmx_partial(),
        schedule_url=schedule_url,
    )


@bp.get("/sessions/<id:occurrence_id>/editor")
@staff_required
def editor(occurrence_id: int):
    occurrence = _series_occurrence(occurrence_id)
    view = _grid_view()
    entry = load_entry(occurrence.id, tz=org_tz())
    return _render_editor(entry, view, _editor_form(occurrence))


@bp.get("/sessions/<id:occurrence_id>/card")
@staff_required
def card(occurrence_id: int):
    # The session and its exception in one statement (the card is what Cancel and Escape
    # swap back, so it is the editor's hot path).
    entry = load_entry(occurrence_id, tz=org_tz())
    if entry is None:
        abort(404)
    view = _grid_view()
    return render_template(
        "schedule/_card.html",
        entry=entry,
        view=view,
        editable=True,
        focus_card=True,
        links=CardLinks(view),
    )


# --- Live updates ----------------------------------------------------------------------------

_CELL_ID = re.compile(r"[A-Za-z][\w-]{0,100}")
LIVE_CELLS_MAX = 200


@bp.get("/live-cells")
@staff_required
def live_cells():
    """The cells of this grid (the grid's own parameters) that sessions changed elsewhere
    touched, after a live event (static/app.js): those holding the sessions `session` now,
    and those that held them on the page (`cell`). 204 when none of them is on this grid."""
    view = _grid_view()
    ids = {whole_number(raw, MAX_ID) for raw in request.args.getlist("session")[:LIVE_CELLS_MAX]}
    asked = {c for c in request.args.getlist("cell")[:LIVE_CELLS_MAX] if _CELL_ID.fullmatch(c)}
    plan = grid_plan(view)
    grid = build_grid(plan.view, plan.entries, plan.pinned_rooms)
    touched = {cell_id_of(e, plan.view.layout) for e in plan.entries if e.id in ids}
    cells = [grid.cell(cell_id) for cell_id in sorted(touched | asked)]
    cells = [c for c in cells if c is not None]
    if not cells:
        response = _response("", 204, {"Cache-Control": "no-store"})
        del response.headers["Content-Type"]  # no content, so no type either
        return response
    body = render_template(
        "schedule/_live_cells.html",
        cells=cells,
        view=plan.view,
        editable=True,
        links=CardLinks(plan.view),
    )
    return _response(body, 200, {"Cache-Control": "no-store"})


# --- Suggestions while typing ----------------------------------------------------------------


_LIST_ID = re.compile(r"[A-Za-z][\w-]{0,100}")
_FIELD_NAME = re.compile(r"[A-Za-z_][\w-]{0,60}")


@bp.app_template_global("choices_url")
def choices_url(kind: str, field_id: str, name: str) -> str:
    """The suggestions URL of a typed field (templates/_typeahead.html): `field_id` is the
    text field's id (its listbox is `<field_id>-list`), `name` its form name (the text is
    sent as `<name>_q`)."""
    args = {"list": f"{field_id}-list"}
    if name != kind:
        args["field"] = name
    return url_for("schedule.choices", kind=kind, **args)


@bp.get("/choices/<kind>")
@staff_required
def choices(kind: str):
    """Suggestions for what is typed in a field that chooses a room, mentor, group, student
    or series (the schedule's filter bar, the monitoring filters, the session and exception
    forms): a listbox of at most a few, whatever the size of the school. `list` is the
    listbox's id, `field` the field's name when it is not the kind (its text is `<field>_q`)."""
    if kind not in CHOOSABLE:
        abort(404)
    list_id = request.args.get("list", f"filter-{kind}-list")
    field = request.args.get("field", kind)
    if not _LIST_ID.fullmatch(list_id) or not _FIELD_NAME.fullmatch(field):
        abort(400)
    text = request.args.get(f"{field}_q", "")
    found, more = suggest(kind, text)
    return render_template(
        "schedule/_suggestions.html",
        list_id=list_id,
        noun=kind,
        text=text,
        choices=found,
        more=more,
    )


@bp.get("/sessions/<id:occurrence_id>/rooms")
@staff_required
def editor_rooms(occurrence_id: int):
    """The cell editor's room suggestions: the session's room, then rooms free at the time
    the editor's fields say (the session's own when they are empty), then busy ones."""
    occurrence = _series_occurrence(occurrence_id)
    start_utc, end_utc = _editor_window(occurrence)
    options, more = room_options(
        request.args.get("room_q", ""),
        start_utc=start_utc,
        end_utc=end_utc,
        occurrence_id=occurrence.id,
        current_room_id=occurrence.room_id,
    )
    return render_template(
        "schedule/_room_options.html",
        list_id=f"occ{occurrence.id}-room_q-list",
        text=request.args.get("room_q", ""),
        options=options,
        more=more,
    )


def _editor_window(occurrence: Occurrence) -> tuple[datetime, datetime]:
    """When the session would be with the editor's date and times (sent with the typed
    room); what cannot be read counts as empty."""
    values = {}
    for name, parse in (
        ("new_date", date.fromisoformat),
        ("start_time", time.fromisoformat),
        ("end_time", time.fromisoformat),
    ):
        try:
            values[name] = parse(request.args[name]) if request.args.get(name) else None
        except ValueError:
            values[name] = None
    return window_with_changes(occurrence, tz=org_tz(), **values)


@bp.post("/sessions/<id:occurrence_id>/exception")
@staff_required
def save_exception(occurrence_id: int):
    occurrence = _series_occurrence(occurrence_id)
    view = _grid_view()
    form = _editor_form(occurrence)
    if not form.validate_on_submit():
        return _editor_refused(occurrence, view, form, 422)
    before = grid_plan(view)
    with form_action(form, catch=(ConflictError, InvalidTransition, ValidationError)) as outcome:
        change = change_from_form(form)
        # The room typed (or picked from the suggestions: its id beside the text).
        typed = request.form.get("room_q")
        room_id = None if change.cancelled else resolve_choice("room", typed, form.picked_room_id())
        save_override(
            occurrence.series,
            occurrence.original_date,
            replace(change, room_id=room_id),
            actor=current_user,
            tz=org_tz(),
        )
    if outcome.failed:
        return _editor_refused(occurrence, view, form, outcome.status)
    return _changed(occurrence_id, view, before, _saved_message(occurrence_id))


@bp.post("/sessions/<id:occurrence_id>/restore")
@staff_required
def restore(occurrence_id: int):
    occurrence = _series_occurrence(occurrence_id)
    view = _grid_view()
    override = find_override(occurrence.series_id, occurrence.original_date)
    if override is None:
        abort(404)
    before = grid_plan(view)
    with form_action(catch=DomainError) as outcome:
        delete_override(override, tz=org_tz(), actor=current_user)
    if outcome.failed:
        form = _editor_form(occurrence)
        form.form_errors.append(outcome.message)
        return _editor_refused(occurrence, view, form, 409)
    message = f"Restored: {_describe(occurrence_id)} is back to its series' time and room."
    return _changed(occurrence_id, view, before, message)


def _editor_refused(occurrence: Occurrence, view: ScheduleView, form, status: int):
    """The editor again, with its errors and what was typed, in place of itself."""
    entry = load_entry(occurrence.id, tz=org_tz())
    if not is_htmx():
        return _render_editor(entry, view, form, status)
    return _render_editor(
        entry,
        view,
        form,
        status,
        **{"HX-Retarget": f"#session-card-{occurrence.id}", "HX-Reswap": "outerHTML"},
    )


def _changed(occurrence_id: int, view: ScheduleView, before_plan: GridPlan, message: str):
    """After a change: redraw the cell the editor was in, and out of band every other cell
    the change touched (where the session went, sessions whose conflicts changed). If the
    grid's rows changed (a new hour or room row), redraw the whole grid instead."""
    if not is_htmx():
        flash(message, "success")
        return redirect(url_for(f"schedule.{view.view}", **view.query_args(view=None)))
    after_plan = grid_plan(view)
    before, after = before_plan.entries, after_plan.entries
    view = after_plan.view
    grid_before = build_grid(before_plan.view, before, before_plan.pinned_rooms)
    grid_after = build_grid(view, after, after_plan.pinned_rooms)
    origin = next((e for e in before if e.id == occurrence_id), None)
    headers = toast(message)
    if (
        origin is None
        or grid_before.row_keys != grid_after.row_keys
        or before_plan.view != after_plan.view
    ):
        return _whole_grid(view, grid_after, after_plan, headers)
    affected = entries_affected_by(occurrence_id, before, after)
    cell_ids = {cell_id_of(e, view.layout) for e in before + after if e.id in affected}
    main_id = cell_id_of(origin, view.layout)
    cells = [grid_after.cell(main_id)] + [
        grid_after.cell(cell_id) for cell_id in sorted(cell_ids - {main_id})
    ]
    body = render_template(
        "schedule/_changed_cells.html",
        cells=[c for c in cells if c is not None],
        view=view,
        editable=True,
        links=CardLinks(view),
    )
    return _response(body, 200, headers)


def _whole_grid(view: ScheduleView, grid: Grid, plan: GridPlan, headers: dict):
    body = render_template(
        "schedule/_schedule.html",
        plan=plan,
        schedule_url=schedule_url,
        links=CardLinks(view),
        view=view,
        grid=grid,
        month_weeks=None,
        errors={},
        personal=False,
        endpoint=f"schedule.{view.view}",
        today=today_in(org_tz()),
        editable=True,
        closed=closed_labels(view.first_day, view.last_day, _groups_shown(view, False)),
        term=term_label(view.day),
    )
    headers = {**headers, "HX-Retarget": "#schedule", "HX-Reswap": "outerHTML"}
    return _response(body, 200, headers)


def _describe(occurrence_id: int) -> str:
    occurrence = db.session.get(Occurrence, occurrence_id)
    start = occurrence.start_utc.astimezone(org_tz())
    return f"{occurrence.group.name} {start:%a %d %b %H:%M}"


def _saved_message(occurrence_id: int) -> str:
    occurrence = db.session.get(Occurrence, occurrence_id)
    if occurrence is not None and occurrence.is_cancelled:
        return f"Cancelled {occurrence.group.name} on {occurrence.original_date:%a %d %b}."
    return f"Moved: {_describe(occurrence_id)}."
