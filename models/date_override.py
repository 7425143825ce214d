from __future__ import annotations

from datetime import date, datetime, time

from sqlalchemy import CheckConstraint, ForeignKey, Index, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models import db
from models.types import UTCDateTime, utcnow


class DateOverride(db.Model):
    """A per-date exception to a series: cancel that date, or move it (time, room, day)."""

    __tablename__ = "date_override"
    __table_args__ = (
        UniqueConstraint("series_id", "original_date"),
        CheckConstraint(
            "cancelled OR new_date IS NOT NULL OR start_time IS NOT NULL"
            " OR end_time IS NOT NULL OR room_id IS NOT NULL",
            name="cancels_or_overrides",
        ),
        # The API lists exceptions by (series date, id): a page after a cursor is one range.
        Index("ix_date_override_date_id", "original_date", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    series_id: Mapped[int] = mapped_column(ForeignKey("series.id", ondelete="CASCADE"))
    original_date: Mapped[date]
    cancelled: Mapped[bool] = mapped_column(default=False)
    new_date: Mapped[date | None]
    start_time: Mapped[time | None]
    end_time: Mapped[time | None]
    room_id: Mapped[int | None] = mapped_column(ForeignKey("room.id"))
    # A substitute teaching this date instead of the group's mentor (cover).
    mentor_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    notes: Mapped[str] = mapped_column(Text, default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    series = relationship("Series", lazy="joined")
    room = relationship("Room", lazy="joined")
    mentor = relationship("User", foreign_keys=[mentor_id])

    @property
    def kind(self) -> str:
        return "cancel" if self.cancelled else "override"

    def __repr__(self) -> str:
        return f"<DateOverride series={self.series_id} {self.original_date} {self.kind}>"
