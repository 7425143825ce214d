"""Enumerations for roles, states and modes (stored by value)."""

from __future__ import annotations

import enum


class Role(enum.StrEnum):
    ADMIN = "admin"
    COORDINATOR = "coordinator"
    MENTOR = "mentor"
    STUDENT = "student"


class OccurrenceStatus(enum.StrEnum):
    SCHEDULED = "scheduled"
    CANCELLED = "cancelled"
    COMPLETED = "completed"


class OccurrenceMode(enum.StrEnum):
    IN_PERSON = "in_person"
    ONLINE = "online"


class GroupKind(enum.StrEnum):
    # A class of the timetable, or the one-to-one tutoring of one student by one mentor in
    # one subject, made when a request is approved.
    CLASS = "class"
    TUTORING = "tutoring"


class RequestStatus(enum.StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"  # by the mentor (or an admin), with a reason
    # Automatically, when an approval took the last of its dates that could still be held.
    DECLINED = "declined"
    EXPIRED = "expired"
    WITHDRAWN = "withdrawn"


class ScheduleKind(enum.StrEnum):
    SINGLE = "single"  # one session: a date, a start and a duration
    DATES = "dates"  # specific dates at one start and end time
    WEEKLY = "weekly"  # weekdays for a number of weeks


class EmailStatus(enum.StrEnum):
    NONE = "none"  # no mail server configured when it was written
    PENDING = "pending"
    # Claimed by a worker until `Notification.email_lease_until`: a worker that dies while
    # sending leaves it to be claimed again once the lease runs out (at least once).
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"


class NoteKind(enum.StrEnum):
    GENERAL = "general"
    FOLLOW_UP = "follow_up"
    ISSUE = "issue"
    ACHIEVEMENT = "achievement"


def enum_column(enum_cls: type[enum.Enum], name: str):
    """A portable enum column: VARCHAR plus a CHECK constraint, stored by value."""
    from sqlalchemy import Enum

    return Enum(
        enum_cls,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=20,
        values_callable=lambda members: [m.value for m in members],
        validate_strings=True,
    )


class ClosureKind(enum.StrEnum):
    HOLIDAY = "holiday"  # a public or school holiday
    CLOSED = "closed"  # the school closed (a snow day, an election, works)
    STAFF_DAY = "staff_day"  # staff in, no teaching


class AbsenceStatus(enum.StrEnum):
    PENDING = "pending"  # reported by the mentor, waiting for staff
    CONFIRMED = "confirmed"  # recorded or confirmed by staff: its sessions need cover
    DECLINED = "declined"  # a report staff turned down


class AttendanceStatus(enum.StrEnum):
    # Present and late count as attending; an excused absence counts neither way.
    PRESENT = "present"
    LATE = "late"  # with the minutes late
    ABSENT = "absent"
    EXCUSED = "excused"  # an absence with a reason (ill, a school trip...)


class GenerationRunStatus(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
