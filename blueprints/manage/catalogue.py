"""Rooms and subjects: a searchable list with a create form, inline edit rows and
deactivation each."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from flask import flash, redirect, render_template, request, url_for

from blueprints.access import is_htmx_partial, load_or_404, staff_required
from blueprints.feedback import form_action, page_or_fragment, toast
from blueprints.manage import bp
from blueprints.manage.forms import RoomForm, SubjectForm
from blueprints.manage.listing import active_flag, list_args
from models import Room, Subject, db
from services.catalogue.rooms import RoomData, create_room, list_rooms, update_room
from services.catalogue.rooms import set_room_active as set_room_active_service
from services.catalogue.subjects import SubjectData, create_subject, list_subjects, update_subject
from services.catalogue.subjects import set_subject_active as set_subject_active_service
from services.common.wording import named

# Both are a searchable list with a create form, inline edit rows and deactivation: one set of
# views, registered for each (with the endpoint names the templates use).


@dataclass(frozen=True)
class Catalogue:
    key: str  # "room": the templates' variable and the URL's id name (room_id)
    plural: str  # "rooms": the list's URL, endpoint and templates
    label: str  # "Room", in messages
    model: type
    form: type
    data: Callable
    list_items: Callable
    create: Callable
    update: Callable
    set_active: Callable

    @property
    def list_endpoint(self) -> str:
        return f"manage.{self.plural}"


ROOMS = Catalogue(
    "room", "rooms", "Room", Room, RoomForm,
    lambda f: RoomData(name=f.name.data, capacity=f.capacity.data, active=f.active.data),
    list_rooms, create_room, update_room, set_room_active_service,
)  # fmt: skip
SUBJECTS = Catalogue(
    "subject", "subjects", "Subject", Subject, SubjectForm,
    lambda f: SubjectData(name=f.name.data, active=f.active.data),
    list_subjects, create_subject, update_subject, set_subject_active_service,
)  # fmt: skip


def _catalogue_page(cat: Catalogue, form, status: int = 200):
    args = list_args()
    items = cat.list_items(args["q"], status=args["status"] or None, page=args["page"])
    return page_or_fragment(
        f"manage/{cat.plural}.html", f"manage/_{cat.plural}_table.html", status,
        form=form, args=args, **{cat.plural: items},
    )  # fmt: skip


def _row(cat: Catalogue, item):
    return render_template(f"manage/_{cat.key}_row.html", **{cat.key: item})


def _list_view(cat: Catalogue):
    return _catalogue_page(cat, cat.form(prefix="new"))


def _create_view(cat: Catalogue):
    form = cat.form(prefix="new")
    if form.validate_on_submit():
        with form_action(form) as outcome:
            item = cat.create(cat.data(form))
        if outcome.ok:
            flash(f"{named(item.name, cat.key)} created.", "success")
            return redirect(url_for(cat.list_endpoint))
    return _catalogue_page(cat, form, 422)


def _row_view(cat: Catalogue, **ids):
    item = load_or_404(cat.model, ids[f"{cat.key}_id"])
    if not is_htmx_partial():
        return redirect(url_for(cat.list_endpoint, q=item.name))
    return _row(cat, item)


def _edit_view(cat: Catalogue, **ids):
    item_id = ids[f"{cat.key}_id"]
    item = load_or_404(cat.model, item_id)
    form = cat.form(obj=item) if request.method == "GET" else cat.form()
    status = 200
    if request.method == "POST":
        status = 422
        if form.validate_on_submit():
            with form_action(form) as outcome:
                cat.update(item, cat.data(form))
            if outcome.ok:
                message = f"{named(item.name, cat.key)} saved."
                if is_htmx_partial():
                    return _row(cat, item), 200, toast(message)
                flash(message, "success")
                return redirect(url_for(cat.list_endpoint))
        item = db.session.get(cat.model, item_id)
    return page_or_fragment(
        f"manage/{cat.key}_edit.html", f"manage/_{cat.key}_edit_row.html", status,
        form=form, **{cat.key: item},
    )  # fmt: skip


def _set_active_view(cat: Catalogue, **ids):
    item = load_or_404(cat.model, ids[f"{cat.key}_id"])
    cat.set_active(item, active_flag())
    db.session.commit()
    state = "reactivated" if item.active else "deactivated"
    message = f"{named(item.name, cat.key)} {state}."
    if is_htmx_partial():
        return _row(cat, item), 200, toast(message)
    flash(message, "success")
    return redirect(url_for(cat.list_endpoint))


def _register_catalogue(cat: Catalogue) -> None:
    item = f"/{cat.plural}/<id:{cat.key}_id>"
    for rule, endpoint, view, methods in (
        (f"/{cat.plural}", cat.plural, _list_view, ["GET"]),
        (f"/{cat.plural}", f"create_{cat.key}_route", _create_view, ["POST"]),
        (item, f"{cat.key}_row", _row_view, ["GET"]),
        (f"{item}/edit", f"edit_{cat.key}", _edit_view, ["GET", "POST"]),
        (f"{item}/active", f"set_{cat.key}_active", _set_active_view, ["POST"]),
    ):
        bp.add_url_rule(rule, endpoint, staff_required(partial(view, cat)), methods=methods)


_register_catalogue(ROOMS)
_register_catalogue(SUBJECTS)
