"""Academic years and their terms: the list, adding and removing them."""

from __future__ import annotations

from flask import flash, redirect, render_template, url_for

from blueprints.access import load_or_404, staff_required
from blueprints.feedback import form_action
from blueprints.timetable.forms import TermForm, YearForm
from blueprints.timetable.routes import bp
from models import AcademicYear, Term
from services.school_year import (
    TermData,
    YearData,
    delete_term,
    delete_year,
    list_years,
    save_term,
    save_year,
)


def _page(year_form: YearForm, term_forms: dict[int, TermForm] | None = None, status=200):
    years = list_years()
    forms = {y.id: TermForm(prefix=f"term-{y.id}") for y in years}
    forms.update(term_forms or {})
    return render_template(
        "timetable/years.html", year_form=year_form, years=years, term_forms=forms
    ), status


@bp.get("/years")
@staff_required
def years():
    return _page(YearForm(prefix="year"))


@bp.post("/years")
@staff_required
def create_year():
    form = YearForm(prefix="year")
    if form.validate_on_submit():
        with form_action(form) as outcome:
            year = save_year(YearData(form.name.data, form.first_day.data, form.last_day.data))
        if outcome.ok:
            flash(f"{year.name} added.", "success")
            return redirect(url_for("timetable.years"))
    return _page(form, status=422)


@bp.post("/years/<id:year_id>/terms")
@staff_required
def create_term(year_id: int):
    year = load_or_404(AcademicYear, year_id)
    form = TermForm(prefix=f"term-{year.id}")
    if form.validate_on_submit():
        with form_action(form) as outcome:
            term = save_term(
                year, TermData(form.name.data, form.first_day.data, form.last_day.data)
            )
        if outcome.ok:
            flash(f"{term.name} added to {year.name}.", "success")
            return redirect(url_for("timetable.years"))
    return _page(YearForm(prefix="year"), {year_id: form}, status=422)


@bp.post("/years/<id:year_id>/delete")
@staff_required
def delete_year_route(year_id: int):
    year = load_or_404(AcademicYear, year_id)
    name = year.name
    with form_action():
        delete_year(year)
    flash(f"{name} removed, with its terms.", "success")
    return redirect(url_for("timetable.years"))


@bp.post("/terms/<id:term_id>/delete")
@staff_required
def delete_term_route(term_id: int):
    term = load_or_404(Term, term_id)
    name = term.name
    with form_action():
        delete_term(term)
    flash(f"{name} removed.", "success")
    return redirect(url_for("timetable.years"))
