from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required, login_user, logout_user

from blueprints.access import reads_first
from blueprints.auth.forms import LoginForm
from blueprints.auth.limits import (
    give_back_successful_login,
    limit_login_attempts,
    remember_device,
)
from models import db
from services.people.accounts import authenticate, end_all_sessions

bp = Blueprint("auth", __name__, url_prefix="/auth")


def safe_next_path(target: str | None) -> str | None:
    """Only a same-site absolute path is followed after login (no scheme, host or backslash)."""
    if not target or not target.startswith("/") or target.startswith("//"):
        return None
    if "\\" in target or any(ord(c) < 32 for c in target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    return target


@bp.route("/login", methods=["GET", "POST"])
@reads_first
def login():
    if current_user.is_authenticated:
        return redirect(url_for("main.index"))
    form = LoginForm()
    if request.method == "GET":
        form.next.data = request.args.get("next", "")
    if form.validate_on_submit():
        user = authenticate(
            form.email.data,
            form.password.data,
            hash_method=current_app.config["PASSWORD_HASH_METHOD"],
        )
        if user is None:
            form.password.errors.append("Wrong e-mail or password.")
            return render_template("auth/login.html", form=form), 422
        give_back_successful_login(current_app.extensions["termtable.limiter"])
        login_user(user, remember=form.remember.data)
        flash(f"Welcome, {user.name}.", "success")
        response = redirect(safe_next_path(form.next.data) or url_for("main.index"))
        remember_device(response, user.email)
        return response
    status = 422 if request.method == "POST" else 200
    return render_template("auth/login.html", form=form), status


@bp.record_once
def _limit_login_attempts(state) -> None:
    # Each app has its own limiter (blueprints/extensions.py), so the limits are attached when
    # the blueprint is registered on an app rather than with module-level decorators.
    limiter = state.app.extensions["termtable.limiter"]
    state.app.view_functions["auth.login"] = limit_login_attempts(limiter, login)


@bp.post("/logout")
@login_required
def logout():
    # CSRFProtect has already refused a logout posted without its token.
    end_all_sessions(current_user)
    db.session.commit()
    logout_user()
    flash("You are logged out.", "info")
    return redirect(url_for("auth.login"))
