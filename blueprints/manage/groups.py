"""Course groups: the list, a group's form and page, its weekly series and its students."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user
from wtforms import SelectChoice

from blueprints.access import is_htmx_partial, load_or_404, org_tz, staff_required
from blueprints.feedback import form_action, page_or_fragment, toast
from blueprints.manage import bp
from blueprints.manage.forms import (
    BulkEnrolForm,
    EndSeriesForm,
    EnrolForm,
    GroupForm,
    SeriesForm,
    StudentsForm,
)
from blueprints.manage.listing import SEARCH_LENGTH, list_args
from blueprints.typed_choice import resolve_typed, show_chosen
from models import CourseGroup, Series, db
from services.catalogue.bulk_enrolment import (
    EnrolmentPlan,
    enrol_students,
    move_students,
    plan_enrolment,
    plan_from_students,
)
from services.catalogue.groups import (
    GroupData,
    SeriesData,
    active_subjects,
    add_series,
    create_group,
    end_series,
    enrol_student,
    group_counts,
    group_enrolments,
    group_series,
    list_groups,
    search_students,
    unenrol_student,
    update_group,
    update_series,
)
from services.common.errors import ValidationError
from services.common.numbers import row_id
from services.common.timeutil import today_in
from services.common.wording import named
from services.school_year import terms_to_choose
from services.timetable.schedule.filter_choices import resolve_choice


def _with_current(placeholder: str, options, current, label) -> list[SelectChoice]:
    """A "none" choice, the active options, and the current (deactivated) one to keep it."""
    if current is not None and all(o.id != current.id for o in options):
        options = [*options, current]
    return [SelectChoice(0, placeholder), *(SelectChoice(o.id, label(o)) for o in options)]


def _group_form(group: CourseGroup | None = None) -> GroupForm:
    form = GroupForm(obj=group) if group is not None and request.method == "GET" else GroupForm()
    if group is not None and request.method == "GET":
        form.subject.data = group.subject_id
        form.mentor.data = str(group.mentor_id or "")
        form.default_room.data = str(group.default_room_id or "")
    form.subject.choices = _with_current(
        "Choose a subject",
        active_subjects(),
        group.subject if group else None,
        lambda s: s.name if s.active else f"{s.name} (deactivated)",
    )
    show_chosen(form, "mentor", "mentor")
    show_chosen(form, "default_room", "room")
    return form


def _group_data(form: GroupForm) -> GroupData | None:
    """The form's group, its mentor and default room resolved from what was typed; None
    (with a message beside the field) for a text that names nobody or several."""
    mentor_id, mentor_ok = resolve_typed(form, "mentor", "mentor")
    room_id, room_ok = resolve_typed(form, "default_room", "room")
    if not (mentor_ok and room_ok):
        return None
    return GroupData(
        name=form.name.data,
        subject_id=form.subject.data or None,
        mentor_id=mentor_id,
        default_room_id=room_id,
        active=form.active.data,
    )


@bp.get("/groups")
@staff_required
def groups():
    args = list_args()
    groups_page = list_groups(args["q"], status=args["status"] or None, page=args["page"])
    return page_or_fragment(
        "manage/groups.html", "manage/_groups_table.html",
        groups=groups_page, counts=group_counts(groups_page.items), args=args,
    )  # fmt: skip


@bp.route("/groups/new", methods=["GET", "POST"])
@staff_required
def new_group():
    form = _group_form()
    status = 200
    if request.method == "POST":
        status = 422
        valid = form.validate_on_submit()
        data = _group_data(form)
        if valid and data is not None:
            with form_action(form) as outcome:
                group = create_group(data)
            if outcome.ok:
                flash(
                    f"{named(group.name, 'group')} created. Add its weekly series below.", "success"
                )
                return redirect(url_for("manage.group", group_id=group.id))
    return render_template("manage/group_form.html", form=form, group=None), status


@bp.route("/groups/<id:group_id>/edit", methods=["GET", "POST"])
@staff_required
def edit_group(group_id: int):
    group = load_or_404(CourseGroup, group_id)
    form = _group_form(group)
    status = 200
    if request.method == "POST":
        status = 422
        valid = form.validate_on_submit()
        data = _group_data(form)
        if valid and data is not None:
            with form_action(form) as outcome:
                update_group(group, data)
            if outcome.ok:
                flash(f"{named(group.name, 'group')} saved.", "success")
                return redirect(url_for("manage.group", group_id=group.id))
        group = db.session.get(CourseGroup, group_id)
    return render_template("manage/group_form.html", form=form, group=group), status


def _series_form(group: CourseGroup, series: Series | None = None) -> SeriesForm:
    if series is not None:
        form = SeriesForm(obj=series) if request.method == "GET" else SeriesForm()
        # Its own id: several series editors can be open on the group page.
        form.room_q.id = f"series{series.id}-room_q"
        if request.method == "GET":
            form.weekdays.data = series.weekdays
            form.room.data = str(series.room_id or "")
            form.mode.data = str(series.mode)
            form.term.data = series.term_id or 0
    else:
        # Prefixed: the add form shares the group page with inline series editors.
        form = SeriesForm(prefix="new")
        if request.method == "GET":
            form.room.data = str(group.default_room_id or "")
            form.first_date.data = today_in(org_tz())
    show_chosen(form, "room", "room")
    _offer_terms(form, series)
    return form


def _offer_terms(form: SeriesForm, series: Series | None) -> None:
    today = today_in(org_tz())
    form.term.choices = [
        SelectChoice(0, "Between the dates below"),
        *(
            SelectChoice(
                t.id, f"For {t.name} {t.year.name} ({t.first_day:%d %b} to {t.last_day:%d %b %Y})"
            )
            for t in terms_to_choose(today, keep=series.term_id if series else None)
        ),
    ]


def _series_data(form: SeriesForm) -> SeriesData | None:
    """The form's series, its room resolved from what was typed; None (with a message beside
    the field) for a text that names no room or several."""
    room_id, room_ok = resolve_typed(form, "room", "room")
    if not room_ok:
        return None
    return SeriesData(
        weekdays=[d for d in (form.weekdays.data or []) if d is not None],
        every_weeks=form.every_weeks.data,
        start_time=form.start_time.data,
        end_time=form.end_time.data,
        room_id=room_id,
        mode=form.mode.data or "",
        first_date=form.first_date.data,
        last_date=form.last_date.data,
        term_id=form.term.data or None,
    )


def _students_context(group: CourseGroup, q: str = "", enrol_form=None, **bulk) -> dict:
    q = q[:SEARCH_LENGTH]
    return {
        "enrolments": group_enrolments(group),
        "q": q,
        "results": search_students(group, q),
        "enrol_form": enrol_form or EnrolForm(formdata=None),
        "move_error": bulk.pop("move_error", None),
        "bulk": _bulk_context(group, **bulk),
    }


def _bulk_context(
    group: CourseGroup,
    form: BulkEnrolForm | None = None,
    plan: EnrolmentPlan | None = None,
    picked_from: CourseGroup | None = None,
    error: str | None = None,
    is_open: bool = False,
) -> dict:
    """The "Add several students" panel: the paste, a group to pick from, a plan to apply."""
    pick_error = None
    if picked_from is None:
        picked_from, pick_error = typed_group(request.args, "from_group")
    enrolled = {e.student_id for e in group_enrolments(group)} if picked_from else set()
    return {
        "form": form or BulkEnrolForm(formdata=None),
        "plan": plan,
        "picked_from": picked_from,
        "pick": group_enrolments(picked_from) if picked_from else [],
        "enrolled": enrolled,
        "error": error,
        "pick_error": pick_error,
        "open": is_open or plan is not None or picked_from is not None or bool(error or pick_error),
    }


def typed_group(values, name: str) -> tuple[CourseGroup | None, str | None]:
    """The group a typed field names (`name`: the picked id, `name_q`: the text; a page
    never lists every group), or why none: unknown, or several match."""
    try:
        ident = resolve_choice("group", values.get(f"{name}_q"), row_id(values.get(name)))
    except ValidationError as err:
        return None, err.message
    return (db.session.get(CourseGroup, ident) if ident else None), None


def _group_page(group: CourseGroup, status: int = 200, **overrides):
    context = {
        "group": group,
        "series_list": group_series(group),
        "series_form": _series_form(group),
        "end_forms": {},
        **_students_context(group, request.args.get("q", "")),
    }
    context.update(overrides)
    return render_template("manage/group.html", **context), status


@bp.get("/groups/<id:group_id>")
@staff_required
def group(group_id: int):
    return _group_page(load_or_404(CourseGroup, group_id))


_REGENERATE = "Existing sessions follow only after generating again with force (Generate page)."


@bp.post("/groups/<id:group_id>/series")
@staff_required
def create_series(group_id: int):
    group_ = load_or_404(CourseGroup, group_id)
    form = _series_form(group_)
    valid = form.validate_on_submit()
    data = _series_data(form)
    if valid and data is not None:
        with form_action(form) as outcome:
            series = add_series(group_, data)
        if outcome.ok:
            message = f"Series {series.weekday_label} {series.start_time:%H:%M} added."
            if is_htmx_partial():
                fresh = SeriesForm(formdata=None, prefix="new")
                fresh.room.data = str(group_.default_room_id or "")
                show_chosen(fresh, "room", "room")
                _offer_terms(fresh, None)
                fresh.first_date.data = today_in(org_tz())
                return (
                    render_template(
                        "manage/_series_section.html",
                        group=group_, series_list=group_series(group_), series_form=fresh,
                        end_forms={}, changed=series.id,
                    ),
                    200,
                    toast(message),
                )  # fmt: skip
            flash(f"{message} {_REGENERATE}", "success")
            return redirect(url_for("manage.group", group_id=group_.id))
    group_ = db.session.get(CourseGroup, group_id)
    if is_htmx_partial():
        return render_template(
            "manage/_series_section.html",
            group=group_, series_list=group_series(group_), series_form=form, end_forms={},
        ), 422  # fmt: skip
    return _group_page(group_, 422, series_form=form)


@bp.get("/series/<id:series_id>")
@staff_required
def series_row(series_id: int):
    series = load_or_404(Series, series_id)
    if not is_htmx_partial():
        return redirect(url_for("manage.group", group_id=series.group_id))
    return render_template("manage/_series_row.html", series=series, end_form=None)


@bp.route("/series/<id:series_id>/edit", methods=["GET", "POST"])
@staff_required
def edit_series(series_id: int):
    series = load_or_404(Series, series_id)
    form = _series_form(series.group, series)
    status = 200
    if request.method == "POST":
        status = 422
        valid = form.validate_on_submit()
        data = _series_data(form)
        if valid and data is not None:
            with form_action(form) as outcome:
                update_series(series, data)
            if outcome.ok:
                message = "Series saved."
                if is_htmx_partial():
                    return (
                        render_template(
                            "manage/_series_row.html",
                            series=series,
                            end_form=None,
                            row_changed=True,
                        ),
                        200,
                        toast(message),
                    )
                flash(f"{message} {_REGENERATE}", "success")
                return redirect(url_for("manage.group", group_id=series.group_id))
        series = db.session.get(Series, series_id)
    return page_or_fragment(
        "manage/series_edit.html", "manage/_series_edit_row.html", status,
        form=form, series=series,
    )  # fmt: skip


@bp.post("/series/<id:series_id>/end")
@staff_required
def end_series_route(series_id: int):
    series = load_or_404(Series, series_id)
    form = EndSeriesForm()
    if form.validate_on_submit():
        with form_action(form) as outcome:
            end_series(series, form.last_date.data)
        if outcome.ok:
            message = f"Series ends on {series.last_date:%a %d %b %Y}."
            if is_htmx_partial():
                return (
                    render_template(
                        "manage/_series_row.html", series=series, end_form=None, row_changed=True
                    ),
                    200,
                    toast(message),
                )
            flash(f"{message} {_REGENERATE}", "success")
            return redirect(url_for("manage.group", group_id=series.group_id))
    series = db.session.get(Series, series_id)
    if is_htmx_partial():
        return render_template("manage/_series_row.html", series=series, end_form=form), 422
    return _group_page(series.group, 422, end_forms={series.id: form})


@bp.get("/groups/<id:group_id>/students/search")
@staff_required
def search_group_students(group_id: int):
    group_ = load_or_404(CourseGroup, group_id)
    q = request.args.get("q", "")[:SEARCH_LENGTH]
    if not is_htmx_partial():
        return redirect(url_for("manage.group", group_id=group_.id, q=q or None) + "#students")
    return render_template(
        "manage/_student_results.html", group=group_, q=q, results=search_students(group_, q),
        enrol_form=EnrolForm(formdata=None),
    )  # fmt: skip


def _students_response(
    group_: CourseGroup, q: str, status: int, message: str | None, form=None, **bulk
):
    if is_htmx_partial():
        return (
            render_template(
                "manage/_students_section.html", group=group_,
                **_students_context(group_, q, form, **bulk),
            ),
            status,
            toast(message) if message else {},
        )  # fmt: skip
    if status >= 400:
        return _group_page(group_, status, **_students_context(group_, q, form, **bulk))
    flash(message, "success")
    return redirect(url_for("manage.group", group_id=group_.id, q=q or None) + "#students")


def _ticked() -> list[int]:
    return [i for i in map(row_id, request.form.getlist("student")) if i is not None]


def _bulk_response(group_: CourseGroup, status: int, **bulk):
    """The panel in place (htmx), or the group page with the panel open."""
    if is_htmx_partial():
        return render_template(
            "manage/_bulk_enrol.html", group=group_, bulk=_bulk_context(group_, **bulk)
        ), status
    return _group_page(group_, status, **_students_context(group_, "", None, **bulk))


@bp.get("/groups/<id:group_id>/enrolments/pick")
@staff_required
def pick_students(group_id: int):
    """Another group's students, to tick and enrol (a fragment; a plain GET gets the page)."""
    group_ = load_or_404(CourseGroup, group_id)
    picked, _ = typed_group(request.args, "from_group")
    if not is_htmx_partial():
        return redirect(
            url_for("manage.group", group_id=group_.id, from_group=picked.id if picked else None)
            + "#bulk-enrol"
        )
    return render_template(
        "manage/_pick_students.html", group=group_, bulk=_bulk_context(group_, picked_from=picked)
    )


