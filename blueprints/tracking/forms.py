"""Forms of session tracking: completing (and correcting) a session, a mentor's cancel."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import StringField, TextAreaField, TimeField
from wtforms.validators import InputRequired, Length

from services.tracking.completion import CODE_MAX, NOTES_MAX_LENGTH


class CompletionForm(FlaskForm):
    """Actual times (local, on the session's date), an optional code, the session notes.

    Used with `prefix="completion"` so its fields never share an id with other forms of the
    session page. The code's rules are the service's (one message, next to the field).
    """

    actual_start = TimeField(
        "Actual start", validators=[InputRequired(message="Enter the time it actually started.")]
    )
    actual_end = TimeField(
        "Actual end", validators=[InputRequired(message="Enter the time it actually ended.")]
    )
    code = StringField(
        "Completion code",
        validators=[Length(max=CODE_MAX, message=f"A code has at most {CODE_MAX} characters.")],
    )
    notes = TextAreaField(
        "Session notes (what was covered)",
        validators=[
            Length(
                max=NOTES_MAX_LENGTH,
                message=f"Session notes are limited to {NOTES_MAX_LENGTH:,} characters.",
            )
        ],
    )
