"""Who may see and do what: Termtable's access policy, in one module, read top to bottom.

Roles: admin and coordinator (together "staff"), mentor, student; "anonymous" is a visitor who
has not logged in. A mentor teaches the course groups that name them as mentor (while their
role is mentor), and the sessions they cover for an absent mentor (`Occurrence.cover_mentor_id`:
the group's mentor keeps theirs too); a student attends the groups they are enrolled in.

A cell says who of that role may act: `all` (every row), `yes` (an action on no particular
row), `taught` (rows of the groups they teach), `enrolled` (rows of the groups they are
enrolled in), `own` (rows they wrote, uploaded, asked for or hold), `addressed` (requests sent
to them), `none`, `login` (anonymous: pages send them to log in, the API answers 401) and
`link` (anyone holding the secret link). `note: general` stands for general and achievement
notes, `note: issue` for issue and follow-up notes; a mentor enrolled in a group also sees it
as its students do. Routes answer 404 for a row the user may not see
(exactly as for a missing one) and 403 for a row they see but may not act on, or a page
their role may not use.

| object               | action            | admin | coord | mentor      | student  | anon  |
| -------------------- | ----------------- | ----- | ----- | ----------- | -------- | ----- |
| session              | see, list         | all   | all   | taught      | enrolled | login |
| session              | see its conflicts | all   | all   | taught      | none     | login |
| session              | create, change    | yes   | yes   | none        | none     | login |
| school schedule      | see               | yes   | yes   | none        | none     | login |
| course group, series | see, list         | all   | all   | taught      | enrolled | login |
| group's students     | see               | all   | all   | taught      | none     | login |
| course group, series | create, change    | yes   | yes   | none        | none     | login |
| request              | see, list         | all   | all   | addressed   | own      | login |
| request              | create            | none  | none  | none        | yes      | login |
| request              | approve, reject   | all   | none  | addressed   | none     | login |
| request              | withdraw          | none  | none  | none        | own      | login |
| note: general        | see               | all   | all   | taught      | enrolled | login |
| note: issue          | see               | all   | all   | taught      | none     | login |
| note                 | add               | all   | all   | taught      | none     | login |
| note                 | edit              | own   | own   | own         | none     | login |
| note                 | delete            | all   | all   | own         | none     | login |
| attachment           | see, download     | all   | all   | taught      | enrolled | login |
| attachment           | upload            | all   | all   | taught      | none     | login |
| attachment           | delete            | all   | all   | taught, own | none     | login |
| completion           | see               | all   | all   | taught      | enrolled | login |
| completion           | complete, correct | all   | all   | taught      | none     | login |
| rating               | rate              | none  | none  | none        | enrolled | login |
| attendance register  | see               | all   | all   | taught      | own      | login |
| attendance register  | take, correct     | all   | all   | taught      | none     | login |
| attendance report    | see, export       | yes   | yes   | none        | none     | login |
| tracking reports     | see, export       | yes   | yes   | none        | none     | login |
| account, not admin's | see, change       | all   | all   | none        | none     | login |
| admin's account      | change            | all   | none  | none        | none     | login |
| room, subject        | list (API)        | all   | all   | all         | all      | login |
| room, subject        | create, change    | yes   | yes   | none        | none     | login |
| calendar feed        | read              | link  | link  | link        | link     | link  |
| room or group feed   | create            | yes   | yes   | none        | none     | login |
| calendar feed        | regenerate        | own   | own   | own         | own      | login |
| API token            | revoke            | own   | own   | own         | own      | login |

`POLICY` below is read from this table, so the table is the data: tests/test_access_policy.py
walks each row against the routes (pages, fragments, the API, feeds). The functions after it
are the rules that services, pages, fragments, the API, feeds and exports ask. Route
decorators (`staff_required`, `roles_required`, the API's `require_staff`) apply the rows that
depend on the role alone.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, Select, and_, exists, false, or_, select, union

from models import (
    Attachment,
    CourseGroup,
    Enrolment,
    NoteKind,
    Occurrence,
    Role,
    SessionNote,
    SessionRequest,
    User,
    db,
)

ROLES = ("admin", "coordinator", "mentor", "student", "anonymous")


@dataclass(frozen=True)
class Rule:
    """One row of the table: what each role may do to one kind of object."""

    object: str
    action: str
    admin: str
    coordinator: str
    mentor: str
    student: str
    anonymous: str

    def cell(self, role: str) -> str:
        return getattr(self, role)


# The table above, row by row (only tests read it; `python -OO`, which drops docstrings, leaves
# it empty and changes no rule).
POLICY: tuple[Rule, ...] = tuple(
    Rule(*(cell.strip() for cell in line.strip().strip("|").split("|")))
    for line in (__doc__ or "").splitlines()
    if line.startswith("| ") and not line.startswith("| object") and "---" not in line
)


# --- Who belongs to a group ---------------------------------------------------------------------


def enrolled_in_group(group_id, student_id) -> ColumnElement[bool]:
    """SQL: the student is enrolled in the group (each a column or a value).

    For one group; to narrow a list of sessions to a student's, use `attends`."""
    return exists().where(Enrolment.group_id == group_id, Enrolment.student_id == student_id)


