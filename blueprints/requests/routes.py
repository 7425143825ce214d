"""Session requests: find a mentor, ask for sessions, follow one's requests; mentors decide.

Each handler loads (a request the user may not see is a 404, never a hint), checks the role
(403), calls one service and commits once (rolling back on a domain error). Inline actions
(approve, reject, withdraw) answer htmx with the row they came from, in its new state or
with the refusal inside it (409 conflict or already decided, 422 missing reason); plain
form posts get a redirect after success, or the page again with the message.
"""

from __future__ import annotations

import secrets
from functools import wraps

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from wtforms import SelectChoice

from blueprints.access import is_htmx, is_htmx_partial, org_tz
from blueprints.feedback import form_action, page_or_fragment, toast
from blueprints.requests.forms import ApproveForm, RejectForm, RequestForm, choice_id
from blueprints.typed_choice import resolve_typed_filters, sent_typed
from models import RequestStatus, Role, SessionRequest, User, db
from services.catalogue.groups import active_mentors
from services.catalogue.mentors import mentor_directory, offered_subjects, subjects_of_mentor
from services.common.errors import ConflictError, InvalidTransition, ValidationError
from services.common.pagination import page_number, paginate
from services.common.wording import plural
from services.permissions import can_decide
from services.requests.lifecycle import (
    approve_request,
    create_request,
    describe_schedule,
    effective_status,
    get_visible_request,
    reject_request,
    slot_clashes,
    withdraw_request,
)
from services.requests.lists import (
    STATUS_FILTERS,
    pending_query,
    people_in_requests,
    requests_of,
    sessions_of_request,
)
from services.timetable.schedule.filter_choices import choice_named

bp = Blueprint("requests", __name__, url_prefix="/requests")

SEARCH_LENGTH = 100
# Where an inline action was pressed: its answer is that view's row (htmx) or page.
VIEWS = ("pending", "mine", "detail")


@bp.context_processor
def _helpers() -> dict:
    return {
        "describe_schedule": describe_schedule,
        "effective_status": effective_status,
        "can_decide": can_decide,
        "sessions_count": lambda r: len(sessions_of_request(r)),
    }


# --- Helpers ------------------------------------------------------------------------------------


def roles_required(*roles: Role):
    """Logged in with one of `roles`; other roles get 403."""

    def decorator(view):
        @wraps(view)
        @login_required
        def wrapped(*args, **kwargs):
            if current_user.role not in roles:
                abort(403)
            return view(*args, **kwargs)

        return wrapped

    return decorator


def _load_visible(request_id: int) -> SessionRequest:
    return get_visible_request(current_user, request_id)


def _load_decidable(request_id: int) -> SessionRequest:
    """A request the user may approve or reject: 404 if unseen, 403 if seen but not theirs."""
    session_request = _load_visible(request_id)
    if not can_decide(current_user, session_request):
        abort(403)
    return session_request


def _view() -> str:
    view = request.values.get("view", "")
    return view if view in VIEWS else "detail"


def _reload(request_id: int) -> SessionRequest:
    """The request as the database has it now (after a commit or a rollback)."""
    db.session.expire_all()
    return db.session.get(SessionRequest, request_id)


# --- Find a mentor ------------------------------------------------------------------------------


@bp.get("/mentors")
@roles_required(Role.STUDENT, Role.ADMIN, Role.COORDINATOR)
def mentors():
    subject_id = choice_id(request.args.get("subject")) or None
    args = {
        "q": request.args.get("q", "").strip()[:SEARCH_LENGTH],
        "subject": subject_id or "",
    }
    page = mentor_directory(
        q=args["q"], subject_id=subject_id, page=page_number(request.args.get("page"))
    )
    context = {"page": page, "args": {k: v for k, v in args.items() if v}}
    if is_htmx_partial():
        return render_template("requests/_mentor_list.html", **context)
    return render_template("requests/mentors.html", subjects=offered_subjects(), **context)


# --- Asking for sessions ------------------------------------------------------------------------


