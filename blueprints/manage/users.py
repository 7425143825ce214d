"""User accounts: the list and create form, a user's page (edit, activation, a mentor's
subjects, password, invitation link)."""

from __future__ import annotations

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_user
from wtforms import SelectChoice

from blueprints.access import (
    end_read_phase,
    is_htmx_partial,
    load_or_404,
    reads_first,
    staff_required,
)
from blueprints.feedback import form_action, page_or_fragment, toast
from blueprints.manage import bp
from blueprints.manage.forms import (
    MentorSubjectsForm,
    PasswordForm,
    UserCreateForm,
    UserEditForm,
)
from blueprints.manage.listing import active_flag, list_args
from models import Role, User, db
from services.catalogue.mentors import (
    listed_subject_ids,
    set_mentor_subjects,
    subject_choices,
    taught_subjects,
)
from services.common.errors import ValidationError
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


def _role_choices(actor: User, current: Role | None = None) -> list[SelectChoice]:
    roles = assignable_roles(actor)
    if current is not None and current not in roles:
        roles = [*roles, current]
    return [SelectChoice(r.value, r.value.title()) for r in roles]


def _user_args() -> dict:
    args = list_args()
    role = request.args.get("role", "")
    args["role"] = role if role in {r.value for r in Role} else ""
    return args


def _users_page(form: UserCreateForm, status: int = 200):
    args = _user_args()
    users_page = list_users(
        args["q"], role=args["role"] or None, status=args["status"] or None, page=args["page"]
    )
    form.role.choices = _role_choices(current_user)
    return page_or_fragment(
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
        with form_action(form) as outcome:
            account = check_new_account(
                current_user, data, hash_method=current_app.config["PASSWORD_HASH_METHOD"]
            )
            end_read_phase()
            user = store_new_account(account)
        if outcome.ok:
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
            with form_action(form) as outcome:
                update_account(current_user, user_, name=form.name.data, role=form.role.data)
            if outcome.ok:
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
    with form_action() as outcome:
        set_account_active(current_user, user_, active_flag())
    if outcome.failed:
        message = next(iter(outcome.messages.values()))
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
        with form_action(form) as outcome:
            set_mentor_subjects(current_user, user_, form.subjects.data or [])
        if outcome.ok:
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
        with form_action(form) as outcome:
            change = prepare_account_password(
                current_user,
                user_,
                form.password.data or "",
                form.confirm.data or "",
                hash_method=current_app.config["PASSWORD_HASH_METHOD"],
            )
            end_read_phase()
            user_ = store_account_password(change)
        if outcome.ok:
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
