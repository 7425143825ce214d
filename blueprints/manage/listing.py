"""What the management lists share: their search, status and page arguments, the
active/inactive switch, and the page or its table for an htmx partial request."""

from __future__ import annotations

from flask import render_template, request

from blueprints.access import is_htmx_partial
from blueprints.manage.forms import ActiveForm
from services.catalogue.rooms import STATUSES
from services.common.pagination import page_number

SEARCH_LENGTH = 100


def page_or_fragment(page: str, fragment: str, status: int = 200, headers=None, **context):
    template = fragment if is_htmx_partial() else page
    return render_template(template, **context), status, headers or {}


def list_args() -> dict:
    status = request.args.get("status", "")
    return {
        "q": request.args.get("q", "")[:SEARCH_LENGTH],
        "status": status if status in STATUSES else "",
        "page": page_number(request.args.get("page")),
    }


def active_flag() -> bool:
    form = ActiveForm()
    return form.active.data == "1"
