"""What every page area tells the browser the same way: the page or only its fragment, a
toast in `HX-Trigger`, and a service's refusal next to the form fields it concerns.

A form route reads: parse, call, render (blueprints/manage/groups.py):

    form = _group_form()
    if form.validate_on_submit():
        with form_action(form) as outcome:
            group = create_group(_group_data(form))
        if outcome.ok:
            flash(f"{named(group.name, 'group')} created.", "success")
            return redirect(url_for("manage.group", group_id=group.id))
    return render_template("manage/group_form.html", form=form, group=None), 422
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from flask import render_template

from blueprints.access import is_htmx_partial
from models import db
from services.common.errors import DomainError, NotAllowed, NotFoundError, ValidationError


def page_or_fragment(page: str, fragment: str, status: int = 200, headers=None, /, **context):
    """The whole page, or only the fragment for an htmx partial request (a history restore
    or a plain link gets the page; every answer varies on HX-Request, see blueprints/__init__).
    Positional parameters: the templates' context may name a variable `page` or `status`."""
    template = fragment if is_htmx_partial() else page
    return render_template(template, **context), status, headers or {}


def toast(message: str) -> dict[str, str]:
    """Response headers raising a toast (static/app.js shows it)."""
    return {"HX-Trigger": json.dumps({"toast": {"message": message}})}


def error_messages(err: DomainError) -> dict[str, str]:
    """A domain error's messages by field name ("__all__": about the whole form)."""
    return getattr(err, "errors", None) or {err.field or "__all__": err.message}


def attach_errors(form, err: DomainError) -> None:
    """Put a domain error's messages next to the form fields of the same name, or of the
    first of `form.fields_for_errors[name]` the form has, else above the form."""
    aliases: Mapping[str, tuple] = getattr(form, "fields_for_errors", {})
    for key, message in error_messages(err).items():
        names = aliases.get(key, (key,))
        field = next((form[n] for n in names if n in form and n != "csrf_token"), None)
        if field is not None:
            field.errors = [*field.errors, message]
        else:
            form.form_errors.append(message)


class FormAction:
    """`with form_action(form, catch=...) as outcome:` around the service calls of one
    action. Leaving the block normally commits. An error of `catch` is rolled back and
    answered in place: `outcome.failed`, `outcome.error`, `outcome.status` (422 for a
    ValidationError, 409 for a conflict or a state that forbids it), its messages attached
    to `form` when one is given (`catch=DomainError`: every refusal). NotAllowed and
    NotFoundError are never caught, whatever `catch` says: the app answers them (403, 404,
    after a rollback); any other exception propagates as well. Every caught error that is
    not a ValidationError (ConflictError, InvalidTransition) is a 409: a route catching a
    wider class answers its other refusals as 409 too."""

    def __init__(self, form=None, catch: type | tuple[type, ...] = ValidationError):
        self.form = form
        self.catch = catch
        self.error: DomainError | None = None
        self.status = 200

    @property
    def failed(self) -> bool:
        return self.error is not None

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def message(self) -> str:
        return self.error.message if self.error is not None else ""

    @property
    def messages(self) -> dict[str, str]:
        return error_messages(self.error) if self.error is not None else {}

    def __enter__(self) -> FormAction:
        return self

    def __exit__(self, exc_type, exc, traceback) -> bool:
        if exc is None:
            db.session.commit()
            return False
        if not isinstance(exc, self.catch) or isinstance(exc, NotAllowed | NotFoundError):
            return False
        db.session.rollback()
        self.error = exc
        self.status = 422 if isinstance(exc, ValidationError) else 409
        if self.form is not None:
            attach_errors(self.form, exc)
        return True


def form_action(form=None, catch: type | tuple[type, ...] = ValidationError) -> FormAction:
    """`with form_action(form) as outcome:` (see FormAction)."""
    return FormAction(form, catch)
