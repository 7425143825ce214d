"""A realistic demo school for `flask seed-demo` (and `make run` on a first start).

Accounts and rooms are made directly; the timetable and its exceptions go through the CSV
import services, so the demo exercises the same path a real school uses. The timetable is
laid out without clashes: within each year cohort, for each mentor and for each room, no two
sessions overlap, so the schedule grid looks like a real one. Mentors offer the subjects they
teach, and three students have pending requests to the demo mentor (made through the request
service, from next week), so the request-to-session flow can be tried at once.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import exists, select, update
from werkzeug.security import generate_password_hash

from models import (
    ClosureKind,
    Enrolment,
    MentorSubject,
    Occurrence,
    OccurrenceStatus,
    Role,
    Room,
    Subject,
    User,
    db,
)
from services.closures import add_closure
from services.common.timeutil import today_in, week_start
from services.cover import AbsenceData, absence_needs, assign_cover, record_absence
from services.requests.lifecycle import RequestInput, create_request
from services.school_year import ClosureData, TermData, YearData, save_term, save_year
from services.timetable.exception_import import import_exceptions
from services.timetable.generation import generate_occurrences
from services.timetable.timetable_import import TIMETABLE_COLUMNS, import_timetable
from services.tracking.attendance import MarkInput, take_register

DEMO_DOMAIN = "demo.termtable.test"
DEMO_PASSWORD = "termtable-demo"  # noqa: S105 (published demo credentials)
TERM_WEEKS = 15


@dataclass(frozen=True)
class DemoLogin:
    role: str
    email: str
    password: str


# Every demo account shares the password; these are the ones worth trying first.
DEMO_LOGINS = (
    DemoLogin("admin", f"admin@{DEMO_DOMAIN}", DEMO_PASSWORD),
    DemoLogin("coordinator", f"coordinator@{DEMO_DOMAIN}", DEMO_PASSWORD),
    DemoLogin("mentor", f"amelia.hart@{DEMO_DOMAIN}", DEMO_PASSWORD),
    DemoLogin("student", f"noah.bernard@{DEMO_DOMAIN}", DEMO_PASSWORD),
)

ROOMS = (
    ("Room 101", 30),
    ("Room 102", 30),
    ("Room 103", 28),
    ("Room 104", 28),
    ("Lab 1", 24),
    ("Music room", 20),
    ("Library", 40),
    ("Art studio", 18),
)

MENTORS = (
    ("Amelia Hart", "amelia.hart"),
    ("Ben Okafor", "ben.okafor"),
    ("Chloé Martin", "chloe.martin"),
    ("David Novak", "david.novak"),
    ("Elena Rossi", "elena.rossi"),
    ("Farid Haddad", "farid.haddad"),
)

FIRST_NAMES = (
    "Noah", "Emma", "Liam", "Mia", "Lucas", "Zoe", "Hugo", "Lea", "Adam", "Ines",
    "Sami", "Yara", "Theo", "Nina", "Omar", "Lina", "Jonas", "Sara", "Malik", "Alba",
    "Oscar", "Maya", "Elias", "Rosa", "Ivan", "Chiara", "Kenji", "Aisha", "Felix", "Olga",
    "Tariq", "Julia", "Mateo", "Hanna", "Leon", "Amira", "Paul", "Sofia", "Arjun", "Clara",
)  # fmt: skip
LAST_NAMES = (
    "Bernard", "Dubois", "Fischer", "Garcia", "Hansen", "Ito", "Jansen", "Kowalski",
    "Larsen", "Moreau", "Nguyen", "Ortiz", "Petit", "Quinn", "Rossi", "Schmidt",
    "Tanaka", "Ueda", "Varga", "Weber",
)  # fmt: skip

# Slots of the school day: A 09:00, B 10:15, C 11:30, D 14:00, E 15:15 (an hour each).
SLOT = {
    "A": ("09:00", "10:00"),
    "B": ("10:15", "11:15"),
    "C": ("11:30", "12:30"),
    "D": ("14:00", "15:00"),
    "E": ("15:15", "16:15"),
}

# (group, subject, mentor login, cohort, series: (weekdays, slot, room, every_weeks, mode))
GROUPS = (
    ("Math 7A", "Mathematics", "amelia.hart", 7, [("Mon;Wed", "A", "Room 101", 1, ""),
                                                   ("Fri", "B", "Room 101", 1, "")]),
    ("English 7A", "English", "ben.okafor", 7, [("Tue;Thu", "A", "Room 102", 1, "")]),
    ("Science 7A", "Science", "chloe.martin", 7, [("Mon", "C", "Lab 1", 1, ""),
                                                  ("Thu", "D", "Lab 1", 2, "")]),
    ("Music 7A", "Music", "elena.rossi", 7, [("Wed", "D", "Music room", 1, "")]),
    ("Math 8A", "Mathematics", "amelia.hart", 8, [("Tue;Thu", "B", "Room 101", 1, "")]),
    ("English 8A", "English", "ben.okafor", 8, [("Mon;Wed", "B", "Room 102", 1, "")]),
    ("History 8A", "History", "david.novak", 8, [("Fri", "A", "Room 103", 1, "")]),
    ("Computing 8A", "Computing", "farid.haddad", 8, [("Tue", "D", "", 1, "online")]),
    ("Math 9A", "Mathematics", "farid.haddad", 9, [("Mon;Wed;Fri", "D", "Room 104", 1, "")]),
    ("English 9A", "English", "ben.okafor", 9, [("Tue;Thu", "C", "Room 102", 1, "")]),
    ("Science 9A", "Science", "chloe.martin", 9, [("Tue", "A", "Lab 1", 1, ""),
                                                  ("Thu", "A", "Lab 1", 2, "")]),
    ("History 9A", "History", "david.novak", 9, [("Mon;Wed", "C", "Room 103", 1, "")]),
    ("Music 9A", "Music", "elena.rossi", 9, [("Fri", "C", "Music room", 2, "")]),
)  # fmt: skip


# Pending requests to Amelia Hart (the demo mentor), from next week: (student, request fields).
# Approving the weekly one declines the single session that overlaps its first Thursday;
# the specific dates clash with her Math 8A class, which the pending list points out.
DEMO_REQUESTS = (
    ("Noah Bernard", dict(title="Exam revision: algebra", schedule_kind="weekly", mode="online",
                          description="Weekly practice before the end-of-term test.",
                          weekdays=[1, 3], start=time(16, 30), end=time(17, 30), weeks=6)),
    ("Emma Dubois", dict(title="Catch-up on fractions", schedule_kind="single", mode="in_person",
                         description="I missed two weeks when I was ill.", day_offset=3,
                         start=time(16, 30), duration=60)),
    ("Liam Fischer", dict(title="Geometry homework help", schedule_kind="dates", mode="online",
                          description="Angles and triangles.", day_offsets=(3, 10),
                          start=time(10, 30), end=time(11, 30))),
)  # fmt: skip


@dataclass
class DemoSummary:
    term_start: date
    term_end: date
    accounts: int
    groups: int
    series: int
    sessions: int
    conflicts: int
    registers: int = 0


def has_accounts() -> bool:
    return bool(db.session.scalar(select(exists().where(User.id.is_not(None)))))


def _students() -> dict[int, list[str]]:
    """Forty students in three year cohorts (7, 8, 9), by e-mail login."""
    cohorts: dict[int, list[str]] = {7: [], 8: [], 9: []}
    for n, first in enumerate(FIRST_NAMES):
        last = LAST_NAMES[n % len(LAST_NAMES)]
        cohorts[7 + min(n * 3 // len(FIRST_NAMES), 2)].append(f"{first} {last}")
    return cohorts


def _login(name: str) -> str:
    return name.lower().replace(" ", ".").replace("é", "e")


def _timetable_csv(term_start: date, term_end: date, cohorts: dict[int, list[str]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(TIMETABLE_COLUMNS)
    for group, subject, mentor, cohort, series in GROUPS:
        students = cohorts[cohort]
        if subject == "Music":
            students = students[::2]  # an elective: half the cohort
        emails = ";".join(f"{_login(name)}@{DEMO_DOMAIN}" for name in students)
        for weekdays, slot, room, every_weeks, mode in series:
            start, end = SLOT[slot]
            mentor_email = f"{mentor}@{DEMO_DOMAIN}"
            last_date = term_end - timedelta(days=1)
            row = [group, subject, mentor_email, room, weekdays, start, end, term_start]
            row += [last_date, every_weeks, mode, emails]
            writer.writerow(row)
    return out.getvalue()


def _exceptions_csv(term_start: date) -> str:
    week2, week3, week4 = (term_start + timedelta(weeks=n) for n in (1, 2, 3))
    rows = [
        ["group", "date", "action", "start", "end", "room", "notes"],
        ["English 8A", week2 + timedelta(days=2), "cancel", "", "", "", "Staff training day"],
        ["Math 7A", week3, "override", "", "", "Library", "Room 101 is being repainted"],
        ["History 9A", week4 + timedelta(days=2), "override", "15:15", "16:15", "", "Museum trip"],
    ]
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue()


def seed_demo_school(
    *, tz, hash_method: str, today: date | None = None, now: datetime | None = None
) -> DemoSummary:
    """Create the demo school and its sessions for a 15-week term from this week's Monday.

    Every account gets the demo password (one hash shared by all: hashing fifty times at
    production cost would take many seconds, and these credentials are public anyway).
    Flushes only; the caller commits.
    """
    term_start = week_start(today or today_in(tz))
    term_end = term_start + timedelta(weeks=TERM_WEEKS)
    password_hash = generate_password_hash(DEMO_PASSWORD, method=hash_method)
    cohorts = _students()

    people = [("Ada Admin", f"admin@{DEMO_DOMAIN}", Role.ADMIN)]
    people.append(("Cora Coordinator", f"coordinator@{DEMO_DOMAIN}", Role.COORDINATOR))
    people += [(name, f"{login}@{DEMO_DOMAIN}", Role.MENTOR) for name, login in MENTORS]
    people += [
        (name, f"{_login(name)}@{DEMO_DOMAIN}", Role.STUDENT)
        for names in cohorts.values()
        for name in names
    ]
    for name, email, role in people:
        db.session.add(User(email=email, name=name, role=role, password_hash=password_hash))
    for name, capacity in ROOMS:
        db.session.add(Room(name=name, capacity=capacity))
    db.session.flush()

    timetable = import_timetable(_timetable_csv(term_start, term_end, cohorts), tz=tz, today=today)
    generation = generate_occurrences(term_start, term_end, tz=tz, now=now)
    # After generation, so the exceptions update real sessions and are checked for clashes.
    import_exceptions(_exceptions_csv(term_start), tz=tz)
    _add_mentor_subjects()
    _add_school_year(term_start, term_end, tz)
    _add_absence(term_start, tz)
    if now is None:
        now = datetime.now(UTC) if today is None else datetime.combine(today, time(), tz)
    _add_requests(term_start + timedelta(weeks=1), tz=tz, now=now)
    registers = _take_registers(term_start, tz=tz, now=now)
    return DemoSummary(
        term_start=term_start,
        term_end=term_end,
        accounts=len(people),
        groups=timetable.groups_created,
        series=timetable.series_created,
        sessions=generation.created,
        conflicts=len(generation.conflicts),
        registers=registers,
    )


def _add_school_year(term_start: date, term_end: date, tz) -> None:
    """The year holding the demo term, the term itself, and a staff day in its fifth week
    (its sessions cancelled, as a closure added on the Closures page would)."""
    first = term_start - timedelta(weeks=2)
    year = save_year(YearData(f"{first.year}-{first.year + 1}", first, first + timedelta(days=330)))
    save_term(year, TermData("Demo term", term_start, term_end - timedelta(days=1)))
    staff_day = term_start + timedelta(weeks=4, days=2)  # a Wednesday
    add_closure(
        ClosureData("Staff training day", staff_day, staff_day, ClosureKind.STAFF_DAY),
        actor=None, tz=tz, now=datetime.combine(term_start, time(), tz),
    )  # fmt: skip


def _add_absence(term_start: date, tz) -> None:
    """Ben Okafor away next Thursday, one of his sessions covered by a free mentor (Amelia
    if she can), the others left open on the cover board."""
    ben = db.session.scalar(select(User).where(User.email == f"ben.okafor@{DEMO_DOMAIN}"))
    thursday = term_start + timedelta(weeks=1, days=3)
    absence = record_absence(
        AbsenceData(ben.id, thursday, reason="Training day"), actor=None, tz=tz
    )
    needs = absence_needs(absence, tz, now=datetime.combine(term_start, time(), tz))
    for need in needs:
        if need.substitutes:
            amelia = [s for s in need.substitutes if s.mentor.email.startswith("amelia.hart@")]
            assign_cover(need.session, (amelia or need.substitutes)[0].mentor.id, actor=None, tz=tz)
            break


def _take_registers(term_start: date, *, tz, now: datetime) -> int:
    """The registers of the sessions already started this week, taken by their mentors: a
    few students absent, late or excused, so the register, the report and a student's own
    attendance have something to show. Students count as enrolled from the week before."""
    enrolled_from = datetime.combine(term_start - timedelta(days=7), time(8), tz)
    db.session.execute(update(Enrolment).values(created_at=enrolled_from))
    started = db.session.scalars(
        select(Occurrence)
        .where(
            Occurrence.start_utc >= datetime.combine(term_start, time(), tz),
            Occurrence.start_utc <= now,
            Occurrence.status != OccurrenceStatus.CANCELLED,
        )
        .order_by(Occurrence.start_utc, Occurrence.id)
    ).all()
    for n, occurrence in enumerate(started):
        students = db.session.scalars(
            select(Enrolment.student_id)
            .where(Enrolment.group_id == occurrence.group_id)
            .order_by(Enrolment.student_id)
        ).all()
        marks = []
        for k, student_id in enumerate(students):
            turn = (student_id + n + k) % 17
            if turn == 0:
                marks.append(MarkInput(student_id, "absent"))
            elif turn == 5:
                marks.append(MarkInput(student_id, "late", 5 + (student_id % 3) * 5))
            elif turn == 11:
                marks.append(MarkInput(student_id, "excused", None, "Dentist appointment"))
        take_register(occurrence, marks, actor=occurrence.group.mentor, tz=tz, now=now)
    return len(started)


def _add_mentor_subjects() -> None:
    """Each mentor offers the subjects they teach (what students find them by)."""
    mentors = {
        u.email: u.id for u in db.session.scalars(select(User).where(User.role == Role.MENTOR))
    }
    subjects = {s.name: s.id for s in db.session.scalars(select(Subject))}
    pairs = {(f"{mentor}@{DEMO_DOMAIN}", subject) for _, subject, mentor, _, _ in GROUPS}
    db.session.add_all(
        MentorSubject(mentor_id=mentors[email], subject_id=subjects[subject])
        for email, subject in sorted(pairs)
    )
    db.session.flush()


def _add_requests(next_monday: date, *, tz, now: datetime) -> None:
    """A few pending requests to the demo mentor, so the approval flow can be tried."""
    mentor = db.session.scalar(select(User).where(User.email == f"amelia.hart@{DEMO_DOMAIN}"))
    maths = db.session.scalar(select(Subject).where(Subject.name == "Mathematics"))
    for student_name, fields in DEMO_REQUESTS:
        fields = dict(fields)
        student = db.session.scalar(
            select(User).where(User.email == f"{_login(student_name)}@{DEMO_DOMAIN}")
        )
        if "day_offset" in fields:
            fields["day"] = next_monday + timedelta(days=fields.pop("day_offset"))
        if "day_offsets" in fields:
            fields["dates"] = [next_monday + timedelta(days=n) for n in fields.pop("day_offsets")]
        if fields["schedule_kind"] == "weekly":
            fields["first_date"] = next_monday
        data = RequestInput(mentor_id=mentor.id, subject_id=maths.id, **fields)
        create_request(student, data, tz=tz, now=now)
