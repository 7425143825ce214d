from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import SelectField, StringField
from wtforms.validators import Length


class ApiTokenForm(FlaskForm):
    label = StringField(
        "Label (what uses it)",
        validators=[Length(max=80, message="Keep the label under 80 characters.")],
    )


class StaffFeedForm(FlaskForm):
    room = SelectField("Room", coerce=int, default=0)
    group = SelectField("Group", coerce=int, default=0)
