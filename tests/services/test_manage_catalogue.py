"""Rooms, subjects and the paginator as services (no HTTP)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from models import Room, Subject, db
from services.catalogue.rooms import RoomData, create_room, list_rooms, set_room_active, update_room
from services.catalogue.subjects import SubjectData, create_subject, list_subjects, update_subject
from services.common.errors import ValidationError
from services.common.pagination import page_number, paginate


def errors_of(call, *args, **kwargs) -> dict[str, str]:
    with pytest.raises(ValidationError) as caught:
        call(*args, **kwargs)
    db.session.rollback()
    return caught.value.errors


def test_paginator_counts_and_clamps(app):
    for n in range(7):
        db.session.add(Room(name=f"R{n}"))
    db.session.commit()
    query = select(Room).order_by(Room.name)
    page = paginate(query, 2, per_page=3)
    assert [r.name for r in page.items] == ["R3", "R4", "R5"]
    assert (page.total, page.pages, page.has_previous, page.has_next) == (7, 3, True, True)
    assert (page.first_index, page.last_index) == (4, 6)
    last = paginate(query, 50, per_page=3)
    assert last.number == 3 and [r.name for r in last.items] == ["R6"] and not last.has_next
    empty = paginate(select(Room).where(Room.name == "none"), 4)
    assert (empty.number, empty.pages, empty.total, empty.first_index) == (1, 1, 0, 0)


@pytest.mark.parametrize(
    ("raw", "number"),
    [(None, 1), ("", 1), ("0", 1), ("-2", 1), ("abc", 1), ("3.5", 1), ("4", 4), ("9" * 30, 100000)],
)
def test_page_numbers_from_query_strings(raw, number):
    assert page_number(raw) == number


def test_create_room_normalises_the_name(app):
    room = create_room(RoomData(name="  Main   Hall ", capacity=120))
    db.session.commit()
    assert (room.name, room.capacity, room.active) == ("Main Hall", 120, True)


def test_room_validation_messages(app):
    create_room(RoomData(name="Lab"))
    db.session.commit()
    assert errors_of(create_room, RoomData(name="   ")) == {"name": "Enter the room's name."}
    assert errors_of(create_room, RoomData(name="LAB")) == {
        "name": "A room named LAB already exists."
    }
    assert errors_of(create_room, RoomData(name="y" * 81)) == {
        "name": "A room's name has at most 80 characters."
    }
    message = "The capacity is a number of seats from 1 to 10000, or empty if unknown."
    for capacity in (0, -1, 10_001, 2**63):
        assert errors_of(create_room, RoomData(name="Hall", capacity=capacity)) == {
            "capacity": message
        }
    # Both problems at once are both reported.
    assert set(errors_of(create_room, RoomData(name="", capacity=0))) == {"name", "capacity"}


def test_update_room_may_keep_its_own_name(app):
    room = create_room(RoomData(name="Lab"))
    other = create_room(RoomData(name="Hall"))
    db.session.commit()
    update_room(room, RoomData(name="lab", capacity=None, active=False))
    db.session.commit()
    assert (room.name, room.active) == ("lab", False)
    assert errors_of(update_room, other, RoomData(name="LAB")) == {
        "name": "A room named LAB already exists."
    }


def test_deactivated_rooms_are_kept_and_listed_last(app):
    lab = create_room(RoomData(name="A lab"))
    create_room(RoomData(name="B hall"))
    set_room_active(lab, False)
    db.session.commit()
    assert [r.name for r in list_rooms().items] == ["B hall", "A lab"]
    assert [r.name for r in list_rooms(status="inactive").items] == ["A lab"]
    assert [r.name for r in list_rooms("HALL", status="active").items] == ["B hall"]
    assert db.session.get(Room, lab.id) is not None


def test_subjects(app):
    maths = create_subject(SubjectData(name="Maths"))
    create_subject(SubjectData(name="Music", active=False))
    db.session.commit()
    assert errors_of(create_subject, SubjectData(name="maths")) == {
        "name": "A subject named maths already exists."
    }
    assert errors_of(create_subject, SubjectData(name="")) == {"name": "Enter the subject's name."}
    update_subject(maths, SubjectData(name="Mathematics", active=True))
    db.session.commit()
    assert [s.name for s in list_subjects("m").items] == ["Mathematics", "Music"]
    assert [s.name for s in list_subjects(status="inactive").items] == ["Music"]
    assert db.session.scalar(select(Subject).where(Subject.name == "Mathematics")) is not None
