"""axe-core (Deque's accessibility engine, the npm package's axe.min.js as bundled by
axe-playwright-python) run in Chromium by Playwright on every state of the staff page and
on a handout's HTML: no violation of any rule axe runs by default (WCAG 2.x A and AA and
axe's best practices)."""

from __future__ import annotations

import pytest
from axe_playwright_python.sync_playwright import Axe
from browsers import launched, needs_chromium, opened, sign_in
from playwright.sync_api import expect
from servers import KEY, start_server

pytestmark = needs_chromium
AXE = Axe()


def violations(page) -> list[str]:
    """Each violation as 'rule: target (summary)', so a failure says what to fix."""
    found = AXE.run(page).response["violations"]
    return [f"{v['id']}: {node['target']} ({node['failureSummary']})"
            for v in found for node in v["nodes"]]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = start_server(tmp_path_factory.mktemp("a11y"), "--workers", "1", key=KEY)
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def browser():
    with launched() as browser:
        yield browser


@pytest.fixture
def page(browser, server):
    with opened(browser, server.url, 30000) as page:
        yield page


def test_signed_out_and_a_wrong_key(page):
    page.goto("/")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    assert violations(page) == []
    sign_in(page, "not-the-key")
    expect(page.get_by_role("alert")).to_be_visible()
    assert violations(page) == []


def test_signed_in_with_sections_open_and_a_search(page):
    sign_in(page)
    expect(page.get_by_role("heading", name="Make a handout")).to_be_visible()
    page.get_by_text("Sections of Insomnia", exact=True).click()
    assert violations(page) == []
    page.get_by_label("Search topics by what the patient says, a title or an ICD-10-CM code") \
        .fill("sleep")
    assert violations(page) == []


def test_errors_with_the_script_and_without(page):
    sign_in(page)
    page.get_by_role("button", name="Download PDF").click()
    expect(page.get_by_role("alert")).to_contain_text("Pick at least one topic")
    assert violations(page) == []


def test_the_error_page_sent_when_the_script_is_off(browser, server, page):
    context = browser.new_context(base_url=server.url, java_script_enabled=False)
    off = context.new_page()
    sign_in(off)
    off.get_by_label("Insomnia", exact=True).check()
    off.get_by_label("Visit date").fill("2026-13-45")
    with off.expect_navigation():
        off.get_by_role("button", name="Download PDF").click()
    expect(off.get_by_role("alert")).to_contain_text("2026-13-45")
    html = off.content()
    context.close()
    # axe needs script: the same page, shown where script runs (same origin, same styles).
    sign_in(page)
    page.set_content(html)
    expect(page.get_by_role("alert")).to_contain_text("2026-13-45")
    assert violations(page) == []


def test_after_a_download(page):
    sign_in(page)
    page.get_by_label("Psychotherapy", exact=True).check()
    with page.expect_download():
        page.get_by_role("button", name="Download PDF").click()
    expect(page.locator("#progress-text")).to_contain_text("Downloaded")
    assert violations(page) == []


def test_the_preview(page):
    sign_in(page)
    page.get_by_label("Suicide Prevention", exact=True).check()
    page.get_by_label("Patient name").fill("Ana Díaz")
    # A cold large-print preview lays the topic out, and may try its tool in other places:
    # about 25 s on a quiet 2-core machine.
    with page.context.expect_page(timeout=120000) as new_page:
        page.get_by_role("button", name="Preview").click()
    preview = new_page.value
    preview.wait_for_load_state(timeout=120000)
    assert "Ana Díaz" in preview.content()
    assert violations(preview) == []


@pytest.mark.parametrize("spec, lang", [("suicide-prevention", "en"), ("insomnia", "en"),
                                        ("suicide-prevention", "ar")])
def test_format_html_output(browser, run, tmp_path, spec, lang):
    out = tmp_path / f"{spec}.{lang}.html"
    result = run("build", spec, "--lang", lang, "--format", "html", "-o", out,
                 "--patient", "Ana Díaz")
    assert result.exit_code == 0, result.output
    context = browser.new_context()
    page = context.new_page()
    page.goto(out.as_uri())
    assert violations(page) == []
    context.close()
