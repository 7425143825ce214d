"""Cover for absent mentors.

Staff: the daily cover board (`/cover/?date=`: every session a confirmed absence touches that
day, open ones first in mind, each with its substitutes and an in-place Assign, Give back
or Cancel), the absences (`/cover/absences`: record one, confirm or decline a mentor's
report, remove one, each absence's sessions; `/cover/absences.csv`). Mentors: their own
absences (`/cover/mine`: report one, pending until staff confirm it; withdraw it while
pending). Every assignment swaps its row in place under htmx, and is a plain form posting
back to the page it came from without JavaScript.
"""

from __future__ import annotations

from datetime import date, timedelta

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from wtforms import SelectChoice

from blueprints.access import is_htmx_partial, load_or_404, org_tz, staff_required
from blueprints.cover.forms import AbsenceForm, CoverForm
from blueprints.feedback import form_action, toast
from models import AbsenceStatus, MentorAbsence, Occurrence, Role
from services.catalogue.groups import active_mentors
from services.common.errors import DomainError
from services.common.timeutil import local_day_bounds, today_in
from services.cover import (
    AbsenceData,
    CoverNeed,
    absence_needs,
    absences,
    absences_csv,
    assign_cover,
    cover_board,
    decide_absence,
    delete_absence,
    describe_absence,
    need_of,
    open_count,
    record_absence,
)
from services.timetable.sessions import cancel_session

bp = Blueprint("cover", __name__, url_prefix="/cover")

# The board offers each open session its best substitutes (a school has hundreds of mentors);
# an absence's own page offers every free one.
BOARD_SUBSTITUTES = 12


@bp.app_template_global("describe_absence")
def _describe(absence: MentorAbsence) -> str:
    return describe_absence(absence, org_tz())


def _day(raw: str | None) -> date:
    try:
        return date.fromisoformat(raw) if raw else today_in(org_tz())
    except ValueError:
        return today_in(org_tz())


# --- The cover board ------------------------------------------------------------------------


@bp.get("/")
@staff_required
def board():
    day = _day(request.args.get("date"))
    needs = cover_board(day, org_tz(), best=BOARD_SUBSTITUTES)
    start, end = local_day_bounds(day, day + timedelta(days=1), org_tz())
    return render_template(
        "cover/board.html",
        day=day,
        prev_day=day - timedelta(days=1),
        next_day=day + timedelta(days=1),
        today=today_in(org_tz()),
        needs=needs,
        open_count=open_count(needs),
        away=absences(start=start, end=end, statuses=(AbsenceStatus.CONFIRMED,)),
        pending=absences(statuses=(AbsenceStatus.PENDING,)),
        back=url_for("cover.board", date=day.isoformat()),
        board_limit=BOARD_SUBSTITUTES,
    )


def _row(
    need: CoverNeed, back: str, form: CoverForm | None = None, status: int = 200, headers=None
):
    """The session's row again (the board's shows its best substitutes only)."""
    limit = BOARD_SUBSTITUTES if request.form.get("limit") else None
    page = render_template("cover/_need_row.html", need=need, back=back, form=form, limit=limit)
    return page, status, headers or {}


def _need_of(session: Occurrence) -> CoverNeed:
    """The session's row: the board's (a `limit` was posted) keeps its best substitutes."""
    best = BOARD_SUBSTITUTES if request.form.get("limit") else None
    return need_of(session, org_tz(), best=best)


def _back() -> str:
    """Where a plain form returns: the page it was posted from (ours only)."""
    target = request.form.get("back", "")
    return target if target.startswith("/cover/") else url_for("cover.board")


