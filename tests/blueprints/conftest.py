"""Web fixtures: each WebTest request starts with an empty `flask.g`, as in production.

The root `_clean_database` fixture keeps an app context open for the whole test, and Flask
reuses an open app context for requests, so without this `g` (and Flask-Login's cached
`g._login_user`) would carry over from one request to the next and hide logout bugs.
"""

from __future__ import annotations

import pytest
from flask import Flask, current_app, g, has_app_context
from webtest import TestApp


class FreshGlobals:
    """WSGI wrapper that empties `flask.g` before each request to `app`."""

    def __init__(self, app: Flask):
        self.app = app

    def __call__(self, environ, start_response):
        if has_app_context() and current_app._get_current_object() is self.app:
            for name in list(g):
                g.pop(name)
        return self.app(environ, start_response)


def browser(app: Flask, **kwargs) -> TestApp:
    """A new browser (its own cookie jar) talking to `app`."""
    return TestApp(FreshGlobals(app), **kwargs)


@pytest.fixture
def web(app):
    return browser(app)
