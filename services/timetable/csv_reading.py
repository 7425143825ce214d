"""Reading an import's CSV file: decoding (UTF-8, with or without BOM), the header, the records,
and checking their cells, every problem collected as `line N: ...` (the header being line 1)
and raised together as ImportErrors. Both imports (timetable_import.py, exception_import.py)
read their files here and find existing rows by name here.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, time
from functools import lru_cache

from services.common.errors import ValidationError
from services.output.spreadsheets import read_csv_cell
from services.people.accounts import normalise_email

# Far-off years are typos (0001-01-01, 9999-12-31) and would make rrule expansion crawl.
FIRST_YEAR, LAST_YEAR = 2000, 2100
NAME_LENGTH = 80
_DATE_PATTERN = re.compile(r"\d{4}-\d{2}-\d{2}")
_TIME_PATTERN = re.compile(r"(\d{1,2}):(\d{2})")


class ImportErrors(ValidationError):
    """The file cannot be imported; `messages` lists every problem, one per bad line.

    `lines` holds what the other lines would have done, where the import got that far (the
    exceptions import tries every row), for a preview to show beside the refusals."""

    def __init__(self, messages: Iterable[str], lines: Iterable[ImportLine] = ()):
        self.messages = list(messages)
        self.lines = list(lines)
        super().__init__("\n".join(self.messages))


CREATED, CHANGED, UNCHANGED, ENDED, REMOVED, REFUSED = (
    "created", "changed", "unchanged", "ended", "removed", "refused"
)  # fmt: skip


@dataclass(frozen=True)
class ImportLine:
    """What an import does about one line of its file: `change` is one of CREATED, CHANGED,
    UNCHANGED, ENDED, REMOVED (or REFUSED, for a problem), `text` says what, in words."""

    line: int
    change: str
    text: str


def line_number(message: str) -> int:
    """The line a `line N: ...` message is about; 0 for one about the whole file."""
    match = re.match(r"line (\d+):", message)
    return int(match[1]) if match else 0


def refused_lines(messages: Iterable[str]) -> list[ImportLine]:
    """Problems as lines of a preview (`line 4: invalid date` -> line 4, "invalid date")."""
    lines = []
    for message in messages:
        number = line_number(message)
        text = message.split(":", 1)[1].strip() if number else message
        lines.append(ImportLine(number, REFUSED, text))
    return lines


def preview_lines(lines: Iterable[ImportLine], messages: Iterable[str] = ()) -> list[ImportLine]:
    """An import's lines and refusals, by line number (each line's own order kept)."""
    return sorted([*lines, *refused_lines(messages)], key=lambda item: item.line)


# --- reading CSV -----------------------------------------------------------------------------


@dataclass(frozen=True)
class CsvRecord:
    """One data row: its cells by column name and the physical line it starts on."""

    line: int
    cells: dict[str, str]


@dataclass
class CsvTable:
    """A parsed file: the columns its header names, its records, and row-shape errors."""

    columns: frozenset[str] = frozenset()
    records: list[CsvRecord] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def _read_text(source) -> str:
    """The file's text: UTF-8 with or without BOM, from a string, bytes or a file object."""
    if hasattr(source, "read"):
        source = source.read()
    if isinstance(source, bytes | bytearray):
        data = bytes(source)
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as err:
            line = data.count(b"\n", 0, err.start) + 1
            raise ImportErrors([f"line {line}: the file is not UTF-8 text"]) from err
    else:
        text = str(source).removeprefix("\ufeff")
    if "\x00" in text:
        line = text.count("\n", 0, text.index("\x00")) + 1
        raise ImportErrors([f"line {line}: the file contains a NUL character (not a CSV file?)"])
    return text


def _column_name(raw: str) -> str:
    return re.sub(r"[\s-]+", "_", raw.strip().lower())


def read_csv_table(source, columns: tuple[str, ...], optional: frozenset[str]) -> CsvTable:
    """Parse a CSV file into records (absent optional columns read as empty cells).

    The header is checked first (missing, unknown or duplicated columns raise at once, since
    no row can be read without it); columns may come in any order. A header whose only
    separator is `;` (spreadsheets in many locales) is read with `;` as the delimiter.
    Blank lines are skipped. Line numbers are those of each record's first physical line,
    so a quoted cell spanning lines shifts the later ones, as an editor shows them.
    """
    text = _read_text(source)
    if not text.strip():
        raise ImportErrors([f"line 1: the file is empty; expected the header {','.join(columns)}"])
    first_line = text.splitlines()[0]
    delimiter = ";" if ";" in first_line and "," not in first_line else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)

    table = CsvTable()
    header: list[str] | None = None
    line_before = 0
    try:
        for row in reader:
            line = line_before + 1
            line_before = reader.line_num
            if not any(cell.strip() for cell in row):
                continue
            if header is None:
                header = _check_header(row, line, columns, optional)
                table.columns = frozenset(header)
                continue
            if len(row) > len(header) and any(cell.strip() for cell in row[len(header) :]):
                table.errors.append(
                    f"line {line}: {len(row)} cells but the header has {len(header)} columns"
                )
                continue
            # read_csv_cell: the apostrophe an export puts before formula-like text goes.
            cells = {
                name: read_csv_cell(row[i].strip() if i < len(row) else "")
                for i, name in enumerate(header)
            }
            for name in optional:
                cells.setdefault(name, "")
            table.records.append(CsvRecord(line, cells))
    except csv.Error as err:
        table.errors.append(f"line {reader.line_num}: unreadable CSV ({err})")
    return table


