from __future__ import annotations

from typing import ClassVar

from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from sqlalchemy import select
from wtforms import (
    BooleanField,
    DateField,
    HiddenField,
    IntegerField,
    RadioField,
    SelectChoice,
    SelectField,
    StringField,
    TextAreaField,
    TimeField,
)
from wtforms.validators import InputRequired, Length, NumberRange, Optional

from blueprints.typed_choice import picked_id
from models import ClosureKind, CourseGroup, DateOverride, db
from services.timetable.exceptions import OverrideChange


class GenerateForm(FlaskForm):
    group = SelectField("Groups", coerce=int, validators=[Optional()], default=0)
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

    def unused_field_note(self) -> str:
        """Without JavaScript both the weeks and the end date are sent: what was typed in the
        one that the chosen span leaves aside, said so it is not mistaken for used ("")."""
        if self.span.data == "weeks" and self.end.data is not None:
            return (
                f"The end date ({self.end.data:%d %b %Y}) was not used: "
                "\u201cNumber of weeks\u201d is chosen."
            )
        if self.span.data == "range" and self.weeks.raw_data and self.weeks.raw_data[0].strip():
            return (
                f"The number of weeks ({self.weeks.raw_data[0].strip()}) was not used: "
                "\u201cUntil a date\u201d is chosen."
            )
        return ""


def generate_group_choices() -> list[SelectChoice]:
    """Every active group, after "all active groups" (0)."""
    groups = db.session.execute(
        select(CourseGroup.id, CourseGroup.name)
        .where(CourseGroup.active.is_(True))
        .order_by(CourseGroup.name, CourseGroup.id)
    )
    return [SelectChoice(0, "All active groups")] + [SelectChoice(i, n) for i, n in groups]


class DateOverrideChangeForm(FlaskForm):
    """What happens to one date: the edit form (the series and date are the identity).

    The room is typed (with suggestions) rather than chosen from a list of every room:
    `room` is the id of a picked suggestion (or of the exception's room), `room_q` the text;
    the route resolves them together (blueprints/typed_choice.py)."""

    # A service's "start", "end" and "room" messages go next to these fields (attach_errors).
    fields_for_errors: ClassVar = {
        "start": ("start_time",),
        "end": ("end_time",),
        "room": ("room_q",),
    }

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
    room = HiddenField()
    room_q = StringField("New room", validators=[Length(max=200)])
    notes = TextAreaField("Notes", validators=[Length(max=2000)])

    def picked_room_id(self) -> int | None:
        return picked_id(self.room.data)


class DateOverrideForm(DateOverrideChangeForm):
    """A new exception: which series (typed by its group's name, with suggestions: `series`
    the picked id, `series_q` the text) and date, and what happens to it."""

    fields_for_errors: ClassVar = {
        **DateOverrideChangeForm.fields_for_errors,
        "series": ("series_q",),
    }

    series = HiddenField()
    series_q = StringField("Series", validators=[Length(max=300)])
    original_date = DateField("Date", validators=[InputRequired(message="Choose the date.")])


class CellEditorForm(DateOverrideChangeForm):
    """The schedule's cell editor: its room suggestions put free rooms first."""


def cell_editor_form(
    override: DateOverride | None, ids_prefix: str, *, prefill: bool
) -> CellEditorForm:
    """The cell editor's form: its own field ids and (when `prefill`) what the date's
    exception says, or "move" for a date without one; no room list (it is typed)."""
    form = CellEditorForm()
    give_own_ids(form, ids_prefix)
    _prefill(form, override, prefill)
    return form


def exception_editor_form(
    override: DateOverride | None, ids_prefix: str, *, prefill: bool
) -> DateOverrideChangeForm:
    """The form that changes one date: its own field ids, and (when `prefill`, i.e. on GET)
    what the date's exception says, or "move" for a date without one."""
    form = DateOverrideChangeForm()
    give_own_ids(form, ids_prefix)
    _prefill(form, override, prefill)
    return form


def _prefill(form: DateOverrideChangeForm, override: DateOverride | None, prefill: bool) -> None:
    if prefill:
        form.action.data = override.kind if override else "override"
        if override is not None:
            form.new_date.data = override.new_date
            form.start_time.data = override.start_time
            form.end_time.data = override.end_time
            form.notes.data = override.notes
            if override.room is not None:  # typed: its id, and its name in the text field
                form.room.data = str(override.room_id)
                form.room_q.data = override.room.name


def give_own_ids(form: FlaskForm, prefix: str) -> None:
    """Prefix the ids of an inline editor's fields (their names stay), so that it can share
    a page with another form of the same fields and every <label for> finds its own input."""
    for field in form:
        field.id = f"{prefix}-{field.name}"


