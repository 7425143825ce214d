"""Every paginated or searchable list page (services.common.pagination behind them): with just
over one page of rows that share their sort key, pages neither repeat nor skip a row, the
counts are right, filters stay in the pager links (page and htmx fragment alike), bad page
numbers show a real page, and search text with LIKE wildcards, quotes, spaces or 5,000
characters matches literally. One table of lists, so that a new list is checked like the rest."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import pytest

from models import (
    CourseGroup,
    DateOverride,
    Enrolment,
    MentorSubject,
    Notification,
    Occurrence,
    OccurrenceStatus,
    RequestStatus,
    Role,
    Room,
    ScheduleKind,
    Series,
    SessionNote,
    SessionRequest,
    Subject,
    User,
    db,
)
from tests.conftest import PINNED_TODAY

PARTIAL = {"HX-Request": "true", "HX-Request-Type": "partial"}
PARIS = ZoneInfo("Europe/Paris")
N = 23  # just over one page of 20
# Every session of a list starts at the same instant: only the tie-breaker orders them.
FUTURE = datetime.combine(PINNED_TODAY + timedelta(days=10), time(10), PARIS)
PAST = datetime.combine(PINNED_TODAY - timedelta(days=10), time(10), PARIS)

# Dates are constants of the module: its clock is pinned, so they never go stale.
pytestmark = pytest.mark.usefixtures("pinned_clock")
CREATED = datetime(2026, 1, 5, 9, tzinfo=UTC)


def add(*rows):
    db.session.add_all(rows)
    db.session.flush()
    return rows[0] if len(rows) == 1 else rows


def person(role: str, name: str, n: int, active: bool = True) -> User:
    return add(User(email=f"{role}{n:02d}@audit.test", name=name, role=Role(role),
                    is_active_account=active))  # fmt: skip


def groups_of(mentor: User, count: int = N, prefix: str = "Group", student=None) -> list:
    subject, room = add(Subject(name=f"{prefix} subject"), Room(name=f"{prefix} room"))
    groups = [add(CourseGroup(name=f"{prefix} {n:02d}", subject=subject, mentor=mentor,
                              default_room=room)) for n in range(count)]  # fmt: skip
    if student is not None:
        add(*(Enrolment(group_id=g.id, student_id=student.id) for g in groups))
    return groups


def sessions(groups, start: datetime, status="scheduled") -> list[Occurrence]:
    start = start.astimezone(UTC)
    rows = []
    for g in groups:
        o = Occurrence(group_id=g.id, start_utc=start, end_utc=start + timedelta(hours=1),
                       room_id=g.default_room_id, status=OccurrenceStatus(status),
                       created_at=CREATED)  # fmt: skip
        if status == "completed":
            o.actual_start_utc, o.actual_end_utc = o.start_utc, o.end_utc
        rows.append(add(o))
    return rows


def ids(rows, descending=False) -> list[int]:
    return sorted((r.id for r in rows), reverse=descending)


# --- One builder per list: (who looks, URL, filters, row selector, expected row keys) ------------


def rooms_list(make_user):
    rooms = [add(Room(name=f"Lab {n:02d}")) for n in range(N)]
    add(Room(name="Hall"), Room(name="Lab old", active=False))
    return (
        make_user("coordinator"),
        "/manage/rooms",
        {"q": "lab", "status": "active"},
        "#rooms-list tbody tr[id]",
        [f"room-{i}" for i in ids(rooms)],
    )


def subjects_list(make_user):
    subjects = [add(Subject(name=f"Chem {n:02d}")) for n in range(N)]
    add(Subject(name="Latin"), Subject(name="Chem old", active=False))
    return (
        make_user("coordinator"),
        "/manage/subjects",
        {"q": "CHEM", "status": "active"},
        "#subjects-list tbody tr[id]",
        [f"subject-{i}" for i in ids(subjects)],
    )


def groups_list(make_user):
    ann = person("mentor", "Ann Same", 1)
    groups = groups_of(ann)
    groups_of(person("mentor", "Bob", 2), 1, "Other")
    return (
        make_user("coordinator"),
        "/manage/groups",
        {"q": "ann same", "status": "active"},
        "#groups-list tbody tr[id]",
        [f"group-{i}" for i in ids(groups)],
    )


def users_list(make_user):
    # One name for all: the e-mail decides the order.
    students = [person("student", "Sam Same", n) for n in range(N)]
    person("mentor", "Sam Same", 90)
    person("student", "Sam Same", 91, active=False)
    expected = [f"user-{u.id}" for u in sorted(students, key=lambda u: u.email)]
    params = {"q": "sam", "role": "student", "status": "active"}
    return make_user("coordinator"), "/manage/users", params, "#users-list tbody tr[id]", expected


def exceptions_list(make_user):
    groups = groups_of(person("mentor", "Ann", 1), N + 1)
    day = PAST.date()
    overrides = []
    for n, g in enumerate(groups):
        series = add(Series(group_id=g.id, weekday_mask=127, start_time=time(9),
                            end_time=time(10), first_date=day - timedelta(days=30)))  # fmt: skip
        moved = n == N  # one moved, not cancelled: filtered out by kind
        overrides.append(add(DateOverride(series_id=series.id, original_date=day,
                                          cancelled=not moved,
                                          start_time=time(11) if moved else None)))  # fmt: skip
    params = {"kind": "cancel", "from": day.isoformat(), "to": day.isoformat()}
    return (
        make_user("coordinator"),
        "/timetable/exceptions",
        params,
        "#exceptions-table tbody tr[id]",
        [f"exception-{o.id}" for o in overrides[:N]],
    )


def notifications_list(make_user):
    user = make_user("coordinator")
    rows = [add(Notification(user_id=user.id, kind="request_new", title=f"N{n}"))
            for n in range(N)]  # fmt: skip
    return (
        user,
        "/notifications/",
        {},
        "li[id^=notification-]",
        [f"notification-{i}" for i in ids(rows, descending=True)],
    )


def upcoming_tab(make_user):
    ann = make_user("mentor", name="Ann")
    groups = groups_of(ann, N + 1)
    rows = sessions(groups[:N], FUTURE)
    sessions(groups[N:], FUTURE, "cancelled")
    return (
        ann,
        "/dashboard/",
        {"status": "scheduled"},
        "article.dashboard-card",
        [f"session-dashboard-{i}" for i in ids(rows)],
    )


def past_tab(make_user):
    student = make_user("student")
    groups = groups_of(person("mentor", "Ann", 1), N + 1, student=student)
    rows = sessions(groups[:N], PAST, "completed")
    sessions(groups[N:], PAST)
    return (
        student,
        "/dashboard/past",
        {"status": "completed", "group": ""},
        "article.dashboard-card",
        [f"session-dashboard-{i}" for i in ids(rows, descending=True)],
    )


def completed_tab(make_user):
    ann = make_user("mentor", name="Ann")
    groups = groups_of(ann, N + 1)
    rows = sessions(groups[:N], PAST, "completed")
    sessions(groups[N:], PAST - timedelta(days=1), "completed")
    day = PAST.date().isoformat()
    return (
        ann,
        "/dashboard/completed",
        {"from": day, "to": day},
        "tr[id^=completed-]",
        [f"completed-{i}" for i in ids(rows, descending=True)],
    )


def history_tab(make_user):
    ann = make_user("mentor", name="Ann")
    rows = sessions(groups_of(ann), PAST)  # all created at the same instant
    return (
        ann,
        "/dashboard/history",
        {"kind": "created"},
        "li.timeline-entry a",
        [f"/sessions/{i}" for i in ids(rows, descending=True)],
    )


def monitor_list(make_user):
    ann = person("mentor", "Ann", 1)
    rows = sessions(groups_of(ann), PAST, "completed")
    sessions(groups_of(person("mentor", "Bob", 2), 2, "Other"), PAST, "completed")
    params = {"mentor": str(ann.id), "status": "completed"}
    return (
        make_user("coordinator"),
        "/tracking/",
        params,
        "#monitor-list tbody tr[id]",
        [f"monitor-{i}" for i in ids(rows, descending=True)],
    )


def my_requests(make_user):
    student, mentor = make_user("student"), person("mentor", "Ann", 1)
    subject = add(Subject(name="Maths"))

    def request(n, status):
        return add(SessionRequest(student_id=student.id, mentor_id=mentor.id,
                                  subject_id=subject.id, title=f"R{n}",
                                  schedule_kind=ScheduleKind.SINGLE, start_time=time(10),
                                  end_time=time(11), first_date=FUTURE.date(),
                                  first_start_utc=FUTURE + timedelta(hours=n), status=status,
                                  created_at=CREATED))  # fmt: skip

    rows = [request(n, RequestStatus.PENDING) for n in range(N)]
    request(99, RequestStatus.WITHDRAWN)
    # Newest first; the same instant for all: by id.
    return (
        student,
        "/requests/",
        {"status": "pending"},
        "tr[id^=request-]",
        [f"request-{i}" for i in ids(rows)],
    )


def mentor_directory(make_user):
    subject, other = add(Subject(name="Maths"), Subject(name="Art"))
    mentors = [person("mentor", "Zoe Same", n) for n in range(N)]
    add(*(MentorSubject(mentor_id=m.id, subject_id=subject.id) for m in mentors))
    elsewhere = person("mentor", "Zoe Same", 90)
    add(MentorSubject(mentor_id=elsewhere.id, subject_id=other.id))
    params = {"q": "same", "subject": str(subject.id)}
    return (
        make_user("student"),
        "/requests/mentors",
        params,
        "article.mentor-card",
        [f"mentor-{i}" for i in ids(mentors)],
    )


LISTS = [rooms_list, subjects_list, groups_list, users_list, exceptions_list, notifications_list,
         upcoming_tab, past_tab, completed_tab, history_tab, monitor_list, my_requests,
         mentor_directory]  # fmt: skip


def keys(page, selector: str) -> list[str]:
    return [row.get("id") or row["href"] for row in page.html.select(selector)]


def field_value(form, name: str) -> str:
    field = form.find(attrs={"name": name})
    if field.name == "select":
        chosen = field.find("option", selected=True) or field.find("option")
        return chosen["value"]
    return field.get("value", "")


def pager_of(page):
    hint = page.html.find("p", attrs={"data-total": True})
    return hint.text.strip(), page.html.find("a", rel="next"), page.html.find("a", rel="prev")


@pytest.mark.parametrize("build", LISTS, ids=lambda f: f.__name__)
def test_pages_keep_filters_and_never_repeat_or_skip_rows_sharing_a_sort_key(
    web, login_as, make_user, build
):
    user, url, params, selector, expected = build(make_user)
    db.session.commit()
    login_as(user)
    first = web.get(url, params)
    assert keys(first, selector) == expected[:20]
    hint, next_link, prev_link = pager_of(first)
    assert hint == f"Showing 1\u201320 of {N}." and prev_link is None
    assert "Page 1 of 2" in first.text
    if params:  # the filter form shows the filters and pushes the URL it asks for
        forms = first.html.select("form[role=search]")
        form = next(f for f in forms if all(f.find(attrs={"name": n}) for n in params))
        assert form["hx-push-url"] == "true" and form["hx-get"] == form["action"]
        assert {name: field_value(form, name) for name in params} == params
    kept = {k: [v] for k, v in params.items() if v}
    assert parse_qs(urlsplit(next_link["href"]).query) == kept | {"page": ["2"]}
    assert next_link["hx-get"] == next_link["href"] and next_link["hx-push-url"] == "true"
    second = web.get(next_link["href"])
    assert keys(second, selector) == expected[20:]
    hint, next_link, prev_link = pager_of(second)
    assert hint == f"Showing 21\u2013{N} of {N}." and next_link is None
    assert parse_qs(urlsplit(prev_link["href"]).query) == kept | {"page": ["1"]}
    # The htmx fragment of page 2: the same rows, and a pager that pushes filtered URLs.
    fragment = web.get(pager_of(first)[1]["href"], headers=PARTIAL)
    assert "<html" not in fragment.text and keys(fragment, selector) == expected[20:]
    prev_link = pager_of(fragment)[2]
    assert prev_link["hx-push-url"] == "true" and prev_link["hx-get"] == prev_link["href"]
    assert parse_qs(urlsplit(prev_link["hx-get"]).query) == kept | {"page": ["1"]}
    # A page number that is not one shows the first page; one past the end, the last.
    for raw, number in [("0", 1), ("-1", 1), ("abc", 1), (" 2 ", 2), (str(2**63), 2)]:
        page = web.get(url, {**params, "page": raw})
        assert f"Page {number} of 2" in page.text, raw
        assert keys(page, selector) == expected[(number - 1) * 20 : number * 20], raw


# Non-ASCII digits pass str.isdigit() but not int(); more than 4,300 digits exceed Python's
# int() limit. Each is a page number or an id filter of a list.
DIGIT_CASES = [
    ("coordinator", "/manage/rooms", "page"),
    ("coordinator", "/manage/subjects", "page"),
    ("coordinator", "/manage/groups", "page"),
    ("coordinator", "/manage/users", "page"),
    ("coordinator", "/timetable/exceptions", "page"),
    ("coordinator", "/timetable/exceptions", "group"),
    ("coordinator", "/notifications/", "page"),
    ("coordinator", "/tracking/", "page"),
    ("coordinator", "/tracking/", "mentor"),
    ("coordinator", "/tracking/", "group"),
    ("coordinator", "/requests/mentors", "page"),
    ("coordinator", "/requests/mentors", "subject"),
    ("mentor", "/dashboard/", "page"),
    ("mentor", "/dashboard/", "group"),
    ("mentor", "/dashboard/past", "page"),
    ("mentor", "/dashboard/completed", "page"),
    ("mentor", "/dashboard/history", "page"),
    ("mentor", "/dashboard/history", "group"),
    ("student", "/requests/", "page"),
]


def status_of(web, url, params, headers=None) -> int:
    try:
        return web.get(url, params, headers=headers or {}, expect_errors=True).status_int
    except Exception:  # TESTING propagates the view's exception: the 500 it is
        return 500


def test_non_ascii_or_overlong_digits_in_page_and_id_filters_are_not_a_500(web, login_as):
    failures = []
    for role in ("coordinator", "mentor", "student"):
        web.reset()
        login_as(role)
        for who, url, name in DIGIT_CASES:
            if who != role:
                continue
            for value in ("\u00b2", "7" * 5000):
                for headers in (None, PARTIAL):
                    if status_of(web, url, {name: value}, headers) >= 500:
                        failures.append((url, name, value[:3], bool(headers)))
    assert failures == []


def test_ascii_digit_oddities_in_id_filters_are_ignored(web, login_as):
    login_as("coordinator")
    for url, name in [("/timetable/exceptions", "group"), ("/tracking/", "mentor"),
                      ("/requests/mentors", "subject"), ("/manage/users", "role")]:  # fmt: skip
        for value in ("0", "-1", "abc", str(2**63), "1.5", " ", "%"):
            assert status_of(web, url, {name: value}) < 500, (url, name, value)


# --- Search -------------------------------------------------------------------------------------

NAMES = ["100% Lab", "Lab_2", "Back\\slash", "O'Neil", 'Say "hi"', "Plain Lab"]
SEARCHES = [
    ("%", {"100% Lab"}),
    ("_", {"Lab_2"}),
    ("\\", {"Back\\slash"}),
    ("'", {"O'Neil"}),
    ('"', {'Say "hi"'}),
    ("  plain LAB  ", {"Plain Lab"}),
    ("lab", {"100% Lab", "Lab_2", "Plain Lab"}),
    ("l%b", set()),
    ("l_b", set()),
    ("%_", set()),
    ("x" * 5000, set()),
]


def search_rooms(make_user):
    rows = [add(Room(name=name)) for name in NAMES]
    return (
        make_user("coordinator"),
        "/manage/rooms",
        {},
        "#rooms-list tbody tr[id]",
        {f"room-{r.id}": r.name for r in rows},
    )


def search_subjects(make_user):
    rows = [add(Subject(name=name)) for name in NAMES]
    return (
        make_user("coordinator"),
        "/manage/subjects",
        {},
        "#subjects-list tbody tr[id]",
        {f"subject-{r.id}": r.name for r in rows},
    )


def search_groups(make_user):
    mentor, subject, room = person("mentor", "M", 1), add(Subject(name="S")), add(Room(name="R"))
    rows = [add(CourseGroup(name=name, subject=subject, mentor=mentor, default_room=room))
            for name in NAMES]  # fmt: skip
    return (
        make_user("coordinator"),
        "/manage/groups",
        {},
        "#groups-list tbody tr[id]",
        {f"group-{g.id}": g.name for g in rows},
    )


def search_users(make_user):
    rows = [person("student", name, n) for n, name in enumerate(NAMES)]
    return (
        make_user("coordinator"),
        "/manage/users",
        {"role": "student"},
        "#users-list tbody tr[id]",
        {f"user-{u.id}": u.name for u in rows},
    )


def search_group_students(make_user):
    rows = [person("student", name, n) for n, name in enumerate(NAMES)]
    group = groups_of(person("mentor", "M", 90), 1)[0]
    url = f"/manage/groups/{group.id}/students/search"
    return (
        make_user("coordinator"),
        url,
        {},
        "li[id^=candidate-]",
        {f"candidate-{u.id}": u.name for u in rows},
    )


def search_mentors(make_user):
    rows = [person("mentor", name, n) for n, name in enumerate(NAMES)]
    return (
        make_user("student"),
        "/requests/mentors",
        {},
        "article.mentor-card",
        {f"mentor-{u.id}": u.name for u in rows},
    )


def search_completed_notes(make_user):
    ann = make_user("mentor", name="Ann")
    rows = sessions(groups_of(ann, len(NAMES)), PAST, "completed")
    for o, body in zip(rows, NAMES, strict=True):
        add(SessionNote(occurrence_id=o.id, author_id=ann.id, kind="general", body=body))
    return (
        ann,
        "/dashboard/completed",
        {},
        "tr[id^=completed-]",
        {f"completed-{o.id}": body for o, body in zip(rows, NAMES, strict=True)},
    )


SEARCH_LISTS = [search_rooms, search_subjects, search_groups, search_users,
                search_group_students, search_mentors, search_completed_notes]  # fmt: skip


@pytest.mark.parametrize("build", SEARCH_LISTS, ids=lambda f: f.__name__)
def test_search_text_matches_literally_and_ignoring_case(web, login_as, make_user, build):
    user, url, params, selector, names = build(make_user)
    db.session.commit()
    login_as(user)
    for q, expected in SEARCHES:
        page = web.get(url, {**params, "q": q}, headers=PARTIAL)
        assert {names[k] for k in keys(page, selector)} == expected, q


def test_search_ignores_the_case_of_accented_letters(web, login_as, make_user):
    room = add(Room(name="Émile Hall"))
    student = person("student", "Élodie Ørsted", 1)
    mentor = person("mentor", "Ángel Ruiz", 2)
    group = groups_of(mentor, 1)[0]
    db.session.commit()
    login_as("coordinator")
    found = {}
    for q in ("Émile", "émile", "ÉMILE HALL"):
        found[("rooms", q)] = f"room-{room.id}" in web.get("/manage/rooms", {"q": q}).text
    for q in ("Élodie", "élodie", "ØRSTED"):
        found[("users", q)] = f"user-{student.id}" in web.get("/manage/users", {"q": q}).text
        search = web.get(f"/manage/groups/{group.id}/students/search", {"q": q}, headers=PARTIAL)
        found[("students", q)] = f"candidate-{student.id}" in search.text
    for q in ("Ángel", "ángel"):
        found[("groups", q)] = f"group-{group.id}" in web.get("/manage/groups", {"q": q}).text
    assert found == dict.fromkeys(found, True)
