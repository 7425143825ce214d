"""Session pages: a session's detail, one-time sessions (create, edit, delete)."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("sessions", __name__, url_prefix="/sessions")
