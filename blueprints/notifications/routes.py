"""Notifications: the bell in the navigation (polled), the list, marking read."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("notifications", __name__, url_prefix="/notifications")
