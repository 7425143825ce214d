"""A small generic paginator for SELECT statements, and a safe case-insensitive search."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.sql import ColumnElement

from models import db

DEFAULT_PER_PAGE = 20
# A page number beyond this is a typo or a probe, not a real list.
_MAX_PAGE = 100_000


@dataclass(frozen=True)
class Page:
    """One page of a list: its rows and where it sits among the others (numbers start at 1)."""

    items: list[Any]
    number: int
    per_page: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))

    @property
    def has_previous(self) -> bool:
        return self.number > 1

    @property
    def has_next(self) -> bool:
        return self.number < self.pages

    @property
    def first_index(self) -> int:
        """1-based position of the first row shown (0 when the list is empty)."""
        return 0 if not self.items else (self.number - 1) * self.per_page + 1

    @property
    def last_index(self) -> int:
        return 0 if not self.items else self.first_index + len(self.items) - 1


def page_number(raw: Any) -> int:
    """A page number from a query string: anything that is not a positive integer means 1."""
    text = str(raw or "").strip()
    if not (text.isascii() and text.isdigit()):  # "²" passes isdigit(), not int()
        return 1
    if len(text) > len(str(_MAX_PAGE)):  # thousands of digits: past the end, not int()
        return _MAX_PAGE
    return min(max(int(text), 1), _MAX_PAGE)


def paginate(query: Select, number: int = 1, per_page: int = DEFAULT_PER_PAGE) -> Page:
    """Run `query` (ordered by the caller) for one page; a page past the end shows the last one."""
    total = db.session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    total = total or 0
    pages = max(1, -(-total // per_page))
    number = min(max(number, 1), pages)
    rows = db.session.scalars(query.limit(per_page).offset((number - 1) * per_page))
    return Page(items=list(rows.unique()), number=number, per_page=per_page, total=total)


def contains(column: ColumnElement, text: str) -> ColumnElement:
    """`column` contains `text`, ignoring case; `%` and `_` typed by the user match literally."""
    escaped = text.strip().lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return func.lower(column).like(f"%{escaped}%", escape="\\")
