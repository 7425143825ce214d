"""How a session is described where it clashes with another: in the organisation's local time."""

from __future__ import annotations

from services.timetable.conflicts import describe_occurrence, label_occurrence
from tests.conftest import AKL


def test_conflict_descriptions_are_local(auckland_term):
    for occurrence in auckland_term["sessions"]:
        day = occurrence.original_date
        assert describe_occurrence(occurrence, AKL) | {"id": 0} == {
            "id": 0, "group": "Maths 7A", "date": day.isoformat(), "start": "08:00",
            "end": "09:00", "end_date": day.isoformat(), "room": "R1",
        }  # fmt: skip
        assert label_occurrence(occurrence, AKL) == f"Maths 7A on {day:%a %d %b %Y} 08:00-09:00"
