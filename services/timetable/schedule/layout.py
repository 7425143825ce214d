"""The schedule's layouts: a week or a day as rows of cells (by hour or by room), a month as
weeks of days.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta

from models import Room
from services.timetable.schedule.entries import GridEntry
from services.timetable.schedule.view import ScheduleView

# The hours a time grid always shows, so a cell can receive a moved session; a week with
# sessions outside them grows its rows.
FIRST_HOUR, LAST_HOUR = 7, 20
MONTH_CELL_LIMIT = 6


@dataclass
class Cell:
    id: str
    day: date
    entries: list[GridEntry] = field(default_factory=list)


@dataclass
class Row:
    key: object
    label: str
    cells: list[Cell]


@dataclass
class Grid:
    """Rows of cells, one column per day; `row_keys` identify the layout for comparison."""

    view: ScheduleView
    days: list[date]
    rows: list[Row]
    entry_count: int

    @property
    def row_keys(self) -> tuple:
        return tuple(row.key for row in self.rows)

    def cell(self, cell_id: str) -> Cell | None:
        for row in self.rows:
            for cell in row.cells:
                if cell.id == cell_id:
                    return cell
        return None


def time_cell_id(day: date, hour: int) -> str:
    return f"{_time_cell_prefix(day)}{hour:02d}"


def _time_cell_prefix(day: date) -> str:
    return f"cell-{day:%Y%m%d}-"


def room_cell_id(room_id: int | None, day: date) -> str:
    return f"cell-r{room_id or 0}-{day:%Y%m%d}"


def cell_id_of(entry: GridEntry, layout: str) -> str:
    if layout == "rooms":
        return room_cell_id(entry.occurrence.room_id, entry.start.date())
    return time_cell_id(entry.start.date(), entry.start.hour)


def build_grid(view: ScheduleView, entries: list[GridEntry], rooms: Iterable[Room] = ()) -> Grid:
    """Lay `entries` out for a week or day view (days as columns)."""
    days = [
        view.first_day + timedelta(days=n) for n in range((view.last_day - view.first_day).days)
    ]
    by_room = view.layout == "rooms"
    rows = _room_rows(days, entries, rooms) if by_room else _hour_rows(days, entries)
    return Grid(view, days, rows, len(entries))


def _hour_rows(days: list[date], entries: list[GridEntry]) -> list[Row]:
    hours = [e.start.hour for e in entries]
    first = min([FIRST_HOUR, *hours])
    last = max([LAST_HOUR, *hours])
    # time_cell_id, each day's part formatted once (a week has about a hundred cells).
    day_parts = {day: _time_cell_prefix(day) for day in days}
    cells = {
        (day, hour): Cell(f"{day_parts[day]}{hour:02d}", day)
        for hour in range(first, last + 1)
        for day in days
    }
    for entry in entries:
        cells[(entry.start.date(), entry.start.hour)].entries.append(entry)
    return [
        Row(hour, f"{hour:02d}:00", [cells[(day, hour)] for day in days])
        for hour in range(first, last + 1)
    ]


def _room_rows(days: list[date], entries: list[GridEntry], rooms: Iterable[Room]) -> list[Row]:
    """A row per room that has a session in the grid (and per room given), then "No room"."""
    names = {room.id: room.name for room in rooms}
    for entry in entries:
        room = entry.occurrence.room
        if room is not None:
            names.setdefault(room.id, room.name)
    keys: list[int | None] = sorted(names, key=lambda room_id: names[room_id].casefold())
    if any(e.occurrence.room_id is None for e in entries):
        keys.append(None)
    cells = {(key, day): Cell(room_cell_id(key, day), day) for key in keys for day in days}
    for entry in entries:
        cells[(entry.occurrence.room_id, entry.start.date())].entries.append(entry)
    return [
        Row(key, names.get(key, "No room (online)"), [cells[(key, day)] for day in days])
        for key in keys
    ]


@dataclass
class MonthDay:
    day: date
    in_month: bool
    entries: list[GridEntry]
    total: int | None = None  # the day's sessions, when `entries` holds only the first few

    @property
    def shown(self) -> list[GridEntry]:
        return self.entries[:MONTH_CELL_LIMIT]

    @property
    def hidden_count(self) -> int:
        total = len(self.entries) if self.total is None else self.total
        return max(0, total - MONTH_CELL_LIMIT)


def build_month(
    view: ScheduleView, entries: list[GridEntry], totals: dict[date, int] | None = None
) -> list[list[MonthDay]]:
    """Weeks (Monday first) of days, each with its sessions, for the month of `view.day`
    (`totals`: each day's count, when `entries` are only the first few of each day)."""
    by_day: dict[date, list[GridEntry]] = defaultdict(list)
    for entry in entries:
        by_day[entry.start.date()].append(entry)
    weeks = []
    day = view.first_day
    while day < view.last_day:
        weeks.append(
            [
                MonthDay(
                    d,
                    d.month == view.day.month,
                    by_day.get(d, []),
                    None if totals is None else totals.get(d, 0),
                )
                for d in (day + timedelta(days=n) for n in range(7))
            ]
        )
        day += timedelta(days=7)
    return weeks


# --- Filter choices ----------------------------------------------------------------------
