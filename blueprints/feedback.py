"""What every page area tells the browser the same way: a toast in `HX-Trigger`, and a
service's error messages next to the form fields they concern."""

from __future__ import annotations

import json
from collections.abc import Mapping

from services.common.errors import DomainError


def toast(message: str) -> dict[str, str]:
    """Response headers raising a toast (static/app.js shows it)."""
    return {"HX-Trigger": json.dumps({"toast": {"message": message}})}


def attach_errors(form, err: DomainError, aliases: Mapping[str, tuple] | None = None) -> None:
    """Put a domain error's messages next to the form fields of the same name (or of the
    first of `aliases[name]` the form has), else above the form."""
    errors = getattr(err, "errors", None) or {err.field or "__all__": err.message}
    for key, message in errors.items():
        names = (aliases or {}).get(key, (key,))
        field = next((form[n] for n in names if n in form and n != "csrf_token"), None)
        if field is not None:
            field.errors = [*field.errors, message]
        else:
            form.form_errors.append(message)
