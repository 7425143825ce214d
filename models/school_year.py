from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import CheckConstraint, Column, ForeignKey, Index, String, Table, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models import db
from models.enums import ClosureKind, enum_column
from models.types import UTCDateTime, utcnow


class AcademicYear(db.Model):
    """A school year (named, e.g. "2026-2027"), the frame of its terms."""

    __tablename__ = "academic_year"
    __table_args__ = (CheckConstraint("last_day >= first_day", name="ends_after_start"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    first_day: Mapped[date]
    last_day: Mapped[date]
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    terms = relationship(
        "Term", back_populates="year", order_by="Term.first_day", cascade="all, delete-orphan"
    )

    def __repr__(self) -> str:
        return f"<AcademicYear {self.name}>"


class Term(db.Model):
    """A named range of days of a year ("Autumn term"), within it, apart from its others."""

    __tablename__ = "term"
    __table_args__ = (
        UniqueConstraint("year_id", "name"),
        CheckConstraint("last_day >= first_day", name="ends_after_start"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    year_id: Mapped[int] = mapped_column(
        ForeignKey("academic_year.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(80))
    first_day: Mapped[date]
    last_day: Mapped[date]

    year = relationship("AcademicYear", back_populates="terms")

    def __repr__(self) -> str:
        return f"<Term {self.name} {self.first_day}..{self.last_day}>"


# The groups a closure concerns when it is not the whole school's.
closure_group = Table(
    "closure_group",
    db.Model.metadata,
    Column("closure_id", ForeignKey("closure.id", ondelete="CASCADE"), primary_key=True),
    Column("group_id", ForeignKey("course_group.id", ondelete="CASCADE"), primary_key=True),
    Index("ix_closure_group_group_id", "group_id"),
)


class Closure(db.Model):
    """Days without teaching (one or a range, both included), for the whole school or for some
    groups. Generation makes no session on them; sessions already made are cancelled by it
    (`Occurrence.closure_id`) and come back when it goes. With `runs_as`, one day whose own
    timetable gives way to another day's."""

    __tablename__ = "closure"
    __table_args__ = (
        CheckConstraint("last_day >= first_day", name="ends_after_start"),
        # A day that runs another day's timetable is one day, not that day.
        CheckConstraint(
            "runs_as IS NULL OR (last_day = first_day AND runs_as <> first_day)",
            name="runs_another_day",
        ),
        # Generation and the schedule look up the closures overlapping a window.
        Index("ix_closure_days", "first_day", "last_day"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    kind: Mapped[ClosureKind] = mapped_column(
        enum_column(ClosureKind, "closure_kind"), default=ClosureKind.HOLIDAY
    )
    first_day: Mapped[date]
    last_day: Mapped[date]
    whole_school: Mapped[bool] = mapped_column(default=True)
    # A make-up day: its own timetable does not run, the timetable of `runs_as` does (the
    # sessions that day's series would have, made on this day).
    runs_as: Mapped[date | None]
    created_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    # Loaded with the closures that name them, in one statement (lists show every one's).
    groups = relationship(
        "CourseGroup", secondary=closure_group, order_by="CourseGroup.name", lazy="selectin"
    )

    def covers(self, day: date) -> bool:
        return self.first_day <= day <= self.last_day

    def __repr__(self) -> str:
        return f"<Closure {self.name} {self.first_day}..{self.last_day}>"
