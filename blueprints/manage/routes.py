"""Management pages for staff: rooms, subjects, course groups (series, enrolments), users.

Every route loads (404), checks the role (403, through `staff_required` and `can_manage`),
calls one service and renders. A URL that serves a page and a fragment answers the fragment
only to an htmx partial request, so each one also works as a plain link without JavaScript.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user, login_user
from sqlalchemy import func, select
from wtforms import SelectChoice

from blueprints.access import (
    end_read_phase,
    is_htmx_partial,
    load_or_404,
    org_tz,
    reads_first,
    staff_required,
)
from blueprints.feedback import attach_errors, toast
from blueprints.manage.forms import (
    ActiveForm,
    EndSeriesForm,
    EnrolForm,
    GroupForm,
    MentorSubjectsForm,
    PasswordForm,
    RoomForm,
    SeriesForm,
    SubjectForm,
    UserCreateForm,
    UserEditForm,
)
from models import CourseGroup, Role, Room, Series, Subject, User, db
from services.catalogue.groups import (
    GroupData,
    SeriesData,
    active_mentors,
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
from services.catalogue.mentors import (
    listed_subject_ids,
    set_mentor_subjects,
    subject_choices,
    taught_subjects,
)
from services.catalogue.rooms import (
    STATUSES,
    RoomData,
    active_rooms,
    create_room,
    list_rooms,
    update_room,
)
from services.catalogue.rooms import set_room_active as set_room_active_service
from services.catalogue.subjects import SubjectData, create_subject, list_subjects, update_subject
from services.catalogue.subjects import set_subject_active as set_subject_active_service
from services.common.errors import ValidationError
from services.common.pagination import page_number
from services.common.timeutil import today_in
from services.common.wording import named
from services.people.accounts import MIN_PASSWORD_LENGTH
from services.people.invitations import make_invitation
from services.people.tokens import working_token_count
from services.people.users import (
    NewAccount,
    check_new_account,
    list_users,
    prepare_account_password,
    set_account_active,
    store_account_password,
    store_new_account,
    update_account,
)
from services.permissions import assignable_roles, can_manage

bp = Blueprint("manage", __name__, url_prefix="/manage")

SEARCH_LENGTH = 100


@bp.record_once
def _register_invitations(state) -> None:
    # The public invitation page lives under /auth/ (a visitor is not staff); it is a
    # blueprint of its own, registered with this one so the app factory needs no change.
    from blueprints.manage.invitations import bp as invitations_bp

    state.app.register_blueprint(invitations_bp)


@bp.context_processor
def _helpers() -> dict:
    return {"can_manage": can_manage, "min_password_length": MIN_PASSWORD_LENGTH}


# --- Helpers ------------------------------------------------------------------------------------


def _page_or_fragment(page: str, fragment: str, status: int = 200, headers=None, **context):
    template = fragment if is_htmx_partial() else page
    return render_template(template, **context), status, headers or {}


def _list_args() -> dict:
    status = request.args.get("status", "")
    return {
        "q": request.args.get("q", "")[:SEARCH_LENGTH],
        "status": status if status in STATUSES else "",
        "page": page_number(request.args.get("page")),
    }


def _active_flag() -> bool:
    form = ActiveForm()
    return form.active.data == "1"


# --- Landing ------------------------------------------------------------------------------------


@bp.get("/")
@staff_required
def index():
    def count(model, *where):
        return db.session.scalar(select(func.count(model.id)).where(*where))

    counts = {
        "rooms": count(Room, Room.active.is_(True)),
        "subjects": count(Subject, Subject.active.is_(True)),
        "groups": count(CourseGroup, CourseGroup.active.is_(True)),
        "users": count(User, User.is_active_account.is_(True)),
    }
    return render_template("manage/index.html", counts=counts)


# --- Rooms and subjects -------------------------------------------------------------------------
# Both are a searchable list with a create form, inline edit rows and deactivation: one set of
# views, registered for each (with the endpoint names the templates use).


@dataclass(frozen=True)
class Catalogue:
    key: str  # "room": the templates' variable and the URL's id name (room_id)
    plural: str  # "rooms": the list's URL, endpoint and templates
    label: str  # "Room", in messages
    model: type
    form: type
    data: Callable
    list_items: Callable
    create: Callable
    update: Callable
    set_active: Callable

    @property
    def list_endpoint(self) -> str:
        return f"manage.{self.plural}"


ROOMS = Catalogue(
    "room", "rooms", "Room", Room, RoomForm,
    lambda f: RoomData(name=f.name.data, capacity=f.capacity.data, active=f.active.data),
    list_rooms, create_room, update_room, set_room_active_service,
)  # fmt: skip
SUBJECTS = Catalogue(
    "subject", "subjects", "Subject", Subject, SubjectForm,
    lambda f: SubjectData(name=f.name.data, active=f.active.data),
    list_subjects, create_subject, update_subject, set_subject_active_service,
)  # fmt: skip


def _catalogue_page(cat: Catalogue, form, status: int = 200):
    args = _list_args()
    items = cat.list_items(args["q"], status=args["status"] or None, page=args["page"])
    return _page_or_fragment(
        f"manage/{cat.plural}.html", f"manage/_{cat.plural}_table.html", status,
        form=form, args=args, **{cat.plural: items},
    )  # fmt: skip


def _row(cat: Catalogue, item):
    return render_template(f"manage/_{cat.key}_row.html", **{cat.key: item})


def _list_view(cat: Catalogue):
    return _catalogue_page(cat, cat.form(prefix="new"))


def _create_view(cat: Catalogue):
    form = cat.form(prefix="new")
    if form.validate_on_submit():
        try:
            item = cat.create(cat.data(form))
            db.session.commit()
        except ValidationError as err:
            db.session.rollback()
            attach_errors(form, err)
        else:
            flash(f"{named(item.name, cat.key)} created.", "success")
            return redirect(url_for(cat.list_endpoint))
    return _catalogue_page(cat, form, 422)


def _row_view(cat: Catalogue, **ids):
    item = load_or_404(cat.model, ids[f"{cat.key}_id"])
    if not is_htmx_partial():
        return redirect(url_for(cat.list_endpoint, q=item.name))
    return _row(cat, item)


def _edit_view(cat: Catalogue, **ids):
    item_id = ids[f"{cat.key}_id"]
    item = load_or_404(cat.model, item_id)
    form = cat.form(obj=item) if request.method == "GET" else cat.form()
    status = 200
    if request.method == "POST":
        status = 422
        if form.validate_on_submit():
            try:
                cat.update(item, cat.data(form))
                db.session.commit()
            except ValidationError as err:
                db.session.rollback()
                attach_errors(form, err)
            else:
                message = f"{named(item.name, cat.key)} saved."
                if is_htmx_partial():
                    return _row(cat, item), 200, toast(message)
                flash(message, "success")
                return redirect(url_for(cat.list_endpoint))
        item = db.session.get(cat.model, item_id)
    return _page_or_fragment(
        f"manage/{cat.key}_edit.html", f"manage/_{cat.key}_edit_row.html", status,
        form=form, **{cat.key: item},
    )  # fmt: skip


def _set_active_view(cat: Catalogue, **ids):
    item = load_or_404(cat.model, ids[f"{cat.key}_id"])
    cat.set_active(item, _active_flag())
    db.session.commit()
    state = "reactivated" if item.active else "deactivated"
    message = f"{named(item.name, cat.key)} {state}."
    if is_htmx_partial():
        return _row(cat, item), 200, toast(message)
    flash(message, "success")
    return redirect(url_for(cat.list_endpoint))


def _register_catalogue(cat: Catalogue) -> None:
    item = f"/{cat.plural}/<id:{cat.key}_id>"
    for rule, endpoint, view, methods in (
        (f"/{cat.plural}", cat.plural, _list_view, ["GET"]),
        (f"/{cat.plural}", f"create_{cat.key}_route", _create_view, ["POST"]),
        (item, f"{cat.key}_row", _row_view, ["GET"]),
        (f"{item}/edit", f"edit_{cat.key}", _edit_view, ["GET", "POST"]),
        (f"{item}/active", f"set_{cat.key}_active", _set_active_view, ["POST"]),
    ):
        bp.add_url_rule(rule, endpoint, staff_required(partial(view, cat)), methods=methods)


_register_catalogue(ROOMS)
_register_catalogue(SUBJECTS)


# --- Course groups ------------------------------------------------------------------------------


def _with_current(placeholder: str, options, current, label) -> list[SelectChoice]:
    """A "none" choice, the active options, and the current (deactivated) one to keep it."""
    if current is not None and all(o.id != current.id for o in options):
        options = [*options, current]
    return [SelectChoice(0, placeholder), *(SelectChoice(o.id, label(o)) for o in options)]


def _room_label(room: Room) -> str:
    return room.name if room.active else f"{room.name} (deactivated)"


def _group_form(group: CourseGroup | None = None) -> GroupForm:
    form = GroupForm(obj=group) if group is not None and request.method == "GET" else GroupForm()
    if group is not None and request.method == "GET":
        form.subject.data = group.subject_id
        form.mentor.data = group.mentor_id
        form.default_room.data = group.default_room_id or 0
    form.subject.choices = _with_current(
        "Choose a subject",
        active_subjects(),
        group.subject if group else None,
        lambda s: s.name if s.active else f"{s.name} (deactivated)",
    )
    form.mentor.choices = _with_current(
        "Choose a mentor",
        active_mentors(),
        group.mentor if group else None,
        lambda m: m.name if m.is_active_account else f"{m.name} (deactivated)",
    )
    form.default_room.choices = _with_current(
        "No default room", active_rooms(), group.default_room if group else None, _room_label
    )
    return form


def _group_data(form: GroupForm) -> GroupData:
    return GroupData(
        name=form.name.data,
        subject_id=form.subject.data or None,
        mentor_id=form.mentor.data or None,
        default_room_id=form.default_room.data or None,
        active=form.active.data,
    )


@bp.get("/groups")
@staff_required
def groups():
    args = _list_args()
    groups_page = list_groups(args["q"], status=args["status"] or None, page=args["page"])
    return _page_or_fragment(
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
        if form.validate_on_submit():
            try:
                group = create_group(_group_data(form))
                db.session.commit()
            except ValidationError as err:
                db.session.rollback()
                attach_errors(form, err)
            else:
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
        if form.validate_on_submit():
            try:
                update_group(group, _group_data(form))
                db.session.commit()
            except ValidationError as err:
                db.session.rollback()
                attach_errors(form, err)
            else:
                flash(f"{named(group.name, 'group')} saved.", "success")
                return redirect(url_for("manage.group", group_id=group.id))
        group = db.session.get(CourseGroup, group_id)
    return render_template("manage/group_form.html", form=form, group=group), status


def _series_form(group: CourseGroup, series: Series | None = None) -> SeriesForm:
    if series is not None:
        form = SeriesForm(obj=series) if request.method == "GET" else SeriesForm()
        if request.method == "GET":
            form.weekdays.data = series.weekdays
            form.room.data = series.room_id or 0
            form.mode.data = str(series.mode)
    else:
        # Prefixed: the add form shares the group page with inline series editors.
        form = SeriesForm(prefix="new")
        if request.method == "GET":
            form.room.data = group.default_room_id or 0
            form.first_date.data = today_in(org_tz())
    form.room.choices = _with_current(
        "No room (online)", active_rooms(), series.room if series else None, _room_label
    )
    return form


def _series_data(form: SeriesForm) -> SeriesData:
    return SeriesData(
        weekdays=[d for d in (form.weekdays.data or []) if d is not None],
        every_weeks=form.every_weeks.data,
        start_time=form.start_time.data,
        end_time=form.end_time.data,
        room_id=form.room.data or None,
        mode=form.mode.data or "",
        first_date=form.first_date.data,
        last_date=form.last_date.data,
    )


def _students_context(group: CourseGroup, q: str = "", enrol_form=None) -> dict:
    q = q[:SEARCH_LENGTH]
    return {
        "enrolments": group_enrolments(group),
        "q": q,
        "results": search_students(group, q),
        "enrol_form": enrol_form or EnrolForm(formdata=None),
    }


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
    if form.validate_on_submit():
        try:
            series = add_series(group_, _series_data(form))
            db.session.commit()
        except ValidationError as err:
            db.session.rollback()
            attach_errors(form, err)
        else:
            message = f"Series {series.weekday_label} {series.start_time:%H:%M} added."
            if is_htmx_partial():
                fresh = SeriesForm(formdata=None, prefix="new")
                fresh.room.choices = form.room.choices
                fresh.room.data = group_.default_room_id or 0
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
        if form.validate_on_submit():
            try:
                update_series(series, _series_data(form))
                db.session.commit()
            except ValidationError as err:
                db.session.rollback()
                attach_errors(form, err)
            else:
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
    return _page_or_fragment(
        "manage/series_edit.html", "manage/_series_edit_row.html", status,
        form=form, series=series,
    )  # fmt: skip


@bp.post("/series/<id:series_id>/end")
@staff_required
def end_series_route(series_id: int):
    series = load_or_404(Series, series_id)
    form = EndSeriesForm()
    if form.validate_on_submit():
        try:
            end_series(series, form.last_date.data)
            db.session.commit()
        except ValidationError as err:
            db.session.rollback()
            attach_errors(form, err)
        else:
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


def _students_response(group_: CourseGroup, q: str, status: int, message: str | None, form=None):
    if is_htmx_partial():
        return (
            render_template(
                "manage/_students_section.html", group=group_,
                **_students_context(group_, q, form),
            ),
            status,
            toast(message) if message else {},
        )  # fmt: skip
    if status >= 400:
        return _group_page(group_, status, **_students_context(group_, q, form))
    flash(message, "success")
    return redirect(url_for("manage.group", group_id=group_.id, q=q or None) + "#students")


@bp.post("/groups/<id:group_id>/enrolments")
@staff_required
def enrol(group_id: int):
    group_ = load_or_404(CourseGroup, group_id)
    form = EnrolForm()
    q = (form.q.data or "")[:SEARCH_LENGTH]
    if form.validate_on_submit():
        try:
            enrolment = enrol_student(group_, form.student.data)
            name = enrolment.student.name
            db.session.commit()
        except ValidationError as err:
            db.session.rollback()
            attach_errors(form, err)
        else:
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


# --- Users --------------------------------------------------------------------------------------


def _role_choices(actor: User, current: Role | None = None) -> list[SelectChoice]:
    roles = assignable_roles(actor)
    if current is not None and current not in roles:
        roles = [*roles, current]
    return [SelectChoice(r.value, r.value.title()) for r in roles]


def _user_args() -> dict:
    args = _list_args()
    role = request.args.get("role", "")
    args["role"] = role if role in {r.value for r in Role} else ""
    return args


def _users_page(form: UserCreateForm, status: int = 200):
    args = _user_args()
    users_page = list_users(
        args["q"], role=args["role"] or None, status=args["status"] or None, page=args["page"]
    )
    form.role.choices = _role_choices(current_user)
    return _page_or_fragment(
        "manage/users.html", "manage/_users_table.html", status,
        form=form, users=users_page, args=args, roles=list(Role),
    )  # fmt: skip


@bp.get("/users")
@staff_required
def users():
    return _users_page(UserCreateForm(prefix="new"))


@bp.post("/users")
@staff_required
@reads_first
def create_user_route():
    form = UserCreateForm(prefix="new")
    form.role.choices = _role_choices(current_user)
    if form.validate_on_submit():
        data = NewAccount(
            email=form.email.data or "",
            name=form.name.data or "",
            role=form.role.data or "",
            password=form.password.data or "",
            confirm=form.confirm.data or "",
        )
        try:
            account = check_new_account(
                current_user, data, hash_method=current_app.config["PASSWORD_HASH_METHOD"]
            )
            end_read_phase()
            user = store_new_account(account)
            db.session.commit()
        except ValidationError as err:
            db.session.rollback()
            attach_errors(form, err)
        else:
            how = (
                "They can log in now."
                if user.password_hash
                else "Set a password or send an invitation link so they can log in."
            )
            flash(f"Account for {user.name} ({user.email}) created. {how}", "success")
            return redirect(url_for("manage.user", user_id=user.id))
    return _users_page(form, 422)


def _load_manageable(user_id: int) -> User:
    user = load_or_404(User, user_id)
    if not can_manage(current_user, user):
        abort(403)
    return user


def _user_page(user: User, status: int = 200, **overrides):
    edit_form = UserEditForm(formdata=None, obj=user)
    edit_form.role.data = user.role.value
    edit_form.role.choices = _role_choices(current_user, user.role)
    context = {
        "user": user,
        "manageable": can_manage(current_user, user),
        "edit_form": edit_form,
        "password_form": PasswordForm(formdata=None),
        "working_tokens": working_token_count(user),
        "invitation_link": None,
        "invitation_error": None,
        "active_error": None,
    }
    if user.role == Role.MENTOR:
        form = overrides.pop("subjects_form", None) or MentorSubjectsForm(formdata=None)
        _mentor_subject_choices(form, user)
        context.update(subjects_form=form, taught_subjects=taught_subjects(user))
    context.update(overrides)
    return render_template("manage/user.html", **context), status


def _mentor_subject_choices(form: MentorSubjectsForm, mentor: User) -> None:
    form.subjects.choices = [
        SelectChoice(s.id, s.name if s.active else f"{s.name} (deactivated)")
        for s in subject_choices(mentor)
    ]
    if form.subjects.data is None:
        form.subjects.data = sorted(listed_subject_ids(mentor))


@bp.get("/users/<id:user_id>")
@staff_required
def user(user_id: int):
    user_ = load_or_404(User, user_id)
    if is_htmx_partial():
        return render_template("manage/_user_row.html", user=user_)
    return _user_page(user_)


@bp.route("/users/<id:user_id>/edit", methods=["GET", "POST"])
@staff_required
def edit_user(user_id: int):
    user_ = _load_manageable(user_id)
    if request.method == "GET":
        form = UserEditForm(obj=user_)
        form.role.data = user_.role.value
    else:
        form = UserEditForm()
    form.role.choices = _role_choices(current_user, user_.role)
    status = 200
    if request.method == "POST":
        status = 422
        if form.validate_on_submit():
            try:
                update_account(current_user, user_, name=form.name.data, role=form.role.data)
                db.session.commit()
            except ValidationError as err:
                db.session.rollback()
                attach_errors(form, err)
            else:
                message = f"{user_.name} saved."
                if is_htmx_partial():
                    return (
                        render_template("manage/_user_row.html", user=user_),
                        200,
                        toast(message),
                    )
                flash(message, "success")
                return redirect(url_for("manage.user", user_id=user_.id))
        user_ = db.session.get(User, user_id)
    if is_htmx_partial():
        return render_template("manage/_user_edit_row.html", form=form, user=user_), status
    return _user_page(user_, status, edit_form=form)


@bp.post("/users/<id:user_id>/active")
@staff_required
def set_user_active(user_id: int):
    user_ = _load_manageable(user_id)
    try:
        set_account_active(current_user, user_, _active_flag())
        db.session.commit()
    except ValidationError as err:
        db.session.rollback()
        message = next(iter(err.errors.values()))
        user_ = db.session.get(User, user_id)
        if is_htmx_partial():
            return render_template("manage/_user_row.html", user=user_, error=message), 422
        return _user_page(user_, 422, active_error=message)
    if user_.is_active_account:
        message = f"{user_.name}'s account is active again."
    else:
        message = f"{user_.name}'s account is deactivated; their logins have ended."
    if is_htmx_partial():
        return render_template("manage/_user_row.html", user=user_), 200, toast(message)
    flash(message, "success")
    return redirect(url_for("manage.user", user_id=user_.id))


@bp.post("/users/<id:user_id>/subjects")
@staff_required
def set_mentor_subjects_route(user_id: int):
    user_ = _load_manageable(user_id)
    if user_.role != Role.MENTOR:
        abort(404)
    form = MentorSubjectsForm()
    if form.validate_on_submit():
        try:
            set_mentor_subjects(current_user, user_, form.subjects.data or [])
            db.session.commit()
        except ValidationError as err:
            db.session.rollback()
            attach_errors(form, err)
        else:
            flash(f"Subjects offered by {user_.name} saved.", "success")
            return redirect(url_for("manage.user", user_id=user_.id))
    user_ = db.session.get(User, user_id)
    return _user_page(user_, 422, subjects_form=form)


@bp.post("/users/<id:user_id>/password")
@staff_required
@reads_first
def set_user_password(user_id: int):
    user_ = _load_manageable(user_id)
    form = PasswordForm()
    if form.validate_on_submit():
        try:
            change = prepare_account_password(
                current_user,
                user_,
                form.password.data or "",
                form.confirm.data or "",
                hash_method=current_app.config["PASSWORD_HASH_METHOD"],
            )
            end_read_phase()
            user_ = store_account_password(change)
            db.session.commit()
        except ValidationError as err:
            db.session.rollback()
            attach_errors(form, err)
        else:
            if user_.id == current_user.id:
                # A new password ends every login of the account, this one included.
                login_user(user_)
            flash(f"Password set for {user_.name}; their other logins have ended.", "success")
            return redirect(url_for("manage.user", user_id=user_.id))
    user_ = db.session.get(User, user_id)
    return _user_page(user_, 422, password_form=form)


@bp.post("/users/<id:user_id>/invitation")
@staff_required
def invite_user(user_id: int):
    user_ = _load_manageable(user_id)
    try:
        token = make_invitation(current_user, user_, secret_key=current_app.config["SECRET_KEY"])
    except ValidationError as err:
        context = {"invitation_link": None, "invitation_error": err.errors["invitation"]}
        status = 422
    else:
        link = url_for("invitations.accept", token=token, _external=True)
        context = {"invitation_link": link, "invitation_error": None}
        status = 200
    if is_htmx_partial():
        return render_template("manage/_invitation.html", user=user_, **context), status
    return _user_page(user_, status, **context)
