"""Request forms: they parse what was typed (ids, dates, times, numbers) and say what could
not be read; `services.requests.lifecycle.create_request` judges the rest."""

from __future__ import annotations

from datetime import date

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    IntegerField,
    RadioField,
    SelectChoice,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
    TimeField,
)
from wtforms.validators import Optional
from wtforms.widgets import CheckboxInput, ListWidget

from models.series import WEEKDAY_NAMES
from services.common.numbers import row_id, whole_number
from services.requests.lifecycle import DURATIONS, MAX_WEEKS, RequestInput

MODE_CHOICES = [SelectChoice("online", "Online"), SelectChoice("in_person", "In person")]
KIND_CHOICES = [
    SelectChoice("single", "One session"),
    SelectChoice("dates", "Specific dates"),
    SelectChoice("weekly", "Weekly"),
]
# The fields each schedule kind reads (a parse error elsewhere is irrelevant).
KIND_FIELDS = {
    "single": ("day", "start", "duration"),
    "dates": ("dates", "start", "end"),
    "weekly": ("weekdays", "start", "end", "first_date", "weeks"),
}
COMMON_FIELDS = ("mentor", "subject", "title", "description", "mode", "schedule_kind")


def choice_id(raw) -> int:
    """An id from a select; anything malformed means "none chosen" (0)."""
    return row_id(raw) or 0


def _weekday(raw) -> int:
    day = whole_number(raw, 6)
    return -1 if day is None else day


def _duration(raw) -> int | None:
    return whole_number(raw, 99_999)


class _Parsed:
    """A field whose parse error says what to type."""

    parse_message = ""

    def process_formdata(self, valuelist):
        try:
            super().process_formdata(valuelist)
        except ValueError as err:
            raise ValueError(self.parse_message) from err


class DayField(_Parsed, DateField):
    parse_message = "Enter a real date (YYYY-MM-DD)."


class ClockField(_Parsed, TimeField):
    parse_message = "Enter a time of day (HH:MM)."


class WeeksField(_Parsed, IntegerField):
    parse_message = f"Enter a whole number of weeks (1 to {MAX_WEEKS})."


class RequestForm(FlaskForm):
    mentor = SelectField("Mentor", coerce=choice_id, validate_choice=False)
    subject = SelectField("Subject", coerce=choice_id, validate_choice=False)
    title = StringField("Title")
    description = TextAreaField("Description (optional)")
    mode = RadioField("Mode", choices=MODE_CHOICES, default="online", validate_choice=False)
    schedule_kind = RadioField(
        "Schedule", choices=KIND_CHOICES, default="single", validate_choice=False
    )
    day = DayField("Date", validators=[Optional()])
    start = ClockField("Start", validators=[Optional()])
    duration = SelectField(
        "Duration",
        coerce=_duration,
        choices=[SelectChoice(str(m), f"{m} minutes") for m in DURATIONS],
        default="60",
        validate_choice=False,
    )
    end = ClockField("End", validators=[Optional()])
    # Specific dates come as repeated `dates` inputs and/or a textarea (read by `dates_input`).
    dates_text = TextAreaField("Or type dates, one per line (YYYY-MM-DD)")
    weekdays = SelectMultipleField(
        "Weekdays",
        coerce=_weekday,
        choices=[SelectChoice(str(i), name) for i, name in enumerate(WEEKDAY_NAMES)],
        validate_choice=False,
        widget=ListWidget(prefix_label=False),
        option_widget=CheckboxInput(),
    )
    first_date = DayField("First date", validators=[Optional()])
    weeks = WeeksField("Number of weeks", validators=[Optional()], default=4)

    def __init__(self, *args, date_values: list[str] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        # What was typed in the date inputs, kept to show them again.
        self.date_values = [v.strip() for v in (date_values or []) if v and v.strip()]
        self.dates_errors: list[str] = []

    def parse_dates(self) -> list[date] | None:
        """The specific dates typed (inputs and textarea); None if one cannot be read (its
        message is in `dates_errors`)."""
        lines = [line.strip() for line in (self.dates_text.data or "").splitlines()]
        days, bad = [], []
        for raw in [*self.date_values, *(line for line in lines if line)]:
            try:
                days.append(date.fromisoformat(raw))
            except ValueError:
                bad.append(raw)
        if bad:
            listed = ", ".join(f"“{b[:20]}”" for b in bad[:5])
            self.dates_errors = [
                f"{listed} {'is not a date' if len(bad) == 1 else 'are not dates'} (YYYY-MM-DD)."
            ]
            return None
        return days

    def request_input(self) -> tuple[RequestInput, dict[str, str]]:
        """The service's input, and a message per field of the chosen kind that could not be
        read (such a field is passed as missing, so the service refuses the request)."""
        kind = self.schedule_kind.data
        dates = self.parse_dates()
        data = RequestInput(
            mentor_id=self.mentor.data or None,
            subject_id=self.subject.data or None,
            title=self.title.data or "",
            description=self.description.data or "",
            mode=self.mode.data or "",
            schedule_kind=kind or "",
            day=self.day.data,
            start=self.start.data,
            duration=self.duration.data,
            dates=dates or [],
            end=self.end.data,
            weekdays=list(self.weekdays.data or []),
            first_date=self.first_date.data,
            weeks=self.weeks.data,
        )
        errors = {}
        for name in (*COMMON_FIELDS, *KIND_FIELDS.get(kind, ())):
            if name == "dates":
                if self.dates_errors:
                    errors[name] = self.dates_errors[0]
            elif self[name].errors:
                errors[name] = self[name].errors[0]
        return data, errors


class RejectForm(FlaskForm):
    reason = TextAreaField("Reason (the student reads it)")


class ApproveForm(FlaskForm):
    """Approve: with `choose` set (a request with several dates), the ticked `dates` are
    approved and the others declined, with the optional `reason`."""

    choose = BooleanField()
    reason = TextAreaField("Why the other dates are declined (optional; the student reads it)")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.dates_error = ""

    def chosen_dates(self) -> set[date]:
        """The ticked dates (`dates_error` says which value is not a date)."""
        from flask import request

        days, bad = set(), []
        for raw in request.form.getlist("dates"):
            try:
                days.add(date.fromisoformat(raw.strip()))
            except ValueError:
                bad.append(raw)
        if bad:
            self.dates_error = f"“{bad[0][:20]}” is not a date (YYYY-MM-DD)."
        return days
