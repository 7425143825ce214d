"""The site navigation: one list, filtered by role, rendered by `base.html`."""

from __future__ import annotations

from typing import NamedTuple

from flask import current_app, request
from flask_login import current_user


class NavItem(NamedTuple):
    endpoint: str
    label: str
    staff_only: bool

    @property
    def current(self) -> bool:
        """Marked as the current page: its endpoint, or any page of an area's single entry."""
        blueprint = self.endpoint.split(".")[0]
        return request.endpoint == self.endpoint or (
            blueprint in _SINGLE_ENTRY_AREAS and request.blueprint == blueprint
        )


NAV_ITEMS = (
    NavItem("schedule.week", "Schedule", False),
    NavItem("schedule.mine", "My timetable", False),
    NavItem("main.today", "Today", False),
    NavItem("timetable.generate", "Generate", True),
    NavItem("timetable.exceptions", "Exceptions", True),
    NavItem("manage.index", "Manage", True),
)

# Areas reached through one entry, whose every page highlights it.
_SINGLE_ENTRY_AREAS = {"manage"}


def nav_items() -> list[NavItem]:
    """The entries the current user may open (an area whose blueprint is absent is left out)."""
    if not current_user.is_authenticated:
        return []
    return [
        item
        for item in NAV_ITEMS
        if item.endpoint in current_app.view_functions
        and (current_user.is_staff or not item.staff_only)
    ]
