from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models import db
from models.enums import GenerationRunStatus, enum_column
from models.types import UTCDateTime, utcnow


class GenerationRun(db.Model):
    """A generation asked for from the web that was too large to run inside the request: run
    by a background job (services/timetable/generation_jobs.py), its outcome kept here.

    The row is the job's record of truth: a worker that dies mid-run leaves it `running`
    with a stale heartbeat, and the recovery sweep queues it again (the run's own
    transaction was rolled back with the worker, and generation is idempotent)."""

    __tablename__ = "generation_run"
    __table_args__ = (Index("ix_generation_run_status", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    requested_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL")
    )
    # The run as asked: its window, the group it was narrowed to (None: every active group).
    start: Mapped[date]
    end: Mapped[date]
    group_id: Mapped[int | None] = mapped_column(ForeignKey("course_group.id", ondelete="SET NULL"))
    force: Mapped[bool] = mapped_column(default=False)
    dry_run: Mapped[bool] = mapped_column(default=False)
    # Sessions the window held when it was queued (what made it too large for the page).
    sessions: Mapped[int] = mapped_column(default=0)
    status: Mapped[GenerationRunStatus] = mapped_column(
        enum_column(GenerationRunStatus, "generation_run_status"),
        default=GenerationRunStatus.QUEUED,
    )
    attempts: Mapped[int] = mapped_column(default=0)
    # GenerationSummary.as_dict() once done, with the first conflicts and their number.
    summary: Mapped[dict | None] = mapped_column(JSON)
    error: Mapped[str | None] = mapped_column(Text)
    worker: Mapped[str | None] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    group = relationship("CourseGroup")

    @property
    def finished(self) -> bool:
        return self.status in (GenerationRunStatus.DONE, GenerationRunStatus.FAILED)

    def __repr__(self) -> str:
        return f"<GenerationRun {self.id} {self.status}>"