def change_from_form(form: DateOverrideChangeForm, room_id: int | None = None) -> OverrideChange:
    """The form's change; `room_id` is its room, resolved from what was typed."""
    cancelled = form.action.data == "cancel"
    return OverrideChange(
        cancelled=cancelled,
        new_date=None if cancelled else form.new_date.data,
        start_time=None if cancelled else form.start_time.data,
        end_time=None if cancelled else form.end_time.data,
        room_id=None if cancelled else room_id,
        notes=form.notes.data or "",
    )


class ClosureForm(FlaskForm):
    """A closure: its name and kind, its days (both included), the whole school or groups
    named one per line (resolved by `services.school_year.group_ids_named`)."""

    name = StringField(
        "Name",
        validators=[InputRequired(message="Enter the closure's name."), Length(max=120)],
        render_kw={"placeholder": "Winter break"},
    )
    kind = SelectField(
        "Kind",
        choices=[
            SelectChoice(ClosureKind.HOLIDAY.value, "Holiday"),
            SelectChoice(ClosureKind.CLOSED.value, "School closed"),
            SelectChoice(ClosureKind.STAFF_DAY.value, "Staff day (no teaching)"),
        ],
        default=ClosureKind.HOLIDAY.value,
    )
    first_day = DateField(
        "First day", validators=[InputRequired(message="Enter the first day (YYYY-MM-DD).")]
    )
    last_day = DateField(
        "Last day (included)",
        validators=[InputRequired(message="Enter the last day (YYYY-MM-DD).")],
    )
    scope = RadioField(
        "Closes",
        choices=[SelectChoice("school", "The whole school"), SelectChoice("groups", "Some groups")],
        default="school",
    )
    groups = TextAreaField("Groups, one per line", validators=[Optional()])


class YearForm(FlaskForm):
    """An academic year ("2026-2027"), both days included."""

    name = StringField(
        "Name",
        validators=[InputRequired(message="Enter the year's name."), Length(max=80)],
        render_kw={"placeholder": "2026-2027"},
    )
    first_day = DateField(
        "First day", validators=[InputRequired(message="Enter the first day (YYYY-MM-DD).")]
    )
    last_day = DateField(
        "Last day (included)",
        validators=[InputRequired(message="Enter the last day (YYYY-MM-DD).")],
    )


class TermForm(YearForm):
    """A term of a year: the same fields, its name a term's."""

    name = StringField(
        "Term",
        validators=[InputRequired(message="Enter the term's name."), Length(max=80)],
        render_kw={"placeholder": "Autumn term"},
    )


class ClosureImportForm(FlaskForm):
    """A CSV (name,kind,first_day,last_day,groups) or iCalendar file of closures."""

    file = FileField(
        "CSV or iCalendar file",
        validators=[FileRequired(message="Choose a .csv or .ics file.")],
        render_kw={"accept": ".csv,.ics,text/csv,text/calendar"},
    )


class PublicHolidaysForm(FlaskForm):
    """Which public holidays to show: a country, a region of it (or none), a range of days.
    Read from the query string (a GET: no CSRF token) and, posted, beside the ticked days."""

    class Meta:
        csrf = False

    country = SelectField("Country", choices=[], validate_choice=False)
    region = SelectField("Region", choices=[], validate_choice=False)
    first_day = DateField("From", validators=[Optional()])
    last_day = DateField("To (included)", validators=[Optional()])


class DayChangeForm(FlaskForm):
    """A whole-day change: cancel every session of a day, or run another day's timetable
    on it (`runs_as`). `confirm` is set by the preview's button: without it, only a preview."""

    action = RadioField(
        "Change",
        choices=[
            SelectChoice("cancel", "Cancel every session of the day (a snow day)"),
            SelectChoice("run_as", "Run another day's timetable on it (a make-up day)"),
        ],
        default="cancel",
    )
    first_day = DateField("Day", validators=[InputRequired(message="Enter the day (YYYY-MM-DD).")])
    runs_as = DateField("Runs the timetable of", validators=[Optional()])
    name = StringField(
        "Name (optional)",
        validators=[Length(max=120)],
        render_kw={"placeholder": "Snow day"},
    )
    confirm = HiddenField()


class ImportUploadForm(FlaskForm):
    """A timetable or exceptions CSV file, to preview."""

    file = FileField(
        "CSV file",
        validators=[FileRequired(message="Choose a .csv file.")],
        render_kw={"accept": ".csv,text/csv"},
    )


class ImportApplyForm(FlaskForm):
    """Apply the file a preview showed: its SHA-256 and what the preview said (a digest)."""

    sha256 = HiddenField()
    digest = HiddenField()
    filename = HiddenField()
