"""Academic years and their terms: the list, adding, changing (in place) and removing them."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for

from blueprints.access import is_htmx_partial, load_or_404, staff_required
from blueprints.feedback import form_action, page_or_fragment, toast
from blueprints.timetable.forms import TermForm, YearForm
from blueprints.timetable.routes import bp
from models import AcademicYear, Term, db
from services.common.wording import plural
from services.school_year import (
    TermData,
    YearData,
    delete_term,
    delete_year,
    list_years,
    save_term,
    save_year,
    series_following,
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


@bp.get("/years/<id:year_id>")
@staff_required
def year_heading(year_id: int):
    """The year's heading again (an editor's Cancel)."""
    year = load_or_404(AcademicYear, year_id)
    if not is_htmx_partial():
        return redirect(url_for("timetable.years", _anchor=f"year-{year.id}"))
    return render_template("timetable/_year_heading.html", year=year)


@bp.route("/years/<id:year_id>/edit", methods=["GET", "POST"])
@staff_required
def edit_year(year_id: int):
    year = load_or_404(AcademicYear, year_id)
    form = YearForm(obj=year if request.method == "GET" else None, prefix=f"year{year.id}")
    status = 200
    if request.method == "POST":
        status = 422
        if form.validate_on_submit():
            with form_action(form) as outcome:
                save_year(YearData(form.name.data, form.first_day.data, form.last_day.data), year)
            if outcome.ok:
                message = f"{year.name} saved."
                if is_htmx_partial():
                    return (
                        render_template("timetable/_year_heading.html", year=year),
                        200,
                        toast(message),
                    )
                flash(message, "success")
                return redirect(url_for("timetable.years"))
        year = db.session.get(AcademicYear, year_id)
    return page_or_fragment(
        "timetable/year_edit.html", "timetable/_year_edit.html", status, form=form, year=year
    )


@bp.get("/terms/<id:term_id>")
@staff_required
def term_row(term_id: int):
    """The term's row again (an editor's Cancel)."""
    term = load_or_404(Term, term_id)
    if not is_htmx_partial():
        return redirect(url_for("timetable.years", _anchor=f"term-{term.id}"))
    return render_template("timetable/_term_row.html", term=term)


@bp.route("/terms/<id:term_id>/edit", methods=["GET", "POST"])
@staff_required
def edit_term(term_id: int):
    """Change a term; the series run for it follow its days (their sessions at the next
    generation with force, as for any change of a series)."""
    term = load_or_404(Term, term_id)
    form = TermForm(obj=term if request.method == "GET" else None, prefix=f"term{term.id}")
    status = 200
    if request.method == "POST":
        status = 422
        if form.validate_on_submit():
            with form_action(form) as outcome:
                save_term(
                    term.year,
                    TermData(form.name.data, form.first_day.data, form.last_day.data),
                    term,
                )
                moved = series_following(term)
            if outcome.ok:
                message = f"{term.name} saved."
                if moved:
                    message += (
                        f" {plural(moved, 'series', 'series')} run for it now follow its days:"
                        " generate with force so that their sessions do too."
                    )
                if is_htmx_partial():
                    return (
                        render_template("timetable/_term_row.html", term=term),
                        200,
                        toast(message),
                    )
                flash(message, "success")
                return redirect(url_for("timetable.years"))
        term = db.session.get(Term, term_id)
    return page_or_fragment(
        "timetable/term_edit.html", "timetable/_term_edit_row.html", status, form=form, term=term
    )
