"""Management pages for staff: rooms, subjects, course groups (series, enrolments), users."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("manage", __name__, url_prefix="/manage")
