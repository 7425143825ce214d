from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, DateField, HiddenField, PasswordField, StringField
from wtforms.validators import Length, Optional

_NEW_PASSWORD = {"autocomplete": "new-password"}


class ExpiryDateField(DateField):
    """An optional date whose parse error says what to type."""

    def process_formdata(self, valuelist):
        try:
            super().process_formdata(valuelist)
        except ValueError as err:
            raise ValueError("Enter a real date (YYYY-MM-DD), or leave it empty.") from err


class ApiTokenForm(FlaskForm):
    label = StringField(
        "Label (what uses it)",
        validators=[Length(max=80, message="Keep the label under 80 characters.")],
    )
    expires_on = ExpiryDateField("Expires after (optional)", validators=[Optional()])
    read_only = BooleanField("Read-only: it may read, never change anything")


class ChangePasswordForm(FlaskForm):
    current = PasswordField("Current password", render_kw={"autocomplete": "current-password"})
    password = PasswordField("New password", render_kw=_NEW_PASSWORD)
    confirm = PasswordField("New password again", render_kw=_NEW_PASSWORD)


class StaffFeedForm(FlaskForm):
    """A room's or a group's feed: each typed, with suggestions (blueprints/typed_choice.py)."""

    room = HiddenField()
    room_q = StringField("Room", validators=[Length(max=200)])
    group = HiddenField()
    group_q = StringField("Group", validators=[Length(max=200)])
