"""Typed notes on sessions: add, edit and delete, shown newest first."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("notes", __name__, url_prefix="/notes")
