"""The user's profile: their calendar feed URLs (copy, regenerate; room and group feeds for
staff), their personal API tokens (create, shown once, with an optional expiry date and
read-only; revoke), their password, and "Log out everywhere"."""

from __future__ import annotations

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
from flask_login import current_user, login_required, login_user, logout_user

from blueprints.access import end_read_phase, org_tz, reads_first
from blueprints.feedback import attach_errors, form_action
from blueprints.profile.forms import ApiTokenForm, ChangePasswordForm, StaffFeedForm
from blueprints.typed_choice import resolve_typed
from models import db
from services.common.errors import ValidationError
from services.common.wording import plural
from services.output import feeds as calendar_feeds
from services.people import tokens as api_tokens
from services.people.accounts import (
    MIN_PASSWORD_LENGTH,
    log_out_everywhere,
    prepare_own_password_change,
    store_password,
)
from services.reminders import (
    REMINDER_CHOICES,
    describe_minutes,
    reminder_minutes,
    set_reminder_minutes,
)

bp = Blueprint("profile", __name__, url_prefix="/profile")


def _feed_url(feed) -> str:
    return url_for("calendar.feed", token=feed.token, _external=True)


def _staff_feed_form() -> StaffFeedForm:
    return StaffFeedForm()


def _page(
    *,
    token_form=None,
    feed_form=None,
    password_form=None,
    new_token=None,
    reminders_error=None,
    status=200,
):
    calendar_feeds.own_feed(current_user)  # every user has one, from their first visit
    db.session.commit()
    tz = org_tz()
    context = {
        "feeds": calendar_feeds.feeds_of(current_user),
        "feed_url": _feed_url,
        "subscribe_links": lambda feed: calendar_feeds.subscribe_links(
            _feed_url(feed), calendar_feeds.calendar_name(feed)
        ),
        "tokens": api_tokens.tokens_of(current_user),
        "token_last_day": lambda row: api_tokens.last_day(row, tz),
        "token_expired": api_tokens.is_expired,
        "working_tokens": api_tokens.working_token_count(current_user),
        "min_password_length": MIN_PASSWORD_LENGTH,
        "token_form": token_form or ApiTokenForm(formdata=None),
        "password_form": password_form or ChangePasswordForm(formdata=None),
        "feed_form": feed_form or (_staff_feed_form() if current_user.is_staff else None),
        "new_token": new_token,
        "reminder_choices": [(m, describe_minutes(m)) for m in sorted(REMINDER_CHOICES)],
        "my_reminders": reminder_minutes(current_user),
        "reminders_error": reminders_error,
    }
    return render_template("profile/index.html", **context), status


@bp.get("/")
@login_required
def index():
    return _page()


@bp.post("/reminders")
@login_required
def save_reminders():
    try:
        chosen = [int(value) for value in request.form.getlist("minutes")]
        set_reminder_minutes(current_user, chosen)
    except (ValueError, ValidationError):
        db.session.rollback()
        choices = ", ".join(describe_minutes(m) for m in sorted(REMINDER_CHOICES))
        return _page(reminders_error=f"Choose among {choices}, or none.", status=422)
    db.session.commit()
    if chosen:
        said = ", ".join(describe_minutes(m) for m in reminder_minutes(current_user))
        flash(f"Reminders saved: {said} each of your sessions.", "success")
    else:
        flash("Reminders turned off: you will not be reminded of your sessions.", "success")
    return redirect(url_for("profile.index") + "#reminders")


@bp.post("/feeds/<id:feed_id>/regenerate")
@login_required
def regenerate_feed(feed_id: int):
    feed = calendar_feeds.owned_feed(current_user, feed_id)
    calendar_feeds.regenerate(feed)
    db.session.commit()
    flash("A new calendar URL was made; the old one no longer works.", "success")
    return redirect(url_for("profile.index"))


