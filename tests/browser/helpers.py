"""Helpers for the real-browser tests: logging in and saving screenshots as test artefacts."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from playwright.sync_api import Page, expect

from models import db
from tests.conftest import TEST_PASSWORD, empty_all_tables

# Screenshots land here (gitignored); CI can keep the folder as a build artefact.
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def login(page: Page, email: str, password: str = TEST_PASSWORD) -> None:
    """Log in through the real login form and wait until the page says who is logged in."""
    page.goto("/auth/login")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    # On a narrow screen the button is in the closed "Menu": there, but not visible.
    logged_in = page.get_by_role("button", name=re.compile(r"^Log out "), include_hidden=True)
    expect(logged_in.first).to_be_attached()
    # The landing page has loaded, its scripts (htmx, app.js) run: the test's next step does
    # not race them (the "Log out" button is there as soon as the HTML is parsed).
    page.wait_for_load_state("load")


def screenshot(page: Page, name: str) -> Path:
    """Save a full-page screenshot as test-artifacts/<name>.png and return its path."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{safe_name(name)}.png"
    # caret="initial": Playwright's default caret hiding leaves style="caret-color: ..." on
    # inputs, which htmx's settle step then copies with setAttribute: a CSP violation.
    page.screenshot(path=path, full_page=True, caret="initial")
    return path


def safe_name(text: str) -> str:
    """A file name from a test id: `tests/browser/test_x.py::test_y[a]` gives `test_x-test_y-a`."""
    text = text.rsplit("/", 1)[-1].replace(".py::", "-")
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-")


@contextmanager
def module_school(app, seed: Callable[[], dict]) -> Iterator[dict]:
    """A school seeded once for a module's shared pages (`seed()` commits and returns ids);
    its tables are emptied at the end of the module, as the root `_clean_database` does."""
    with app.app_context():
        ids = seed()
        db.session.remove()
    try:
        yield ids
    finally:
        with app.app_context():
            empty_all_tables()


def pick(field, typed: str, name: str) -> None:
    """Type into a field that suggests (templates/_typeahead.html), and click the suggestion
    whose name starts with `name`."""
    field.fill(typed)
    listbox = field.locator("xpath=..").get_by_role("listbox")
    option = listbox.get_by_role("option", name=re.compile(rf"^{re.escape(name)}(\b|$)"))
    option.click()