@bp.post("/sessions/<id:occurrence_id>/assign")
@staff_required
def assign(occurrence_id: int):
    """Assign a substitute (or give the session back: an empty choice)."""
    session = load_or_404(Occurrence, occurrence_id)
    form = CoverForm()
    form.mentor.choices = []
    back = _back()
    if form.validate_on_submit():
        with form_action(form, catch=DomainError) as outcome:
            assign_cover(session, form.mentor.data or None, actor=current_user, tz=org_tz())
        if outcome.ok:
            who = session.mentor.name
            message = f"{session.group.name}: taught by {who}" + (
                " (cover)." if session.cover_mentor_id else "."
            )
            if is_htmx_partial():
                return _row(_need_of(session), back, headers=toast(message))
            flash(message, "success")
            return redirect(back)
        status = outcome.status
    else:
        status = 422
    session = load_or_404(Occurrence, occurrence_id)
    if is_htmx_partial():
        return _row(_need_of(session), back, form, status)
    flash(" ".join(e for errors in form.errors.values() for e in errors), "error")
    return redirect(back)


@bp.post("/sessions/<id:occurrence_id>/cancel")
@staff_required
def cancel(occurrence_id: int):
    """Cancel a session nobody can cover (its people are told, with the reason)."""
    session = load_or_404(Occurrence, occurrence_id)
    back = _back()
    reason = (request.form.get("reason") or "").strip() or f"{session.group.mentor.name} is away"
    with form_action(catch=DomainError) as outcome:
        cancel_session(session, reason=reason, actor=current_user, tz=org_tz())
    message = outcome.message or f"{session.group.name} cancelled: {reason}."
    if is_htmx_partial():
        session = load_or_404(Occurrence, occurrence_id)
        return _row(_need_of(session), back, status=outcome.status, headers=toast(message))
    flash(message, "error" if outcome.failed else "success")
    return redirect(back)


# --- Absences -------------------------------------------------------------------------------


def _absence_form(staff: bool) -> AbsenceForm:
    form = AbsenceForm()
    if staff:
        form.mentor.choices = [SelectChoice(0, "Choose a mentor")] + [
            SelectChoice(m.id, m.name) for m in active_mentors()
        ]
    return form


def _absence_data(form: AbsenceForm, mentor_id: int | None) -> AbsenceData:
    return AbsenceData(
        mentor_id, form.first_day.data, form.last_day.data, form.start_time.data,
        form.end_time.data, form.reason.data or "",
    )  # fmt: skip


@bp.get("/absences")
@staff_required
def absences_page():
    return _absences_page(_absence_form(True))


def _absences_page(form: AbsenceForm, status: int = 200):
    today = today_in(org_tz())
    start, _ = local_day_bounds(today, today + timedelta(days=1), org_tz())
    listed = absences(start=start)
    return render_template(
        "cover/absences.html",
        form=form,
        pending=[a for a in listed if a.is_pending],
        current=[a for a in listed if a.status == AbsenceStatus.CONFIRMED],
        declined=[a for a in listed if a.status == AbsenceStatus.DECLINED],
    ), status


@bp.post("/absences")
@staff_required
def record():
    form = _absence_form(True)
    if form.validate_on_submit():
        with form_action(form) as outcome:
            absence = record_absence_for(form, form.mentor.data or None)
        if outcome.ok:
            flash(f"{absence.mentor.name}: away {describe_absence(absence, org_tz())}.", "success")
            return redirect(url_for("cover.absence", absence_id=absence.id))
    return _absences_page(form, 422)


def record_absence_for(form: AbsenceForm, mentor_id: int | None) -> MentorAbsence:
    return record_absence(_absence_data(form, mentor_id), actor=current_user, tz=org_tz())


@bp.get("/absences/<id:absence_id>")
@staff_required
def absence(absence_id: int):
    """One absence and the sessions it touches, each with its substitutes."""
    found = load_or_404(MentorAbsence, absence_id)
    needs = absence_needs(found, org_tz())
    return render_template(
        "cover/absence.html",
        absence=found,
        needs=needs,
        open_count=open_count(needs),
        back=url_for("cover.absence", absence_id=found.id),
    )


