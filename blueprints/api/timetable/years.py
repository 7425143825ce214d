"""Academic years and their terms: read by every user (the schedule names them), created,
changed and removed by staff. A series may run for a term (`term` on /series)."""

from __future__ import annotations

from flask import url_for
from marshmallow import fields, validate
from sqlalchemy.orm import selectinload

from blueprints.api.common import (
    PageArgs,
    StrictSchema,
    api_user,
    load_or_404,
    no_content,
    page_schema,
    paged,
    paginate,
    require_staff,
)
from blueprints.api.timetable import blp
from blueprints.api.timetable.schemas import TermSchema, YearSchema, term_json, year_json
from models import AcademicYear, Term, db
from services.school_year import (
    TermData,
    YearData,
    delete_term,
    delete_year,
    save_term,
    save_year,
    series_following,
)


def _days_fields(required: bool) -> dict:
    return {
        "name": fields.String(required=required, validate=validate.Length(min=1, max=80)),
        "first_day": fields.Date(required=required),
        "last_day": fields.Date(required=required, metadata={"description": "Included"}),
    }


DaysInput = StrictSchema.from_dict(_days_fields(required=True), name="DaysInput")
DaysPatch = StrictSchema.from_dict(_days_fields(required=False), name="DaysPatch")


def _changed(values: dict, row) -> tuple:
    return (
        values.get("name", row.name),
        values.get("first_day", row.first_day),
        values.get("last_day", row.last_day),
    )


@blp.get("/years")
@blp.arguments(PageArgs, location="query", as_kwargs=False)
@blp.response(200, page_schema(YearSchema))
def list_years(args):
    """Academic years with their terms, by first day."""
    api_user()
    page = paginate(
        db.select(AcademicYear).options(selectinload(AcademicYear.terms)),
        [AcademicYear.first_day, AcademicYear.id],
        args,
    )
    return paged(page, [year_json(y) for y in page["items"]])


@blp.post("/years")
@blp.arguments(DaysInput)
@blp.response(201, YearSchema)
def create_year(values):
    """Add an academic year (staff): at most 400 days, apart from the other years."""
    require_staff()
    year = save_year(YearData(values["name"], values["first_day"], values["last_day"]))
    db.session.commit()
    return year_json(year), 201, {"Location": url_for("api_timetable.get_year", year_id=year.id)}


@blp.get("/years/<id:year_id>")
@blp.response(200, YearSchema)
def get_year(year_id: int):
    """One academic year and its terms."""
    api_user()
    return year_json(load_or_404(AcademicYear, year_id, "year"))


@blp.patch("/years/<id:year_id>")
@blp.arguments(DaysPatch)
@blp.response(200, YearSchema)
def patch_year(values, year_id: int):
    """Change a year (staff): only the fields sent; its terms must still fit in it."""
    require_staff()
    year = load_or_404(AcademicYear, year_id, "year")
    save_year(YearData(*_changed(values, year)), year)
    db.session.commit()
    return year_json(year)


@blp.delete("/years/<id:year_id>")
@blp.response(204)
def delete_year_route(year_id: int):
    """Remove a year and its terms (staff). Closures stay; series run for a term keep their
    last dates."""
    require_staff()
    delete_year(load_or_404(AcademicYear, year_id, "year"))
    db.session.commit()
    return no_content()


@blp.post("/years/<id:year_id>/terms")
@blp.arguments(DaysInput)
@blp.response(201, TermSchema)
def create_term(values, year_id: int):
    """Add a term to a year (staff): within it, apart from its other terms."""
    require_staff()
    year = load_or_404(AcademicYear, year_id, "year")
    term = save_term(year, TermData(values["name"], values["first_day"], values["last_day"]))
    db.session.commit()
    return term_json(term), 201, {"Location": url_for("api_timetable.get_term", term_id=term.id)}


@blp.get("/terms/<id:term_id>")
@blp.response(200, TermSchema)
def get_term(term_id: int):
    """One term."""
    api_user()
    return term_json(load_or_404(Term, term_id, "term"))


@blp.patch("/terms/<id:term_id>")
@blp.arguments(DaysPatch)
@blp.response(200, TermSchema)
def patch_term(values, term_id: int):
    """Change a term (staff): only the fields sent. The series run for it take its new days
    (their sessions follow at the next generation with `force`)."""
    require_staff()
    term = load_or_404(Term, term_id, "term")
    save_term(term.year, TermData(*_changed(values, term)), term)
    series_following(term)
    db.session.commit()
    return term_json(term)


@blp.delete("/terms/<id:term_id>")
@blp.response(204)
def delete_term_route(term_id: int):
    """Remove a term (staff). Series run for it keep their last dates."""
    require_staff()
    delete_term(load_or_404(Term, term_id, "term"))
    db.session.commit()
    return no_content()
