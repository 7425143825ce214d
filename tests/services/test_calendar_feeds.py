"""Calendar feeds parsed back with icalendar and expanded with recurring-ical-events: the same
sessions as the database, across a DST change, with a cancellation and a moved session."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
import recurring_ical_events
import vobject
from icalendar import Calendar

from models import (
    CourseGroup,
    Enrolment,
    GroupKind,
    NoteKind,
    Occurrence,
    OccurrenceStatus,
    SessionNote,
    db,
)
from services.common.errors import ValidationError
from services.output import feeds as calendar_feeds
from services.output.feeds import (
    build_feed,
    feed_by_token,
    fingerprint,
    own_feed,
    regenerate,
    staff_feed,
)
from services.timetable.exceptions import (
    OverrideChange,
    delete_override,
    find_occurrence,
    save_override,
)
from services.timetable.generation import generate_occurrences

PARIS = ZoneInfo("Europe/Paris")
NOW = datetime(2026, 10, 1, 8, tzinfo=UTC)
# Mondays on both sides of the end of summer time (Sunday 25 October 2026 in Paris).
FIRST = date(2026, 10, 12)


def parse(feed) -> Calendar:
    return Calendar.from_ical(build_feed(feed, tz=PARIS, base_url="https://tt.test", now=NOW))


@pytest.fixture
def lessons(make_user, make_group, make_series, make_room):
    mentor = make_user("mentor", name="Ada")
    student, other = make_user("student"), make_user("student")
    maths = make_group("Maths 7A", mentor=mentor, students=[student], room=make_room("R101"),
                       subject="Mathematics")  # fmt: skip
    physics = make_group("Physics 8B", students=[other])
    series = make_series(maths, weekdays=(0,), start=time(10), end=time(11), first_date=FIRST)
    make_series(physics, weekdays=(0,), start=time(10), end=time(11), first_date=FIRST)
    generate_occurrences(FIRST, FIRST + timedelta(weeks=3), tz=PARIS, now=NOW)
    db.session.commit()
    return {"mentor": mentor, "student": student, "other": other, "series": series,
            "maths": maths}  # fmt: skip


def test_a_students_feed_holds_their_sessions_at_local_time_across_dst(lessons):
    calendar = parse(own_feed(lessons["student"]))
    events = recurring_ical_events.of(calendar).between(FIRST, FIRST + timedelta(weeks=3))
    assert len(events) == 3
    starts = sorted(e["DTSTART"].dt for e in events)
    assert [s.astimezone(PARIS).time() for s in starts] == [time(10)] * 3
    # 10:00 local is 08:00 UTC in summer time and 09:00 UTC after it ends.
    assert [s.astimezone(UTC).hour for s in starts] == [8, 8, 9]
    assert (
        starts[0].tzinfo is not None and str(events[0]["DTSTART"].params["TZID"]) == "Europe/Paris"
    )
    assert calendar.walk("VTIMEZONE"), "a VTIMEZONE matching the TZID"
    ids = sorted(o.id for o in db.session.query(Occurrence).filter_by(group_id=lessons["maths"].id))
    assert sorted(str(e["UID"]) for e in events) == [f"session-{i}@termtable" for i in ids]
    first = min(events, key=lambda e: e["DTSTART"].dt)
    assert str(first["SUMMARY"]) == "Mathematics with Ada"
    assert str(first["DESCRIPTION"]) == "Mentor: Ada\nGroup: Maths 7A"
    assert str(first["LOCATION"]) == "R101"
    assert str(first["STATUS"]) == "CONFIRMED"
    assert str(first["URL"]).startswith("https://tt.test/sessions/")
    # Another student's group is not in it.
    assert "Physics" not in build_feed(own_feed(lessons["student"]), tz=PARIS, now=NOW).decode()


def test_cancelled_and_moved_sessions_update_rather_than_duplicate(lessons):
    feed = own_feed(lessons["mentor"])
    before = {str(e["UID"]): e for e in parse(feed).walk("VEVENT")}
    tag = fingerprint(feed, NOW)
    series = lessons["series"]
    save_override(series, FIRST, OverrideChange(cancelled=True), actor=None, tz=PARIS)
    later = OverrideChange(start_time=time(14), end_time=time(15))
    save_override(series, FIRST + timedelta(weeks=1), later, actor=None, tz=PARIS)
    db.session.commit()
    after = {str(e["UID"]): e for e in parse(feed).walk("VEVENT")}
    assert after.keys() == before.keys()  # same UIDs: updates, not new events
    cancelled = after[f"session-{find_occurrence(series.id, FIRST).id}@termtable"]
    moved_occurrence = find_occurrence(series.id, FIRST + timedelta(weeks=1))
    moved = after[f"session-{moved_occurrence.id}@termtable"]
    assert str(cancelled["STATUS"]) == "CANCELLED"
    assert moved["DTSTART"].dt.astimezone(PARIS).time() == time(14)
    for uid in (cancelled["UID"], moved["UID"]):
        assert int(after[str(uid)]["SEQUENCE"]) > int(before[str(uid)]["SEQUENCE"])
    assert fingerprint(feed, NOW) != tag


def test_the_fingerprint_holds_while_nothing_changes(lessons):
    feed = own_feed(lessons["student"])
    assert fingerprint(feed, NOW) == fingerprint(feed, NOW)


def test_a_new_way_of_writing_feeds_changes_every_fingerprint(lessons, monkeypatch):
    """Calendar apps holding a feed written the old way (RDATE lists, group titles) must not
    be told 304: the format is part of the ETag."""
    feed = own_feed(lessons["student"])
    before = fingerprint(feed, NOW)
    monkeypatch.setattr(calendar_feeds, "FEED_FORMAT", calendar_feeds.FEED_FORMAT - 1)
    assert fingerprint(feed, NOW) != before


def test_online_sessions_give_the_video_link_to_participants_only(lessons, make_series, make_user):
    make_series(lessons["maths"], weekdays=(2,), start=time(16), end=time(17), room=None,
                mode="online", first_date=FIRST)  # fmt: skip
    generate_occurrences(FIRST, FIRST + timedelta(weeks=1), tz=PARIS, now=NOW)
    db.session.commit()
    online = db.session.query(Occurrence).filter_by(mode="online").first()
    mine = [e for e in parse(own_feed(lessons["student"])).walk("VEVENT")
            if str(e["UID"]) == f"session-{online.id}@termtable"]  # fmt: skip
    assert str(mine[0]["LOCATION"]) == f"https://meet.jit.si/{online.video_room_id}"
    coordinator = make_user("coordinator")
    group_feed = staff_feed(coordinator, group_id=lessons["maths"].id)
    theirs = [e for e in parse(group_feed).walk("VEVENT")
              if str(e["UID"]) == f"session-{online.id}@termtable"]  # fmt: skip
    assert str(theirs[0]["LOCATION"]) == "Online"
    assert online.video_room_id not in build_feed(group_feed, tz=PARIS, now=NOW).decode()


def test_regenerating_invalidates_the_old_address(lessons):
    feed = own_feed(lessons["student"])
    old = feed.token
    fresh = regenerate(feed)
    db.session.commit()
    assert feed_by_token(old) is None and feed_by_token(fresh.token) == fresh
    assert own_feed(lessons["student"]) == fresh


def test_room_and_group_feeds_are_for_staff_and_hold_that_room_or_group(lessons, make_user):
    with pytest.raises(ValidationError, match="Only staff"):
        staff_feed(lessons["mentor"], group_id=lessons["maths"].id)
    coordinator = make_user("coordinator")
    room_feed = staff_feed(coordinator, room_id=lessons["maths"].default_room_id)
    assert staff_feed(coordinator, room_id=lessons["maths"].default_room_id) == room_feed
    events = parse(room_feed).walk("VEVENT")
    assert len(events) == 3 and all("Maths 7A" in str(e["SUMMARY"]) for e in events)
    with pytest.raises(ValidationError, match="room or a group"):
        staff_feed(coordinator)


def test_a_deactivated_owner_s_feed_stops_working(lessons):
    feed = own_feed(lessons["student"])
    lessons["student"].is_active_account = False
    db.session.commit()
    assert feed_by_token(feed.token) is None


def test_a_session_cancelled_on_its_own_says_why(lessons):
    occurrence = find_occurrence(lessons["series"].id, FIRST)
    occurrence.status = OccurrenceStatus.CANCELLED
    occurrence.cancel_reason = "Heating broken"
    occurrence.sequence += 1
    db.session.commit()
    text = build_feed(own_feed(lessons["student"]), tz=PARIS, now=NOW).decode()
    assert "Cancelled: Heating broken" in text.replace("\r\n ", "")


def test_commas_semicolons_backslashes_and_newlines_parse_back(lessons):
    group = lessons["maths"]
    group.name = "Maths; 7A, \\set"
    occurrence = find_occurrence(lessons["series"].id, FIRST)
    occurrence.status = OccurrenceStatus.CANCELLED
    occurrence.cancel_reason = "Line one,\nline two; done"
    db.session.commit()
    events = {str(e["UID"]): e for e in parse(own_feed(lessons["mentor"])).walk("VEVENT")}
    event = events[f"session-{occurrence.id}@termtable"]
    assert str(event["SUMMARY"]) == "Mathematics · Maths; 7A, \\set"
    assert "Cancelled: Line one,\nline two; done" in str(event["DESCRIPTION"])


def test_a_late_session_ends_the_next_day_in_the_feed(lessons, make_series):
    # Saturdays 23:30-00:30, one of them the night summer time ends (Sun 25 Oct 2026).
    make_series(lessons["maths"], weekdays=(5,), start=time(23, 30), end=time(0, 30),
                first_date=FIRST)  # fmt: skip
    generate_occurrences(FIRST, FIRST + timedelta(weeks=3), tz=PARIS, now=NOW)
    db.session.commit()
    calendar = parse(own_feed(lessons["student"]))
    late = sorted(
        (e for e in calendar.walk("VEVENT") if e["DTSTART"].dt.astimezone(PARIS).hour == 23),
        key=lambda e: e["DTSTART"].dt,
    )
    assert [e["DTSTART"].dt.astimezone(PARIS).date() for e in late] == [
        date(2026, 10, 17), date(2026, 10, 24), date(2026, 10, 31),
    ]  # fmt: skip
    for event in late:
        start, end = event["DTSTART"].dt, event["DTEND"].dt
        assert end.astimezone(PARIS).date() == start.astimezone(PARIS).date() + timedelta(days=1)
        assert end.astimezone(PARIS).time() == time(0, 30)
        assert end - start == timedelta(hours=1)


# --- Read by three calendar readers ---------------------------------------------------------------


def vobject_read(feed):
    """The feed as vobject reads it: its zone from the feed's VTIMEZONE (through dateutil)."""
    # vobject keeps the first VTIMEZONE it read for a TZID for the whole process; forget it so
    # that this feed is read with its own, as a calendar app reading it would.
    getattr(vobject.icalendar, "__tzidMap").pop("Europe/Paris", None)
    return vobject.readOne(build_feed(feed, tz=PARIS, now=NOW).decode())