def _subject_choices(mentor_id: int | None) -> list[SelectChoice]:
    subjects = subjects_of_mentor(mentor_id) if mentor_id else offered_subjects()
    return [SelectChoice(0, "Choose a subject")] + [SelectChoice(s.id, s.name) for s in subjects]


def _request_form(formdata=None, **kwargs) -> RequestForm:
    if formdata is None and request.method == "POST":
        form = RequestForm(date_values=request.form.getlist("dates"), **kwargs)
    else:
        form = RequestForm(formdata=formdata, **kwargs)
    form.mentor.choices = [SelectChoice(0, "Choose a mentor")] + [
        SelectChoice(m.id, m.name) for m in active_mentors()
    ]
    form.subject.choices = _subject_choices(form.mentor.data)
    return form


def _attach_errors(form: RequestForm, errors: dict[str, str]) -> None:
    for name, message in errors.items():
        if name == "dates":
            form.dates_errors = [message]
        elif name in form:
            form[name].errors = [message]
        else:
            form.form_errors.append(message)


def _new_page(form: RequestForm, status: int = 200, extra_date: bool = False):
    mentor = db.session.get(User, form.mentor.data) if form.mentor.data else None
    return render_template(
        "requests/new.html", form=form, mentor=mentor, extra_date=extra_date
    ), status


@bp.route("/new", methods=["GET", "POST"])
@roles_required(Role.STUDENT)
def new():
    if request.method == "GET":
        form = _request_form(formdata=None)
        form.mentor.data = choice_id(request.args.get("mentor"))
        form.subject.choices = _subject_choices(form.mentor.data)
        form.subject.data = choice_id(request.args.get("subject"))
        return _new_page(form)
    form = _request_form()
    if "add_date" in request.form:
        # "Add another date" without JavaScript: the same form with one more date input.
        return _new_page(form, extra_date=True)
    form.validate()  # parse errors only (CSRF was checked before the view)
    data, parse_errors = form.request_input()
    with form_action() as outcome:
        created = create_request(current_user, data, tz=org_tz())
        if parse_errors:
            # A field of the chosen kind could not be read: never save a guess.
            raise ValidationError(parse_errors)
    if outcome.failed:
        _attach_errors(form, {**outcome.messages, **parse_errors})
        return _new_page(form, 422)
    flash(
        f"Request “{created.title}” sent to {created.mentor.name}: "
        f"{plural(len(created.slots), 'session')} asked for.",
        "success",
    )
    return redirect(url_for("requests.detail", request_id=created.id))


@bp.get("/new/subjects")
@roles_required(Role.STUDENT)
def subject_options():
    """The subject field for the chosen mentor (the form refreshes it when the mentor
    changes); a subject already chosen stays chosen if the mentor offers it."""
    form = _request_form(formdata=None)
    form.mentor.data = choice_id(request.args.get("mentor"))
    form.subject.choices = _subject_choices(form.mentor.data)
    form.subject.data = choice_id(request.args.get("subject"))
    return render_template("requests/_subject_field.html", form=form)


@bp.get("/new/date")
@roles_required(Role.STUDENT)
def date_input():
    """One more date input for a specific-dates request."""
    return render_template("requests/_date_input.html", input_id=f"date-{secrets.token_hex(4)}")


# --- Lists of requests ---------------------------------------------------------------------------


def _list_filters() -> dict:
    """The filters of a list as typed in its URL (ids that name nobody are ignored): status
    for everyone, the student for mentors and staff, the mentor for staff.

    Staff type the mentor and the student (with suggestions; a school's students do not fit
    in a list): the filter form sends texts (`mentor_q`, `student_q`) resolved here with the
    ids beside them, and `clear=mentor` removes one. A text that names nobody or several
    keeps the filter as it was; its message is in `g.request_filter_errors`."""
    status = request.args.get("status", "")
    args = {"status": status if status in STATUS_FILTERS else ""}
    if current_user.role != Role.STUDENT:
        args["student"] = choice_id(request.args.get("student")) or ""
    if current_user.is_staff:
        args["mentor"] = choice_id(request.args.get("mentor")) or ""
    errors, matches = {}, {}
    if current_user.is_staff:
        typed = resolve_typed_filters(request.args, {k: args[k] or None for k in TYPED_PEOPLE})
        args.update({kind: ident or "" for kind, ident in typed.chosen.items()})
        errors, matches = typed.errors, typed.matches
    g.request_filter_errors, g.request_filter_matches = errors, matches
    return args


