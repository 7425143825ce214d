"""Session tracking: completing sessions (and correcting completions), coordinators'
monitoring, verifying codes, and the hours report."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("tracking", __name__, url_prefix="/tracking")