def test_vobject_icalendar_and_recurring_ical_events_read_the_same_instants(lessons):
    """Summer sessions (12 and 19 October) as well as winter ones (26 October): vobject kept
    the first value of a comma-separated RDATE only, and read summer an hour off."""
    feed = own_feed(lessons["student"])
    maths = db.session.query(Occurrence).filter_by(group_id=lessons["maths"].id)
    expected = {f"session-{o.id}@termtable": (o.start_utc, o.end_utc) for o in maths}
    assert sorted(s.astimezone(UTC).hour for s, _ in expected.values()) == [8, 8, 9]

    read_by_vobject = {
        event.uid.value: (event.dtstart.value, event.dtend.value)
        for event in vobject_read(feed).vevent_list
    }
    calendar = parse(feed)
    read_by_icalendar = {
        str(e["UID"]): (e["DTSTART"].dt, e["DTEND"].dt) for e in calendar.walk("VEVENT")
    }
    expanded = recurring_ical_events.of(calendar).between(FIRST, FIRST + timedelta(weeks=3))
    read_by_recurring = {str(e["UID"]): (e["DTSTART"].dt, e["DTEND"].dt) for e in expanded}
    for reader in (read_by_vobject, read_by_icalendar, read_by_recurring):
        assert reader == expected
    # Each at 10:00 on the clock of Paris, read from the VTIMEZONE alone.
    for start, end in read_by_vobject.values():
        assert (start.hour, end.hour) == (10, 11)
        assert start.utcoffset() == start.astimezone(PARIS).utcoffset()


