"""Dashboards: a mentor's and a student's upcoming sessions, with video rooms and ratings."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("dashboard", __name__, url_prefix="/dashboard")