TYPED_PEOPLE = ("mentor", "student")


def _filter_choices(args: dict) -> dict:
    """What the filters offer: a mentor the people with requests to them (a list); staff the
    names of the mentor and student chosen (typed fields); None for a filter the user does
    not get."""
    if current_user.is_staff:
        return {
            "students": None,
            "mentors": None,
            "typed_people": True,
            "chosen": {kind: choice_named(kind, args.get(kind) or None) for kind in TYPED_PEOPLE},
        }
    return {
        "students": people_in_requests(current_user, Role.STUDENT) if "student" in args else None,
        "mentors": None,
    }


def _filter_context() -> dict:
    return {
        "filter_errors": getattr(g, "request_filter_errors", {}),
        "filter_matches": getattr(g, "request_filter_matches", {}),
    }


def _filtered_list(endpoint: str, page: str, fragment: str, context: dict, **filters_args):
    """A list of requests: the page, or its fragment to htmx. Sent from the staff filters'
    typed fields: a good answer has its canonical URL (ids, no text; a plain request is
    redirected there), and htmx gets the filters again, out of band, showing what was chosen
    or why not (422) beside each field."""
    errors = context["filter_errors"]
    status = 422 if errors else 200
    typed = current_user.is_staff and sent_typed(request.args, TYPED_PEOPLE)
    canonical = url_for(endpoint, **context["args"])
    if typed and not errors and not is_htmx():
        return redirect(canonical, 303)
    if not is_htmx_partial():
        return render_template(page, **context), status
    body = render_template(fragment, **context)
    headers = {}
    if typed:
        context = {**context, **_filter_choices(context["args"])}
        body += render_template(
            "requests/_filters_oob.html", endpoint=endpoint, filters_args=filters_args, **context
        )
        if not errors:
            headers["HX-Push-Url"] = canonical
    return body, status, headers


def _mine_context(errors: dict | None = None) -> dict:
    args = _list_filters()
    query = requests_of(
        current_user,
        args["status"] or None,
        mentor_id=args.get("mentor") or None,
        student_id=args.get("student") or None,
    )
    page = paginate(query, page_number(request.args.get("page")))
    return {
        "page": page,
        "args": {k: v for k, v in args.items() if v},
        "statuses": STATUS_FILTERS,
        "errors": errors or {},
        "overview": current_user.role != Role.STUDENT,
        **_filter_context(),
        **({} if is_htmx_partial() else _filter_choices(args)),
    }


@bp.get("/")
@login_required
def mine():
    """A student's own requests; for a mentor those addressed to them; for staff every
    mentor's (filters by mentor, student and status, 20 a page)."""
    return _filtered_list(
        "requests.mine",
        "requests/mine.html",
        "requests/_my_list.html",
        _mine_context(),
        target="#my-requests",
        statuses=STATUS_FILTERS,
    )


@bp.post("/<id:request_id>/withdraw")
@login_required
def withdraw(request_id: int):
    session_request = _load_visible(request_id)
    if current_user.id != session_request.student_id:
        abort(403)
    view = _view()
    with form_action(catch=InvalidTransition) as outcome:
        withdraw_request(session_request, actor=current_user)
    if outcome.failed:
        session_request = _reload(request_id)
        if is_htmx():
            return render_template(
                "requests/_my_row.html", r=session_request, error=outcome.message, overview=False
            ), 409
        if view == "mine":
            return render_template(
                "requests/mine.html", **_mine_context({request_id: outcome.message})
            ), 409
        return _detail_page(session_request, 409, error=outcome.message)
    message = f"Request “{session_request.title}” withdrawn; {session_request.mentor.name} is told."
    if is_htmx():
        return (
            render_template("requests/_my_row.html", r=session_request, overview=False),
            200,
            toast(message),
        )
    flash(message, "success")
    if view == "mine":
        return redirect(url_for("requests.mine"))
    return redirect(url_for("requests.detail", request_id=request_id))