def test_the_vtimezone_holds_yearly_rules_in_the_local_time_before_each_change(lessons):
    """As calendar servers write it: a DAYLIGHT and a STANDARD observance with a yearly RRULE
    and no end, DTSTART in the local time before the change (02:00 in spring, 03:00 in
    autumn for Paris), no RDATE list and no 2038 horizon."""
    raw = build_feed(own_feed(lessons["student"]), tz=PARIS, now=NOW).decode()
    [zone] = Calendar.from_ical(raw).walk("VTIMEZONE")
    assert str(zone["TZID"]) == "Europe/Paris"
    observances = {c.name: c for c in zone.subcomponents}
    assert sorted(observances) == ["DAYLIGHT", "STANDARD"]
    spring, autumn = observances["DAYLIGHT"], observances["STANDARD"]
    assert spring["DTSTART"].dt.time() == time(2) and spring["DTSTART"].dt.month == 3
    assert autumn["DTSTART"].dt.time() == time(3) and autumn["DTSTART"].dt.month == 10
    for observance, month in ((spring, 3), (autumn, 10)):
        assert dict(observance["RRULE"]) == {"FREQ": ["YEARLY"], "BYDAY": ["-1SU"],
                                             "BYMONTH": [month]}  # fmt: skip
        assert "RDATE" not in observance
    assert (spring["TZOFFSETFROM"].td, spring["TZOFFSETTO"].td) == (timedelta(hours=1),
                                                                  timedelta(hours=2))  # fmt: skip
    assert (autumn["TZOFFSETFROM"].td, autumn["TZOFFSETTO"].td) == (timedelta(hours=2),
                                                                  timedelta(hours=1))  # fmt: skip
    assert "RDATE" not in raw and "2038" not in raw
    # Read from the VTIMEZONE alone, the rules hold past 2038 (vobject's dateutil, icalendar).
    [event, *_] = vobject_read(own_feed(lessons["student"])).vevent_list
    for rules in (event.dtstart.value.tzinfo, zone.to_tz()):
        for day in (datetime(2040, 3, 25, 1, 59), datetime(2040, 10, 28, 3), datetime(2100, 1, 1)):
            assert day.replace(tzinfo=rules).utcoffset() == timedelta(hours=1), day
        for day in (datetime(2040, 3, 25, 3), datetime(2040, 10, 28, 2, 59), datetime(2100, 7, 1)):
            assert day.replace(tzinfo=rules).utcoffset() == timedelta(hours=2), day