@bp.post("/feeds/<id:feed_id>/delete")
@login_required
def delete_feed(feed_id: int):
    feed = calendar_feeds.owned_feed(current_user, feed_id)
    if feed.scope == calendar_feeds.OWN:
        abort(404)  # one's own feed is regenerated, not deleted
    calendar_feeds.revoke(feed)
    db.session.commit()
    flash("The feed was removed; its URL no longer works.", "success")
    return redirect(url_for("profile.index"))


@bp.post("/feeds")
@login_required
def add_staff_feed():
    if not current_user.is_staff:
        abort(403)
    form = _staff_feed_form()
    valid = form.validate_on_submit()
    room_id, room_ok = resolve_typed(form, "room", "room")
    group_id, group_ok = resolve_typed(form, "group", "group")
    if valid and room_ok and group_ok:
        with form_action() as outcome:
            calendar_feeds.staff_feed(current_user, room_id=room_id, group_id=group_id)
        if outcome.ok:
            flash("Feed added.", "success")
            return redirect(url_for("profile.index"))
        # Above the form whatever its field: a room or a group is one choice.
        form.form_errors.append(outcome.message)
    return _page(feed_form=form, status=422)


@bp.post("/tokens")
@login_required
def create_token():
    form = ApiTokenForm()
    if form.validate_on_submit():
        with form_action(form) as outcome:
            _row, token = api_tokens.create_token(
                current_user,
                form.label.data or "",
                expires_on=form.expires_on.data,
                read_only=bool(form.read_only.data),
                tz=org_tz(),
            )
        if outcome.ok:
            # Shown once, in this response only (never stored, never redirected through).
            return _page(new_token=token, status=201)
    return _page(token_form=form, status=422)


@bp.post("/tokens/<id:token_id>/revoke")
@login_required
def revoke_token(token_id: int):
    api_tokens.revoke_token(current_user, token_id)
    db.session.commit()
    flash("Token revoked: programs using it are refused from now on.", "success")
    return redirect(url_for("profile.index"))


def _revoked(count: int) -> str:
    return (
        f" Your {plural(count, 'API token')} {'was' if count == 1 else 'were'} revoked."
        if count
        else ""
    )


@bp.post("/password")
@login_required
@reads_first
def change_password():
    form = ChangePasswordForm()
    if form.validate_on_submit():
        working = api_tokens.working_token_count(current_user)
        try:
            change = prepare_own_password_change(
                current_user,
                form.current.data or "",
                form.password.data or "",
                form.confirm.data or "",
                hash_method=current_app.config["PASSWORD_HASH_METHOD"],
            )
        except ValidationError as err:
            attach_errors(form, err)
            return _page(password_form=form, status=422)
        end_read_phase()
        user = store_password(change)
        if user is None:
            db.session.rollback()
            form.current.errors = [
                "Your password was changed meanwhile (in another tab?): nothing was changed "
                "here. Log in again if you are asked to, then retry."
            ]
        else:
            db.session.commit()
            # The new password rotated the session token: this browser logs in again with it,
            # every other login has ended.
            login_user(user)
            flash("Your password is changed; your other logins have ended." + _revoked(working),
                  "success")  # fmt: skip
            return redirect(url_for("profile.index"))
    return _page(password_form=form, status=422)


@bp.record_once
def _limit_password_changes(state) -> None:
    # Someone holding a stolen session could otherwise guess the current password as fast as
    # the server hashes, and take the account over: it gets the login's limit.
    limiter = state.app.extensions["termtable.limiter"]
    state.app.view_functions["profile.change_password"] = limiter.limit(
        lambda: current_app.config["LOGIN_RATE_LIMIT"], methods=["POST"]
    )(change_password)


@bp.post("/logout-everywhere")
@login_required
def logout_everywhere():
    # CSRFProtect has already refused a POST without its token.
    working = api_tokens.working_token_count(current_user)
    log_out_everywhere(current_user)
    db.session.commit()
    logout_user()
    flash("You are logged out everywhere." + _revoked(working), "info")
    return redirect(url_for("auth.login"))
