"""Dashboard cards: whose sessions, which ones (upcoming, past), the status of the moment, the
other participant, the join window, ratings on the cards, and a constant number of queries."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from models import (
    GroupKind,
    Occurrence,
    OccurrenceMode,
    OccurrenceStatus,
    Rating,
    db,
)
from services.tracking.dashboard import (
    DashboardTab,
    dashboard_page,
    duration_label,
    join_window_open,
    session_card,
    status_at,
    when_label,
)
from services.tracking.history import DashboardFilters
from tests.conftest import AKL, auckland_at, counted_statements

PARIS = ZoneInfo("Europe/Paris")
# Monday 7 September 2026, 10:00 in Paris.
NOW = datetime(2026, 9, 7, 8, 0, tzinfo=UTC)
_rooms = itertools.count(1)


def at(hours: float) -> datetime:
    return NOW + timedelta(hours=hours)


def add_session(group, start, end=None, *, online=False, status="scheduled", title=None):
    occurrence = Occurrence(
        group_id=group.id,
        start_utc=start,
        end_utc=end or start + timedelta(hours=1),
        mode=OccurrenceMode.ONLINE if online else OccurrenceMode.IN_PERSON,
        video_room_id=f"room-t{next(_rooms):07d}" if online else None,
        room_id=None if online else group.default_room_id,
        status=OccurrenceStatus(status),
        title=title,
    )
    db.session.add(occurrence)
    db.session.commit()
    return occurrence


def cards(viewer, tab=DashboardTab.UPCOMING, now=NOW, **kwargs):
    return dashboard_page(viewer, tz=PARIS, tab=tab, now=now, **kwargs).items


def ids(viewer, **kwargs) -> list[int]:
    return [c.occurrence.id for c in cards(viewer, **kwargs)]


@pytest.fixture
def people(make_user, make_group, make_room):
    ada = make_user("mentor", name="Ada Lovelace")
    ben = make_user("mentor", name="Ben Okri")
    alice = make_user("student", name="Alice Martin")
    bob = make_user("student", name="Bob Stone")
    carol = make_user("student", name="Carol Diaz")
    maths = make_group(
        "Maths 7A", mentor=ada, students=[alice, bob, carol], subject="Mathematics",
        room=make_room("R101"),
    )  # fmt: skip
    art = make_group("Art 7A", mentor=ben, students=[bob], subject="Art")
    tutoring = make_group(
        "Physics: Ada with Alice", mentor=ada, students=[alice], subject="Physics"
    )
    tutoring.kind = GroupKind.TUTORING
    db.session.commit()
    return {
        "ada": ada, "ben": ben, "alice": alice, "bob": bob, "carol": carol,
        "maths": maths, "art": art, "tutoring": tutoring,
    }  # fmt: skip


# --- Whose sessions ------------------------------------------------------------------------------


def test_each_participant_sees_only_their_own_sessions(people, make_user):
    maths = add_session(people["maths"], at(2))
    art = add_session(people["art"], at(3))
    tutoring = add_session(people["tutoring"], at(4), online=True)
    assert ids(people["ada"]) == [maths.id, tutoring.id]
    assert ids(people["ben"]) == [art.id]
    assert ids(people["alice"]) == [maths.id, tutoring.id]
    assert ids(people["bob"]) == [maths.id, art.id]
    assert ids(people["carol"]) == [maths.id]
    assert ids(make_user("student")) == []
    # Staff have no dashboard of their own: they see every session on the schedule.
    assert ids(make_user("coordinator")) == []


def test_a_card_is_only_built_for_a_participant(people, make_user):
    tutoring = add_session(people["tutoring"], at(0), online=True)
    assert session_card(people["alice"], tutoring.id, tz=PARIS, now=NOW) is not None
    assert session_card(people["ada"], tutoring.id, tz=PARIS, now=NOW) is not None
    for stranger in (people["bob"], people["ben"], make_user("coordinator")):
        assert session_card(stranger, tutoring.id, tz=PARIS, now=NOW) is None


# --- Which sessions ------------------------------------------------------------------------------


def test_upcoming_is_nearest_first_and_past_newest_first_each_session_in_one_tab(people):
    maths = people["maths"]
    yesterday = add_session(maths, at(-24))
    early_today = add_session(maths, at(-2))  # 08:00-09:00 in Paris, over: past only
    running = add_session(maths, at(-0.5))
    cancelled = add_session(maths, at(1), status="cancelled")
    tomorrow = add_session(maths, at(24))
    next_month = add_session(maths, at(24 * 30))
    upcoming = ids(people["alice"])
    past = ids(people["alice"], tab=DashboardTab.PAST)
    assert upcoming == [running.id, cancelled.id, tomorrow.id, next_month.id]
    assert past == [early_today.id, yesterday.id]
    assert not set(upcoming) & set(past)


def test_a_session_moves_from_upcoming_to_past_at_its_end(people):
    session = add_session(people["maths"], at(-1), at(0))  # ends exactly now
    assert ids(people["alice"], now=NOW - timedelta(minutes=1)) == [session.id]
    assert ids(people["alice"], tab=DashboardTab.PAST, now=NOW - timedelta(minutes=1)) == []
    assert ids(people["alice"]) == []
    assert ids(people["alice"], tab=DashboardTab.PAST) == [session.id]


def test_a_session_of_last_night_that_ended_after_midnight_is_past(people):
    # Sunday 23:30 to Monday 00:30 in Paris, seen on Monday at 10:00.
    late = add_session(people["maths"], datetime(2026, 9, 6, 21, 30, tzinfo=UTC))
    assert ids(people["alice"]) == []
    assert ids(people["alice"], tab=DashboardTab.PAST) == [late.id]


def test_pages_of_twenty_and_a_page_past_the_end_shows_the_last(people):
    sessions = [add_session(people["maths"], at(24 * day)) for day in range(1, 26)]
    first = dashboard_page(people["alice"], tz=PARIS, now=NOW)
    assert (first.total, first.pages, len(first.items)) == (25, 2, 20)
    assert first.items[0].occurrence.id == sessions[0].id
    last = dashboard_page(people["alice"], tz=PARIS, now=NOW, page=99)
    assert last.number == 2
    assert [c.occurrence.id for c in last.items] == [s.id for s in sessions[20:]]


# --- Status of the moment ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("minutes", "status"),
    [(-16, "scheduled"), (-1, "scheduled"), (0, "ongoing"), (59, "ongoing"), (60, "scheduled")],
)
def test_a_scheduled_session_is_ongoing_from_its_start_until_its_end(people, minutes, status):
    session = add_session(people["maths"], NOW)
    now = NOW + timedelta(minutes=minutes)
    assert status_at(session, now) == status
    tab = DashboardTab.PAST if minutes >= 60 else DashboardTab.UPCOMING  # ended: past
    assert cards(people["alice"], tab=tab, now=now)[0].status == status


def test_cancelled_and_completed_keep_their_badge_at_any_moment(people):
    cancelled = add_session(people["maths"], NOW, status="cancelled")
    completed = add_session(people["art"], NOW, status="completed")
    for minutes in (-30, 0, 30, 90):
        now = NOW + timedelta(minutes=minutes)
        assert status_at(cancelled, now) == "cancelled"
        assert status_at(completed, now) == "completed"


# --- Join window ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("minutes", "open_"),
    [(-16, False), (-15, True), (-1, True), (0, True), (59, True), (60, False), (200, False)],
)
def test_the_join_link_is_given_from_15_minutes_before_the_start_until_the_end(
    people, minutes, open_
):
    session = add_session(people["tutoring"], NOW, online=True)
    now = NOW + timedelta(minutes=minutes)
    assert join_window_open(session, now) is open_
    tab = DashboardTab.PAST if minutes >= 60 else DashboardTab.UPCOMING  # ended: past
    for viewer in (people["alice"], people["ada"]):
        card = cards(viewer, tab=tab, now=now)[0]
        assert card.video_room_id == session.video_room_id  # shown to participants anytime
        expected = f"https://meet.jit.si/{session.video_room_id}" if open_ else None
        assert card.join_url == expected


def test_no_join_link_for_in_person_cancelled_or_completed_sessions(people):
    in_person = add_session(people["maths"], NOW)
    cancelled = add_session(people["tutoring"], NOW, online=True, status="cancelled")
    completed = add_session(people["tutoring"], NOW, online=True, status="completed")
    for session in (in_person, cancelled, completed):
        assert not join_window_open(session, NOW)
    assert all(card.join_url is None for card in cards(people["alice"]))
    assert cards(people["alice"])[0].video_room_id is None  # in person: a room, no video room


def test_the_join_link_follows_the_video_base_url_setting(app, people):
    session = add_session(people["tutoring"], NOW, online=True)
    app.config["VIDEO_BASE_URL"] = "https://video.school.test/join?room="
    try:
        card = cards(people["alice"])[0]
    finally:
        del app.config["VIDEO_BASE_URL"]
    assert card.join_url == f"https://video.school.test/join?room={session.video_room_id}"


# --- What the card says --------------------------------------------------------------------------


def test_the_other_participant_of_each_viewer(people):
    add_session(people["maths"], at(1), title="Fractions")
    add_session(people["tutoring"], at(2), online=True)
    maths, tutoring = cards(people["ada"])
    assert (maths.other_label, maths.other_name) == ("Group", "Maths 7A (3 students)")
    assert maths.title == "Fractions"
    assert (tutoring.other_label, tutoring.other_name) == ("Student", "Alice Martin")
    assert tutoring.title == "Physics: Ada with Alice"
    for card in cards(people["alice"]):
        assert (card.other_label, card.other_name) == ("Mentor", "Ada Lovelace")


def test_when_is_local_with_its_duration():
    session = Occurrence(start_utc=NOW, end_utc=NOW + timedelta(minutes=90))
    assert when_label(session, PARIS, NOW) == "Mon 07 Sep 10:00\u201311:30 (1 h 30)"
    next_year = Occurrence(start_utc=NOW.replace(year=2027), end_utc=at(1).replace(year=2027))
    assert when_label(next_year, PARIS, NOW) == "Tue 07 Sep 2027 10:00\u201311:00 (1 h)"
    overnight = Occurrence(start_utc=at(13), end_utc=at(15))
    assert when_label(overnight, PARIS, NOW) == "Mon 07 Sep 23:00\u2013Tue 08 Sep 01:00 (2 h)"
    assert [duration_label(m) for m in (45, 60, 65, 120)] == ["45 min", "1 h", "1 h 05", "2 h"]


def test_students_see_their_own_score_and_mentors_the_session_s_ratings(people):
    done = add_session(people["maths"], at(-3), status="completed")
    other = add_session(people["maths"], at(-2), status="completed")
    db.session.add_all(
        [
            Rating(occurrence_id=done.id, student_id=people["alice"].id, score=4),
            Rating(occurrence_id=done.id, student_id=people["bob"].id, score=5),
        ]
    )
    db.session.commit()
    past = DashboardTab.PAST
    alice = {c.occurrence.id: c for c in cards(people["alice"], tab=past)}
    assert (alice[done.id].my_score, alice[done.id].can_rate) == (4, False)
    assert (alice[other.id].my_score, alice[other.id].can_rate) == (None, True)
    carol = {c.occurrence.id: c for c in cards(people["carol"], tab=past)}
    assert (carol[done.id].my_score, carol[done.id].can_rate) == (None, True)
    ada = {c.occurrence.id: c for c in cards(people["ada"], tab=past)}
    assert (ada[done.id].rating_average, ada[done.id].rating_count) == (4.5, 2)
    assert (ada[other.id].rating_average, ada[other.id].rating_count) == (None, 0)


def test_only_completed_sessions_can_be_rated(people):
    add_session(people["maths"], at(-3))
    add_session(people["maths"], at(-2), status="cancelled")
    assert not any(c.can_rate for c in cards(people["alice"]))


# --- Queries -------------------------------------------------------------------------------------


@pytest.mark.parametrize("viewer", ["ada", "alice"])
def test_a_page_costs_the_same_few_queries_whatever_its_size(people, make_user, make_group, viewer):
    def statements() -> int:
        db.session.expire_all()
        _ = people[viewer].role  # the logged-in user, loaded once per request anyway
        with counted_statements() as found:
            page = dashboard_page(people[viewer], tz=PARIS, now=NOW)
            for card in page.items:  # everything a card shows
                _ = (card.other_name, card.occurrence.group.subject.name, card.when)
                _ = (card.occurrence.room and card.occurrence.room.name, card.my_score)
        return len(found)

    add_session(people["maths"], at(1))
    add_session(people["tutoring"], at(2), online=True)
    few = statements()
    for n in range(8):
        student = make_user("student")
        group = make_group(mentor=people["ada"], students=[student, people["alice"]])
        if n % 2:
            group.kind = GroupKind.TUTORING
            db.session.commit()
        add_session(group, at(3 + n), online=bool(n % 2))
        add_session(people["maths"], at(20 + n), status="completed")
    many = statements()
    # The count for the pager, the sessions, and (mentors) the tutoring students' names.
    assert many == few == (3 if viewer == "ada" else 2)


def test_dashboard_when_label_is_local_and_crosses_midnight_locally(auckland_term):
    occurrence = auckland_term["one_time"]
    tuesday = auckland_term["tuesday"]
    now = auckland_at(tuesday, time(6))
    this_year = tuesday.year == now.astimezone(AKL).year
    day = f"{tuesday:%a %d %b}" if this_year else f"{tuesday:%a %d %b %Y}"
    assert when_label(occurrence, AKL, now) == f"{day} 08:00\u201309:00 (1 h)"
    # 23:30 to 00:30: the end is on the next local day (the same UTC day).
    late = auckland_at(tuesday, time(23, 30))
    occurrence.start_utc, occurrence.end_utc = late, late + timedelta(hours=1)
    wednesday = tuesday + timedelta(days=1)
    assert occurrence.start_utc.date() == occurrence.end_utc.date()
    assert when_label(occurrence, AKL, now) == (
        f"{day} 23:30\u2013{wednesday:%a %d %b} 00:30 (1 h)"
    )
    db.session.rollback()


def test_dashboard_date_filters_read_local_dates(auckland_term):
    before, after = auckland_term["before"], auckland_term["after"]
    now = auckland_at(before - timedelta(days=1), time(12))
    for first, last, expected in (
        (before, before, [auckland_term["sessions"][0].id]),
        (after, after, [auckland_term["sessions"][1].id]),
        (before - timedelta(days=1), before - timedelta(days=1), []),  # the UTC date
    ):
        filters = DashboardFilters(start=first, end=last)
        page = dashboard_page(auckland_term["ada"], tz=AKL, now=now, filters=filters)
        assert [card.occurrence.id for card in page.items] == expected
