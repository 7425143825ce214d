"""Service test helpers: the Auckland term (tests/conftest.py) with a one-time session, and
what its people were told, for the texts and local-date windows read in the organisation's
zone."""

from __future__ import annotations

from datetime import time, timedelta

import pytest
from sqlalchemy import select

from models import Notification, db
from services.timetable.sessions import create_one_time_session
from tests.conftest import AKL


def titles(user) -> list[str]:
    return list(
        db.session.scalars(
            select(Notification.title)
            .where(Notification.user_id == user.id)
            .order_by(Notification.id)
        )
    )


def bodies(user) -> list[str]:
    return list(
        db.session.scalars(
            select(Notification.body)
            .where(Notification.user_id == user.id)
            .order_by(Notification.id)
        )
    )


@pytest.fixture
def auckland_term(auckland_term):
    """The Auckland term of tests/conftest.py, with a one-time session on the Tuesday after."""
    tuesday = auckland_term["after"] + timedelta(days=1)
    one_time = create_one_time_session(
        group_id=auckland_term["group"].id, day=tuesday, start=time(8), end=time(9),
        room_id=auckland_term["room"].id, actor=None, tz=AKL,
    ).occurrence  # fmt: skip
    db.session.commit()
    return auckland_term | {"tuesday": tuesday, "one_time": one_time}
