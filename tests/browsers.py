"""Chromium for the browser tests (Playwright driving the system `chromium` package):
one launch per module, a fresh context per test, and signing in to the staff page."""

from __future__ import annotations

import contextlib
import shutil

import pytest
from playwright.sync_api import expect
from servers import KEY

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]
needs_chromium = pytest.mark.skipif(shutil.which("chromium") is None,
                                    reason="the chromium package is not installed")


@contextlib.contextmanager
def launched():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield browser
        browser.close()


@contextlib.contextmanager
def opened(browser, url: str, timeout: float):
    """A page of a new context (no cookies) on `url`, with downloads, waiting up to
    `timeout` ms by default."""
    context = browser.new_context(base_url=url, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(timeout)
    yield page
    context.close()


def sign_in(page, key=KEY):
    page.goto("/")
    page.get_by_label("Service key").fill(key)
    page.get_by_role("button", name="Sign in").click()
    if key == KEY:  # the staff page, with its script, has loaded
        expect(page.get_by_role("heading", name="Make a handout")).to_be_visible()
    page.wait_for_load_state("load")
