"""Termtable application factory.

`flask` finds `create_app` here with no flags. Settings come, in order, from the defaults
below, the environment (`FLASK_*` through `from_prefixed_env()`, plus `DATABASE_URL` and
`SECRET_KEY`), and finally the `config` mapping given by tests.
"""

from __future__ import annotations

import os
import secrets
import tempfile
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import Flask, Request, current_app

DEFAULTS = {
    "TIMEZONE": "UTC",
    "SQLALCHEMY_ENGINE_OPTIONS": {},
    # A tab left open all day must still be able to post (the token is bound to the session).
    "WTF_CSRF_TIME_LIMIT": None,
    "WTF_CSRF_HEADERS": ["X-CSRFToken"],
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
    "REMEMBER_COOKIE_HTTPONLY": True,
    "REMEMBER_COOKIE_SAMESITE": "Lax",
    # OWASP's recommended scrypt cost (N=2**17, r=8, p=1); werkzeug's default is N=2**15.
    "PASSWORD_HASH_METHOD": "scrypt:131072:8:1",
    "LOGIN_RATE_LIMIT": "10 per minute",
    "RATELIMIT_STORAGE_URI": "memory://",
    "RATELIMIT_HEADERS_ENABLED": True,
    # Generation refuses windows longer than this (a typo like --weeks 5200 is not a term).
    "MAX_GENERATION_DAYS": 366 * 2,
    "MAX_WEB_GENERATION_SESSIONS": 150_000,  # a larger run from a page or the API is refused
    # Attachments: the largest file, in MB (MiB). MAX_CONTENT_LENGTH follows it (see below)
    # unless set; UPLOAD_FOLDER defaults to <instance>/uploads (outside static/).
    "MAX_UPLOAD_MB": 100,
    "UPLOAD_FOLDER": None,
}
# Room for the form's other fields and the multipart framing on top of the largest file.
UPLOAD_FORM_ALLOWANCE = 64 * 1024


class ConfigurationError(RuntimeError):
    """Raised at start-up when a required setting is missing or invalid."""


def _default_database_url(app: Flask) -> str:
    return "sqlite:///" + str(Path(app.instance_path) / "termtable.db")


def _configure(app: Flask, config: dict | None) -> None:
    app.config.update(DEFAULTS)
    app.config.from_prefixed_env()
    if "SECRET_KEY" in os.environ:
        if not os.environ["SECRET_KEY"].strip():
            raise ConfigurationError(
                "SECRET_KEY is exported but empty: give it a long random value."
            )
        app.config["SECRET_KEY"] = os.environ["SECRET_KEY"]
    app.config["SQLALCHEMY_DATABASE_URI"] = os.environ.get(
        "DATABASE_URL", app.config.get("SQLALCHEMY_DATABASE_URI") or _default_database_url(app)
    )
    if config:
        app.config.update(config)

    url = app.config["SQLALCHEMY_DATABASE_URI"]
    # Heroku-style URLs name the old driver; psycopg 3 is the one we ship.
    if url.startswith("postgres://"):
        url = "postgresql+psycopg://" + url[len("postgres://") :]
    elif url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    app.config["SQLALCHEMY_DATABASE_URI"] = url

    if not app.config.get("SECRET_KEY"):
        if app.testing:
            app.config["SECRET_KEY"] = "testing-only-not-secret"  # noqa: S105
        else:
            key_file = app.config.get("SECRET_KEY_FILE") or Path(app.instance_path, "secret_key")
            app.config["SECRET_KEY"] = _instance_secret_key(Path(key_file))
    try:
        ZoneInfo(app.config["TIMEZONE"])
    except (ZoneInfoNotFoundError, ValueError) as err:
        raise ConfigurationError(
            f"TIMEZONE={app.config['TIMEZONE']!r} is not an IANA time zone name "
            "(for example Europe/Paris)."
        ) from err
    # Werkzeug refuses a larger body while streaming it (413), before a view reads anything.
    if app.config.get("MAX_CONTENT_LENGTH") is None:
        app.config["MAX_CONTENT_LENGTH"] = (
            int(app.config["MAX_UPLOAD_MB"] * 1024 * 1024) + UPLOAD_FORM_ALLOWANCE
        )
    if not app.config.get("UPLOAD_FOLDER"):
        app.config["UPLOAD_FOLDER"] = str(Path(app.instance_path) / "uploads")
    # Cookies travel over HTTPS only in production; the dev server and tests speak plain HTTP.
    # (Flask's own defaults already hold SESSION_COOKIE_SECURE=False, so setdefault would not do.)
    secure = not (app.debug or app.testing)
    for key in ("SESSION_COOKIE_SECURE", "REMEMBER_COOKIE_SECURE"):
        if key not in (config or {}) and f"FLASK_{key}" not in os.environ:
            app.config[key] = secure


class UploadFolderRequest(Request):
    """A request whose uploaded files spool, past what Werkzeug keeps in memory, into the
    upload folder rather than the system's temporary directory: a 100 MB attachment is
    written to the disk meant for attachments, not to a possibly small /tmp."""

    def _get_file_stream(
        self, total_content_length, content_type, filename=None, content_length=None
    ):
        folder = Path(current_app.config["UPLOAD_FOLDER"])
        folder.mkdir(parents=True, exist_ok=True)
        # Anonymous (unlinked at once), so nothing is left behind whatever happens next.
        return tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY, mode="rb+", dir=folder)


# What Werkzeug's own stream factory keeps in memory before spooling to disk.
SPOOL_IN_MEMORY = 500 * 1024


def _instance_secret_key(key_file: Path) -> str:
    """The key kept in the instance folder (one per installation, never in the repository):
    made on first start, random, readable by its owner only, so that the app and its
    maintenance commands (`flask db upgrade`, `flask db check`) run without exporting one."""
    try:
        key_file.parent.mkdir(parents=True, exist_ok=True)
        # O_EXCL: of two processes starting together, one writes and the other reads.
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        if not key_file.is_file():
            raise _unwritable(key_file, "not a file") from None
        key = key_file.read_text(encoding="utf-8").strip()
        if not key:
            raise ConfigurationError(f"{key_file} holds no secret key: delete it.") from None
        return key
    except OSError as err:
        raise _unwritable(key_file, err.strerror) from None
    key = secrets.token_hex(32)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(key + "\n")
    return key


def _unwritable(key_file: Path, why: str) -> ConfigurationError:
    return ConfigurationError(
        f"SECRET_KEY is not set and {key_file} cannot be written ({why}). Export a long "
        "random value, for example:\n"
        "  export SECRET_KEY=$(python -c 'import secrets; print(secrets.token_hex(32))')"
    )


def create_app(config: dict | None = None) -> Flask:
    app = Flask(__name__, instance_relative_config=True)
    app.request_class = UploadFolderRequest
    if config and config.get("TESTING"):
        app.testing = True
    _configure(app, config)
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)

    from blueprints import register_blueprints

    register_blueprints(app)
    return app