def groups_attended_by(student_id) -> Select:
    """SQL: the ids of the groups the student is enrolled in."""
    return select(Enrolment.group_id).where(Enrolment.student_id == student_id).correlate(None)


def attends(group_id, student_id) -> ColumnElement[bool]:
    """SQL: `group_id` (a column) is one of the student's groups.

    Written as `group_id IN (the student's groups)` rather than an EXISTS per row: the
    database starts from the student's few enrolments and reads only their groups' sessions
    (the index on occurrence (group_id, start_utc)), instead of checking every session of
    the range, which grew with the school."""
    return group_id.in_(groups_attended_by(student_id))


def groups_taught_by(mentor_id) -> Select:
    """SQL: the ids of the groups naming `mentor_id` as their mentor."""
    return select(CourseGroup.id).where(CourseGroup.mentor_id == mentor_id).correlate(None)


def is_session_mentor(user: User, occurrence) -> bool:
    """Whether `user` teaches `occurrence` (an Occurrence or a grid SessionSummary): named as
    its group's mentor or as the substitute covering it, *and* a mentor now, so a mentor
    whose role changed loses it at once. The group's mentor keeps a covered session (they
    may be back, or complete it for the substitute)."""
    return user.role == Role.MENTOR and user.id in (
        occurrence.group.mentor_id,
        occurrence.cover_mentor_id,
    )


def teaches_session(mentor_id) -> ColumnElement[bool]:
    """SQL: the session is one `mentor_id` teaches: their groups' (covered by someone else
    or not), or one they cover. Both on the session's own columns, so that the database
    reads each side by an index (occurrence (group_id, start_utc) from the mentor's few
    groups, as `attends` does; occurrence.cover_mentor_id) rather than every session of a
    range."""
    return or_(
        Occurrence.group_id.in_(groups_taught_by(mentor_id)),
        Occurrence.cover_mentor_id == mentor_id,
    )


def taught_by(mentor_id) -> ColumnElement[bool]:
    """SQL: `mentor_id` is who teaches the session now: the substitute covering it, else its
    group's mentor (`models.occurrence.mentor_of`, written so that each side is read by an
    index, as in `teaches_session`). Monitoring by mentor counts a covered session for its
    cover only."""
    return or_(
        Occurrence.cover_mentor_id == mentor_id,
        and_(
            Occurrence.cover_mentor_id.is_(None),
            Occurrence.group_id.in_(groups_taught_by(mentor_id)),
        ),
    )


def is_participating_student(user: User, occurrence: Occurrence) -> bool:
    """Whether `user` is a student enrolled in the session's group (who rates it)."""
    if user is None or getattr(user, "role", None) != Role.STUDENT:
        return False
    return bool(db.session.scalar(select(enrolled_in_group(occurrence.group_id, user.id))))


def _logged_in(user: User | None) -> bool:
    return user is not None and getattr(user, "is_authenticated", False)


# --- Sessions -----------------------------------------------------------------------------------


def visible_to(query: Select, viewer: User | None) -> Select:
    """Restrict an Occurrence query (joined to CourseGroup) to what `viewer` may see: staff
    all, a mentor the groups they teach or attend and the sessions they cover, a student the
    groups they attend (None: everything, e.g. CLI)."""
    if viewer is None or viewer.is_staff:
        return query
    # Starting from the viewer's groups (see `attends`): one list of group ids, so the
    # database reads those groups' sessions by index whatever the size of the school.
    groups = groups_attended_by(viewer.id)
    if viewer.role == Role.MENTOR:
        groups = union(groups_taught_by(viewer.id), groups)
        # The sessions they cover: a second index range (occurrence.cover_mentor_id).
        return query.where(
            or_(Occurrence.group_id.in_(groups), Occurrence.cover_mentor_id == viewer.id)
        )
    return query.where(Occurrence.group_id.in_(groups))


def visible_sessions(viewer: User | None) -> Select:
    """A query of the sessions `viewer` may see: staff all, a mentor the groups they teach
    and the sessions they cover, a student the groups they are enrolled in (None:
    everything, for commands)."""
    query = select(Occurrence).join(CourseGroup, CourseGroup.id == Occurrence.group_id)
    return visible_to(query, viewer)


def can_view_session(viewer: User | None, occurrence: Occurrence) -> bool:
    """Whether a logged-in `viewer` may see `occurrence` (anonymous visitors may not)."""
    if not _logged_in(viewer):
        return False
    if viewer.is_staff:
        return True
    query = visible_sessions(viewer).where(Occurrence.id == occurrence.id)
    return db.session.scalar(query.with_only_columns(Occurrence.id)) is not None


def may_see_conflicts(user: User | None, occurrence) -> bool:
    """Who is told what a session clashes with (it names other groups' sessions): staff and
    the session's mentor; None (commands) too."""
    return user is None or user.is_staff or is_session_mentor(user, occurrence)


# --- Course groups and series -------------------------------------------------------------------