# --- Titles, in the words of their reader -----------------------------------------------------


def summaries(feed) -> list[str]:
    return sorted({str(e["SUMMARY"]) for e in parse(feed).walk("VEVENT")})


def test_event_titles_speak_to_their_reader_and_never_echo_their_name(
    lessons, make_user, make_series
):
    amelia = make_user("mentor", name="Amelia Hart")
    noah = make_user("student", name="Noah Bernard")
    # A tutoring group as an approved request makes it.
    tutoring = CourseGroup(name="Mathematics: Amelia Hart with Noah Bernard",
                           subject=lessons["maths"].subject, mentor=amelia, kind=GroupKind.TUTORING,
                           default_room=None)  # fmt: skip
    db.session.add(tutoring)
    db.session.flush()
    db.session.add(Enrolment(group_id=tutoring.id, student_id=noah.id))
    db.session.commit()
    make_series(tutoring, weekdays=(3,), start=time(17), end=time(18), room=None,
                mode="online", first_date=FIRST)  # fmt: skip
    generate_occurrences(FIRST, FIRST + timedelta(weeks=1), tz=PARIS, now=NOW)
    find_occurrence(lessons["series"].id, FIRST).title = "Exam preparation"
    db.session.commit()

    assert summaries(own_feed(noah)) == ["Mathematics with Amelia Hart"]
    assert summaries(own_feed(amelia)) == ["Mathematics with Noah Bernard"]
    [event] = parse(own_feed(amelia)).walk("VEVENT")
    assert str(event["DESCRIPTION"]).startswith("Student: Noah Bernard")
    coordinator = make_user("coordinator")
    assert summaries(staff_feed(coordinator, group_id=tutoring.id)) == [
        "Mathematics: Amelia Hart with Noah Bernard"
    ]
    # A class: the student reads the subject (or the session's title) and the mentor, the
    # mentor and staff the class.
    assert summaries(own_feed(lessons["student"])) == [
        "Exam preparation with Ada",
        "Mathematics with Ada",
    ]
    assert summaries(own_feed(lessons["mentor"])) == [
        "Exam preparation · Maths 7A",
        "Mathematics · Maths 7A",
    ]
    assert summaries(staff_feed(coordinator, group_id=lessons["maths"].id)) == [
        "Exam preparation · Maths 7A",
        "Mathematics · Maths 7A",
    ]


FEED_NOW = datetime(2026, 10, 1, 8, tzinfo=UTC)


