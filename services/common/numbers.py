"""Whole numbers typed by people or carried in URLs (ids, page numbers, choices)."""

from __future__ import annotations

from typing import Any


def whole_number(raw: Any, maximum: int) -> int | None:
    """`raw` (a string, surrounding spaces allowed) as a whole number from 0 to `maximum`, or
    None. Only ASCII digits count: "²" and other Unicode digits pass `str.isdigit()` but not
    `int()`, and thousands of digits are refused by `int()` too; both would be a server error."""
    text = str(raw if raw is not None else "").strip()
    if not (text.isascii() and text.isdigit()) or len(text) > len(str(maximum)):
        return None
    value = int(text)
    return value if value <= maximum else None
