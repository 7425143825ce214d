"""What the management lists share: their search, status and page arguments, and the
active/inactive switch."""

from __future__ import annotations

from flask import request

from blueprints.manage.forms import ActiveForm
from services.catalogue.rooms import STATUSES
from services.common.pagination import page_number

SEARCH_LENGTH = 100


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