# --- Deciding -----------------------------------------------------------------------------------


def _editing_ids() -> set[int]:
    """The cards the user is editing (a date unticked, a reason typed) when the list redraws
    itself: they are kept as they are (`hx-preserve`)."""
    return {n for n in (choice_id(v) for v in request.args.getlist("editing")) if n}


def _pending_context(
    decided: list[SessionRequest] = (),
    created: dict | None = None,
    errors: dict | None = None,
    chosen: dict | None = None,
) -> dict:
    args = _list_filters()
    args.pop("status")
    page = paginate(
        pending_query(
            current_user,
            mentor_id=args.get("mentor") or None,
            student_id=args.get("student") or None,
        ),
        page_number(request.values.get("page")),
    )
    decided_ids = {r.id for r in decided}
    pending = [r for r in page.items if r.id not in decided_ids]
    return {
        "page": page,
        "requests": pending,
        "decided": list(decided),
        "clashes": slot_clashes([*decided, *pending]),
        "created": created or {},
        "errors": errors or {},
        "chosen": chosen or {},
        "editing": _editing_ids(),
        "show_mentor": current_user.is_staff,
        "args": {k: v for k, v in args.items() if v},
        **_filter_context(),
        **({} if is_htmx_partial() else _filter_choices(args)),
    }


@bp.get("/pending")
@roles_required(Role.MENTOR, Role.ADMIN, Role.COORDINATOR)
def pending():
    """A mentor's pending requests; every mentor's for staff (filters by mentor and student,
    20 a page). Only the mentor asked or an admin decides; coordinators read."""
    return _filtered_list(
        "requests.pending",
        "requests/pending.html",
        "requests/_pending_list.html",
        _pending_context(),
        target="#pending-list",
    )


def _card(session_request: SessionRequest, status: int = 200, headers=None, **extra):
    """The pending-list card of one request, in its current state."""
    context = {
        "r": session_request,
        "clashes": slot_clashes([session_request]),
        "created": {},
        "error": None,
        "chosen": {},
        "editing": set(),
        "show_mentor": current_user.is_staff,
    }
    context.update(extra)
    return render_template("requests/_pending_row.html", **context), status, headers or {}


@bp.get("/<id:request_id>/card")
@login_required
def card(request_id: int):
    """A pending-list card (the reason field's Cancel puts it back)."""
    return _card(_load_decidable(request_id))


def _refused(request_id: int, view: str, message: str, status: int, chosen=None):
    """A decision the service refused: the message inside the row (htmx) or the page, the
    dates the mentor ticked still ticked."""
    session_request = _reload(request_id)
    chosen_dates = {request_id: chosen} if chosen is not None else {}
    if is_htmx():
        return _card(session_request, status, error=message, chosen=chosen_dates)
    if view == "pending":
        return render_template(
            "requests/pending.html",
            **_pending_context(errors={request_id: message}, chosen=chosen_dates),
        ), status
    return _detail_page(session_request, status, error=message, chosen=chosen)


def _approval_message(approval) -> str:
    count = len(approval.sessions)
    message = f"Approved “{approval.request.title}”: {plural(count, 'session')} created"
    if approval.declined_slots:
        message += f"; {plural(len(approval.declined_slots), 'date')} declined"
    message += "."
    if approval.declined:
        message += f" {plural(len(approval.declined), 'clashing request')} declined automatically."
    if approval.now_clashing:
        count = len(approval.now_clashing)
        message += (
            f" {plural(count, 'other request')} now {'has' if count == 1 else 'have'} "
            "a clashing date."
        )
    return message


