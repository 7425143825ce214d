"""Sessions as files people open in a spreadsheet: CSV (formula-safe) and Excel workbooks of
the week grid (one sheet per week, days as columns, hours or rooms as rows)."""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from datetime import date, timedelta

from services.common.timeutil import span_label

# A cell starting with one of these is a formula to a spreadsheet (CSV injection).
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
SESSION_COLUMNS = (
    "id", "group", "subject", "mentor", "room", "date", "start", "end", "end_date",
    "status", "mode", "conflict", "start_utc", "end_utc",
)  # fmt: skip


def csv_cell(value) -> str:
    """A CSV cell a spreadsheet will not run: formula-like text gets a leading apostrophe.

    So does text that already starts with apostrophes before a formula character, so that
    `read_csv_cell` (which takes one off) gives back exactly what was written.
    """
    if isinstance(value, bool):
        return "true" if value else "false"
    text = "" if value is None else str(value)
    if text.lstrip("'")[:1] in FORMULA_PREFIXES:
        return "'" + text
    return text


def read_csv_cell(text: str) -> str:
    """A cell as `csv_cell` wrote it, back to its value (the inverse of `csv_cell`)."""
    if text[:1] == "'" and text.lstrip("'")[:1] in FORMULA_PREFIXES:
        return text[1:]
    return text


def sessions_csv(rows: list[dict]) -> str:
    """Sessions (as `ListedOccurrence.as_dict` gives them) as CSV with a header row."""
    out = io.StringIO()
    writer = csv.DictWriter(
        out, fieldnames=SESSION_COLUMNS, extrasaction="ignore", lineterminator="\n"
    )
    writer.writeheader()
    for row in rows:
        writer.writerow({key: csv_cell(value) for key, value in row.items()})
    return out.getvalue()


def _cell_text(entry) -> str:
    o = entry.occurrence
    where = o.room.name if o.room else "online"
    times = span_label(entry.start, entry.end, entry.start.tzinfo, "-")  # "(+1 day)" past midnight
    teacher = o.mentor.name
    if o.cover_mentor_id is not None:
        teacher += f" covering for {o.group.mentor.name}"
    line = f"{times} {o.group.subject.name} · {o.group.name} ({where}, {teacher})"
    if entry.cancelled:
        line += " [cancelled]"
    elif entry.moved:
        line += " [moved]"
    if entry.conflicts:
        line += " [conflict: " + "; ".join(n.text for n in entry.conflicts) + "]"
    return _safe(line)


def _safe(text: str) -> str:
    # openpyxl writes a string starting with "=" as a formula.
    return "'" + text if text[:1] in FORMULA_PREFIXES else text


def week_workbook(first_day: date, last_day: date, entries, *, by_room: bool) -> bytes:
    """An .xlsx workbook with one sheet per week from the week of `first_day` to the one of
    `last_day` (excluded): days as columns, hours (or rooms) as rows, each cell listing its
    sessions, one per line."""
    # Imported here: openpyxl takes longer to import than most commands take to run.
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    weeks: dict[date, list] = defaultdict(list)
    for entry in entries:
        day = entry.start.date()
        weeks[day - timedelta(days=day.weekday())].append(entry)
    monday = first_day - timedelta(days=first_day.weekday())
    book = Workbook()
    book.remove(book.active)
    header_font = Font(bold=True)
    header_fill = PatternFill("solid", fgColor="DDE7F0")
    while monday < last_day:
        sheet = book.create_sheet(title=f"Week {monday:%Y-%m-%d}")
        days = [monday + timedelta(days=n) for n in range(7)]
        sheet.append(["Room" if by_room else "Time", *(f"{d:%a %d %b}" for d in days)])
        for cell in sheet[1]:
            cell.font, cell.fill = header_font, header_fill
        cells: dict[tuple, list[str]] = defaultdict(list)
        keys = set()
        for entry in sorted(weeks.get(monday, []), key=lambda e: (e.start, e.id)):
            o = entry.occurrence
            key = (o.room.name if o.room else "No room (online)") if by_room else entry.start.hour
            keys.add(key)
            cells[(key, entry.start.date())].append(_cell_text(entry))
        rows = (
            sorted(keys, key=str.casefold)
            if by_room
            else range(min(keys | {7}), max(keys | {20}) + 1)
        )
        for key in rows:
            label = _safe(key) if by_room else f"{key:02d}:00"
            sheet.append([label, *("\n".join(cells.get((key, d), [])) for d in days)])
        sheet.column_dimensions["A"].width = 22 if by_room else 8
        for column in range(2, 9):
            sheet.column_dimensions[get_column_letter(column)].width = 36
        for row in sheet.iter_rows(min_row=2):
            for cell in row:
                cell.alignment = Alignment(wrap_text=True, vertical="top")
        sheet.freeze_panes = "B2"
        monday += timedelta(weeks=1)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
