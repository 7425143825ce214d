"""The timetable's CSV import (the `import-timetable` command).

All-or-nothing: every row is checked and every problem is collected (as `line N: ...`, the
header being line 1) before anything is written; the writes then happen inside a savepoint, so
an unexpected failure leaves the caller's transaction exactly as it was. Like every service, it
flushes and never commits.

A timetable file is the source of truth for the groups it names: each row is one series of its
group, matched to the group's existing series by weekday set and updated in place; series the
file no longer lists are ended; groups the file does not name are left alone. Existing sessions
are not regenerated here (generation does that), the summary only says whether it is needed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import String, delete, func, insert, select

from models import (
    CourseGroup,
    DateOverride,
    Enrolment,
    Occurrence,
    OccurrenceMode,
    OccurrenceStatus,
    Role,
    Room,
    Series,
    Subject,
    User,
    db,
)
from models.series import WEEKDAY_NAMES, mask_to_weekdays, weekdays_to_mask
from models.types import one_of
from services.common.timeutil import end_before_start_message, times_refused, today_in
from services.timetable.clashes import refresh_groups
from services.timetable.csv_reading import (
    CHANGED,
    CREATED,
    ENDED,
    REMOVED,
    UNCHANGED,
    ByName,
    CsvRecord,
    ImportErrors,
    ImportLine,
    RowChecker,
    by_line,
    read_csv_table,
)

TIMETABLE_COLUMNS = (
    "group",
    "subject",
    "mentor_email",
    "room",
    "weekdays",
    "start",
    "end",
    "first_date",
    "last_date",
    "every_weeks",
    "mode",
    "students",
)
# A file may leave these columns out; `students` absent means "do not touch enrolments".
TIMETABLE_OPTIONAL = frozenset({"last_date", "every_weeks", "mode", "students"})

MAX_EVERY_WEEKS = 52
_WEEKDAY_NUMBERS = {name.lower(): number for number, name in enumerate(WEEKDAY_NAMES)}
_MODES = {"in_person": OccurrenceMode.IN_PERSON, "online": OccurrenceMode.ONLINE}


def _weekday_mask(checker: RowChecker) -> int | None:
    value = checker.record.cells.get("weekdays", "")
    names = [part.strip() for part in value.split(";") if part.strip()]
    if not names:
        checker.fail("weekdays is required (for example Mon;Wed;Fri)")
        return None
    unknown = [name for name in names if name.lower() not in _WEEKDAY_NUMBERS]
    if unknown:
        checker.fail(f"unknown weekday {', '.join(unknown)} (use {', '.join(WEEKDAY_NAMES)})")
        return None
    return weekdays_to_mask({_WEEKDAY_NUMBERS[name.lower()] for name in names})


def _every_weeks(checker: RowChecker) -> int | None:
    value = checker.record.cells.get("every_weeks", "")
    if not value:
        return 1
    if not value.isascii() or not value.isdigit() or not 1 <= int(value) <= MAX_EVERY_WEEKS:
        checker.fail(f"every_weeks must be a whole number from 1 to {MAX_EVERY_WEEKS}, not {value}")
        return None
    return int(value)


def _mode(checker: RowChecker) -> OccurrenceMode | None:
    value = checker.record.cells.get("mode", "")
    if not value:
        return OccurrenceMode.IN_PERSON
    mode = _MODES.get(value.lower().replace("-", "_").replace(" ", "_"))
    if mode is None:
        checker.fail(f"unknown mode {value} (use in_person or online)")
    return mode


def _mask_label(mask: int) -> str:
    return ";".join(WEEKDAY_NAMES[day] for day in mask_to_weekdays(mask))


def _users_by_email(emails: Iterable[str]) -> dict[str, User]:
    emails = set(emails)
    if not emails:
        return {}
    # A file can name every account of the school: the addresses bound as one list (`one_of`).
    query = select(User).where(one_of(func.lower(User.email), emails, of=String))
    return {user.email.lower(): user for user in db.session.scalars(query)}


def _name_from_email(email: str) -> str:
    """A readable display name until the person sets theirs: anna.schmidt@... -> Anna Schmidt."""
    local = email.split("@", 1)[0]
    words = [word for word in re.split(r"[._+-]+", local) if word]
    return (" ".join(word.capitalize() for word in words) or local)[:120]


# --- timetable import ------------------------------------------------------------------------


@dataclass(frozen=True)
class _SeriesRow:
    line: int
    weekday_mask: int
    every_weeks: int
    start_time: time
    end_time: time
    room_name: str
    mode: OccurrenceMode
    first_date: date
    last_date: date | None


@dataclass
class _GroupPlan:
    """Everything the file says about one course group (it may span several rows)."""

    name: str
    line: int
    subject_name: str
    mentor_email: str | None
    series: list[_SeriesRow] = field(default_factory=list)
    students: dict[str, int] = field(default_factory=dict)  # e-mail -> first line naming it


@dataclass
class TimetableImportSummary:
    """What a timetable import changed (sessions themselves are left to generation)."""

    groups_created: int = 0
    groups_updated: int = 0
    groups_unchanged: int = 0
    series_created: int = 0
    series_updated: int = 0
    series_unchanged: int = 0
    series_ended: int = 0
    series_removed: int = 0
    users_created: int = 0
    rooms_created: int = 0
    subjects_created: int = 0
    enrolments_added: int = 0
    enrolments_removed: int = 0
    # What each line of the file does, in words (a preview shows them, the counts sum them).
    lines: list[ImportLine] = field(default_factory=list, repr=False)

    def said(self, line: int, change: str, text: str) -> None:
        self.lines.append(ImportLine(line, change, text))

    @property
    def series_changed(self) -> bool:
        """Whether existing sessions may now differ from their series."""
        return bool(
            self.series_created + self.series_updated + self.series_ended + self.series_removed
        )

    def as_dict(self) -> dict:
        counts = {k: v for k, v in asdict(self).items() if k != "lines"}
        return {**counts, "regeneration_needed": self.series_changed}


def _parse_timetable(records: list[CsvRecord], errors: list[str]) -> dict[str, _GroupPlan]:
    """Check every row on its own and group them; cross-row checks happen here too."""
    groups: dict[str, _GroupPlan] = {}
    mask_lines: dict[tuple[str, int], int] = {}
    for record in records:
        check = RowChecker(record, errors)
        group_name = check.text("group", required=True)
        subject_name = check.text("subject", required=True)
        room_name = check.text("room")
        raw_mentor = check.text("mentor_email", required=True, limit=254)
        mentor_email = check.email(raw_mentor, "mentor_email") if raw_mentor else None
        mask = _weekday_mask(check)
        start, end = check.clock("start", required=True), check.clock("end", required=True)
        if start is not None and end is not None and times_refused(start, end):
            check.fail(
                end_before_start_message(start, end, end_label="end", start_label="start")[:-1]
            )
        first, last = check.day("first_date", required=True), check.day("last_date")
        if first is not None and last is not None and last < first:
            check.fail(f"last_date {last} is before first_date {first}")
        every_weeks, mode = _every_weeks(check), _mode(check)
        students = {}
        for raw in record.cells.get("students", "").split(";"):
            if raw.strip() and (email := check.email(raw.strip(), "students")):
                students[email] = record.line

        if not group_name:
            continue
        key = group_name.casefold()
        plan = groups.get(key)
        if plan is None:
            plan = groups[key] = _GroupPlan(group_name, record.line, subject_name, mentor_email)
        else:
            # One group has one subject and one mentor: rows must agree on them.
            if subject_name and subject_name.casefold() != plan.subject_name.casefold():
                check.fail(
                    f"{group_name} has subject {plan.subject_name} on line {plan.line}, "
                    f"not {subject_name}"
                )
            if mentor_email and plan.mentor_email and mentor_email != plan.mentor_email:
                check.fail(
                    f"{group_name} has mentor {plan.mentor_email} on line {plan.line}, "
                    f"not {mentor_email}"
                )
        for email, line in students.items():
            plan.students.setdefault(email, line)
        if mask is not None:
            earlier = mask_lines.setdefault((key, mask), record.line)
            if earlier != record.line:
                check.fail(
                    f"{group_name} already has a row for {_mask_label(mask)} on line {earlier}"
                )
        if check.ok:
            plan.series.append(
                _SeriesRow(record.line, mask, every_weeks, start, end, room_name, mode, first, last)
            )
    return groups


def _check_people(
    groups: dict[str, _GroupPlan], users: dict[str, User], errors: list[str]
) -> dict[str, tuple[Role, int]]:
    """Roles the file needs for each e-mail; errors for existing accounts that do not fit.

    Returns the role of each account to create, and the first line naming it.
    """
    to_create: dict[str, tuple[Role, int]] = {}
    mentor_line: dict[str, int] = {}
    for plan in groups.values():
        if plan.mentor_email:
            mentor_line.setdefault(plan.mentor_email, plan.line)
    for email, line in mentor_line.items():
        user = users.get(email)
        if user is None:
            to_create[email] = (Role.MENTOR, line)
        elif user.role != Role.MENTOR:
            errors.append(f"line {line}: {email} is {_a(user.role)}, not a mentor")
        elif not user.is_active_account:
            errors.append(f"line {line}: mentor {email} is deactivated")
    for plan in groups.values():
        for email, line in plan.students.items():
            user = users.get(email)
            if email in mentor_line:
                errors.append(f"line {line}: {email} cannot be both a mentor and a student")
            elif user is not None and user.role != Role.STUDENT:
                errors.append(f"line {line}: {email} is {_a(user.role)}, not a student")
            elif user is None:
                to_create.setdefault(email, (Role.STUDENT, line))
    return to_create


def _a(role: Role) -> str:
    return f"an {role.value}" if role.value[0] in "aeiou" else f"a {role.value}"


def import_timetable(
    source, *, tz, today: date | None = None, now: datetime | None = None, dry_run: bool = False
) -> TimetableImportSummary:
    """Import a timetable CSV (see the module docstring); raises ImportErrors, writes nothing then.

    `source` is a str, bytes or file object. With `dry_run` every write is made (so the
    summary and its lines are exactly those of a real import) and then rolled back. Series
    that the file no longer lists are ended
    the day before the group's earliest first_date in the file, but never before yesterday
    (in `tz`): the past is history. A series that would thus end before it begins is
    deleted with its not-yet-started, untouched sessions.
    """
    table = read_csv_table(source, TIMETABLE_COLUMNS, TIMETABLE_OPTIONAL)
    errors = table.errors
    groups = _parse_timetable(table.records, errors)
    emails = {p.mentor_email for p in groups.values() if p.mentor_email}
    emails |= {email for p in groups.values() for email in p.students}
    users = _users_by_email(emails)
    new_accounts = _check_people(groups, users, errors)
    if errors:
        raise ImportErrors(by_line(errors))

    summary = TimetableImportSummary()
    if not groups:
        return summary  # a header alone: nothing to do
    today = today or today_in(tz)
    now = now or datetime.now(UTC)
    # Without a students column the file says nothing about enrolments: leave them alone.
    sync_students = "students" in table.columns
    savepoint = db.session.begin_nested()
    try:
        _write_timetable(groups, users, new_accounts, summary, today, now, sync_students)
    except BaseException:
        savepoint.rollback()
        raise
    if dry_run:
        savepoint.rollback()
    else:
        savepoint.commit()
    summary.lines.sort(key=lambda item: item.line)
    return summary


def _write_timetable(groups, users, new_accounts, summary, today, now, sync_students) -> None:
    """Write a checked plan. Bulk-shaped (two flushes, a few queries) so big files stay fast."""
    subjects = ByName(db.session.scalars(select(Subject)).all())
    rooms = ByName(db.session.scalars(select(Room)).all())
    existing_groups = ByName(db.session.scalars(select(CourseGroup)).all())

    # ORM bulk INSERTs: thousands of new accounts, series or enrolments in a few statements.
    if new_accounts:
        db.session.execute(
            insert(User),
            [
                {"email": email, "name": _name_from_email(email), "role": role}
                for email, (role, _line) in new_accounts.items()
            ],
        )
        users.update(_users_by_email(new_accounts))
        for email, (role, line) in new_accounts.items():
            summary.said(line, CREATED, f"{role.value} account {email} (cannot log in yet)")
    summary.users_created = len(new_accounts)
    for plan in groups.values():
        if subjects.get(plan.subject_name) is None:
            subjects.add(Subject(name=plan.subject_name))
            summary.subjects_created += 1
            summary.said(plan.line, CREATED, f"subject {plan.subject_name}")
        for row in plan.series:
            if row.room_name and rooms.get(row.room_name) is None:
                rooms.add(Room(name=row.room_name))
                summary.rooms_created += 1
                summary.said(row.line, CREATED, f"room {row.room_name}")
    db.session.add_all(subjects.added + rooms.added)
    db.session.flush()  # ids for the new accounts, rooms and subjects

    targets: list[tuple[CourseGroup, _GroupPlan, bool]] = []
    for plan in groups.values():
        subject, mentor = subjects.get(plan.subject_name), users[plan.mentor_email]
        first_room = plan.series[0].room_name
        room_id = rooms.get(first_room).id if first_room else None
        group = existing_groups.get(plan.name)
        if group is None:
            group = CourseGroup(name=plan.name)
            db.session.add(group)
            summary.groups_created += 1
            changed = True
            summary.said(plan.line, CREATED, f"group {plan.name} ({subject.name}, {mentor.email})")
        else:
            current = (group.subject_id, group.mentor_id, group.default_room_id)
            changed = current != (subject.id, mentor.id, room_id)
            if changed:
                summary.said(plan.line, CHANGED, _group_change(group, subject, mentor, room_id))
        group.subject_id, group.mentor_id, group.default_room_id = subject.id, mentor.id, room_id
        targets.append((group, plan, changed))
    db.session.flush()  # ids for the new groups

    group_ids = [group.id for group, _, _ in targets]
    series_by_group = _rows_by_group(Series, group_ids, order_by=Series.id)
    enrolments_by_group = _rows_by_group(Enrolment, group_ids) if sync_students else {}
    new_series: list[dict] = []
    new_enrolments: list[dict] = []
    emails = {user.id: email for email, user in users.items()}
    for group, plan, changed in targets:
        before = _change_counts(summary)
        existing = series_by_group.get(group.id, [])
        new_series += _sync_series(group, plan, existing, rooms, summary, today, now)
        if sync_students:
            wanted = {users[email].id for email in plan.students}
            current = enrolments_by_group.get(group.id, [])
            added, removed = _sync_enrolments(group, current, wanted, summary)
            new_enrolments += added
            if added:
                names = sorted(emails[row["student_id"]] for row in added)
                summary.said(plan.line, CHANGED, f"{plan.name}: enrols {_short_list(names)}")
            if removed:
                summary.said(plan.line, CHANGED, f"{plan.name}: removes {_short_list(removed)}")
        if group.id in existing_groups.ids:
            if changed or _change_counts(summary) != before:
                summary.groups_updated += 1
            else:
                summary.groups_unchanged += 1
    if new_series:
        db.session.execute(insert(Series), new_series)
    if new_enrolments:
        db.session.execute(insert(Enrolment), new_enrolments)
    db.session.flush()
    if new_enrolments:
        # Bulk inserts pass by the flush hook: the new students' clashes are stored here.
        refresh_groups({row["group_id"] for row in new_enrolments})
    for group, _, _ in targets:
        # Series and enrolments were written by foreign key; reload the collections on use.
        db.session.expire(group, ["series", "enrolments", "subject", "mentor", "default_room"])


def _group_change(group: CourseGroup, subject: Subject, mentor: User, room_id) -> str:
    parts = []
    if group.subject_id != subject.id:
        parts.append(f"subject {group.subject.name} → {subject.name}")
    if group.mentor_id != mentor.id:
        parts.append(f"mentor {group.mentor.email} → {mentor.email}")
    if group.default_room_id != room_id:
        new_room = db.session.get(Room, room_id) if room_id else None
        parts.append(
            f"default room {group.default_room.name if group.default_room else 'none'} → "
            f"{new_room.name if new_room else 'none'}"
        )
    return f"group {group.name}: {', '.join(parts)}"


def _series_label(group_name: str, mask: int, start: time, end: time) -> str:
    return f"{group_name} {_mask_label(mask)} {start:%H:%M}-{end:%H:%M}"


_FIELD_LABELS = {
    "every_weeks": "every N weeks",
    "start_time": "start",
    "end_time": "end",
    "room_id": "room",
    "mode": "mode",
    "first_date": "first date",
    "last_date": "last date",
}


def _shown(name: str, value) -> str:
    if value is None:
        return "none"
    if name == "room_id":
        return db.session.get(Room, value).name
    if isinstance(value, time):
        return f"{value:%H:%M}"
    if isinstance(value, OccurrenceMode):
        return value.value
    return str(value)


def _short_list(emails: list[str], limit: int = 8) -> str:
    shown = ", ".join(emails[:limit])
    return shown + (f" and {len(emails) - limit} more" if len(emails) > limit else "")


def _change_counts(summary: TimetableImportSummary) -> tuple[int, ...]:
    return (
        summary.series_created,
        summary.series_updated,
        summary.series_ended,
        summary.series_removed,
        summary.enrolments_added,
        summary.enrolments_removed,
    )


def _rows_by_group(model, group_ids: list[int], order_by=None) -> dict[int, list]:
    found: dict[int, list] = {}
    if not group_ids:
        return found
    query = select(model).where(one_of(model.group_id, group_ids))
    if order_by is not None:
        query = query.order_by(order_by)
    for row in db.session.scalars(query):
        found.setdefault(row.group_id, []).append(row)
    return found


def _sync_series(group, plan, existing, rooms, summary, today: date, now: datetime) -> list[dict]:
    """Update, end or remove the group's series in place; returns the rows to insert."""
    # Several old series may share a weekday set (say, one per past term): the file's row
    # takes over the open-ended or latest one; the others count as no longer listed.
    by_mask: dict[int, Series] = {}
    for series in sorted(existing, key=lambda s: (s.last_date or date.max, s.first_date, s.id)):
        by_mask[series.weekday_mask] = series
    matched = set()
    to_insert = []
    for row in plan.series:
        values = {
            "every_weeks": row.every_weeks,
            "start_time": row.start_time,
            "end_time": row.end_time,
            "room_id": rooms.get(row.room_name).id if row.room_name else None,
            "mode": row.mode,
            "first_date": row.first_date,
            "last_date": row.last_date,
        }
        series = by_mask.get(row.weekday_mask)
        label = _series_label(plan.name, row.weekday_mask, row.start_time, row.end_time)
        if series is None:
            to_insert.append({"group_id": group.id, "weekday_mask": row.weekday_mask, **values})
            summary.series_created += 1
            summary.said(row.line, CREATED, f"series {label} from {row.first_date}")
            continue
        matched.add(series.id)
        if all(getattr(series, name) == value for name, value in values.items()):
            summary.series_unchanged += 1
            summary.said(row.line, UNCHANGED, f"series {label}")
            continue
        changes = [
            f"{_FIELD_LABELS[name]} {_shown(name, getattr(series, name))} → {_shown(name, value)}"
            for name, value in values.items()
            if getattr(series, name) != value
        ]
        for name, value in values.items():
            setattr(series, name, value)
        summary.series_updated += 1
        summary.said(row.line, CHANGED, f"series {label}: {', '.join(changes)}")

    # Unlisted series stop the day before the new timetable starts, and never rewrite the past.
    earliest = min(row.first_date for row in plan.series)
    cutoff = max(today - timedelta(days=1), earliest - timedelta(days=1))
    for series in existing:
        if series.id in matched or (series.last_date is not None and series.last_date <= cutoff):
            continue
        label = "series " + _series_label(
            plan.name, series.weekday_mask, series.start_time, series.end_time
        )
        if cutoff >= series.first_date:
            series.last_date = cutoff
            summary.series_ended += 1
            summary.said(plan.line, ENDED, f"{label} (not in the file) ends on {cutoff}")
        elif _remove_unstarted_series(series, now):
            summary.series_removed += 1
            summary.said(plan.line, REMOVED, f"{label} (not in the file, not begun) is removed")
        else:
            # It has history that must stay (a completed or hand-edited session): keep its
            # first date only, the closest to "ended" the last_date >= first_date rule allows.
            series.last_date = series.first_date
            summary.series_ended += 1
            summary.said(plan.line, ENDED, f"{label} (not in the file) ends on {series.first_date}")
    return to_insert


