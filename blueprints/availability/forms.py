"""The availability page's forms: weekly hours and booking rules, and a date's own hours."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import DateField, IntegerField, SelectChoice, SelectField, StringField
from wtforms.validators import Optional

from services.availability import SLOT_STEPS, WEEKDAYS

# No placeholder: an example in every empty day would read as hours already set.
_RANGES_HINT = {"autocomplete": "off", "aria-describedby": "weekly-hours-hint"}


class WholeNumberField(IntegerField):
    """A number whose parse error says what to type (the service checks its range)."""

    def process_formdata(self, valuelist):
        try:
            super().process_formdata(valuelist)
        except ValueError as err:
            raise ValueError("Give a whole number.") from err


class AvailabilityForm(FlaskForm):
    hours_0 = StringField(WEEKDAYS[0], render_kw=_RANGES_HINT)
    hours_1 = StringField(WEEKDAYS[1], render_kw=_RANGES_HINT)
    hours_2 = StringField(WEEKDAYS[2], render_kw=_RANGES_HINT)
    hours_3 = StringField(WEEKDAYS[3], render_kw=_RANGES_HINT)
    hours_4 = StringField(WEEKDAYS[4], render_kw=_RANGES_HINT)
    hours_5 = StringField(WEEKDAYS[5], render_kw=_RANGES_HINT)
    hours_6 = StringField(WEEKDAYS[6], render_kw=_RANGES_HINT)
    timezone = StringField("Time zone of these hours", render_kw={"list": "time-zones"})
    buffer_before_minutes = WholeNumberField(
        "Free before each session (minutes)", render_kw={"inputmode": "numeric"}
    )
    buffer_after_minutes = WholeNumberField(
        "Free after each session (minutes)", render_kw={"inputmode": "numeric"}
    )
    minimum_notice_hours = WholeNumberField(
        "Minimum notice (hours)", render_kw={"inputmode": "numeric"}
    )
    max_sessions_per_day = WholeNumberField(
        "Most sessions a day (optional)",
        validators=[Optional()],
        render_kw={"inputmode": "numeric"},
    )
    booking_horizon_days = WholeNumberField(
        "Bookable up to (days ahead)", render_kw={"inputmode": "numeric"}
    )
    slot_step_minutes = SelectField(
        "Sessions may start every",
        choices=[SelectChoice(m, f"{m} minutes" if m < 60 else "hour") for m in SLOT_STEPS],
        coerce=int,
    )

    def hours_fields(self):
        return [self[f"hours_{day}"] for day in range(7)]


class OverrideForm(FlaskForm):
    day = DateField("Date")
    hours = StringField(
        "Hours that day (empty: a day off)",
        render_kw={"autocomplete": "off"},
    )
