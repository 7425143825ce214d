"""Video room ids for online sessions: "room-" and 8 characters from a-z0-9, unique.

Drawn with `secrets` (36^8, about 2.8e12 ids, so a collision is rare but possible): new ids
are checked against the database before use, and the unique constraint is the backstop.
"""

from __future__ import annotations

import re
import secrets
import string

from flask import current_app
from sqlalchemy import String, select

from models import Occurrence, db
from models.types import one_of

ALPHABET = string.ascii_lowercase + string.digits
ROOM_ID = re.compile(r"^room-[a-z0-9]{8}$")
DEFAULT_VIDEO_BASE_URL = "https://meet.jit.si/"


def draw_room_id() -> str:
    return "room-" + "".join(secrets.choice(ALPHABET) for _ in range(8))


def new_room_ids(count: int, *, draw=draw_room_id) -> list[str]:
    """`count` fresh ids, none already used by a session (one query per round of draws)."""
    chosen: set[str] = set()
    while len(chosen) < count:
        candidates = {draw() for _ in range(count - len(chosen))} - chosen
        # A generation draws one per new online session: bound as one list (`one_of`).
        taken = set(
            db.session.scalars(
                select(Occurrence.video_room_id).where(
                    one_of(Occurrence.video_room_id, candidates, of=String)
                )
            )
        )
        chosen |= candidates - taken
    return sorted(chosen)


def new_room_id(*, draw=draw_room_id) -> str:
    return new_room_ids(1, draw=draw)[0]


def join_url(room_id: str) -> str:
    """The video call of a room: VIDEO_BASE_URL (a setting, ending in "/" or "=" as the
    service wants) followed by the room id."""
    return (current_app.config.get("VIDEO_BASE_URL") or DEFAULT_VIDEO_BASE_URL) + room_id
