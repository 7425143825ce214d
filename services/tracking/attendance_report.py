"""Attendance reports: rates by student and by group over a date range, the students below a
threshold, the CSV of it, a student's own attendance, and the completed sessions whose
register was never taken (the monitoring page).

A rate is attended / counted: present and late attend; an excused absence is left out of
both (it neither helps nor hurts), an absence counts against. No counted session: no rate.
Cancelled sessions are left out (a register taken before a session was cancelled stays
stored, and counts again if it is restored).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import date, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Select, case, exists, func, select
from sqlalchemy.orm import contains_eager

from models import (
    AttendanceMark,
    AttendanceStatus,
    CourseGroup,
    Enrolment,
    Occurrence,
    OccurrenceStatus,
    User,
    db,
)
from services.common.errors import ValidationError
from services.common.timeutil import local_day_bounds
from services.output.spreadsheets import csv_cell

DEFAULT_THRESHOLD = 90
CSV_HEADER = [
    "student",
    "email",
    "sessions",
    "present",
    "late",
    "absent",
    "excused",
    "rate_percent",
    "below_threshold",
]


@dataclass(frozen=True)
class ReportFilters:
    """None means any; dates are local and both included; `threshold` a percentage."""

    group_id: int | None = None
    student_id: int | None = None
    start: date | None = None
    end: date | None = None
    threshold: int = DEFAULT_THRESHOLD

    def check(self) -> None:
        errors = {}
        if self.start and self.end and self.end < self.start:
            errors["end"] = "The last date must not be before the first."
        if not 0 <= self.threshold <= 100:
            errors["threshold"] = "The threshold is a percentage, from 0 to 100."
        if errors:
            raise ValidationError(errors)


@dataclass
class AttendanceRow:
    """A student's or a group's totals over the report's sessions."""

    id: int
    name: str
    email: str = ""
    present: int = 0
    late: int = 0
    absent: int = 0
    excused: int = 0

    @property
    def sessions(self) -> int:
        return self.present + self.late + self.absent + self.excused

    @property
    def rate(self) -> float | None:
        counted = self.present + self.late + self.absent
        return 100 * (self.present + self.late) / counted if counted else None

    def below(self, threshold: int) -> bool:
        return self.rate is not None and self.rate < threshold


@dataclass
class AttendanceReport:
    filters: ReportFilters
    students: list[AttendanceRow] = field(default_factory=list)
    groups: list[AttendanceRow] = field(default_factory=list)
    registers: int = 0

    @property
    def below(self) -> list[AttendanceRow]:
        """Students under the threshold, lowest rate first."""
        rows = [r for r in self.students if r.below(self.filters.threshold)]
        return sorted(rows, key=lambda r: (r.rate, r.name, r.id))


def _counts():
    return [
        func.sum(case((AttendanceMark.status == status, 1), else_=0)).label(str(status))
        for status in (
            AttendanceStatus.PRESENT,
            AttendanceStatus.LATE,
            AttendanceStatus.ABSENT,
            AttendanceStatus.EXCUSED,
        )
    ]


def _filtered(query: Select, filters: ReportFilters, tz: ZoneInfo) -> Select:
    query = query.join(Occurrence, Occurrence.id == AttendanceMark.occurrence_id).where(
        Occurrence.status != OccurrenceStatus.CANCELLED
    )
    if filters.group_id is not None:
        query = query.where(Occurrence.group_id == filters.group_id)
    if filters.student_id is not None:
        query = query.where(AttendanceMark.student_id == filters.student_id)
    if filters.start is not None:
        query = query.where(
            Occurrence.start_utc >= local_day_bounds(filters.start, filters.start, tz)[0]
        )
    if filters.end is not None:
        after = filters.end + timedelta(days=1)
        query = query.where(Occurrence.start_utc < local_day_bounds(after, after, tz)[0])
    return query


def _row(ident, name, email, present, late, absent, excused) -> AttendanceRow:
    return AttendanceRow(
        ident, name, email or "", present or 0, late or 0, absent or 0, excused or 0
    )


def attendance_report(filters: ReportFilters, tz: ZoneInfo) -> AttendanceReport:
    """Totals by student (by name) and by group (by name) for `filters`, in three queries."""
    filters.check()
    students = db.session.execute(
        _filtered(select(User.id, User.name, User.email, *_counts()), filters, tz)
        .join(User, User.id == AttendanceMark.student_id)
        .group_by(User.id, User.name, User.email)
        .order_by(User.name, User.id)
    )
    groups = db.session.execute(
        _filtered(select(CourseGroup.id, CourseGroup.name, *_counts()), filters, tz)
        .join(CourseGroup, CourseGroup.id == Occurrence.group_id)
        .group_by(CourseGroup.id, CourseGroup.name)
        .order_by(CourseGroup.name, CourseGroup.id)
    )
    registers = db.session.scalar(
        _filtered(select(func.count(func.distinct(AttendanceMark.occurrence_id))), filters, tz)
    )
    return AttendanceReport(
        filters=filters,
        students=[_row(*row) for row in students],
        groups=[_row(row[0], row[1], "", *row[2:]) for row in groups],
        registers=registers or 0,
    )


def rate_text(rate: float | None) -> str:
    return "" if rate is None else f"{rate:.1f}"


def attendance_csv(report: AttendanceReport) -> str:
    """The report's students as CSV (a byte order mark first, for spreadsheet programs);
    names are neutralised against formula injection, numbers stay numbers."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    for row in report.students:
        writer.writerow(
            [
                csv_cell(row.name),
                csv_cell(row.email),
                row.sessions,
                row.present,
                row.late,
                row.absent,
                row.excused,
                rate_text(row.rate),
                "yes" if row.below(report.filters.threshold) else "no",
            ]
        )
    return "\ufeff" + out.getvalue()


# --- A student's own attendance ------------------------------------------------------------------


def own_marks(student: User) -> Select:
    """The student's marks with their sessions, latest first (for a page of them)."""
    return (
        select(AttendanceMark)
        .options(contains_eager(AttendanceMark.occurrence))
        .join(Occurrence, Occurrence.id == AttendanceMark.occurrence_id)
        .where(
            AttendanceMark.student_id == student.id,
            Occurrence.status != OccurrenceStatus.CANCELLED,
        )
        .order_by(Occurrence.start_utc.desc(), Occurrence.id.desc())
    )


def own_report(student: User, tz: ZoneInfo) -> AttendanceReport:
    """The student's totals, overall and by group."""
    return attendance_report(ReportFilters(student_id=student.id), tz)


# --- Monitoring ----------------------------------------------------------------------------------


def completed_without_register(query: Select) -> Select:
    """Narrow a query of sessions (joined to CourseGroup) to the completed ones with nobody
    marked though their group has students: a register someone forgot."""
    return query.where(
        Occurrence.status == OccurrenceStatus.COMPLETED,
        ~exists().where(AttendanceMark.occurrence_id == Occurrence.id),
        exists().where(Enrolment.group_id == Occurrence.group_id),
    )
