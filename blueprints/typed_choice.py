"""Form fields that choose a room, group or series by typing (templates/_typeahead.html).

Such a choice is two fields: `<name>`, hidden, the id of a picked suggestion (or of the
current value, or from a URL), and `<name>_q`, the text. The route resolves them together
(`services.timetable.schedule.filter_choices.resolve_choice`): a client that sends only the
id (a script, an old bookmark) keeps working, and a text typed without JavaScript is matched
on submit (an exact name or a unique part; several or none is a message next to the field).
"""

from __future__ import annotations

from flask_wtf import FlaskForm

from services.common.errors import ValidationError
from services.timetable.schedule.filter_choices import (
    AmbiguousChoice,
    choice_named,
    resolve_choice,
)


def picked_id(raw) -> int | None:
    """The id in a hidden field ("" or anything else than a row id: none)."""
    raw = str(raw if raw is not None else "").strip()
    return int(raw) if raw.isdigit() and 0 < int(raw) < 2**31 else None


def show_chosen(form: FlaskForm, name: str, kind: str) -> None:
    """On a form shown again or prefilled with an id: the text field says its name."""
    text_field = form[f"{name}_q"]
    if text_field.raw_data:
        return  # what was typed stays as typed
    chosen = choice_named(kind, picked_id(form[name].data))
    text_field.data = chosen.name if chosen is not None else ""


def resolve_typed(
    form: FlaskForm, name: str, kind: str, *, required: str | None = None
) -> tuple[int | None, bool]:
    """The id the form's `<name>` and `<name>_q` fields choose, and whether they could be
    read. A text that names nothing or several, or nothing chosen where `required` (its
    message), puts a message on the text field."""
    text_field = form[f"{name}_q"]
    text = text_field.raw_data[0] if text_field.raw_data else None
    try:
        chosen = resolve_choice(kind, text, picked_id(form[name].data))
    except ValidationError as err:
        text_field.errors = [*text_field.errors, err.message]
        return None, False
    if chosen is None and required:
        text_field.errors = [*text_field.errors, required]
        return None, False
    return chosen, True


class TypedFilters:
    """A filter form's typed fields resolved (the schedule, monitoring, exceptions and request
    lists): `chosen` the id of each kind, `errors` a message for each text that names nothing
    or several, `matches` some of those several (offered beside the field as links)."""

    def __init__(self):
        self.chosen: dict[str, int | None] = {}
        self.errors: dict[str, str] = {}
        self.matches: dict[str, list] = {}


def resolve_typed_filters(args, ids: dict[str, int | None]) -> TypedFilters:
    """Each kind of `ids` (its id from the URL) with the text the filter form sent
    (`<kind>_q` in `args`) resolved together (`resolve_choice`); `clear=<kind>` (or `all`)
    removes one. A text that names nothing or several keeps the filter as it was."""
    typed = TypedFilters()
    clear = args.get("clear")
    for kind, current in ids.items():
        typed.chosen[kind] = current
        if clear in (kind, "all"):
            typed.chosen[kind] = None
            continue
        try:
            typed.chosen[kind] = resolve_choice(kind, args.get(f"{kind}_q"), current)
        except ValidationError as err:
            typed.errors[kind] = err.message
            typed.matches[kind] = err.matches if isinstance(err, AmbiguousChoice) else []
    return typed


def sent_typed(args, kinds) -> bool:
    """Whether `args` come from a filter form's typed fields (texts, or a remove button)."""
    return "clear" in args or any(f"{kind}_q" in args for kind in kinds)
