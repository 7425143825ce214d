"""Words of messages: real plurals, a name's kind said once, and a move saying what changed."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from services.common.wording import describe_move, named, place_of, plural

PARIS = ZoneInfo("Europe/Paris")


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 12, day, hour, minute, tzinfo=PARIS)


@pytest.mark.parametrize(
    ("count", "expected"), [(0, "0 sessions"), (1, "1 session"), (15, "15 sessions")]
)
def test_counts_use_real_plurals(count, expected):
    assert plural(count, "session") == expected


def test_an_irregular_plural_can_be_given():
    assert plural(2, "class", "classes") == "2 classes"


@pytest.mark.parametrize(
    ("name", "kind", "expected"),
    [
        ("Room 101", "room", "Room 101"),  # not "Room Room 101"
        ("Music room", "room", "Music room"),
        ("Library", "room", "Library (room)"),
        ("Group B", "group", "Group B"),
        ("Maths 7A", "group", "Maths 7A (group)"),
    ],
)
def test_a_name_is_given_its_kind_only_when_it_does_not_say_it(name, kind, expected):
    assert named(name, kind) == expected


MONDAY_9 = (at(14, 9), at(14, 10), "in Room 101")


@pytest.mark.parametrize(
    ("after", "expected"),
    [
        # Only the room: the time is not repeated as if it had changed.
        ((at(14, 9), at(14, 10), "in Library"), "moves to Library (same time)"),
        ((at(14, 9), at(14, 10), "online"), "moves online (same time)"),
        ((at(14, 9), at(14, 10), "with no room"), "no longer has a room (same time)"),
        # Only the time, same day: the time alone.
        ((at(14, 11), at(14, 12), "in Room 101"), "moves to 11:00"),
        ((at(14, 11), at(14, 12, 30), "in Room 101"), "moves to 11:00-12:30"),
        ((at(14, 9), at(14, 11), "in Room 101"), "now ends at 11:00"),
        # Another day.
        ((at(15, 9), at(15, 10), "in Room 101"), "moves to Tue 15 Dec (same time)"),
        ((at(15, 14), at(15, 15), "in Room 101"), "moves to Tue 15 Dec 14:00"),
        ((at(15, 9), at(15, 10), "in Library"), "moves to Tue 15 Dec in Library (same time)"),
        ((at(15, 14), at(15, 15), "in Library"), "moves to Tue 15 Dec 14:00 in Library"),
        ((at(14, 11), at(14, 12), "online"), "moves to 11:00 online"),
        (MONDAY_9, ""),
    ],
)
def test_a_move_says_only_what_changed(after, expected):
    assert describe_move(MONDAY_9, after) == expected


def test_places_read_after_in():
    assert place_of("Library", online=False) == "in Library"
    assert place_of(None, online=True) == "online"
    assert place_of("Room 101", online=True) == "online from Room 101"
    assert place_of(None, online=False) == "with no room"