@bp.post("/groups/<id:group_id>/enrolments/preview")
@staff_required
def preview_enrolment(group_id: int):
    """What enrolling the pasted (or ticked) students would do; writes nothing."""
    group_ = load_or_404(CourseGroup, group_id)
    form = BulkEnrolForm()
    if not form.validate_on_submit():
        return _bulk_response(group_, 422, form=form, is_open=True)
    picked = "picked" in request.form  # from another group's list, not a paste
    with form_action(form) as outcome:
        if picked:
            plan = plan_from_students(group_, _ticked())
        else:
            plan = plan_enrolment(group_, form.entries.data or "")
        db.session.rollback()  # nothing was written: end the reading transaction
    if outcome.failed:
        group_ = db.session.get(CourseGroup, group_id)
        return _bulk_response(group_, 422, form=form, is_open=True)
    return _bulk_response(group_, 200, form=form, plan=plan)


@bp.post("/groups/<id:group_id>/enrolments/bulk")
@staff_required
def enrol_many(group_id: int):
    """Enrol the students ticked in a preview, all or nothing; each is told."""
    group_ = load_or_404(CourseGroup, group_id)
    form = BulkEnrolForm()
    if form.validate_on_submit():
        with form_action(form) as outcome:
            done = enrol_students(group_, _ticked(), actor=current_user)
            message = _enrolled_message(done)
        if outcome.ok:
            return _students_response(group_, "", 200, message)
        error = " ".join(outcome.messages.values())
    else:
        error = "This form has expired: preview the list again."
    group_ = db.session.get(CourseGroup, group_id)
    return _bulk_response(group_, 422, form=BulkEnrolForm(formdata=None), error=error)