def _remove_unstarted_series(series: Series, now: datetime) -> bool:
    """Delete a series that never began, with its untouched sessions; False if any must stay."""
    occurrences = db.session.scalars(
        select(Occurrence).where(Occurrence.series_id == series.id)
    ).all()
    if any(
        o.status == OccurrenceStatus.COMPLETED or o.edited_by_hand or o.start_utc <= now
        for o in occurrences
    ):
        return False
    for occurrence in occurrences:
        db.session.delete(occurrence)
    db.session.execute(delete(DateOverride).where(DateOverride.series_id == series.id))
    db.session.delete(series)
    db.session.flush()
    return True


def _sync_enrolments(
    group, current: list[Enrolment], wanted: set[int], summary
) -> tuple[list[dict], list[str]]:
    """Delete enrolments the file no longer lists; returns the rows to insert and the
    e-mails of the students removed."""
    enrolled = set()
    removed = []
    for enrolment in current:
        if enrolment.student_id in wanted:
            enrolled.add(enrolment.student_id)
        else:
            removed.append(enrolment.student.email)
            db.session.delete(enrolment)
            summary.enrolments_removed += 1
    missing = sorted(wanted - enrolled)
    summary.enrolments_added += len(missing)
    rows = [{"group_id": group.id, "student_id": student_id} for student_id in missing]
    return rows, sorted(removed)