def visible_groups(user: User) -> Select:
    """Staff: every group; a mentor: the groups they teach or attend; a student: those they
    attend."""
    query = select(CourseGroup)
    if user.is_staff:
        return query
    enrolled = enrolled_in_group(CourseGroup.id, user.id)
    if user.role != Role.MENTOR:
        return query.where(enrolled)
    return query.where(or_(CourseGroup.mentor_id == user.id, enrolled))


def can_view_group(user: User, group_id: int) -> bool:
    visible = visible_groups(user).where(CourseGroup.id == group_id)
    return db.session.scalar(visible.with_only_columns(CourseGroup.id)) is not None


def may_see_group_students(user: User, group: CourseGroup) -> bool:
    """Who a group's students are: staff and the group's mentor."""
    return user.is_staff or (user.role == Role.MENTOR and group.mentor_id == user.id)


def takes_part_in(viewer: User, group_id) -> ColumnElement[bool]:
    """SQL: `group_id` is a group `viewer` takes part in as mentor or student (staff: none).
    Queries using it join CourseGroup."""
    if viewer.role == Role.MENTOR:
        return CourseGroup.mentor_id == viewer.id
    if viewer.role == Role.STUDENT:
        return enrolled_in_group(group_id, viewer.id)
    return false()


def takes_part_in_session(viewer: User) -> ColumnElement[bool]:
    """SQL: the session is one `viewer` takes part in: a mentor's groups' sessions and those
    they cover, a student's groups' sessions (staff: none). Queries using it join
    Occurrence to CourseGroup."""
    if viewer.role == Role.MENTOR:
        return teaches_session(viewer.id)
    return takes_part_in(viewer, Occurrence.group_id)


def groups_covered_by(mentor_id) -> Select:
    """SQL: the ids of the groups with a session `mentor_id` covers (by the cover index)."""
    return (
        select(Occurrence.group_id).where(Occurrence.cover_mentor_id == mentor_id).correlate(None)
    )


# --- Requests -----------------------------------------------------------------------------------


def requests_visible_to(user: User) -> Select:
    """A student's own requests, those addressed to a mentor, everything for staff."""
    query = select(SessionRequest).order_by(SessionRequest.created_at.desc(), SessionRequest.id)
    if user.role == Role.STUDENT:
        return query.where(SessionRequest.student_id == user.id)
    if user.role == Role.MENTOR:
        return query.where(SessionRequest.mentor_id == user.id)
    return query


def can_decide(user: User, request: SessionRequest) -> bool:
    """Only the addressed mentor, or an admin, approves or rejects."""
    return user.id == request.mentor_id or user.role == Role.ADMIN


# --- Notes --------------------------------------------------------------------------------------

STUDENT_KINDS = frozenset({NoteKind.GENERAL, NoteKind.ACHIEVEMENT})
ALL_KINDS = frozenset(NoteKind)


def readable_kinds(viewer: User | None, occurrence: Occurrence) -> frozenset[NoteKind]:
    """The kinds of note `viewer` may read on `occurrence` (empty if they cannot see it)."""
    if not can_view_session(viewer, occurrence):
        return frozenset()
    if viewer.is_staff or is_session_mentor(viewer, occurrence):
        return ALL_KINDS
    return STUDENT_KINDS


def can_add_note(user: User | None, occurrence: Occurrence) -> bool:
    """Staff and the session's mentor (students read, they do not write)."""
    if not _logged_in(user):
        return False
    return user.is_staff or is_session_mentor(user, occurrence)


def can_edit_note(user: User | None, note: SessionNote) -> bool:
    return user is not None and getattr(user, "id", None) == note.author_id


def can_delete_note(user: User | None, note: SessionNote) -> bool:
    return can_edit_note(user, note) or bool(user is not None and user.is_staff)


# --- Attachments --------------------------------------------------------------------------------


def can_upload(user: User | None, occurrence: Occurrence) -> bool:
    """The session's mentor and staff add files; students read and download them (the issue
    has mentors attach material; a coordinator may do it for them)."""
    if not _logged_in(user):
        return False
    return user.is_staff or is_session_mentor(user, occurrence)


def can_delete_attachment(
    user: User | None, attachment: Attachment, occurrence: Occurrence
) -> bool:
    """The uploader, the session's mentor, or staff."""
    if not _logged_in(user):
        return False
    return user.is_staff or attachment.uploader_id == user.id or is_session_mentor(user, occurrence)


# --- Completion ---------------------------------------------------------------------------------


def can_track(user: User | None, occurrence: Occurrence) -> bool:
    """The session's mentor and staff complete, correct and cancel it, and take its
    attendance register (a student of the group sees only their own mark)."""
    if not _logged_in(user):
        return False
    return user.is_staff or is_session_mentor(user, occurrence)


# --- User accounts ------------------------------------------------------------------------------


def assignable_roles(actor: User) -> list[Role]:
    """The roles `actor` may give: admins any, coordinators any but admin."""
    if actor.role == Role.ADMIN:
        return list(Role)
    return [r for r in Role if r != Role.ADMIN]


def can_manage(actor: User, target: User) -> bool:
    """May `actor` change `target`'s account at all?"""
    if actor.role == Role.ADMIN:
        return True
    return actor.role == Role.COORDINATOR and target.role != Role.ADMIN
