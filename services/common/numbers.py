"""Whole numbers typed by people or carried in URLs (ids, page numbers, choices)."""

from __future__ import annotations

from typing import Any

from models import MAX_ID


def whole_number(raw: Any, maximum: int) -> int | None:
    """`raw` (a string, surrounding spaces allowed) as a whole number from 0 to `maximum`, or
    None. Only ASCII digits count: "²" and other Unicode digits pass `str.isdigit()` but not
    `int()`, and thousands of digits are refused by `int()` too; both would be a server error."""
    text = str(raw if raw is not None else "").strip()
    if not (text.isascii() and text.isdigit()) or len(text) > len(str(maximum)):
        return None
    value = int(text)
    return value if value <= maximum else None


def is_row_id(value: Any) -> bool:
    """`value` is a number some row could have as its id (1 to MAX_ID): anything else is
    looked up nowhere, as no row has it."""
    return isinstance(value, int) and 0 < value <= MAX_ID


def row_id(raw: Any) -> int | None:
    """`raw` (typed text, a form field or a query string) as an id some row could have, or
    None."""
    value = whole_number(raw, MAX_ID)
    return value or None
