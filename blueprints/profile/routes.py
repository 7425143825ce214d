"""The user's profile: their calendar feed URLs (copy, regenerate; room and group feeds for
staff) and their personal API tokens (create, shown once; revoke)."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_login import current_user, login_required
from sqlalchemy import select

from blueprints.profile.forms import ApiTokenForm, StaffFeedForm
from models import CourseGroup, Room, db
from services import api_tokens, calendar_feeds
from services.errors import NotFoundError, ValidationError

bp = Blueprint("profile", __name__, url_prefix="/profile")


def _feed_url(feed) -> str:
    return url_for("calendar.feed", token=feed.token, _external=True)


def _staff_feed_form() -> StaffFeedForm:
    form = StaffFeedForm()
    rooms = db.session.execute(select(Room.id, Room.name).order_by(Room.name)).all()
    groups = db.session.execute(
        select(CourseGroup.id, CourseGroup.name).order_by(CourseGroup.name)
    ).all()
    form.room.choices = [(0, "Choose a room")] + [tuple(r) for r in rooms]
    form.group.choices = [(0, "Choose a group")] + [tuple(g) for g in groups]
    return form


def _page(*, token_form=None, feed_form=None, new_token=None, status=200):
    calendar_feeds.own_feed(current_user)  # every user has one, from their first visit
    db.session.commit()
    context = {
        "feeds": calendar_feeds.feeds_of(current_user),
        "feed_url": _feed_url,
        "tokens": api_tokens.tokens_of(current_user),
        "token_form": token_form or ApiTokenForm(),
        "feed_form": feed_form or (_staff_feed_form() if current_user.is_staff else None),
        "new_token": new_token,
    }
    return render_template("profile/index.html", **context), status


@bp.get("/")
@login_required
def index():
    return _page()


@bp.post("/feeds/<int:feed_id>/regenerate")
@login_required
def regenerate_feed(feed_id: int):
    try:
        feed = calendar_feeds.owned_feed(current_user, feed_id)
    except NotFoundError:
        abort(404)
    calendar_feeds.regenerate(feed)
    db.session.commit()
    flash("A new calendar URL was made; the old one no longer works.", "success")
    return redirect(url_for("profile.index"))


@bp.post("/feeds/<int:feed_id>/delete")
@login_required
def delete_feed(feed_id: int):
    try:
        feed = calendar_feeds.owned_feed(current_user, feed_id)
    except NotFoundError:
        abort(404)
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
    if form.validate_on_submit():
        try:
            calendar_feeds.staff_feed(
                current_user, room_id=form.room.data or None, group_id=form.group.data or None
            )
            db.session.commit()
        except ValidationError as err:
            db.session.rollback()
            form.form_errors.append(err.message)
        else:
            flash("Feed added.", "success")
            return redirect(url_for("profile.index"))
    return _page(feed_form=form, status=422)


@bp.post("/tokens")
@login_required
def create_token():
    form = ApiTokenForm()
    if form.validate_on_submit():
        try:
            _row, token = api_tokens.create_token(current_user, form.label.data or "")
            db.session.commit()
        except ValidationError as err:
            db.session.rollback()
            form.label.errors = [*form.label.errors, err.message]
        else:
            # Shown once, in this response only (never stored, never redirected through).
            return _page(new_token=token, status=201)
    return _page(token_form=form, status=422)


@bp.post("/tokens/<int:token_id>/revoke")
@login_required
def revoke_token(token_id: int):
    try:
        api_tokens.revoke_token(current_user, token_id)
    except NotFoundError:
        abort(404)
    db.session.commit()
    flash("Token revoked: programs using it are refused from now on.", "success")
    return redirect(url_for("profile.index"))
