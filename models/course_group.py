from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models import db
from models.enums import GroupKind, enum_column
from models.types import UTCDateTime, utcnow


class CourseGroup(db.Model):
    """A subject taught by one mentor to a set of enrolled students."""

    __tablename__ = "course_group"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    subject_id: Mapped[int] = mapped_column(ForeignKey("subject.id"), index=True)
    mentor_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    default_room_id: Mapped[int | None] = mapped_column(ForeignKey("room.id"))
    active: Mapped[bool] = mapped_column(default=True)
    kind: Mapped[GroupKind] = mapped_column(
        enum_column(GroupKind, "group_kind"), default=GroupKind.CLASS, server_default="class"
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    subject = relationship("Subject", lazy="joined")
    mentor = relationship("User", lazy="joined")
    default_room = relationship("Room")
    series = relationship(
        "Series", back_populates="group", order_by="Series.first_date", cascade="all"
    )
    enrolments = relationship("Enrolment", back_populates="group", cascade="all, delete-orphan")

    def __repr__(self) -> str:
        return f"<CourseGroup {self.name}>"


class Enrolment(db.Model):
    __tablename__ = "enrolment"
    __table_args__ = (
        UniqueConstraint("group_id", "student_id"),
        # A student's groups, read from the index alone: a student's timetable starts from
        # them, and a session's student conflicts go from its students to their other groups.
        Index("ix_enrolment_student_group", "student_id", "group_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("course_group.id", ondelete="CASCADE"))
    student_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    group = relationship("CourseGroup", back_populates="enrolments")
    student = relationship("User", lazy="joined")