@pytest.fixture
def maths_weeks(make_user, make_group, make_series):
    mentor, student = make_user("mentor", name="Ada"), make_user("student")
    group = make_group("Maths 7A", mentor=mentor, students=[student], subject="Mathematics")
    series = make_series(group, weekdays=(0,), start=time(10), end=time(11), first_date=FIRST)
    generate_occurrences(FIRST, FIRST + timedelta(weeks=2), tz=PARIS, now=FEED_NOW)
    db.session.commit()
    return {"mentor": mentor, "student": student, "series": series}


def feed_text(user) -> str:
    raw = build_feed(own_feed(user), tz=PARIS, base_url="https://tt.test", now=FEED_NOW)
    # Unfold the 75-octet lines so that a phrase cut by folding is found whole.
    return raw.decode().replace("\r\n ", "")


def test_private_notes_never_reach_a_calendar_feed(maths_weeks):
    occurrence = find_occurrence(maths_weeks["series"].id, FIRST)
    for kind in NoteKind:
        db.session.add(
            SessionNote(
                occurrence_id=occurrence.id,
                author_id=maths_weeks["mentor"].id,
                kind=kind,
                body=f"PRIVATE-{kind.value.upper()}",
            )
        )
    occurrence.status = OccurrenceStatus.COMPLETED
    occurrence.completion_notes = "PRIVATE-COMPLETION fractions"
    db.session.commit()
    for user in (maths_weeks["student"], maths_weeks["mentor"]):
        text = feed_text(user)
        assert f"session-{occurrence.id}@termtable" in text  # the session is in it...
        assert "PRIVATE" not in text  # ...its notes are not


def test_sequence_rises_with_every_change_including_a_restore_and_a_regeneration(maths_weeks):
    series = maths_weeks["series"]
    occurrence = find_occurrence(series.id, FIRST)
    uid = f"session-{occurrence.id}@termtable"

    def event():
        calendar = Calendar.from_ical(
            build_feed(own_feed(maths_weeks["student"]), tz=PARIS, now=FEED_NOW)
        )
        [found] = [e for e in calendar.walk("VEVENT") if str(e["UID"]) == uid]
        return int(found["SEQUENCE"]), str(found["STATUS"]), found["DTSTART"].dt

    seen = [event()]
    override, _ = save_override(series, FIRST, OverrideChange(cancelled=True), actor=None, tz=PARIS)
    db.session.commit()
    seen.append(event())
    delete_override(override, tz=PARIS)
    db.session.commit()
    seen.append(event())
    series.start_time, series.end_time = time(14), time(15)
    db.session.commit()
    generate_occurrences(FIRST, FIRST + timedelta(weeks=2), tz=PARIS, force=True, now=FEED_NOW)
    db.session.commit()
    seen.append(event())
    assert [status for _, status, _ in seen] == ["CONFIRMED", "CANCELLED", "CONFIRMED", "CONFIRMED"]
    assert seen[-1][2].astimezone(PARIS).time() == time(14)
    sequences = [sequence for sequence, _, _ in seen]
    assert sequences == sorted(set(sequences)), sequences  # strictly rising, one UID


def test_feeds_are_written_byte_for_byte_as_icalendar_writes_them(lessons, make_user):
    """The feed is written line by line; icalendar, reading it and writing it again, gives the
    same bytes: the same property order, TEXT escaping and folding (74 octets, never inside a
    UTF-8 character nor after a backslash), for every reader."""
    # 78 characters (a group name holds 80): escaped, its summary line folds several times.
    lessons["maths"].name = "Mathématiques 7A; " + "\\" * 30 + "€" * 30
    occurrence = find_occurrence(lessons["series"].id, FIRST)
    occurrence.status = OccurrenceStatus.CANCELLED
    occurrence.cancel_reason = "Chauffage en panne,\r\nsalle fermée; " + "𝄞^\\" * 30
    db.session.commit()
    coordinator = make_user("coordinator")
    for feed in (
        own_feed(lessons["mentor"]),
        own_feed(lessons["student"]),
        staff_feed(coordinator, group_id=lessons["maths"].id),
    ):
        raw = build_feed(feed, tz=PARIS, base_url="https://tt.test", now=NOW)
        assert Calendar.from_ical(raw).to_ical() == raw
        assert max(len(line) for line in raw.split(b"\r\n")) <= 75
        assert "Chauffage en panne,\nsalle fermée; 𝄞^\\" in str(
            Calendar.from_ical(raw).walk("VEVENT")[0]["DESCRIPTION"]
        )
