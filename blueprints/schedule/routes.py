"""The schedule: week grid (by time or by room), day and month views, personal timetables."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("schedule", __name__, url_prefix="/schedule")
