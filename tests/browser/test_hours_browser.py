"""The hours report in Chromium: a long mentor name stays on one line, at a laptop's width
and on a phone (where the table scrolls in its own box instead)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from playwright.sync_api import expect

from models import Occurrence, db

LONG_NAME = "Marie-Amélie de la Fontaine-Lefebvre Saint-Exupéry"


@pytest.mark.parametrize("width", [1366, 390])
def test_mentor_names_stay_on_one_line(page, log_in, make_user, make_group, width):
    mentor = make_user("mentor", name=LONG_NAME)
    group = make_group("Math 101", mentor=mentor)
    db.session.add(
        Occurrence(
            group_id=group.id,
            start_utc=datetime(2030, 9, 2, 8, tzinfo=UTC),
            end_utc=datetime(2030, 9, 2, 9, 31, tzinfo=UTC),
            room_id=group.default_room_id,
        )
    )
    db.session.commit()
    log_in("coordinator")
    page.wait_for_load_state("load")  # the landing page's scripts have run at the wide size
    page.set_viewport_size({"width": width, "height": 900})
    page.goto("/tracking/hours?month=2030-09&whole=1")
    name = page.locator(f"#hours-mentor-{mentor.id} th")
    expect(name).to_have_text(LONG_NAME)
    expect(page.locator(f"#hours-mentor-{mentor.id} td").nth(1)).to_have_text("1:31")
    # The distinct tops of the text's line boxes: one line, one top.
    tops = name.evaluate(
        """th => { const range = document.createRange(); range.selectNodeContents(th);
          return new Set([...range.getClientRects()].map(r => Math.round(r.top))).size; }"""
    )
    assert tops == 1, f"the name wraps onto {tops} lines at {width}px"
