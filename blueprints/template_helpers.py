"""Jinja filters and globals: local times in the organisation's zone, forms for POST buttons."""

from __future__ import annotations

import html
from datetime import date, datetime

from flask import Flask
from flask_wtf.csrf import generate_csrf
from markupsafe import Markup

from blueprints.access import org_tz
from blueprints.navigation import nav_items
from services.common.timeutil import clock_label, span_label
from services.common.wording import named, plural


def local_time(instant: datetime | None, fmt: str = "%H:%M") -> str:
    return instant.astimezone(org_tz()).strftime(fmt) if instant else ""


def local_span(start: datetime | None, end: datetime | None) -> str:
    """`o.start_utc|local_span(o.end_utc)`: '10:00-11:00', or '23:30-00:30 (+1 day)' for a
    session ending on a later local date than it starts (with an en dash)."""
    if start is None or end is None:
        return ""
    return span_label(start, end, org_tz())


def local_date(value: datetime | date | None, fmt: str = "%a %d %b %Y") -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = value.astimezone(org_tz())
    return value.strftime(fmt)


def options(pairs, selected=None) -> Markup:
    """`<option>`s for (value, label) pairs, the `selected` value marked.

    Built in Python with the standard library's `html.escape` (plain strings, where
    markupsafe makes a Markup object per call): a filter bar lists a thousand groups, and
    this is several times faster than a Jinja loop or `escape()` per option.
    """
    esc = html.escape
    # Safe: every value and label is escaped (ids are ints, whose text needs none).
    return Markup(  # noqa: S704
        "".join(
            [
                f'<option value="{value if type(value) is int else esc(str(value))}"'
                f"{' selected' if value == selected else ''}>{esc(str(label))}</option>"
                for value, label in pairs
            ]
        )
    )


def csrf_field() -> Markup:
    """The hidden CSRF field of a form with no other WTForms field: one token a request,
    and no id (a page holds several such forms; the menu's logout form is drawn twice)."""
    return Markup('<input type="hidden" name="csrf_token" value="{}">').format(generate_csrf())


def register_template_helpers(app: Flask) -> None:
    app.add_template_filter(local_time, "local_time")
    app.add_template_filter(local_date, "local_date")
    app.add_template_filter(local_span, "local_span")
    app.add_template_filter(clock_label, "clock_span")
    app.add_template_filter(options, "options")
    # `room.name|named("room")`: "Room 101" or "Library (room)"; `n|plural("session")`.
    app.add_template_filter(named, "named")
    app.add_template_filter(plural, "plural")
    app.add_template_global(csrf_field, "csrf_field")
    app.add_template_global(nav_items, "nav_items")
