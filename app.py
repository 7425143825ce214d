"""Termtable application factory.

`flask` finds `create_app` here with no flags. Settings come, in order, from the defaults
below, the environment (`FLASK_*` through `from_prefixed_env()`, plus `DATABASE_URL`,
`SECRET_KEY` and `RATELIMIT_STORAGE_URI`), and finally the `config` mapping given by tests.
"""

from __future__ import annotations

import gc
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cached_property
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import click
import limits
from flask import Flask, Request, current_app, g
from flask.cli import cli as flask_cli
from flask_login import current_user
from werkzeug.middleware.proxy_fix import ProxyFix

# Registers the hooks that publish live events and wake the streams (services/live).
import services.live.hooks

# Registers the flush hook that keeps the stored clashes current (session_clash).
import services.timetable.clashes  # noqa: F401
from services.storage import StorageSettingsError, storage_settings
from services.timetable.generation import MAX_GENERATION_DAYS

DEFAULTS = {
    "TIMEZONE": "UTC",
    # The organisation's country (ISO 3166 code, "FR") and region ("ENG", "BY"), offered when
    # staff take public holidays as closures. None: the country of TIMEZONE.
    "COUNTRY": None,
    "REGION": None,
    # A pooled connection the server closed (a restart) is replaced before use, not failed
    # on. Options given elsewhere are merged over these (see _configure).
    "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
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
    # Per account, from any address: a pause of up to a minute, then up to five (see
    # blueprints/auth/limits.py for the browsers it does not hold up).
    "LOGIN_ACCOUNT_RATE_LIMIT": "5 per minute;10 per 5 minutes",
    "RATELIMIT_STORAGE_URI": "memory://",
    # Reverse proxies in front of the app whose X-Forwarded-For is trusted (0: none).
    "TRUSTED_PROXIES": 0,
    "RATELIMIT_HEADERS_ENABLED": True,
    "MAX_GENERATION_DAYS": MAX_GENERATION_DAYS,
    # The most sessions a generation from a page or the API runs while the user waits (about
    # two seconds); a larger one is run by a background worker, its progress shown in place.
    # 0: every run in the request.
    "MAX_WEB_GENERATION_SESSIONS": 20_000,
    # `flask generate-sessions` works this many days at a time (one transaction still), so
    # its memory follows a window of the school, not the whole term.
    "GENERATION_WINDOW_DAYS": 28,
    # A week or day grid with more sessions than this is shown by room, a page of rooms at a
    # time (about 550 B of page per session: 600 sessions make some 330 KB).
    "SCHEDULE_GRID_MAX_SESSIONS": 600,
    "SCHEDULE_ROOMS_PER_PAGE": 20,
    # Attachments: the largest file, in MB (MiB). MAX_CONTENT_LENGTH follows it (see below)
    # unless set; UPLOAD_FOLDER defaults to <instance>/uploads (outside static/).
    "MAX_UPLOAD_MB": 100,
    "UPLOAD_FOLDER": None,
    # The largest body any other request may send, in KB (KiB): forms and JSON are small, and
    # a bigger body is refused (413) before a byte of it is read.
    "MAX_REQUEST_KB": 1024,
    # The largest timetable or exceptions CSV the Imports page takes, in KB (KiB); the file
    # is kept in IMPORT_FOLDER (default <instance>/imports) between its preview and applying it.
    "MAX_IMPORT_KB": 10 * 1024,
    "IMPORT_FOLDER": None,
    # Background jobs (services/jobs): where they are queued (None: a SQLite file in the
    # instance folder; redis://..., postgresql://... for several hosts; memory:// in tests),
    # and how long a worker may go silent before its run is taken for dead.
    "JOBS_URL": None,
    "JOB_LEASE_SECONDS": 60,
    # How long a worker holds the e-mails it claimed before another may send them.
    "MAIL_LEASE_SECONDS": 600,
    # Remove what killed uploads left in UPLOAD_FOLDER when the app starts. None: when a server
    # starts it (not in tests, nor for `flask` commands other than `flask run`).
    "SWEEP_UPLOADS_AT_START": None,
    # Where attachments are kept: "local" (UPLOAD_FOLDER) or "s3" (an S3-compatible bucket;
    # credentials from AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY). See services/storage/.
    "STORAGE_BACKEND": "local",
    "S3_BUCKET": None,
    "S3_ENDPOINT_URL": None,
    "S3_REGION": None,
    "S3_KEY_PREFIX": "attachments/",
    "S3_ADDRESSING_STYLE": None,
    "S3_PART_MB": 8,
    "S3_UPLOAD_CONCURRENCY": 4,
    "S3_PRESIGNED_DOWNLOADS": False,
    "S3_PRESIGNED_SECONDS": 60,
    # Refuse to start when the bucket does not exist. None: when a server starts the app.
    "STORAGE_CHECK_AT_START": None,
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
    # Flask-Limiter's own name for it, as its documentation gives it (FLASK_-prefixed works too).
    if os.environ.get("RATELIMIT_STORAGE_URI"):
        app.config["RATELIMIT_STORAGE_URI"] = os.environ["RATELIMIT_STORAGE_URI"]
    if config:
        app.config.update(config)
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = {
        **DEFAULTS["SQLALCHEMY_ENGINE_OPTIONS"],
        **(app.config.get("SQLALCHEMY_ENGINE_OPTIONS") or {}),
    }

    url = app.config["SQLALCHEMY_DATABASE_URI"]
    # Heroku-style URLs name the old driver; psycopg 3 is the one we ship.
    if url.startswith("postgres://"):
        url = "postgresql+psycopg://" + url[len("postgres://") :]
    elif url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    app.config["SQLALCHEMY_DATABASE_URI"] = url
    if url.startswith("postgresql"):
        _without_jit(app.config["SQLALCHEMY_ENGINE_OPTIONS"])

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
    # The largest body of all, for the views that take a file (others are held to
    # MAX_REQUEST_KB, see UploadFolderRequest). Werkzeug refuses a larger one while streaming
    # it (413), before a view reads anything.
    if app.config.get("MAX_CONTENT_LENGTH") is None:
        app.config["MAX_CONTENT_LENGTH"] = (
            int(app.config["MAX_UPLOAD_MB"] * 1024 * 1024) + UPLOAD_FORM_ALLOWANCE
        )
    if not app.config.get("UPLOAD_FOLDER"):
        app.config["UPLOAD_FOLDER"] = str(Path(app.instance_path) / "uploads")
    if not app.config.get("JOBS_URL"):
        from services.jobs.queue import default_jobs_url

        app.config["JOBS_URL"] = default_jobs_url(app)
    try:
        storage_settings(app.config)
    except StorageSettingsError as err:
        raise ConfigurationError(str(err)) from None
    if not app.config.get("IMPORT_FOLDER"):
        app.config["IMPORT_FOLDER"] = str(Path(app.instance_path) / "imports")
    for key in ("LOGIN_RATE_LIMIT", "LOGIN_ACCOUNT_RATE_LIMIT"):
        # Flask-Limiter would only log a limit it cannot read, and limit nothing.
        try:
            limits.parse_many(str(app.config[key]))
        except ValueError:
            raise ConfigurationError(
                f"{key}={app.config[key]!r} is not a rate limit: write it like "
                "'10 per minute', several separated by ';' ('5 per minute;10 per 5 minutes')."
            ) from None
    proxies = app.config["TRUSTED_PROXIES"]
    if isinstance(proxies, bool) or not isinstance(proxies, int) or proxies < 0:
        raise ConfigurationError(
            f"TRUSTED_PROXIES={proxies!r} is not a number of proxies: give 0 (the app is reached "
            "directly) or how many reverse proxies stand in front of it (usually 1)."
        )
    # Cookies travel over HTTPS only in production; the dev server and tests speak plain HTTP.
    # (Flask's own defaults already hold SESSION_COOKIE_SECURE=False, so setdefault would not do.)
    secure = not (app.debug or app.testing)
    for key in ("SESSION_COOKIE_SECURE", "REMEMBER_COOKIE_SECURE"):
        if key not in (config or {}) and f"FLASK_{key}" not in os.environ:
            app.config[key] = secure


class UploadFolderRequest(Request):
    """A request whose body is held to what its view takes, and whose uploaded file is
    written once, straight into a staging file in the upload folder.

    A view that takes files (marked `takes_uploads`, see blueprints/access.py) accepts
    MAX_CONTENT_LENGTH from a signed-in user; every other request, and any anonymous one,
    MAX_REQUEST_KB. The limit applies when the body is first read (the CSRF check reads a
    form), so a larger body is refused (413) unread.

    The file part of an upload is streamed to a `StagingFile` (`.upload-<hex>.part` in
    UPLOAD_FOLDER, on the disk meant for attachments, not a possibly small /tmp), which
    `receive_upload` checks in place and `add_attachment` renames into place: an upload needs
    its own size of free disk, once. Whatever the view did not store is removed when the
    request ends; a killed process leaves a name the sweep recognises."""

    @property
    def max_content_length(self) -> int | None:
        if self._max_content_length is not None or not current_app:
            return super().max_content_length
        largest = current_app.config["MAX_CONTENT_LENGTH"]
        if self._takes_upload:
            return largest
        small = int(current_app.config["MAX_REQUEST_KB"] * 1024)
        return small if largest is None else min(small, largest)

    @max_content_length.setter
    def max_content_length(self, value: int | None) -> None:
        self._max_content_length = value

    @property
    def _takes_upload(self) -> bool:
        """The view takes a file, and someone is signed in (an API token, or a session):
        nobody else gets to make the server read a large body only to refuse it."""
        view = current_app.view_functions.get(self.endpoint) if self.endpoint else None
        if not getattr(view, "takes_uploads", False):
            return False
        return g.get("api_user") is not None or current_user.is_authenticated

    @cached_property
    def file_streams(self) -> list:
        """Every file this request's body was streamed to (closed when the request ends)."""
        return []

    def _get_file_stream(
        self, total_content_length, content_type, filename=None, content_length=None
    ):
        if self._takes_upload:
            from services.tracking.attachments import StagingFile

            stream = StagingFile(Path(current_app.config["UPLOAD_FOLDER"]))
        else:
            # At most MAX_REQUEST_KB: Werkzeug's own (memory, then an anonymous temporary file).
            stream = super()._get_file_stream(
                total_content_length, content_type, filename, content_length
            )
        self.file_streams.append(stream)
        return stream

    def close(self) -> None:
        super().close()
        # Also the part Werkzeug was writing when the body broke off (a 413 on a chunked
        # body, a dropped connection), which never reached `files`. A staging file the view
        # did not store goes with it.
        for stream in self.__dict__.get("file_streams", ()):
            stream.close()


def _without_jit(engine_options: dict) -> None:
    """PostgreSQL connections with JIT compilation off. JIT compiles any query whose estimated
    cost passes `jit_above_cost`; once a large school's statistics are in (ANALYZE after a
    generation), a grid fragment's short query estimated high and spent 270 ms compiling to run
    for 20 ms. The app's queries are short: compiling never pays."""
    connect_args = dict(engine_options.get("connect_args") or {})
    connect_args["options"] = f"{connect_args.get('options', '')} -c jit=off".strip()
    engine_options["connect_args"] = connect_args


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


def _warn_about_per_process_rate_limits(app: Flask) -> None:
    """memory:// counts in each worker process apart: with 4 workers, 4 times the limit."""
    if app.debug or app.testing or not app.config.get("RATELIMIT_ENABLED", True):
        return
    if not app.config["RATELIMIT_STORAGE_URI"].startswith("memory://"):
        return
    # Not for `flask` commands, nor the development server, which warns about itself.
    if _flask_command() is not None:
        return
    app.logger.warning(
        "Rate limits are kept in memory (RATELIMIT_STORAGE_URI=memory://): each worker process "
        "counts apart, so with several workers the login limits allow that many times more "
        "attempts. Set RATELIMIT_STORAGE_URI=redis://host:6379 to share them."
    )


@contextmanager
def _garbage_collection_paused() -> Iterator[None]:
    """Building the app allocates a great deal (modules, routes, mappers) and frees next to
    nothing, so the collector's passes over it were a tenth of every start-up, for nothing."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def create_app(config: dict | None = None) -> Flask:
    with _garbage_collection_paused():
        app = _create_app(config)
    if _in_a_flask_process():
        # The process ends with its command, and what start-up built lives until then: out of
        # the collector's sight, it is not walked again by later full collections, nor by the
        # last one at exit (a fifth of a short command's CPU).
        gc.freeze()
    return app


def _create_app(config: dict | None) -> Flask:
    # FLASK_INSTANCE_PATH: this host's own folder (its secret key file, uploads, the default
    # SQLite database and job queue), when several app hosts run from one checkout.
    instance = os.environ.get("FLASK_INSTANCE_PATH") or None
    if instance is not None and not os.path.isabs(instance):
        raise ConfigurationError(f"FLASK_INSTANCE_PATH={instance!r} must be an absolute path.")
    app = Flask(__name__, instance_path=instance, instance_relative_config=True)
    app.request_class = UploadFolderRequest
    if config and config.get("TESTING"):
        app.testing = True
    _configure(app, config)
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    from blueprints.ops import init_logging, init_ops

    # JSON logs (with request ids) under a server in production, before anything is logged.
    init_logging(app, served=_flask_command() is None)
    if app.config["TRUSTED_PROXIES"]:
        # The client's address (rate limits, logs) is the one the nearest trusted proxy saw;
        # X-Forwarded-For entries beyond those proxies may be forged by the client. The scheme
        # and host the browser used (same-origin check, redirects) come from the same proxies.
        hops = app.config["TRUSTED_PROXIES"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)
    _warn_about_per_process_rate_limits(app)

    from blueprints import register_blueprints
    from blueprints.ids import IdConverter

    # Before the blueprints, whose rules name it: `<id:occurrence_id>`.
    app.url_map.converters["id"] = IdConverter
    register_blueprints(app)
    _configure_jobs(app)
    check = app.config["STORAGE_CHECK_AT_START"]
    if check or (check is None and not app.testing and _started_by_a_server()):
        _check_storage(app)
    init_ops(app)  # /healthz, /readyz, /metrics; request ids, request logs and metrics
    sweep = app.config["SWEEP_UPLOADS_AT_START"]
    if sweep or (sweep is None and not app.testing and _started_by_a_server()):
        from blueprints.attachments.commands import sweep_uploads_at_start

        sweep_uploads_at_start(app)
    return app


def _configure_jobs(app: Flask) -> None:
    from services.jobs import tasks  # noqa: F401 (registers the jobs)
    from services.jobs.queue import configure_jobs

    try:
        configure_jobs(app)
    except ValueError as err:
        raise ConfigurationError(str(err)) from None


def _check_storage(app: Flask) -> None:
    """A bucket that does not exist is a setting to fix: the app does not start. A storage
    out of reach may come back: logged, and /readyz says so until it does."""
    from services.storage import MissingBucket, StorageUnavailable, storage_for

    try:
        storage_for(app).check()
    except MissingBucket as err:
        raise ConfigurationError(err.message) from None
    except StorageUnavailable as err:
        app.logger.warning("file storage: %s", err.message)


def _started_by_a_server() -> bool:
    """Not made for a `flask` command other than `flask run` (`flask db upgrade`, `flask
    sweep-uploads` itself...)."""
    return _flask_command() in (None, "run")


def _in_a_flask_process() -> bool:
    """Built by the `flask` executable (or `python -m flask`), not by a server, nor by a test
    running commands through a CliRunner in its own long process."""
    command = click.get_current_context(silent=True)
    return command is not None and command.find_root().command is flask_cli


def _flask_command() -> str | None:
    """The `flask` command building the app (`run`, `db`...); None under a WSGI server such as
    gunicorn, which runs no click command."""
    command = click.get_current_context(silent=True)
    return command.info_name if command is not None else None
