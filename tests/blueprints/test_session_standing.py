"""A series session's page does not contradict itself: when its series has changed since it
was generated, the page says the session still has the old values, what the series says now,
and offers staff the fix (a forced Generate preview of its group and date); a session that
generation keeps (completed, edited by hand...) says why it stays as it is."""

from __future__ import annotations

from datetime import date, time
from zoneinfo import ZoneInfo

from models import Occurrence, OccurrenceStatus, db
from services.timetable.exceptions import find_occurrence
from services.timetable.generation import generate_occurrences, resolve_window

PARIS = ZoneInfo("Europe/Paris")  # the test app's TIMEZONE
# Far enough ahead that the session has not started whenever the suite runs.
AHEAD = date(2030, 9, 2)  # a Monday
DASH = "\u2013"


def standing_of(page):
    return page.html.find(attrs={"data-standing": True})


def text_of(element) -> str:
    return " ".join(element.text.split())


def generated(series) -> Occurrence:
    first, end = resolve_window(AHEAD, weeks=1)
    generate_occurrences(first, end, tz=PARIS)
    db.session.commit()
    return find_occurrence(series.id, AHEAD)


def test_a_session_in_step_with_its_series_says_so(web, login_as, make_series):
    session = generated(make_series(weekdays=(0,)))
    login_as("coordinator")
    page = web.get(f"/sessions/{session.id}")
    assert "No exception: this date follows the series." in page.text
    assert standing_of(page) is None


def test_an_out_of_date_session_says_so_and_offers_the_forced_preview(
    web, login_as, make_group, make_series, make_room
):
    series = make_series(make_group("Maths 7A", room=make_room("R101")), weekdays=(0,))
    session = generated(series)
    series.start_time, series.end_time, series.room_id = time(14), time(15), make_room("Lab").id
    db.session.commit()
    login_as("coordinator")
    page = web.get(f"/sessions/{session.id}")
    assert "this date follows the series" not in page.text
    notice = standing_of(page)
    assert notice["data-standing"] == "out_of_date"
    assert notice.find(attrs={"data-field": "has"}).text == f"Mon 02 Sep 10:00{DASH}11:00 in R101"
    assert notice.find(attrs={"data-field": "series-says"}).text == (
        f"Mon 02 Sep 14:00{DASH}15:00 in Lab"
    )
    link = notice.find("a")
    assert text_of(link) == "Preview the update with force for Maths 7A on Mon 02 Sep 2030"
    assert link["href"] == (
        f"/timetable/generate?group={series.group_id}&start=2030-09-02&end=2030-09-03"
        "&force=1&preview=1"
    )
    # The link shows that one session would be updated; Generate from there fixes it.
    preview = web.get(link["href"])
    assert " ".join(preview.html.find("details", id="generation-update").summary.text.split()) == (
        "Would update: 1 session"
    )
    preview.forms["generate-form"].submit("generate", status=200)
    db.session.expire_all()
    assert standing_of(web.get(f"/sessions/{session.id}")) is None
    assert "No exception: this date follows the series." in web.get(f"/sessions/{session.id}").text


def test_participants_read_the_notice_without_the_staff_link(
    web, login_as, make_user, make_group, make_series
):
    mentor = make_user("mentor")
    series = make_series(make_group("Maths 7A", mentor=mentor), weekdays=(0,))
    session = generated(series)
    series.weekday_mask = 2  # Tuesdays only: the series no longer holds this Monday
    db.session.commit()
    login_as(mentor)
    notice = standing_of(web.get(f"/sessions/{session.id}"))
    assert "Its series no longer holds this date." in text_of(notice)
    assert notice.find("a") is None
    assert "keeps its own values, shown above, until staff bring it in line" in text_of(notice)


def test_a_kept_session_says_why_it_stays(web, login_as, make_group, make_series):
    series = make_series(make_group("Maths 7A"), weekdays=(0,))
    session = generated(series)
    session.edited_by_hand = True
    series.start_time, series.end_time = time(14), time(15)
    db.session.commit()
    login_as("coordinator")
    notice = standing_of(web.get(f"/sessions/{session.id}"))
    assert notice["data-standing"] == "keep"
    assert text_of(notice).startswith("Kept as it is (edited by hand): this session has Mon 02 Sep")
    assert notice.find("a") is None
    assert session.status == OccurrenceStatus.SCHEDULED
