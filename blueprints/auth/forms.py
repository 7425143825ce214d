from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, PasswordField, StringField
from wtforms.validators import DataRequired, Length


class LoginForm(FlaskForm):
    # autocomplete: password managers fill the right fields.
    email = EmailField(
        "E-mail",
        validators=[DataRequired(message="Enter your e-mail address."), Length(max=254)],
        render_kw={"autocomplete": "username"},
    )
    password = PasswordField(
        "Password",
        validators=[DataRequired(message="Enter your password.")],
        render_kw={"autocomplete": "current-password"},
    )
    remember = BooleanField("Keep me logged in on this device")
    next = StringField()


class CsrfOnlyForm(FlaskForm):
    """For POST buttons (logout, delete): the CSRF token and nothing else."""
