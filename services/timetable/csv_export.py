"""The timetable as a CSV file in exactly the format `flask import-timetable` reads: one row
per weekly series of the active classes, in a stable order, so that exporting, importing
into an empty database and exporting again gives the same file. Formula-like names are
neutralised for spreadsheets (`csv_cell`) and restored by the import (`read_csv_cell`)."""

from __future__ import annotations

import csv
import io

from sqlalchemy import select

from models import CourseGroup, Enrolment, GroupKind, Series, User, db
from models.series import WEEKDAY_NAMES, mask_to_weekdays
from models.types import one_of
from services.output.spreadsheets import csv_cell
from services.timetable.timetable_import import TIMETABLE_COLUMNS


def export_timetable() -> str:
    groups = (
        db.session.scalars(
            select(CourseGroup)
            .where(CourseGroup.active.is_(True), CourseGroup.kind == GroupKind.CLASS)
            .order_by(CourseGroup.name)
        )
        .unique()
        .all()
    )
    ids = [g.id for g in groups]
    # Every active class of the school: the ids bound as one list (`one_of`).
    listed = {"groups": ids}
    series_by_group: dict[int, list[Series]] = {i: [] for i in ids}
    for series in db.session.scalars(
        select(Series).where(one_of(Series.group_id, name="groups")), listed
    ):
        series_by_group[series.group_id].append(series)
    students: dict[int, list[str]] = {i: [] for i in ids}
    for group_id, email in db.session.execute(
        select(Enrolment.group_id, User.email)
        .join(User, User.id == Enrolment.student_id)
        .where(one_of(Enrolment.group_id, name="groups"))
        .order_by(User.email),
        listed,
    ):
        students[group_id].append(email)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(TIMETABLE_COLUMNS)
    for group in groups:
        ordered = sorted(
            series_by_group[group.id],
            key=lambda s: (mask_to_weekdays(s.weekday_mask), s.start_time, s.first_date, s.id),
        )
        for series in ordered:
            writer.writerow(
                csv_cell(cell)
                for cell in [
                    group.name,
                    group.subject.name,
                    group.mentor.email,
                    series.room.name if series.room_id else "",
                    ";".join(WEEKDAY_NAMES[d] for d in mask_to_weekdays(series.weekday_mask)),
                    f"{series.start_time:%H:%M}",
                    f"{series.end_time:%H:%M}",
                    series.first_date.isoformat(),
                    series.last_date.isoformat() if series.last_date else "",
                    str(series.every_weeks),
                    str(series.mode),
                    ";".join(students[group.id]),
                ]
            )
    return out.getvalue()
