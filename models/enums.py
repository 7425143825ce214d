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
