"""The School years page: staff add a year and its terms, see them in order, and remove them;
bad input is named next to its field and changes nothing."""

from __future__ import annotations

from datetime import date, time

from sqlalchemy import func, select

from models import AcademicYear, Term, db
from services.catalogue.groups import SeriesData, add_series
from services.school_year import TermData, save_term
from tests.conftest import csrf_token_of


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def add_year(web, name="2026-2027", first="2026-09-01", last="2027-07-09", status=None):
    form = web.get("/timetable/years").forms["year-form"]
    form["year-name"], form["year-first_day"], form["year-last_day"] = name, first, last
    return form.submit(status=status) if status else form.submit().follow()


def test_staff_add_a_year_and_its_terms_then_remove_them(web, login_as):
    login_as("coordinator")
    page = add_year(web)
    assert "2026-2027 added." in page.text
    year_id = db.session.scalar(select(AcademicYear.id))
    for name, first, last in (
        ("Spring", "2027-01-04", "2027-04-02"),
        ("Autumn", "2026-09-01", "2026-12-18"),
    ):
        form = web.get("/timetable/years").forms[f"term-form-{year_id}"]
        form[f"term-{year_id}-name"] = name
        form[f"term-{year_id}-first_day"] = first
        form[f"term-{year_id}-last_day"] = last
        page = form.submit().follow()
        assert f"{name} added to 2026-2027." in page.text
    rows = page.html.select(f"#year-{year_id} tbody tr")
    assert [r.find("td").text for r in rows] == ["Autumn", "Spring"]

    (remove_autumn,) = [
        f for f in page.forms.values() if f.action.endswith(f"/terms/{rows[0]['id'][5:]}/delete")
    ]
    page = remove_autumn.submit().follow()
    assert "Autumn removed." in page.text and count(Term) == 1
    (remove_year,) = [
        f for f in page.forms.values() if f.action.endswith(f"/years/{year_id}/delete")
    ]
    page = remove_year.submit().follow()
    assert "2026-2027 removed, with its terms." in page.text
    assert (count(AcademicYear), count(Term)) == (0, 0)


def test_bad_years_and_terms_are_named_next_to_their_fields(web, login_as):
    login_as("coordinator")
    answer = add_year(web, name="", last="2026-08-01", status=422)
    assert "Enter the year's name." in answer.html.find(id="year-name-error").text
    add_year(web)
    answer = add_year(web, name="Next", first="2027-07-01", last="2028-07-01", status=422)
    assert "These days overlap 2026-2027" in answer.html.find(id="year-first_day-error").text
    year_id = db.session.scalar(select(AcademicYear.id))
    form = web.get("/timetable/years").forms[f"term-form-{year_id}"]
    form[f"term-{year_id}-name"] = "Summer"
    form[f"term-{year_id}-first_day"] = "2027-06-01"
    form[f"term-{year_id}-last_day"] = "2027-08-31"
    answer = form.submit(status=422)
    error = answer.html.find(id=f"term-{year_id}-first_day-error")
    assert "lies within it" in error.text
    assert (count(AcademicYear), count(Term)) == (1, 0)


def test_the_schedule_says_which_term_and_week_it_shows(web, login_as, clock):
    login_as("coordinator")
    add_year(web, first="2027-01-04", last="2027-07-09")
    year_id = db.session.scalar(select(AcademicYear.id))
    form = web.get("/timetable/years").forms[f"term-form-{year_id}"]
    form[f"term-{year_id}-name"] = "Spring term"
    form[f"term-{year_id}-first_day"] = "2027-01-06"  # a Wednesday: its week is week 1
    form[f"term-{year_id}-last_day"] = "2027-04-02"
    form.submit().follow()
    # The pinned clock's week (Wed 10 Mar 2027) is the term's tenth.
    week = web.get("/schedule/?date=2027-03-10")
    assert week.html.select_one(".schedule-term").text == "Spring term, week 10"
    assert web.get("/schedule/day?date=2027-01-08").html.select_one(".schedule-term").text == (
        "Spring term, week 1"
    )
    assert web.get("/schedule/?date=2027-04-14").html.select_one(".schedule-term") is None
    # The month view names each week's term week, on its first day.
    month = web.get("/schedule/month?date=2027-03-10")
    labels = [" ".join(s.text.split()) for s in month.html.select(".month-term")]
    assert labels == [f"Spring term, week {n}" for n in range(9, 14)]
    after = web.get("/schedule/month?date=2027-04-10")  # the term ends on Fri 2 Apr
    assert [s.text for s in after.html.select(".month-term")] == ["Spring term, week 13"]
    first_row = month.html.select("table.schedule-month tbody tr")[0]
    assert first_row.select_one(".month-term") is first_row.find("td").select_one(".month-term")


def test_years_and_terms_are_changed_in_place_and_series_for_a_term_follow(
    web, login_as, make_group
):
    login_as("coordinator")
    add_year(web, first="2027-01-04", last="2027-07-09")
    year = db.session.scalar(select(AcademicYear))
    term = save_term(year, TermData("Spring", date(2027, 1, 4), date(2027, 3, 26)))
    group = make_group("Maths")
    series = add_series(
        group,
        SeriesData(
            weekdays=[0],
            start_time=time(9),
            end_time=time(10),
            room_id=group.default_room_id,
            term_id=term.id,
        ),
    )
    db.session.commit()
    page = web.get("/timetable/years")
    htmx = {"HX-Request": "true", "X-CSRFToken": csrf_token_of(page)}

    editor = web.get(f"/timetable/terms/{term.id}/edit", headers={"HX-Request": "true"})
    assert editor.html.find(id=f"term{term.id}-first_day")["value"] == "2027-01-04"
    saved = web.post(
        f"/timetable/terms/{term.id}/edit",
        {
            f"term{term.id}-name": "Spring term",
            f"term{term.id}-first_day": "2027-01-05",
            f"term{term.id}-last_day": "2027-04-02",
        },
        headers=htmx,
    )
    assert "Spring term" in saved.html.find(id=f"term-{term.id}").text
    assert "1 series run for it now follow its days" in saved.headers["HX-Trigger"]
    db.session.expire_all()
    assert (series.first_date, series.last_date) == (date(2027, 1, 5), date(2027, 4, 2))

    # Without JavaScript, the year: bad input is named and changes nothing.
    form = web.get(f"/timetable/years/{year.id}/edit").forms["year-edit-form"]
    form[f"year{year.id}-first_day"] = "2027-02-01"
    refused = form.submit(status=422)
    assert "Spring term (Tue 05 Jan 2027 to Fri 02 Apr 2027) would fall outside the year" in (
        refused.html.find(id=f"year{year.id}-first_day-error").text
    )
    form = refused.forms["year-edit-form"]
    form[f"year{year.id}-first_day"] = "2027-01-01"
    form[f"year{year.id}-name"] = "2027"
    assert "2027 saved." in form.submit().follow().text
    db.session.expire_all()
    assert (year.name, year.first_day) == ("2027", date(2027, 1, 1))
