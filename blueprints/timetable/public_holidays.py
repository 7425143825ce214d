"""Public holidays as closures: staff choose a country, region and range, review the holidays
the `holidays` library gives, untick any, and add the rest (their sessions are cancelled)."""

from __future__ import annotations

from datetime import date, timedelta

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from wtforms import SelectChoice

from blueprints.access import is_htmx_partial, org_tz, staff_required
from blueprints.feedback import attach_errors, form_action
from blueprints.timetable.forms import PublicHolidaysForm
from blueprints.timetable.routes import bp
from services.common.errors import ValidationError
from services.common.timeutil import today_in
from services.common.wording import plural
from services.public_holidays import (
    add_public_holidays,
    countries,
    country_of_zone,
    public_holidays,
    regions,
)
from services.school_year import list_years


def _form(formdata) -> PublicHolidaysForm:
    """The chooser, from the query (or the posted form); unasked, the organisation's country
    and region and the coming school year (or the next twelve months)."""
    form = PublicHolidaysForm(formdata=formdata if "country" in formdata else None)
    if "country" not in formdata:
        today = today_in(org_tz())
        coming = [y for y in list_years() if y.last_day >= today]
        year = min(coming, key=lambda y: y.first_day, default=None)
        config = current_app.config
        form.country.data = config["COUNTRY"] or country_of_zone(config["TIMEZONE"]) or ""
        form.region.data = config["REGION"] or ""
        form.first_day.data = year.first_day if year else today
        form.last_day.data = year.last_day if year else today + timedelta(days=364)
    form.country.data = (form.country.data or "").upper()
    form.country.choices = [SelectChoice("", "Choose a country")] + [
        SelectChoice(code, name) for code, name in countries().items()
    ]
    form.region.choices = [SelectChoice("", "The whole country")] + [
        SelectChoice(r.code, r.name) for r in regions(form.country.data)
    ]
    return form


def _page(form: PublicHolidaysForm, status: int = 200, days_error: str = "", ticked=None):
    found = []
    if form.country.data and not any(f.errors for f in form):
        try:
            found = public_holidays(
                form.country.data, form.region.data, form.first_day.data, form.last_day.data
            )
        except ValidationError as err:
            attach_errors(form, err)
    template = (
        "timetable/_public_holidays.html" if is_htmx_partial() else "timetable/public_holidays.html"
    )
    return render_template(
        template, form=form, holidays=found, ticked=ticked, days_error=days_error
    ), status


@bp.get("/closures/public-holidays")
@staff_required
def public_holidays_page():
    form = _form(request.args)
    form.validate()
    return _page(form)


@bp.post("/closures/public-holidays")
@staff_required
def add_public_holidays_route():
    """Add the ticked holidays, all at once or (bad input) none."""
    form = _form(request.form)
    chosen = []
    for raw in request.form.getlist("day"):
        try:
            chosen.append(date.fromisoformat(raw))
        except ValueError:
            continue  # not a day: as if unticked (the list offers days only)
    with form_action() as outcome:
        if not form.validate():
            raise ValidationError({k: v[0] for k, v in form.errors.items()})
        added = add_public_holidays(
            form.country.data, form.region.data, form.first_day.data, form.last_day.data,
            chosen, actor=current_user, tz=org_tz(),
        )  # fmt: skip
    if outcome.failed:
        days_error = outcome.messages.pop("days", "")
        for name, message in outcome.messages.items():
            if name in form and message not in form[name].errors:
                form[name].errors = [*form[name].errors, message]
        return _page(form, outcome.status, days_error, ticked=set(chosen))
    cancelled = sum(len(o.cancelled) for o in added)
    message = f"{plural(len(added), 'public holiday')} added as closures"
    message += f": {plural(cancelled, 'session')} cancelled." if cancelled else "."
    flash(message, "success")
    return redirect(url_for("timetable.closures"))
