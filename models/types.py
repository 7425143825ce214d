"""Column types shared by the models, and how the bulk paths bind and read them: instants in
their stored form, lists of ids as one parameter."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from datetime import UTC, datetime

from sqlalchemy import (
    Boolean,
    DateTime,
    Integer,
    String,
    bindparam,
    type_coerce,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql import ColumnElement
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator):
    """An aware UTC instant on every backend.

    PostgreSQL stores `timestamptz`; SQLite has no zone support, so the value is stored as
    naive UTC and made aware again on the way out. Naive datetimes are refused on the way in:
    a naive value is exactly the ambiguity this type exists to remove.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("UTCDateTime needs an aware datetime")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


# On SQLite, UTCDateTime stores naive UTC text ("2026-09-07 08:00:00.000000") and converts each
# value in Python on the way in and out, which on the bulk paths (tens of thousands of
# occurrences) costs more than the database work. There the bulk paths move the stored text
# themselves; other backends (PostgreSQL: native timestamptz) keep the column type as is.


def raw_instant(column: ColumnElement, dialect_name: str) -> ColumnElement:
    """`column` (a UTCDateTime) as selected or bound on the bulk paths of `dialect_name`."""
    return type_coerce(column, String) if dialect_name == "sqlite" else column


def instant_reader(dialect_name: str) -> Callable[[object], datetime]:
    """Turns a value selected through `raw_instant` into an aware UTC datetime."""
    return _read_sqlite_instant if dialect_name == "sqlite" else _same


def instant_writer(dialect_name: str) -> Callable[[datetime], object]:
    """Turns an aware datetime into the value to bind through `raw_instant`."""
    return _write_sqlite_instant if dialect_name == "sqlite" else _same


def _read_sqlite_instant(stored: str) -> datetime:
    return datetime.fromisoformat(stored + "+00:00")


def _write_sqlite_instant(instant: datetime) -> str:
    # The exact text SQLAlchemy's SQLite DATETIME writes (always with microseconds), so rows
    # written here and through the ORM compare and sort alike.
    return instant.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")


def _same(value):
    return value


# A list of ids bound as one parameter (a PostgreSQL array, a JSON array read by SQLite's
# json_each) rather than one parameter per id: however long the list, the statement stays
# within every backend's limit on bound parameters (SQLite: 32,766 in a stock build,
# PostgreSQL: 65,535), and statements listing hundreds of ids are prepared once and bound in
# one step, where an expanding IN renders its SQL anew each time. Lists of other values
# (e-mail addresses, file names) go the same way with `of=String`.


class ValueList(TypeDecorator):
    """A list of values (ids by default) bound as ONE parameter: a PostgreSQL array, or the
    JSON text of the list that SQLite's `json_each` reads. Sorted, so the same set always
    binds the same value."""

    impl = String
    cache_ok = True

    def __init__(self, of: type = Integer):
        super().__init__()
        self.of = of

    def load_dialect_impl(self, dialect):
        if dialect.name == "postgresql":
            return dialect.type_descriptor(ARRAY(self.of))
        return dialect.type_descriptor(String())

    def process_bind_param(self, value: Iterable | None, dialect):
        if value is None:
            return None
        listed = sorted(value)
        return listed if dialect.name == "postgresql" else json.dumps(listed)


class _OneOf(FunctionElement):
    """`column` is one of a ValueList parameter's values (compiled per dialect below)."""

    type = Boolean()
    inherit_cache = True
    name = "one_of"
    # A comparison already: without this, SQLite (no boolean type) gets `(... IN ...) = 1`,
    # which no index serves, and scans the whole table.
    _is_implicitly_boolean = True


@compiles(_OneOf)
def _one_of_json_each(element: _OneOf, compiler, **kw) -> str:
    column, values = (compiler.process(c, **kw) for c in element.clauses)
    return f"{column} IN (SELECT value FROM json_each({values}))"  # noqa: S608 (compiled SQL)


@compiles(_OneOf, "postgresql")
def _one_of_any(element: _OneOf, compiler, **kw) -> str:
    column, values = (compiler.process(c, **kw) for c in element.clauses)
    return f"{column} = ANY({values})"


def one_of(
    column: ColumnElement,
    values: Iterable | None = None,
    *,
    name: str | None = None,
    of: type = Integer,
) -> ColumnElement[bool]:
    """`column` is one of `values`, bound as one parameter whatever their number (PostgreSQL
    takes at most 65,535 parameters in a statement, a stock SQLite 32,766).

    Either the values now (`one_of(Occurrence.id, ids)`), or a `name` whose values are given
    when a query built once is executed (`one_of(CourseGroup.id, name="groups")`, then
    `execute(query, {"groups": ids})`).
    """
    if values is None and name is None:
        raise TypeError("one_of needs the values or the name of their parameter")
    values = None if values is None else list(values)
    return _OneOf(column, bindparam(name, values, type_=ValueList(of), unique=name is None))
