"""Management forms: they parse what was typed (numbers, dates, times); services judge it."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    EmailField,
    HiddenField,
    IntegerField,
    PasswordField,
    RadioField,
    SelectChoice,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
    TimeField,
)
from wtforms.validators import Length, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from models import MAX_ID
from models.series import WEEKDAY_NAMES
from services.common.numbers import row_id, whole_number


class WholeNumberField(IntegerField):
    """An integer field whose parse error says what to type."""

    def __init__(self, *args, message="Enter a whole number.", **kwargs):
        super().__init__(*args, **kwargs)
        self.parse_message = message

    def process_formdata(self, valuelist):
        try:
            super().process_formdata(valuelist)
        except ValueError as err:
            raise ValueError(self.parse_message) from err


def _choice_id(raw):
    """Select values are ids; an empty or malformed one means "none chosen"."""
    return row_id(raw) or 0


class RoomForm(FlaskForm):
    name = StringField("Name")
    capacity = WholeNumberField(
        "Capacity (seats)",
        validators=[Optional()],
        message="The capacity is a whole number of seats, or empty if unknown.",
    )
    active = BooleanField("Active", default=True)


class SubjectForm(FlaskForm):
    name = StringField("Name")
    active = BooleanField("Active", default=True)


class ActiveForm(FlaskForm):
    """Deactivate (active=0) or reactivate (active=1)."""

    active = HiddenField()


class GroupForm(FlaskForm):
    name = StringField("Name")
    subject = SelectField("Subject", coerce=_choice_id, validate_choice=False)
    # Typed, with suggestions (blueprints/typed_choice.py): the id of a picked suggestion (or
    # of the group's own) beside the text.
    mentor = HiddenField()
    mentor_q = StringField("Mentor", validators=[Length(max=200)])
    default_room = HiddenField()
    default_room_q = StringField("Default room", validators=[Length(max=200)])
    active = BooleanField("Active (generates sessions)", default=True)


MODE_CHOICES = [SelectChoice("in_person", "In person"), SelectChoice("online", "Online")]


class SeriesForm(FlaskForm):
    weekdays = SelectMultipleField(
        "Weekdays",
        coerce=_choice_id,
        choices=[SelectChoice(str(i), name) for i, name in enumerate(WEEKDAY_NAMES)],
        validate_choice=False,
        widget=ListWidget(prefix_label=False),
        option_widget=CheckboxInput(),
    )
    every_weeks = WholeNumberField(
        "Every N weeks",
        validators=[Optional()],
        default=1,
        message="Every N weeks is a whole number (1 = every week).",
    )
    start_time = TimeField("Start", validators=[Optional()])
    end_time = TimeField("End", validators=[Optional()])
    room = HiddenField()  # typed, as a group's default room is
    room_q = StringField("Room", validators=[Length(max=200)])
    mode = RadioField("Mode", choices=MODE_CHOICES, default="in_person", validate_choice=False)
    # "" runs between the dates; a term's id runs over the term's days (choices per request).
    term = SelectField("Runs", coerce=_choice_id, choices=[], validate_choice=False)
    first_date = DateField("First date", validators=[Optional()])
    last_date = DateField("Last date (optional)", validators=[Optional()])


class EndSeriesForm(FlaskForm):
    last_date = DateField("Last date", validators=[Optional()])


class EnrolForm(FlaskForm):
    student = WholeNumberField(
        "Student", validators=[Optional()], message="Choose a student from the search results."
    )
    q = HiddenField()


class BulkEnrolForm(FlaskForm):
    """E-mails or names to enrol (pasted), or students picked by id (`student`, repeated)."""

    entries = TextAreaField(
        "E-mails or names",
        validators=[Optional()],
        render_kw={"rows": 6, "autocomplete": "off", "spellcheck": "false"},
    )


class StudentsForm(FlaskForm):
    """Students ticked by id (`student`, repeated) and, to move them, the group they go to
    (`to_group`): read by the route (a list of checkboxes and a select of every group)."""


# Passwords typed here are someone's new password (never the one of whoever is logged in):
# browsers must neither fill them in nor offer the account's own e-mail.
_NEW_PASSWORD = {"autocomplete": "new-password"}


class UserCreateForm(FlaskForm):
    email = EmailField("E-mail", render_kw={"autocomplete": "off"})
    name = StringField("Name")
    role = SelectField("Role", validate_choice=False, default="student")
    password = PasswordField("Password (optional)", render_kw=_NEW_PASSWORD)
    confirm = PasswordField("Password again", render_kw=_NEW_PASSWORD)


class UserEditForm(FlaskForm):
    name = StringField("Name")
    role = SelectField("Role", validate_choice=False)


class PasswordForm(FlaskForm):
    password = PasswordField("New password", render_kw=_NEW_PASSWORD)
    confirm = PasswordField("New password again", render_kw=_NEW_PASSWORD)


class MentorSubjectsForm(FlaskForm):
    """The subjects a mentor offers (what students find them by)."""

    subjects = SelectMultipleField(
        "Subjects offered",
        coerce=lambda raw: -1 if (value := whole_number(raw, MAX_ID)) is None else value,
        validate_choice=False,
        widget=ListWidget(prefix_label=False),
        option_widget=CheckboxInput(),
    )