def _check_header(row: list[str], line: int, columns, optional) -> list[str]:
    names = [_column_name(cell) for cell in row]
    while names and not names[-1]:
        names.pop()  # spreadsheets often save trailing empty columns
    errors = []
    seen = set()
    for name in names:
        if name in seen:
            errors.append(f"line {line}: duplicated column {name or '(empty)'}")
        elif name not in columns:
            errors.append(f"line {line}: unknown column {name or '(empty)'}")
        seen.add(name)
    for name in columns:
        if name not in seen and name not in optional:
            errors.append(f"line {line}: missing column {name}")
    if errors:
        expected = f"line {line}: the expected columns are {','.join(columns)}"
        raise ImportErrors([*errors, expected])
    return names


# --- checking cells --------------------------------------------------------------------------


class RowChecker:
    """Parses one record's cells, collecting `line N: ...` messages instead of raising."""

    def __init__(self, record: CsvRecord, errors: list[str]):
        self.record = record
        self.errors = errors
        self.ok = True

    def fail(self, message: str) -> None:
        self.ok = False
        self.errors.append(f"line {self.record.line}: {message}")

    def text(self, column: str, *, required: bool = False, limit: int = NAME_LENGTH) -> str:
        value = self.record.cells.get(column, "")
        if required and not value:
            self.fail(f"{column} is required")
        elif len(value) > limit:
            self.fail(f"{column} is longer than {limit} characters")
        return value

    def day(self, column: str, *, required: bool = False) -> date | None:
        value = self.record.cells.get(column, "")
        if not value:
            if required:
                self.fail(f"{column} is required")
            return None
        # fromisoformat alone would also take 20260105 or 2026-W02-1; the column says ISO dates.
        if not _DATE_PATTERN.fullmatch(value):
            self.fail(f"invalid date {value} in {column} (use YYYY-MM-DD)")
            return None
        try:
            parsed = date.fromisoformat(value)
        except ValueError:
            self.fail(f"invalid date {value} in {column}")
            return None
        if not FIRST_YEAR <= parsed.year <= LAST_YEAR:
            self.fail(f"date {value} in {column} is out of range ({FIRST_YEAR} to {LAST_YEAR})")
            return None
        return parsed

    def clock(self, column: str, *, required: bool = False) -> time | None:
        value = self.record.cells.get(column, "")
        if not value:
            if required:
                self.fail(f"{column} is required")
            return None
        match = _TIME_PATTERN.fullmatch(value)
        if not match or int(match[1]) > 23 or int(match[2]) > 59:
            self.fail(f"invalid time {value} in {column} (use HH:MM from 00:00 to 23:59)")
            return None
        return time(int(match[1]), int(match[2]))

    def email(self, value: str, column: str) -> str | None:
        try:
            return _normalised_email(value)
        except ValidationError:
            self.fail(f"invalid e-mail {value} in {column}")
            return None


@lru_cache(maxsize=65536)
def _normalised_email(raw: str) -> str:
    # The same addresses recur on many rows, and validating one costs tens of microseconds.
    return normalise_email(raw)


# --- finding existing rows by name -----------------------------------------------------------


class ByName:
    """Existing rows of a small table by name: exact spelling first, then case-insensitively.

    Matching in Python, not with SQL lower(), because SQLite's lower() folds ASCII only.
    """

    def __init__(self, rows):
        self.exact = {row.name: row for row in rows}
        self.folded = {}
        for row in rows:
            self.folded.setdefault(row.name.casefold(), row)
        self.ids = {row.id for row in rows}
        self.added = []

    def get(self, name: str):
        return self.exact.get(name) or self.folded.get(name.casefold())

    def add(self, row) -> None:
        """Remember a new row (still to be added to the session) under its name."""
        self.exact[row.name] = row
        self.folded.setdefault(row.name.casefold(), row)
        self.added.append(row)


def by_line(errors: list[str]) -> list[str]:
    """Errors sorted by line number (stable, so each line keeps its messages' order)."""

    return sorted(errors, key=line_number)
