"""Files attached to sessions: upload (type checked from content), download, delete."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("attachments", __name__, url_prefix="/attachments")
