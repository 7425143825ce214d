"""Words shared by messages: counts with real plurals, names with their kind, what moved."""

from __future__ import annotations

from datetime import datetime


def plural(count: int, singular: str, plural_form: str | None = None) -> str:
    """`plural(1, "session")` is "1 session", `plural(15, "session")` "15 sessions"."""
    word = singular if count == 1 else (plural_form or singular + "s")
    return f"{count} {word}"


def duration_words(minutes: int) -> str:
    """A span as a person says it: `1440` is "1 day", `120` "2 hours", `90` "90 minutes"."""
    if minutes and minutes % (24 * 60) == 0:
        return plural(minutes // (24 * 60), "day")
    if minutes and minutes % 60 == 0:
        return plural(minutes // 60, "hour")
    return plural(minutes, "minute")


def named(name: str, kind: str) -> str:
    """A name with its kind, said once: "Room 101" stays "Room 101" (the name says it already,
    where "Room Room 101" would repeat it) and "Library" becomes "Library (room)"."""
    return name if kind.lower() in name.lower() else f"{name} ({kind})"


def place_of(room: str | None, *, online: bool) -> str:
    """Where a session takes place, after "in": "in Library", "online", "online from Room 101"
    (an online session streamed from a room), "with no room"."""
    if online:
        return f"online from {room}" if room else "online"
    return f"in {room}" if room else "with no room"


def _place_alone(place: str) -> str:
    """The move to `place` (a `place_of` text) said on its own: "moves to Library"."""
    if place.startswith("in "):
        return "moves to " + place.removeprefix("in ")
    if place == "with no room":
        return "no longer has a room"
    return "moves " + place


def describe_move(
    before: tuple[datetime, datetime, str], after: tuple[datetime, datetime, str]
) -> str:
    """What changed between two placements of a session, each (local start, local end, place
    as `place_of` writes it), as the verb phrase after the session's name and old time.

    Only what changed is named: "moves to Library (same time)" for a room change,
    "moves to 10:30" for a new time on the same day, "moves to Tue 15 Dec (same time)" for
    another day at the same time, "now ends at 11:30", "moves to Tue 15 Dec 10:30 in Lab"
    when all changed. Empty when nothing did.
    """
    (old_start, old_end, old_place), (new_start, new_end, new_place) = before, after
    place_changed = new_place != old_place
    same_day = new_start.date() == old_start.date()
    same_clock = (new_start.time(), new_end.time()) == (old_start.time(), old_end.time())
    if same_day and same_clock:
        return f"{_place_alone(new_place)} (same time)" if place_changed else ""
    if same_day and new_start == old_start:
        ends = f"now ends at {new_end:%H:%M}"
        return f"{ends} and {_place_alone(new_place)}" if place_changed else ends
    if same_clock:
        when, same_time = f"{new_start:%a %d %b}", True
    else:
        when = f"{new_start:%H:%M}" if same_day else f"{new_start:%a %d %b %H:%M}"
        if new_end - new_start != old_end - old_start:
            when += f"-{new_end:%H:%M}"
        same_time = False
    phrase = f"moves to {when}"
    if place_changed:
        phrase += f" {new_place}"
    return phrase + (" (same time)" if same_time else "")
