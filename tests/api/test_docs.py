"""/api/v1/docs: the browsable reference, from the vendored Swagger UI, under the strict CSP."""

from __future__ import annotations

import re
from pathlib import Path

from blueprints import CONTENT_SECURITY_POLICY
from blueprints.api.docs import SWAGGER_UI_BUNDLE

STATIC = Path(__file__).resolve().parents[2] / "static"


def test_the_docs_page_loads_the_vendored_bundle_and_the_document(web):
    page = web.get("/api/v1/docs", status=200)
    assert page.content_type == "text/html"
    scripts = [s["src"] for s in page.html.select("script")]
    assert scripts == [
        f"/static/{SWAGGER_UI_BUNDLE}/swagger-ui-bundle.js",
        "/static/api-docs.js",
    ]
    assert all(not s.string for s in page.html.select("script")), "no inline script"
    assert not re.search(r"https?://", page.text), "nothing from a CDN"
    assert page.html.select_one("#swagger-ui")["data-spec"] == "/api/v1/openapi.json"
    for url in [*scripts, page.html.select_one("link[rel=stylesheet]")["href"]]:
        assert web.get(url, status=200).body
    assert "Apache License" in (STATIC / SWAGGER_UI_BUNDLE / "LICENSE").read_text()


def test_the_docs_page_keeps_the_strict_policy_like_every_page(web):
    docs = web.get("/api/v1/docs")
    assert docs.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    assert "script-src 'self';" in CONTENT_SECURITY_POLICY
    assert "style-src 'self';" in CONTENT_SECURITY_POLICY
    assert web.get("/auth/login").headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY


def test_the_profile_links_to_the_docs(web, login_as):
    login_as("mentor")
    page = web.get("/profile/")
    assert page.html.select_one('a[href="/api/v1/docs"]') is not None
