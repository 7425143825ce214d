"""The public invitation page: a user opens the link staff gave them and chooses a password."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, url_for
from flask_login import login_user

from blueprints.access import end_read_phase, reads_first
from blueprints.feedback import attach_errors, form_action
from blueprints.manage.forms import PasswordForm
from services.common.errors import ValidationError
from services.people.accounts import MIN_PASSWORD_LENGTH
from services.people.invitations import (
    DEFAULT_INVITATION_MAX_AGE_DAYS,
    InvitationError,
    prepare_invitation_password,
    read_invitation,
    store_invitation_password,
)

bp = Blueprint("invitations", __name__, url_prefix="/auth")


@bp.context_processor
def _helpers() -> dict:
    return {"min_password_length": MIN_PASSWORD_LENGTH}


def _settings() -> dict:
    config = current_app.config
    return {
        "secret_key": config["SECRET_KEY"],
        "max_age_days": int(config.get("INVITATION_MAX_AGE_DAYS", DEFAULT_INVITATION_MAX_AGE_DAYS)),
    }


def _link_refused(err: InvitationError):
    return render_template(
        "manage/invitation.html", form=None, user=None, error=err.message
    ), err.status


@bp.route("/invitation/<token>", methods=["GET", "POST"])
@reads_first
def accept(token: str):
    form = PasswordForm()
    try:
        user = read_invitation(token, **_settings())
    except InvitationError as err:
        return _link_refused(err)
    status = 200
    if form.validate_on_submit():
        with form_action(catch=(InvitationError, ValidationError)) as outcome:
            change = prepare_invitation_password(
                token,
                form.password.data or "",
                form.confirm.data or "",
                hash_method=current_app.config["PASSWORD_HASH_METHOD"],
                **_settings(),
            )
            end_read_phase()
            user = store_invitation_password(change)
        if isinstance(outcome.error, InvitationError):
            # Another request with the same link set the password first.
            return _link_refused(outcome.error)
        if outcome.ok:
            # The link proved who they are and they just chose the password: asking for it
            # again on the login page would only be a chore.
            login_user(user)
            flash(f"Your password is set. Welcome, {user.name}.", "success")
            return redirect(url_for("main.index"))
        attach_errors(form, outcome.error)
        status = 422
    elif form.is_submitted():
        status = 422
    return render_template("manage/invitation.html", form=form, user=user, error=None), status