@bp.post("/<id:request_id>/approve")
@login_required
def approve(request_id: int):
    session_request = _load_decidable(request_id)
    view = _view()
    form = ApproveForm()
    form.validate()  # parse errors only (CSRF was checked before the view)
    # The form of a request with several dates says which to approve (checkboxes); a bare
    # Approve (one date, or an old page) approves them all.
    chosen = form.chosen_dates() if form.choose.data else None
    if form.dates_error:
        return _refused(request_id, view, form.dates_error, 422, chosen=set())
    with form_action(catch=(ValidationError, ConflictError, InvalidTransition)) as outcome:
        approval = approve_request(
            session_request,
            actor=current_user,
            tz=org_tz(),
            dates=chosen,
            reason=form.reason.data or "",
        )
    if outcome.failed:
        return _refused(request_id, view, outcome.message, outcome.status, chosen=chosen)
    message = _approval_message(approval)
    created = {request_id: len(approval.sessions)}
    if is_htmx():
        if (approval.declined or approval.now_clashing) and view == "pending":
            # Other cards changed (declined, or a date now clashing): redraw the list.
            headers = toast(message) | {"HX-Retarget": "#pending-list", "HX-Reswap": "outerHTML"}
            context = _pending_context(
                decided=[approval.request, *approval.declined], created=created
            )
            return render_template("requests/_pending_list.html", **context), 200, headers
        return _card(approval.request, 200, toast(message), created=created)
    flash(message, "success")
    if view == "pending":
        return redirect(url_for("requests.pending"))
    return redirect(url_for("requests.detail", request_id=request_id))


@bp.route("/<id:request_id>/reject", methods=["GET", "POST"])
@login_required
def reject(request_id: int):
    session_request = _load_decidable(request_id)
    view = _view()
    form = RejectForm() if request.method == "POST" else RejectForm(formdata=None)
    # Several reason fields can be open in one list: each label names its own field.
    form.reason.id = f"reason-{request_id}"
    status = 200
    if request.method == "POST":
        with form_action(catch=(ValidationError, InvalidTransition)) as outcome:
            reject_request(session_request, form.reason.data or "", actor=current_user)
        if isinstance(outcome.error, InvalidTransition):
            return _refused(request_id, view, outcome.message, 409)
        if outcome.failed:
            form.reason.errors = [outcome.messages.get("reason", outcome.message)]
            session_request = _reload(request_id)
            status = 422
        else:
            message = (
                f"Rejected “{session_request.title}”; {session_request.student.name} is told why."
            )
            if is_htmx():
                return _card(_reload(request_id), 200, toast(message))
            flash(message, "success")
            if view == "pending":
                return redirect(url_for("requests.pending"))
            return redirect(url_for("requests.detail", request_id=request_id))
    if effective_status(session_request) != RequestStatus.PENDING and status == 200:
        message = f"This request is {effective_status(session_request).value} already."
        if is_htmx_partial():
            return _card(session_request, 409, error=message)
        return _detail_page(session_request, 409, error=message)
    return page_or_fragment(
        "requests/reject.html", "requests/_reject_form.html", status,
        r=session_request, form=form, view=view, show_mentor=current_user.is_staff,
    )  # fmt: skip


# --- A request's page ---------------------------------------------------------------------------


def _detail_page(
    session_request: SessionRequest,
    status: int = 200,
    error: str | None = None,
    chosen: set | None = None,
):
    status_now = effective_status(session_request)
    clashes = {}
    if status_now == RequestStatus.PENDING:
        clashes = slot_clashes([session_request])
    return render_template(
        "requests/detail.html",
        r=session_request,
        status_now=status_now,
        clashes=clashes.get(session_request.id, []),
        # The mentor's sessions are named to those who oversee the mentor's timetable; the
        # student only reads which dates clash.
        show_sessions=current_user.id != session_request.student_id,
        chosen={session_request.id: chosen} if chosen is not None else {},
        sessions=sessions_of_request(session_request),
        decided_by=db.session.get(User, session_request.decided_by_id)
        if session_request.decided_by_id
        else None,
        error=error,
    ), status


@bp.get("/<id:request_id>")
@login_required
def detail(request_id: int):
    return _detail_page(_load_visible(request_id))