@bp.route("/absences/<id:absence_id>/edit", methods=["GET", "POST"])
@staff_required
def edit_absence(absence_id: int):
    """Change an absence's mentor, days, times or reason (staff: it stays or becomes
    confirmed); the sessions it touches follow on its page."""
    found = load_or_404(MentorAbsence, absence_id)
    form = _absence_form(True)
    status = 200
    if request.method == "GET":
        tz = org_tz()
        start, end = found.start_utc.astimezone(tz), found.end_utc.astimezone(tz)
        form.mentor.data, form.first_day.data, form.reason.data = (
            found.mentor_id,
            start.date(),
            found.reason,
        )
        if found.all_day:
            form.last_day.data = (end - timedelta(days=1)).date()
        else:
            form.start_time.data, form.end_time.data = start.time(), end.time()
    elif form.validate_on_submit():
        status = 422
        with form_action(form) as outcome:
            record_absence(
                _absence_data(form, form.mentor.data or None), actor=current_user, tz=org_tz(),
                absence=found,
            )  # fmt: skip
        if outcome.ok:
            flash(f"{found.mentor.name}: away {describe_absence(found, org_tz())}.", "success")
            return redirect(url_for("cover.absence", absence_id=found.id))
        found = load_or_404(MentorAbsence, absence_id)
    else:
        status = 422
    return render_template("cover/absence_edit.html", form=form, absence=found), status


@bp.post("/absences/<id:absence_id>/decision")
@staff_required
def decide(absence_id: int):
    found = load_or_404(MentorAbsence, absence_id)
    confirm = request.form.get("decision") == "confirm"
    with form_action(catch=DomainError) as outcome:
        decide_absence(found, confirm, actor=current_user, tz=org_tz())
    if outcome.failed:
        flash(outcome.message, "error")
        return redirect(url_for("cover.absences_page"))
    word = "confirmed: its sessions need cover" if confirm else "declined"
    flash(f"{found.mentor.name}'s absence {word}.", "success")
    target = "cover.absence" if confirm else "cover.absences_page"
    return redirect(url_for(target, absence_id=found.id) if confirm else url_for(target))


@bp.post("/absences/<id:absence_id>/delete")
@login_required
def remove(absence_id: int):
    """Staff remove an absence; a mentor withdraws their own pending report."""
    found = load_or_404(MentorAbsence, absence_id)
    if not current_user.is_staff and found.mentor_id != current_user.id:
        abort(404)
    name = found.mentor.name
    with form_action(catch=DomainError) as outcome:
        delete_absence(found, actor=current_user)
    flash(outcome.message or f"{name}'s absence removed.", "error" if outcome.failed else "success")
    return redirect(url_for("cover.absences_page" if current_user.is_staff else "cover.mine"))


@bp.get("/absences.csv")
@staff_required
def absences_export():
    today = today_in(org_tz())
    first = (
        _day(request.args.get("start"))
        if request.args.get("start")
        else today - timedelta(days=365)
    )
    last = _day(request.args.get("end")) if request.args.get("end") else today + timedelta(days=365)
    body = absences_csv(first, last, org_tz())
    filename = f"absences-{first.isoformat()}-{last.isoformat()}.csv"
    return (
        body,
        200,
        {
            "Content-Type": "text/csv; charset=utf-8",
            "Content-Disposition": f'attachment; filename="{filename}"',
        },
    )


# --- A mentor's own absences ------------------------------------------------------------------


@bp.route("/mine", methods=["GET", "POST"])
@login_required
def mine():
    if current_user.role != Role.MENTOR:
        abort(403)
    form = _absence_form(False)
    status = 200
    if request.method == "POST":
        status = 422
        if form.validate_on_submit():
            with form_action(form) as outcome:
                reported = record_absence_for(form, current_user.id)
            if outcome.ok:
                flash(
                    f"Absence reported ({describe_absence(reported, org_tz())}): staff will"
                    " confirm it and arrange cover.",
                    "success",
                )
                return redirect(url_for("cover.mine"))
    return render_template(
        "cover/mine.html", form=form, listed=absences(mentor_id=current_user.id)
    ), status
