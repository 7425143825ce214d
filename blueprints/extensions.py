"""Flask extensions, created unbound and bound to the app in the factory."""

from __future__ import annotations

from flask import Flask
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_wtf.csrf import CSRFProtect

csrf = CSRFProtect()
login_manager = LoginManager()
login_manager.login_view = "auth.login"
login_manager.login_message = "Please log in to see this page."
login_manager.login_message_category = "info"
# Remember-me cookies must not survive a change of IP/agent hijack attempt unnoticed.
login_manager.session_protection = "basic"
migrate = Migrate()


def init_limiter(app: Flask) -> Limiter:
    """A rate limiter of this app's own, found later as `app.extensions["termtable.limiter"]`.

    Flask-Limiter keeps its on/off switch and its storage on the `Limiter` object, so one
    module-level instance would let the last app created decide for every app in the process
    (tests build several, with and without limits).
    """
    limiter = Limiter(key_func=get_remote_address, default_limits=[])
    limiter.init_app(app)
    app.extensions["termtable.limiter"] = limiter
    return limiter
