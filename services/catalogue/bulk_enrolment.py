"""Enrolling many students at once, and moving students from one group to another.

A pasted list (e-mails or names, one per line or separated by commas or semicolons; a mail
client's `Ada Lovelace <ada@school.test>` too) is first read into a plan: each entry with the
student it names and what enrolling would do (enrol, already in, listed twice) or why it is
refused (unknown, a name two students share, not a student, deactivated). Nothing is written
then. Enrolling takes the students the coordinator kept from the plan, all or nothing, and
tells each of them. Like every service: flush, never commit.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import String, func, select

from models import CourseGroup, Enrolment, Role, User, db
from models.types import one_of
from services.common.errors import ValidationError
from services.common.numbers import is_row_id
from services.notifications.inbox import notify_each
from services.people.accounts import normalise_email

# More entries than any class; a longer paste is a mistake (a whole file of the school).
MAX_ENTRIES = 1000
ENTRY_LENGTH = 320

ENROL, ALREADY, TWICE, REFUSED = "enrol", "already", "twice", "refused"
GROUP_ENROLLED = "group_enrolled"
GROUP_MOVED = "group_moved"
_MAILBOX = re.compile(r"<([^<>]+)>\s*$")


@dataclass
class PlanEntry:
    """One pasted entry: the line it was on, as typed, and what enrolling it would do."""

    line: int
    text: str
    outcome: str
    student: User | None = None
    reason: str = ""


@dataclass
class EnrolmentPlan:
    group: CourseGroup
    entries: list[PlanEntry] = field(default_factory=list)

    def _with(self, outcome: str) -> list[PlanEntry]:
        return [e for e in self.entries if e.outcome == outcome]

    @property
    def to_enrol(self) -> list[PlanEntry]:
        return self._with(ENROL)

    @property
    def already(self) -> list[PlanEntry]:
        return self._with(ALREADY)

    @property
    def refused(self) -> list[PlanEntry]:
        return self._with(REFUSED)

    def refusals(self) -> list[str]:
        """`line 3: bob@school.test: no account has this e-mail`, one per refused entry."""
        return [f"line {e.line}: {e.text}: {e.reason}" for e in self.refused]


@dataclass
class EnrolmentOutcome:
    group: CourseGroup
    enrolled: list[User] = field(default_factory=list)
    already: list[User] = field(default_factory=list)


def split_entries(text: str) -> list[tuple[int, str]]:
    """(line number, entry) for each non-empty entry of a paste."""
    entries = []
    for number, line in enumerate((text or "").splitlines(), start=1):
        for part in re.split(r"[,;\t]", line):
            part = " ".join(part.split())
            if part:
                entries.append((number, part))
    return entries


def _folded(name: str) -> str:
    return unicodedata.normalize("NFKC", " ".join(name.split())).casefold()


def _a(role: Role) -> str:
    return f"an {role.value}" if role.value[0] in "aeiou" else f"a {role.value}"


def _judge(user: User) -> str:
    """Why `user` cannot be enrolled, or ""."""
    if user.role != Role.STUDENT:
        return f"{user.name} is {_a(user.role)}, not a student"
    if not user.is_active_account:
        return f"{user.name}'s account is deactivated"
    return ""


def _enrolled_ids(group: CourseGroup) -> set[int]:
    return set(
        db.session.scalars(select(Enrolment.student_id).where(Enrolment.group_id == group.id))
    )


def plan_enrolment(group: CourseGroup, text: str) -> EnrolmentPlan:
    """What enrolling the students a paste names would do; raises ValidationError for an
    empty or oversized paste. Writes nothing."""
    return plan_entries(group, split_entries(text))


def plan_entries(group: CourseGroup, pasted: list[tuple[int, str]]) -> EnrolmentPlan:
    """`plan_enrolment` for entries already apart: (line or position, e-mail or name)."""
    pasted = [(line, " ".join(entry.split())) for line, entry in pasted if entry.strip()]
    if not pasted:
        raise ValidationError({"entries": "Paste at least one e-mail or name."})
    if len(pasted) > MAX_ENTRIES:
        raise ValidationError(
            {
                "entries": f"At most {MAX_ENTRIES} e-mails or names at a time "
                f"(this list has {len(pasted)})."
            }
        )
    emails: dict[int, str] = {}
    problems: dict[int, str] = {}
    for index, (_line, entry) in enumerate(pasted):
        if len(entry) > ENTRY_LENGTH:
            problems[index] = f"longer than {ENTRY_LENGTH} characters"
            continue
        if "@" in entry:
            found = _MAILBOX.search(entry)
            try:
                emails[index] = normalise_email(found[1] if found else entry)
            except ValidationError:
                problems[index] = "not a valid e-mail address"
    by_email = _users_by_email(emails.values())
    names = {
        _folded(e) for i, (_l, e) in enumerate(pasted) if i not in emails and i not in problems
    }
    by_name = _users_by_name(names)
    enrolled = _enrolled_ids(group)

    plan = EnrolmentPlan(group)
    first_line: dict[int, int] = {}
    for index, (line, entry) in enumerate(pasted):
        if index in problems:
            plan.entries.append(PlanEntry(line, entry, REFUSED, reason=problems[index]))
            continue
        if index in emails:
            user = by_email.get(emails[index])
            if user is None:
                plan.entries.append(
                    PlanEntry(line, entry, REFUSED, reason="no account has this e-mail")
                )
                continue
        else:
            user, reason = _one_named(by_name.get(_folded(entry), []))
            if user is None:
                plan.entries.append(PlanEntry(line, entry, REFUSED, reason=reason))
                continue
        plan.entries.append(_entry_for(user, line, entry, enrolled, first_line, group))
    return plan


def plan_from_students(group: CourseGroup, student_ids: Iterable[int]) -> EnrolmentPlan:
    """The plan for students picked by id (from another group's list): line N is the Nth."""
    ids = [i for i in student_ids if is_row_id(i)]
    if not ids:
        raise ValidationError({"entries": "Tick at least one student."})
    if len(ids) > MAX_ENTRIES:
        raise ValidationError({"entries": f"At most {MAX_ENTRIES} students at a time."})
    users = {u.id: u for u in db.session.scalars(select(User).where(one_of(User.id, ids)))}
    enrolled = _enrolled_ids(group)
    plan = EnrolmentPlan(group)
    first_line: dict[int, int] = {}
    for line, ident in enumerate(ids, start=1):
        user = users.get(ident)
        if user is None:
            plan.entries.append(PlanEntry(line, f"#{ident}", REFUSED, reason="no such account"))
        else:
            text = f"{user.name} <{user.email}>"
            plan.entries.append(_entry_for(user, line, text, enrolled, first_line, group))
    return plan


def _entry_for(user, line, text, enrolled, first_line, group) -> PlanEntry:
    if reason := _judge(user):
        return PlanEntry(line, text, REFUSED, user, reason)
    if user.id in first_line:
        return PlanEntry(line, text, TWICE, user, f"listed on line {first_line[user.id]} too")
    first_line[user.id] = line
    if user.id in enrolled:
        return PlanEntry(line, text, ALREADY, user, f"already in {group.name}")
    return PlanEntry(line, text, ENROL, user)


def _one_named(users: list[User]) -> tuple[User | None, str]:
    students = [u for u in users if u.role == Role.STUDENT]
    if len(students) > 1:
        active = [u for u in students if u.is_active_account]
        if len(active) == 1:
            return active[0], ""
        emails = ", ".join(sorted(u.email for u in students))
        return None, f"{len(students)} students have this name ({emails}): give the e-mail"
    if students:
        return students[0], ""
    if users:
        return users[0], ""  # not a student: _judge says so
    return None, "no account has this name"


def _users_by_email(emails: Iterable[str]) -> dict[str, User]:
    emails = set(emails)
    if not emails:
        return {}
    query = select(User).where(one_of(func.lower(User.email), emails, of=String))
    return {user.email.lower(): user for user in db.session.scalars(query)}


def _users_by_name(folded: set[str]) -> dict[str, list[User]]:
    """Accounts by folded name. Compared in Python: SQLite's lower() folds ASCII only."""
    if not folded:
        return {}
    found: dict[str, list[User]] = {}
    for ident, name in db.session.execute(select(User.id, User.name)):
        key = _folded(name)
        if key in folded:
            found.setdefault(key, []).append(ident)
    ids = [i for group in found.values() for i in group]
    users = {u.id: u for u in db.session.scalars(select(User).where(one_of(User.id, ids)))}
    return {key: [users[i] for i in group] for key, group in found.items()}


def enrol_students(
    group: CourseGroup, student_ids: Iterable[int], *, actor: User | None = None
) -> EnrolmentOutcome:
    """Enrol the students given by id, all or nothing: if any is unknown, not a student or
    deactivated, nothing is written and ValidationError names each. Students already in the
    group are left as they are (counted). Each new student is told."""
    plan = plan_from_students(group, list(dict.fromkeys(student_ids)))
    if plan.refused:
        raise ValidationError(
            {"students": "Nothing was enrolled: " + "; ".join(plan.refusals()) + "."}
        )
    outcome = EnrolmentOutcome(group, already=[e.student for e in plan.already])
    for entry in plan.to_enrol:
        db.session.add(Enrolment(group_id=group.id, student_id=entry.student.id))
        outcome.enrolled.append(entry.student)
    db.session.flush()  # the clash hook refreshes the group's sessions (services/timetable/clashes)
    who = f" by {actor.name}" if actor is not None else ""
    notify_each(
        [
            (
                [s.id for s in outcome.enrolled],
                GROUP_ENROLLED,
                f"You are now in {group.name}",
                f"You were enrolled in {group.name} ({group.subject.name} with "
                f"{group.mentor.name}){who}. Its sessions are in your timetable.",
                "/schedule/mine",
            )
        ]
    )
    return outcome


@dataclass
class MoveOutcome:
    source: CourseGroup
    target: CourseGroup
    moved: list[User] = field(default_factory=list)
    already: list[User] = field(default_factory=list)  # were in the target already


def move_students(
    source: CourseGroup,
    target: CourseGroup,
    student_ids: Iterable[int],
    *,
    actor: User | None = None,
) -> MoveOutcome:
    """Move students from `source` to `target` in one go: each leaves `source` and joins
    `target` (one already in `target` only leaves `source`). All or nothing: a student no
    longer in `source` refuses the whole move. Each student moved is told."""
    ids = list(dict.fromkeys(i for i in student_ids if is_row_id(i)))
    if not ids:
        raise ValidationError({"students": "Tick the students to move."})
    if target.id == source.id:
        raise ValidationError({"to_group": f"Choose a group other than {source.name}."})
    enrolments = {
        e.student_id: e
        for e in db.session.scalars(
            select(Enrolment).where(
                Enrolment.group_id == source.id, one_of(Enrolment.student_id, ids)
            )
        )
    }
    missing = [i for i in ids if i not in enrolments]
    if missing:
        names = db.session.scalars(select(User.name).where(one_of(User.id, missing))).all()
        raise ValidationError(
            {
                "students": "Nothing was moved: "
                + (", ".join(sorted(names)) or "a student ticked")
                + f" {'is' if len(missing) == 1 else 'are'} no longer in {source.name}."
            }
        )
    in_target = _enrolled_ids(target)
    outcome = MoveOutcome(source, target)
    for ident in ids:
        enrolment = enrolments[ident]
        student = enrolment.student
        if ident in in_target:
            db.session.delete(enrolment)
            outcome.already.append(student)
        else:
            enrolment.group_id = target.id  # the clash hook refreshes both groups
            outcome.moved.append(student)
    db.session.flush()
    who = f" by {actor.name}" if actor is not None else ""
    notify_each(
        [
            (
                [s.id for s in outcome.moved + outcome.already],
                GROUP_MOVED,
                f"You moved from {source.name} to {target.name}",
                f"You were moved from {source.name} to {target.name} ({target.subject.name} "
                f"with {target.mentor.name}){who}. Your timetable shows {target.name}'s "
                f"sessions instead of {source.name}'s.",
                "/schedule/mine",
            )
        ]
    )
    return outcome
