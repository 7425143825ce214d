"""The site navigation: one list, filtered by role, rendered by `base.html`."""

from __future__ import annotations

from typing import NamedTuple

from flask import current_app, request, url_for
from flask_login import current_user

from models import Role

STAFF = frozenset({Role.ADMIN, Role.COORDINATOR})
EVERYONE = frozenset(Role)


class NavItem(NamedTuple):
    endpoint: str
    label: str
    roles: frozenset[Role]

    @property
    def current(self) -> bool:
        """Marked as the current page: its endpoint, or any page of an area's single entry."""
        blueprint = self.endpoint.split(".")[0]
        return (
            request.endpoint == self.endpoint
            or (blueprint in _SINGLE_ENTRY_AREAS and request.blueprint == blueprint)
            or (self.endpoint == "schedule.week" and request.endpoint in _SCHEDULE_VIEWS)
            # Mentors and staff reach every requests page through "Requests" (students
            # have their own two entries).
            or (self.endpoint == "requests.pending" and request.blueprint == "requests")
        )


MENTOR, STUDENT = frozenset({Role.MENTOR}), frozenset({Role.STUDENT})

NAV_ITEMS = (
    NavItem("dashboard.index", "Dashboard", MENTOR | STUDENT),
    NavItem("schedule.week", "Schedule", STAFF),
    NavItem("schedule.mine", "My sessions", MENTOR),
    NavItem("schedule.mine", "My timetable", STUDENT),
    NavItem("requests.pending", "Requests", MENTOR | STAFF),
    NavItem("requests.mentors", "Find a mentor", STUDENT),
    NavItem("requests.mine", "My requests", STUDENT),
    NavItem("main.today", "Today", EVERYONE),
    NavItem("timetable.generate", "Generate", STAFF),
    NavItem("timetable.exceptions", "Exceptions", STAFF),
    NavItem("cover.board", "Cover", STAFF),
    NavItem("cover.mine", "Absences", MENTOR),
    NavItem("availability.index", "Availability", MENTOR),
    NavItem("tracking.monitor", "Monitoring", STAFF),
    NavItem("manage.index", "Manage", STAFF),
    NavItem("profile.index", "Profile", EVERYONE),
)

# Areas reached through one entry, whose every page highlights it.
_SINGLE_ENTRY_AREAS = {"manage", "cover"}
_SCHEDULE_VIEWS = {"schedule.week", "schedule.day", "schedule.month"}


class ShownNavItem(NamedTuple):
    url: str
    label: str
    current: bool


def nav_items() -> list[ShownNavItem]:
    """The entries the current user may open (an area whose blueprint is absent is left out),
    with their URLs and which is current, worked out once: the header shows them twice."""
    if not current_user.is_authenticated:
        return []
    role = current_user.role
    return [
        ShownNavItem(url_for(item.endpoint), item.label, item.current)
        for item in NAV_ITEMS
        if item.endpoint in current_app.view_functions and role in item.roles
    ]
