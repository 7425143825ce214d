"""blueprints/feedback.py: `form_action` commits what the block did, or rolls it back and
says why (on the form, with 422 or 409); `page_or_fragment` answers the fragment only to an
htmx partial request."""

from __future__ import annotations

import pytest
from flask_wtf import FlaskForm
from wtforms import StringField

from blueprints.feedback import form_action, page_or_fragment
from models import Room, db
from services.common.errors import (
    ConflictError,
    InvalidTransition,
    NotAllowed,
    NotFoundError,
    ValidationError,
)


class NameForm(FlaskForm):
    class Meta:
        csrf = False

    name = StringField()


def _room_names() -> list[str]:
    db.session.rollback()
    return [room.name for room in db.session.scalars(db.select(Room).order_by(Room.name))]


def test_a_block_that_ends_normally_is_committed(app):
    with app.test_request_context(method="POST"), form_action(NameForm()) as outcome:
        db.session.add(Room(name="Lab"))
    assert outcome.ok and not outcome.failed and outcome.status == 200
    assert _room_names() == ["Lab"]


def test_a_validation_error_is_rolled_back_and_put_next_to_its_field(app):
    with app.test_request_context(method="POST", data={"name": "x"}):
        form = NameForm()
        with form_action(form) as outcome:
            db.session.add(Room(name="Lab"))
            db.session.flush()
            raise ValidationError({"name": "Too short.", "other": "Not a field."})
        assert outcome.failed and outcome.status == 422
        assert form.name.errors == ["Too short."]
        assert form.form_errors == ["Not a field."]
        assert outcome.messages == {"name": "Too short.", "other": "Not a field."}
    assert _room_names() == []


@pytest.mark.parametrize("error", [ConflictError("Taken."), InvalidTransition("Done already.")])
def test_a_conflict_or_a_state_that_forbids_it_is_409_when_caught(app, error):
    with app.test_request_context(method="POST"):
        form = NameForm()
        with form_action(form, catch=(ValidationError, type(error))) as outcome:
            raise error
        assert outcome.status == 409 and outcome.message == error.message
        assert form.form_errors == [error.message]


def test_without_a_form_the_messages_are_only_kept(app):
    with app.test_request_context(method="POST"), form_action() as outcome:
        raise ValidationError("No.", field="name")
    assert outcome.messages == {"name": "No."} and outcome.status == 422


@pytest.mark.parametrize(
    "error", [NotAllowed("Not yours."), NotFoundError("Gone."), InvalidTransition("Not caught.")]
)
def test_errors_not_caught_go_on_to_the_app(app, error):
    with (
        app.test_request_context(method="POST"),
        pytest.raises(type(error)),
        form_action(catch=(ValidationError, NotAllowed, NotFoundError)),
    ):
        raise error


@pytest.mark.parametrize(
    ("headers", "template"),
    [
        ({}, "page"),
        ({"HX-Request": "true"}, "fragment"),
        ({"HX-Request": "true", "HX-Request-Type": "full"}, "page"),
        ({"HX-Request": "true", "HX-History-Restore-Request": "true"}, "page"),
    ],
)
def test_page_or_fragment(app, headers, template, monkeypatch):
    monkeypatch.setattr("blueprints.feedback.render_template", lambda name, **ctx: (name, ctx))
    with app.test_request_context(headers=headers):
        body, status, response_headers = page_or_fragment(
            "page", "fragment", 422, {"X-A": "1"}, page=3
        )
    assert body == (template, {"page": 3})
    assert (status, response_headers) == (422, {"X-A": "1"})


class TimeForm(FlaskForm):
    class Meta:
        csrf = False

    fields_for_errors = {"start": ("start_time",)}
    start_time = StringField()


def test_a_form_names_the_field_a_service_message_goes_to(app):
    with app.test_request_context(method="POST"):
        form = TimeForm()
        with form_action(form) as outcome:
            raise ValidationError("Too early.", field="start")
        assert outcome.failed and form.start_time.errors == ["Too early."]
