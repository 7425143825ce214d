"""Which schedule is asked for: the view (week, day, month), the layout and the filters, read
from URL parameters.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from models import MAX_ID, User
from models.enums import Role
from services.common.numbers import whole_number
from services.common.timeutil import week_start

VIEWS = ("week", "day", "month")
LAYOUTS = ("time", "rooms")


@dataclass(frozen=True)
class ScheduleFilters:
    """What the grid is narrowed to; ids, all optional and combinable."""

    room_id: int | None = None
    mentor_id: int | None = None
    group_id: int | None = None
    student_id: int | None = None

    @property
    def active(self) -> bool:
        return any((self.room_id, self.mentor_id, self.group_id, self.student_id))


NO_FILTERS = ScheduleFilters()


@dataclass(frozen=True)
class ScheduleView:
    """Which grid: a view of the data around a date, its layout, and its filters."""

    view: str = "week"
    layout: str = "time"
    day: date = date(2000, 1, 3)
    filters: ScheduleFilters = ScheduleFilters()
    # A grid too big for one page is shown by room, a page of rooms at a time (paging.py):
    # which page, or the whole grid anyway (`whole`).
    page: int = 1
    whole: bool = False

    @property
    def first_day(self) -> date:
        if self.view == "day":
            return self.day
        if self.view == "month":
            return week_start(self.day.replace(day=1))
        return week_start(self.day)

    @property
    def last_day(self) -> date:
        """The day after the grid's last one (half-open)."""
        if self.view == "day":
            return self.day + timedelta(days=1)
        if self.view == "month":
            next_month = (self.day.replace(day=28) + timedelta(days=4)).replace(day=1)
            return week_start(next_month - timedelta(days=1)) + timedelta(days=7)
        return self.first_day + timedelta(days=7)

    @property
    def last_shown_day(self) -> date:
        return self.last_day - timedelta(days=1)

    def shifted(self, steps: int) -> date:
        """The anchor date `steps` views later (or earlier)."""
        if self.view == "day":
            return self.day + timedelta(days=steps)
        if self.view == "month":
            month = self.day.month - 1 + steps
            return date(self.day.year + month // 12, month % 12 + 1, 1)
        return self.day + timedelta(weeks=steps)

    def query_args(self, **changes) -> dict:
        """The URL parameters that reproduce this view (with `changes`), for links."""
        args = {
            "view": self.view,
            "layout": self.layout,
            "date": self.day.isoformat(),
            "room": self.filters.room_id,
            "mentor": self.filters.mentor_id,
            "group": self.filters.group_id,
            "student": self.filters.student_id,
            "page": self.page if self.page > 1 else None,
            "whole": 1 if self.whole else None,
        }
        args.update(changes)
        return {k: v for k, v in args.items() if v not in (None, "")}


def parse_view(args, *, today: date) -> tuple[ScheduleView, dict[str, str]]:
    """A ScheduleView from URL parameters; bad values fall back and are reported by field."""
    errors: dict[str, str] = {}
    view = args.get("view", "week")
    if view not in VIEWS:
        errors["view"] = f"Unknown view {view!r}: showing the week."
        view = "week"
    layout = args.get("layout", "time")
    if layout not in LAYOUTS:
        errors["layout"] = f"Unknown layout {layout!r}: showing days by time."
        layout = "time"
    day = today
    if args.get("date"):
        try:
            day = date.fromisoformat(args["date"])
        except ValueError:
            errors["date"] = f"{args['date']!r} is not a date (YYYY-MM-DD): showing today."
        else:
            if not date(1970, 1, 1) <= day <= date(2999, 12, 31):
                errors["date"] = "Choose a date between 1970 and 2999: showing today."
                day = today
    ids = {}
    for name in ("room", "mentor", "group", "student"):
        raw = args.get(name, "")
        if raw in ("", None):
            ids[name] = None
        elif whole_number(raw, MAX_ID):
            ids[name] = whole_number(raw, MAX_ID)
        else:
            errors[name] = f"Unknown {name}: filter ignored."
            ids[name] = None
    filters = ScheduleFilters(ids["room"], ids["mentor"], ids["group"], ids["student"])
    page = whole_number(args.get("page") or "1", 100_000) or 1
    whole = args.get("whole") in ("1", "true", "yes")
    return ScheduleView(view, layout, day, filters, page, whole), errors


def personal_filters(user: User) -> ScheduleFilters:
    """A mentor's own sessions, or a student's own timetable."""
    if user.role == Role.MENTOR:
        return ScheduleFilters(mentor_id=user.id)
    if user.role == Role.STUDENT:
        return ScheduleFilters(student_id=user.id)
    return ScheduleFilters()
