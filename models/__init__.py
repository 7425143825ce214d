"""Database models: data, constraints and cheap predicates only (behaviour lives in services/)."""

from __future__ import annotations

import sqlite3

from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import MetaData, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase

# A fixed naming convention gives every constraint a predictable name, which Alembic's
# batch mode needs to alter constraints on SQLite.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


db = SQLAlchemy(model_class=Base)

# Ids are INTEGER columns (32 bits on PostgreSQL): a larger number in a URL or a form is no
# row's id, and must be a 404 or a field error before it reaches the driver.
MAX_ID = 2**31 - 1


SQLITE_MMAP_BYTES = 1 << 30


@event.listens_for(Engine, "connect")
def _sqlite_on_connect(dbapi_connection, _record):
    """WAL + foreign keys, a Unicode lower(), and let SQLAlchemy's `begin` event own the
    transaction start."""
    if not isinstance(dbapi_connection, sqlite3.Connection):
        return
    dbapi_connection.isolation_level = None
    # SQLite's own lower() folds ASCII only, so a search for "émile" would miss "Émile"
    # (PostgreSQL's folds every letter). No index is built on lower(), so replacing it is safe.
    dbapi_connection.create_function("lower", 1, _lower, deterministic=True)
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    # Read the database file through a memory map: pages come from the operating system's
    # cache, shared by every connection and worker, instead of each connection's own 2 MiB
    # page cache (too small for a large school's indexes: the API's conflict flags, which
    # look up each session's rooms, mentors and students at its time, cost 2.4x as much at
    # 5,000 series without it). An upper bound, not an allocation.
    cursor.execute(f"PRAGMA mmap_size={SQLITE_MMAP_BYTES}")
    cursor.close()


def _lower(value):
    return value.lower() if isinstance(value, str) else value


@event.listens_for(Engine, "begin")
def _sqlite_begin_immediate(conn):
    # BEGIN IMMEDIATE takes the write lock up front, so two writers queue instead of both
    # reading "no conflict" and then double-booking (or failing with "database is locked").
    # A page (GET) takes no lock, as it writes nothing: readers then
    # run side by side under WAL instead of queueing behind each other.
    # A connection opened with `execution_options(termtable_reads_only=True)` (the live
    # stream's short reads, outside any request view) only reads too.
    if conn.dialect.name == "sqlite":
        reads_only = conn.get_execution_options().get("termtable_reads_only")
        conn.exec_driver_sql("BEGIN" if reads_only or _read_only_request() else "BEGIN IMMEDIATE")


def _read_only_request() -> bool:
    from flask import current_app, g, has_request_context, request

    if not has_request_context():
        return False
    view = current_app.view_functions.get(request.endpoint)
    if request.method not in ("GET", "HEAD"):
        # A `reads_first` view (login, choosing a password) checks or hashes a password
        # (scrypt) in a first transaction that only reads, holding no lock; what it then
        # writes goes in a later transaction of the request, which takes the lock as usual.
        if getattr(view, "reads_first", False) and not g.get("_first_transaction_begun"):
            g._first_transaction_begun = True
            return True
        return False
    if request.path.startswith("/api/"):
        # Every API request checks its token, which may stamp the token's last use.
        return False
    # A GET never writes (prefetchers and link scanners follow links).
    return view is not None


from models.absence import MentorAbsence  # noqa: E402
from models.access_tokens import ApiToken, CalendarFeed  # noqa: E402
from models.attendance_change import AttendanceChange  # noqa: E402
from models.attendance_mark import AttendanceMark  # noqa: E402
from models.availability import AvailabilityOverride, BookingRules, WorkingHours  # noqa: E402
from models.course_group import CourseGroup, Enrolment  # noqa: E402
from models.date_override import DateOverride  # noqa: E402
from models.enums import (  # noqa: E402
    AbsenceStatus,
    AttendanceStatus,
    ClosureKind,
    EmailStatus,
    GenerationRunStatus,
    GroupKind,
    NoteKind,
    OccurrenceMode,
    OccurrenceStatus,
    RequestStatus,
    Role,
    ScheduleKind,
)
from models.generation_run import GenerationRun  # noqa: E402
from models.live_event import LiveEvent  # noqa: E402
from models.notification import Notification  # noqa: E402
from models.occurrence import Occurrence  # noqa: E402
from models.rating import Rating  # noqa: E402
from models.reminder import SessionReminder  # noqa: E402
from models.room import Room  # noqa: E402
from models.school_year import AcademicYear, Closure, Term, closure_group  # noqa: E402
from models.series import Series  # noqa: E402
from models.session_clash import SessionClash  # noqa: E402
from models.session_request import RequestedSlot, SessionRequest  # noqa: E402
from models.subject import MentorSubject, Subject  # noqa: E402
from models.tracking import Attachment, SessionEvent, SessionNote  # noqa: E402
from models.user import User  # noqa: E402

__all__ = [
    "MAX_ID",
    "AbsenceStatus",
    "AcademicYear",
    "ApiToken",
    "Attachment",
    "AttendanceChange",
    "AttendanceMark",
    "AttendanceStatus",
    "AvailabilityOverride",
    "Base",
    "BookingRules",
    "CalendarFeed",
    "Closure",
    "ClosureKind",
    "CourseGroup",
    "DateOverride",
    "EmailStatus",
    "Enrolment",
    "GenerationRun",
    "GenerationRunStatus",
    "GroupKind",
    "LiveEvent",
    "MentorAbsence",
    "MentorSubject",
    "NoteKind",
    "Notification",
    "Occurrence",
    "OccurrenceMode",
    "OccurrenceStatus",
    "Rating",
    "RequestStatus",
    "RequestedSlot",
    "Role",
    "Room",
    "ScheduleKind",
    "Series",
    "SessionClash",
    "SessionEvent",
    "SessionNote",
    "SessionReminder",
    "SessionRequest",
    "Subject",
    "Term",
    "User",
    "WorkingHours",
    "closure_group",
    "db",
]
