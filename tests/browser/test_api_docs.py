"""The API reference renders under the strict CSP (a violation is a console error: it fails)."""

from __future__ import annotations

from playwright.sync_api import expect


def test_the_api_reference_renders_the_operations(page):
    page.goto("/api/v1/docs")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("Termtable")
    expect(page.locator(".opblock-summary-path", has_text="/api/v1/requests").first).to_be_visible()
    expect(page.get_by_role("button", name="Authorize")).to_be_visible()
