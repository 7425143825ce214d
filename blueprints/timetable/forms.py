from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    IntegerField,
    RadioField,
    SelectChoice,
    SelectField,
    TextAreaField,
    TimeField,
)
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional


class GenerateForm(FlaskForm):
    start = DateField("First date", validators=[InputRequired(message="Choose the first date.")])
    span = RadioField(
        "Span",
        choices=[SelectChoice("weeks", "Number of weeks"), SelectChoice("range", "Until a date")],
        default="weeks",
    )
    weeks = IntegerField(
        "Weeks",
        validators=[
            Optional(),
            NumberRange(min=1, max=104, message="Choose between 1 and 104 weeks."),
        ],
        default=4,
    )
    end = DateField("End date (excluded)", validators=[Optional()])
    force = BooleanField("Update out-of-date sessions and remove stale ones (force)")

    def validate(self, extra_validators=None) -> bool:
        ok = super().validate(extra_validators)
        if self.span.data == "weeks" and self.weeks.data is None and not self.weeks.errors:
            self.weeks.errors.append("Enter a number of weeks.")
            ok = False
        if self.span.data == "range" and self.end.data is None and not self.end.errors:
            self.end.errors.append("Choose the end date.")
            ok = False
        return ok


class DateOverrideChangeForm(FlaskForm):
    """What happens to one date: the edit form (the series and date are the identity)."""

    action = RadioField(
        "Action",
        choices=[
            SelectChoice("cancel", "Cancel this date"),
            SelectChoice("override", "Move this date"),
        ],
        default="cancel",
    )
    new_date = DateField("Move to date", validators=[Optional()])
    start_time = TimeField("New start", validators=[Optional()])
    end_time = TimeField("New end", validators=[Optional()])
    room = SelectField("New room", coerce=int, validators=[Optional()])
    notes = TextAreaField("Notes", validators=[Length(max=2000)])


class DateOverrideForm(DateOverrideChangeForm):
    """A new exception: which series and date, and what happens to it."""

    series = SelectField(
        "Series", coerce=int, validators=[DataRequired(message="Choose a series.")]
    )
    original_date = DateField("Date", validators=[InputRequired(message="Choose the date.")])
