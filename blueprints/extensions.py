"""Flask extensions, created unbound and bound to the app in the factory."""

from __future__ import annotations

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
limiter = Limiter(key_func=get_remote_address, default_limits=[])
