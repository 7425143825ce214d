"""Session requests: find a mentor, ask for sessions, follow one's requests; mentors decide."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("requests", __name__, url_prefix="/requests")
