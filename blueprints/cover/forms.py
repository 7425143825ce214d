from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import DateField, SelectField, StringField, TimeField
from wtforms.validators import Length, Optional

from services.common.numbers import row_id


def _mentor_id(raw) -> int:
    """A chosen mentor's id; empty or malformed: 0, none chosen."""
    return row_id(raw) or 0


class AbsenceForm(FlaskForm):
    """An absence: whole days (first to last, both included), or part of one day (both
    times). Staff choose the mentor; a mentor reports their own (`mentor` is not shown)."""

    mentor = SelectField("Mentor", coerce=_mentor_id, choices=[], validate_choice=False)
    first_day = DateField("First day", validators=[Optional()])
    last_day = DateField("Last day (included)", validators=[Optional()])
    start_time = TimeField("From (part of a day)", validators=[Optional()])
    end_time = TimeField("To", validators=[Optional()])
    reason = StringField("Reason (optional)", validators=[Length(max=200)])


class CoverForm(FlaskForm):
    """Who covers a session: a mentor's id, or empty to give it back to its group's mentor."""

    mentor = SelectField("Substitute", coerce=_mentor_id, choices=[], validate_choice=False)
