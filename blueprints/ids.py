"""Ids in URLs: `<id:name>` in a route matches only an id some row could have."""

from __future__ import annotations

from werkzeug.exceptions import NotFound
from werkzeug.routing import IntegerConverter

from models import MAX_ID


class NoSuchId(NotFound):
    """A path's id that no row can have (0, or beyond MAX_ID). Werkzeug's own description,
    so that pages word it as any 404; the API answers it as "No such object."."""


class IdConverter(IntegerConverter):
    """`<id:occurrence_id>`: digits, as `<int:>` takes them, from 1 to MAX_ID; any other
    number is a 404 as the URL is matched, before the view (or its login and role checks)
    runs, so a view never queries an id no row can have.

    A 404 raised here rather than werkzeug's ValidationError: that one would make the rule
    not match, which is a 405 whenever another method has a rule on the same path. The API
    documents such a parameter as it did `<int:>` (an integer, minimum 0): min and max stay None."""

    def to_python(self, value: str) -> int:
        digits = value.lstrip("0")  # "007" is 7, as with <int:>
        number = int(digits) if 0 < len(digits) <= len(str(MAX_ID)) else 0
        if not 0 < number <= MAX_ID:
            raise NoSuchId()
        return number