def _enrolled_message(done) -> str:
    names = ", ".join(s.name for s in done.enrolled[:5])
    more = f" and {len(done.enrolled) - 5} more" if len(done.enrolled) > 5 else ""
    message = (
        f"{len(done.enrolled)} {'student' if len(done.enrolled) == 1 else 'students'} "
        f"enrolled in {done.group.name}" + (f": {names}{more}." if done.enrolled else ".")
    )
    if done.already:
        message += f" {len(done.already)} already in it."
    return message


@bp.post("/groups/<id:group_id>/enrolments/move")
@staff_required
def move_enrolments(group_id: int):
    """Move the ticked students to another group in one go; each is told."""
    group_ = load_or_404(CourseGroup, group_id)
    form = StudentsForm()
    error = None
    if form.validate_on_submit():
        target, problem = typed_group(request.form, "to_group")
        with form_action(form) as outcome:
            if target is None:
                raise ValidationError({"to_group": problem or "Choose the group to move them to."})
            done = move_students(group_, target, _ticked(), actor=current_user)
            message = (
                f"{len(done.moved) + len(done.already)} moved from {group_.name} to "
                f"{target.name}: " + ", ".join(s.name for s in done.moved + done.already) + "."
            )
        if outcome.ok:
            return _students_response(group_, "", 200, message)
        error = " ".join(outcome.messages.values())
    group_ = db.session.get(CourseGroup, group_id)
    return _students_response(group_, "", 422, None, move_error=error)


@bp.post("/groups/<id:group_id>/enrolments")
@staff_required
def enrol(group_id: int):
    group_ = load_or_404(CourseGroup, group_id)
    form = EnrolForm()
    q = (form.q.data or "")[:SEARCH_LENGTH]
    if form.validate_on_submit():
        with form_action(form) as outcome:
            enrolment = enrol_student(group_, form.student.data)
            name = enrolment.student.name
        if outcome.ok:
            return _students_response(group_, q, 200, f"{name} added to {group_.name}.")
    group_ = db.session.get(CourseGroup, group_id)
    return _students_response(group_, q, 422, None, form)


@bp.post("/groups/<id:group_id>/enrolments/<id:enrolment_id>/delete")
@staff_required
def unenrol(group_id: int, enrolment_id: int):
    group_ = load_or_404(CourseGroup, group_id)
    q = request.form.get("q", "")
    student = unenrol_student(group_, enrolment_id)
    db.session.commit()
    return _students_response(group_, q, 200, f"{student.name} removed from {group_.name}.")
