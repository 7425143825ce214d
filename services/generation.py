"""Materialise series into dated occurrences over a window, idempotently and in bulk.

The hot path works on plain tuples and Core statements (one bulk INSERT, one executemany
UPDATE, one executemany DELETE) so the number of SQL statements does not grow with the
number of series, and conflicts are found by one sort-and-sweep.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite

from models import CourseGroup, DateOverride, Occurrence, OccurrenceStatus, Series, db
from models.types import utcnow
from services.conflicts import Slot, conflicts_in_window, describe_conflicts
from services.errors import ValidationError
from services.recurrence import OverrideRule, PlannedOccurrence, SeriesRule, plan_occurrences
from services.timeutil import local_day_bounds

DEFAULT_MAX_DAYS = 732

_table = Occurrence.__table__


@dataclass
class GenerationSummary:
    start: date
    end: date
    force: bool
    dry_run: bool = False
    created: int = 0
    updated: int = 0
    removed: int = 0
    unchanged: int = 0
    kept: int = 0
    out_of_date: int = 0
    conflicts: list[dict] = field(default_factory=list)
    # Wall-clock times that fell in a DST gap and were moved forward.
    shifted: list[dict] = field(default_factory=list)

    def as_dict(self) -> dict:
        data = asdict(self)
        data["start"] = self.start.isoformat()
        data["end"] = self.end.isoformat()
        return data

    @property
    def changed_anything(self) -> bool:
        return bool(self.created or self.updated or self.removed)


def resolve_window(
    start: date,
    *,
    weeks: int | None = None,
    end: date | None = None,
    max_days: int = DEFAULT_MAX_DAYS,
) -> tuple[date, date]:
    """The half-open window [start, end) from either a number of weeks or an end date."""
    if (weeks is None) == (end is None):
        raise ValidationError("Give either a number of weeks or an end date.", field="weeks")
    if weeks is not None:
        if isinstance(weeks, bool) or not isinstance(weeks, int) or weeks < 1:
            raise ValidationError(
                "Number of weeks must be a whole number of at least 1.", field="weeks"
            )
        if weeks * 7 > max_days:
            raise ValidationError(f"At most {max_days // 7} weeks at a time.", field="weeks")
        end = start + timedelta(days=7 * weeks)
    if end <= start:
        raise ValidationError("The end date must be after the start date.", field="end")
    if (end - start).days > max_days:
        raise ValidationError(f"The range can span at most {max_days} days.", field="end")
    return start, end


def _load_rules(window_start: date, window_end: date) -> list[SeriesRule]:
    rows = db.session.execute(
        select(
            Series.id,
            Series.group_id,
            Series.weekday_mask,
            Series.every_weeks,
            Series.start_time,
            Series.end_time,
            Series.room_id,
            Series.mode,
            Series.first_date,
            Series.last_date,
        )
        .join(CourseGroup, CourseGroup.id == Series.group_id)
        .where(
            CourseGroup.active.is_(True),
            Series.first_date < window_end,
            (Series.last_date.is_(None)) | (Series.last_date >= window_start),
        )
    )
    return [SeriesRule(*row[:7], str(row[7]), *row[8:]) for row in rows]


def load_override_rules(
    window_start: date, window_end: date, series_ids=None
) -> dict[tuple[int, date], OverrideRule]:
    query = select(
        DateOverride.series_id,
        DateOverride.original_date,
        DateOverride.cancelled,
        DateOverride.new_date,
        DateOverride.start_time,
        DateOverride.end_time,
        DateOverride.room_id,
    ).where(DateOverride.original_date >= window_start, DateOverride.original_date < window_end)
    if series_ids is not None:
        query = query.where(DateOverride.series_id.in_(series_ids))
    return {(row[0], row[1]): OverrideRule(*row) for row in db.session.execute(query)}


@dataclass(slots=True)
class _Existing:
    id: int
    group_id: int
    series_id: int | None
    original_date: date | None
    start_utc: datetime
    end_utc: datetime
    room_id: int | None
    mode: str
    status: str
    edited_by_hand: bool
    mentor_id: int

    def matches(self, plan: PlannedOccurrence) -> bool:
        if plan.cancelled:
            # A cancelled date is never compared on time or room: it is simply cancelled.
            return self.status == OccurrenceStatus.CANCELLED
        return (
            self.status == OccurrenceStatus.SCHEDULED
            and self.start_utc == plan.start_utc
            and self.end_utc == plan.end_utc
            and self.room_id == plan.room_id
            and self.mode == plan.mode
            and self.group_id == plan.group_id
        )

    def is_protected(self, now: datetime) -> bool:
        """History and hand-made records that regeneration must never change or remove."""
        return (
            self.status == OccurrenceStatus.COMPLETED
            or self.edited_by_hand
            or self.start_utc <= now
        )


def _load_existing(
    window_start: date, window_end: date, start_utc: datetime, end_utc: datetime
) -> list[_Existing]:
    """Series occurrences stemming from the window, plus everything overlapping it in time."""
    in_window = (
        Occurrence.series_id.is_not(None)
        & (Occurrence.original_date >= window_start)
        & (Occurrence.original_date < window_end)
    )
    overlapping = (Occurrence.start_utc < end_utc) & (Occurrence.end_utc > start_utc)
    rows = db.session.execute(
        select(
            Occurrence.id,
            Occurrence.group_id,
            Occurrence.series_id,
            Occurrence.original_date,
            Occurrence.start_utc,
            Occurrence.end_utc,
            Occurrence.room_id,
            Occurrence.mode,
            Occurrence.status,
            Occurrence.edited_by_hand,
            CourseGroup.mentor_id,
        )
        .join(CourseGroup, CourseGroup.id == Occurrence.group_id)
        .where(in_window | overlapping)
    )
    return [
        _Existing(r[0], r[1], r[2], r[3], r[4], r[5], r[6], str(r[7]), str(r[8]), r[9], r[10])
        for r in rows
    ]


def _insert_ignoring_duplicates():
    """INSERT that skips a (series, original_date) another transaction created meanwhile."""
    dialect = db.session.get_bind().dialect.name
    if dialect == "postgresql":
        return postgresql.insert(_table).on_conflict_do_nothing(
            index_elements=["series_id", "original_date"]
        )
    if dialect == "sqlite":
        return sqlite.insert(_table).on_conflict_do_nothing(
            index_elements=["series_id", "original_date"]
        )
    return _table.insert()


def _row_values(plan: PlannedOccurrence) -> dict:
    return {
        "start_utc": plan.start_utc,
        "end_utc": plan.end_utc,
        "room_id": plan.room_id,
        "mode": plan.mode,
        "group_id": plan.group_id,
        "status": (
            OccurrenceStatus.CANCELLED if plan.cancelled else OccurrenceStatus.SCHEDULED
        ).value,
    }


def generate_occurrences(
    start: date,
    end: date,
    *,
    tz: ZoneInfo,
    force: bool = False,
    dry_run: bool = False,
    now: datetime | None = None,
) -> GenerationSummary:
    """Bring the occurrences of every active series with a date in [start, end) up to date.

    Missing occurrences are created. Existing ones that differ from their series (or no
    longer belong to any) are counted as out of date, or with `force` updated in place /
    removed. Protected ones (completed, edited by hand, already started) are never touched
    and counted as kept. Flushes only; the caller commits. With `dry_run` every write is
    rolled back and the summary tells what would happen.
    """
    if end <= start:
        raise ValidationError("The end date must be after the start date.", field="end")
    now = now or datetime.now(UTC)
    if dry_run:
        savepoint = db.session.begin_nested()
        try:
            summary = generate_occurrences(start, end, tz=tz, force=force, now=now)
        finally:
            savepoint.rollback()
        summary.dry_run = True
        return summary

    summary = GenerationSummary(start=start, end=end, force=force)
    start_utc, end_utc = local_day_bounds(start, end, tz)
    rules = _load_rules(start, end)
    overrides = load_override_rules(start, end)
    planned = {
        (p.series_id, p.original_date): p
        for p in plan_occurrences(rules, overrides, start, end, tz)
    }
    existing = _load_existing(start, end, start_utc, end_utc)

    to_insert, to_update, to_delete = [], [], []
    seen = set()
    for row in existing:
        if row.series_id is None or not (start <= row.original_date < end):
            continue  # one-time sessions, or moved into the window from outside it
        key = (row.series_id, row.original_date)
        seen.add(key)
        plan = planned.get(key)
        if plan is not None and row.matches(plan):
            summary.unchanged += 1
        elif row.is_protected(now):
            summary.kept += 1
        elif not force:
            summary.out_of_date += 1
        elif plan is None:
            to_delete.append({"b_id": row.id})
        else:
            to_update.append(
                {"b_id": row.id, **{f"b_{k}": v for k, v in _row_values(plan).items()}}
            )

    stamp = utcnow()
    for key, plan in planned.items():
        if plan.shifted:
            summary.shifted.append(
                {"series_id": plan.series_id, "date": plan.original_date.isoformat()}
            )
        if key not in seen:
            to_insert.append(
                {
                    **_row_values(plan),
                    "series_id": plan.series_id,
                    "original_date": plan.original_date,
                    "edited_by_hand": False,
                    "sequence": 0,
                    "created_at": stamp,
                    "updated_at": stamp,
                }
            )

    if to_insert:
        db.session.execute(_insert_ignoring_duplicates(), to_insert)
    if to_update:
        db.session.execute(
            update(_table)
            .where(_table.c.id == bindparam("b_id"))
            .values(
                start_utc=bindparam("b_start_utc"),
                end_utc=bindparam("b_end_utc"),
                room_id=bindparam("b_room_id"),
                mode=bindparam("b_mode"),
                group_id=bindparam("b_group_id"),
                status=bindparam("b_status"),
                sequence=_table.c.sequence + 1,
                updated_at=stamp,
            ),
            to_update,
        )
    if to_delete:
        db.session.execute(delete(_table).where(_table.c.id == bindparam("b_id")), to_delete)
    summary.created, summary.updated, summary.removed = (
        len(to_insert),
        len(to_update),
        len(to_delete),
    )

    if summary.changed_anything:
        conflicts = conflicts_in_window(start_utc, end_utc)
        db.session.expire_all()
    else:
        # Nothing was written: the rows already loaded are the final state.
        slots = [
            Slot(r.id, r.group_id, r.start_utc, r.end_utc, r.room_id, r.mentor_id)
            for r in existing
            if r.status != OccurrenceStatus.CANCELLED
            and r.start_utc < end_utc
            and r.end_utc > start_utc
        ]
        conflicts = conflicts_in_window(start_utc, end_utc, slots)
    summary.conflicts = describe_conflicts(conflicts, tz)
    return summary
