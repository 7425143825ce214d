from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import (
    DateField,
    HiddenField,
    RadioField,
    SelectChoice,
    StringField,
    TextAreaField,
    TimeField,
)
from wtforms.validators import DataRequired, InputRequired, Length

from services.timetable.sessions import NOTES_MAX_LENGTH, REASON_MAX_LENGTH, TITLE_MAX_LENGTH

MODE_CHOICES = [SelectChoice("in_person", "In person"), SelectChoice("online", "Online")]


class _WhenAndWhere(FlaskForm):
    date = DateField("Date", validators=[InputRequired(message="Choose the date.")])
    start = TimeField("Start", validators=[InputRequired(message="Enter the start time.")])
    end = TimeField("End", validators=[InputRequired(message="Enter the end time.")])
    # Typed, with suggestions (blueprints/typed_choice.py): `room` is the id of a picked
    # suggestion or of the session's room, `room_q` the text. Empty: "no room" (one-time) or
    # "the series' room" (series).
    room = HiddenField()
    room_q = StringField("Room", validators=[Length(max=200)])


class OneTimeSessionEditForm(_WhenAndWhere):
    """A one-time session's changeable values (its course group is fixed)."""

    mode = RadioField("Mode", choices=MODE_CHOICES, default="in_person")
    title = StringField(
        "Title (optional)",
        validators=[
            Length(
                max=TITLE_MAX_LENGTH,
                message=f"Titles are limited to {TITLE_MAX_LENGTH} characters.",
            )
        ],
    )


class OneTimeSessionForm(OneTimeSessionEditForm):
    """A new one-time session."""

    # Typed, with suggestions, as the room is.
    group = HiddenField()
    group_q = StringField("Course group", validators=[Length(max=200)])


class SeriesSessionEditForm(_WhenAndWhere):
    """One date of a series, moved: saved as an exception for that date."""

    notes = TextAreaField(
        "Notes for the exception",
        validators=[
            Length(
                max=NOTES_MAX_LENGTH,
                message=f"Notes are limited to {NOTES_MAX_LENGTH:,} characters.",
            )
        ],
    )


class CancelSessionForm(FlaskForm):
    reason = TextAreaField(
        "Reason",
        validators=[
            DataRequired(message="Give a reason for the cancellation."),
            Length(
                max=REASON_MAX_LENGTH,
                message=f"Reasons are limited to {REASON_MAX_LENGTH:,} characters.",
            ),
        ],
    )
