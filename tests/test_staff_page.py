"""The staff page in a real browser: Playwright driving the system Chromium."""

from __future__ import annotations

import io
import re

import httpx
import pytest
from browsers import launched, needs_chromium, opened, sign_in
from playwright.sync_api import expect
from pypdf import PdfReader
from servers import KEY, start_server

pytestmark = [needs_chromium, pytest.mark.slow]  # see conftest.py: `-m 'not slow'`
PATIENT = "Mirela Tovaszky"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = start_server(tmp_path_factory.mktemp("staff"), "--workers", "2", key=KEY)
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def browser():
    with launched() as browser:
        yield browser


@pytest.fixture
def page(browser, server):
    with opened(browser, server.url, 20000) as page:
        yield page


def pdf_text(data: bytes) -> str:
    return "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(data)).pages)


def test_sign_in_keeps_a_secure_http_only_session(page, server):
    page.goto("/")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    sign_in(page, "not-the-key")
    expect(page.get_by_role("alert")).to_contain_text("That key is not right")
    sign_in(page)
    expect(page.get_by_role("heading", name="Make a handout")).to_be_visible()
    (cookie,) = page.context.cookies()
    assert cookie["httpOnly"] and cookie["secure"] and cookie["sameSite"] == "Strict"
    assert KEY not in cookie["value"]
    # The page's security headers.
    answer = page.request.get("/")
    csp = answer.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert answer.headers["x-content-type-options"] == "nosniff"
    # Signing out ends the session.
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()


def test_forms_need_their_csrf_token(page, server):
    sign_in(page)
    # The session cookie alone (as a forged form from another site would send) is refused.
    forged = page.request.post("/staff/document", form={"topic": "ocd", "action": "download"})
    assert forged.status == 403 and forged.json()["error"] == "forbidden"
    token = page.locator("#build input[name=csrf]").input_value()
    other = page.request.post("/staff/document", headers={"Origin": "https://evil.example"},
                              form={"topic": "ocd", "action": "download", "csrf": token})
    assert other.status == 403
    # The session reads the API (the Infobutton links open) but does not post to it.
    assert page.request.get("/v1/topics/ocd").status == 200
    assert page.request.post("/v1/documents", data={"specs": ["ocd"]}).status == 401
    # Without signing in, the page only offers the sign-in form, and the API needs a key.
    assert httpx.post(server.url + "/staff/document", data={"topic": "ocd"},
                      follow_redirects=False).status_code in (303, 403)


def test_search_pick_sections_and_download_a_packet(page):
    sign_in(page)
    search = page.get_by_label(
        "Search topics by what the patient says, a title or an ICD-10-CM code")
    search.fill("anxiety")
    # The server's search: the topics about it and those that speak of it; not insomnia.
    expect(page.get_by_label("Social Anxiety Disorder", exact=True)).to_be_visible()
    expect(page.get_by_label("Generalized Anxiety Disorder", exact=True)).to_be_visible()
    expect(page.get_by_label("Insomnia", exact=True)).to_be_hidden()
    page.get_by_label("Generalized Anxiety Disorder", exact=True).check()
    search.fill("F51")  # insomnia's code
    expect(page.get_by_role("status")).to_have_text("2 topics shown")  # and the pick
    page.get_by_label("Insomnia", exact=True).check()
    page.get_by_text("Sections of Insomnia", exact=True).click()
    sections = page.locator("#topic-insomnia ~ details input[type=checkbox]")
    ids = [sections.nth(i).get_attribute("value") for i in range(sections.count())]
    keep = ids[0]
    for i in range(1, sections.count()):
        box = sections.nth(i)
        if box.is_enabled():
            box.uncheck()
    page.get_by_label("Patient name").fill(PATIENT)
    page.get_by_label("Paper").select_option("a4")
    with page.expect_download() as download_info:
        page.get_by_role("button", name="Download PDF").click()
    download = download_info.value
    # Named from the topics and the day it was made, never from the patient.
    assert re.fullmatch(r"generalized-anxiety_insomnia_\d{4}-\d\d-\d\d\.pdf",
                        download.suggested_filename)
    data = open(download.path(), "rb").read()
    text = pdf_text(data)
    assert PATIENT in text and "Generalized Anxiety Disorder" in text and "Insomnia" in text
    import json

    manifest = json.loads(PdfReader(io.BytesIO(data)).attachments["handouts-manifest.json"][0])
    assert [t["id"] for t in manifest["topics"]] == ["generalized-anxiety", "insomnia"]
    insomnia = manifest["topics"][1]
    assert insomnia["sections"][0] == keep and len(insomnia["sections"]) < len(ids)
    assert manifest["paper"] == "a4"


def test_preview_opens_the_html(page):
    sign_in(page)
    page.get_by_label("Obsessive-Compulsive Disorder (OCD)", exact=True).check()
    page.get_by_label("Layout").select_option("large-print")
    page.get_by_label("Patient name").fill(PATIENT)
    # A cold large-print preview lays the topic out, and may try its tool in other places:
    # about 25 s on a quiet 2-core machine.
    with page.context.expect_page(timeout=120000) as new_page:
        page.get_by_role("button", name="Preview").click()
    preview = new_page.value
    preview.wait_for_load_state(timeout=120000)
    assert PATIENT in preview.content()
    headings = preview.get_by_role("heading", level=1).all_inner_texts()
    assert "Obsessive-Compulsive Disorder (OCD)" in headings


def test_an_error_is_shown_on_the_page(page):
    sign_in(page)
    page.get_by_role("button", name="Download PDF").click()
    expect(page.get_by_role("alert")).to_have_text("Pick at least one topic.")
    page.get_by_label("Obsessive-Compulsive Disorder (OCD)", exact=True).check()
    page.get_by_label("Language").select_option("es")
    # "English where missing" is on by default; without it a topic missing in Spanish
    # is an error on the page.
    assert page.get_by_label("English where missing").is_checked()
    page.get_by_label("English where missing").uncheck()
    page.get_by_role("button", name="Download PDF").click()
    expect(page.get_by_role("alert")).to_contain_text("has no 'es' version")
    expect(page.get_by_role("alert")).to_contain_text('Tick "English where missing"')
    # What was typed and picked stays.
    assert page.get_by_label("Obsessive-Compulsive Disorder (OCD)", exact=True).is_checked()


def test_keyboard_only(page):
    """Sign in, find a topic, pick it, type the name and download, with the keyboard."""
    page.goto("/")
    page.keyboard.press("Tab")  # the skip link comes first
    assert page.evaluate("document.activeElement.textContent") == "Skip to the main content"
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "key"
    page.keyboard.type(KEY)
    page.keyboard.press("Enter")
    page.wait_for_selector("text=Make a handout")

    def focus_until(condition: str, limit: int = 80) -> None:
        for _ in range(limit):
            page.keyboard.press("Tab")
            script = f"(() => {{ const e = document.activeElement; return {condition}; }})()"
            if page.evaluate(script):
                return
        raise AssertionError(f"Tab never reached {condition}")

    focus_until("e.id === 'q'")
    page.keyboard.type("insomnia")
    focus_until("e.id === 'topic-insomnia'")
    page.keyboard.press("Space")
    assert page.get_by_label("Insomnia", exact=True).is_checked()
    focus_until("e.id === 'patient'")
    page.keyboard.type(PATIENT)
    focus_until("e.tagName === 'BUTTON' && e.value === 'download'")
    # Every control passed on the way had a visible focus outline.
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline == "solid"
    with page.expect_download() as download_info:
        page.keyboard.press("Enter")
    data = open(download_info.value.path(), "rb").read()
    assert PATIENT in pdf_text(data)


def test_every_control_is_labelled_and_reflows_at_200_percent(page):
    sign_in(page)
    unlabelled = page.evaluate("""() => Array.from(document.querySelectorAll(
        'input:not([type=hidden]), select, textarea, button')).filter(e =>
        !(e.labels && e.labels.length) && !e.textContent.trim() &&
        !e.getAttribute('aria-label')).map(e => e.outerHTML)""")
    assert unlabelled == []
    assert page.evaluate("document.documentElement.lang") == "en"
    # 200% zoom of a 1280 px window is a 640 px viewport: nothing scrolls sideways.
    page.set_viewport_size({"width": 640, "height": 800})
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


# -- a busy desk: details cleared, New patient, progress, Cancel, errors in words ----------

def fill_patient(page):
    page.get_by_label("Patient name").fill(PATIENT)
    page.get_by_label("Visit date").fill("2026-12-01")
    page.get_by_label("Clinician").fill("Dr. Anwen Price")
    page.get_by_label("Note").fill("Walk 20 minutes a day.")


PERSONAL_FIELDS = ("Patient name", "Visit date", "Clinician", "Note")


def test_a_download_clears_the_patients_details_and_keeps_the_topics(page):
    sign_in(page)
    page.get_by_label("Insomnia", exact=True).check()
    fill_patient(page)
    with page.expect_download() as download_info:
        page.get_by_role("button", name="Download PDF").click()
    download = download_info.value
    assert PATIENT in pdf_text(open(download.path(), "rb").read())
    assert "Tovaszky" not in download.suggested_filename
    assert "2026-12-01" not in download.suggested_filename  # the visit date is the patient's
    expect(page.locator("#progress-text")).to_contain_text("The patient's details were cleared")
    for label in PERSONAL_FIELDS:
        expect(page.get_by_label(label, exact=True)).to_have_value("")
    assert page.get_by_label("Insomnia", exact=True).is_checked()
    # The next patient's packet holds none of the last patient's details.
    page.get_by_label("Patient name").fill("Bo Chen")
    with page.expect_download() as download_info:
        page.get_by_role("button", name="Download PDF").click()
    text = pdf_text(open(download_info.value.path(), "rb").read())
    assert "Bo Chen" in text and PATIENT not in text and "Anwen" not in text
    assert "Walk 20 minutes" not in text


def test_new_patient_starts_an_empty_form(page):
    sign_in(page)
    page.get_by_label("Insomnia", exact=True).check()
    fill_patient(page)
    page.get_by_role("link", name="New patient").click()
    expect(page.get_by_role("heading", name="Make a handout")).to_be_visible()
    for label in PERSONAL_FIELDS:
        expect(page.get_by_label(label, exact=True)).to_have_value("")
    assert not page.get_by_label("Insomnia", exact=True).is_checked()
    assert page.get_by_label("Layout").input_value() == "standard"


def test_the_page_offers_a_second_language(page):
    sign_in(page)
    page.get_by_label("Suicide Prevention", exact=True).check()
    page.get_by_label("Bilingual: each section also in").select_option("es")
    with page.expect_download() as download_info:
        page.get_by_role("button", name="Download PDF").click()
    data = open(download_info.value.path(), "rb").read()
    import json

    manifest = json.loads(PdfReader(io.BytesIO(data)).attachments["handouts-manifest.json"][0])
    assert manifest["topics"][0]["bilingual"]["lang"] == "es"


@pytest.fixture(scope="module")
def slow_server(tmp_path_factory):
    """One worker, no queue, and renders that take 6 s (a test hook), stopped after 4 s:
    long enough that a request made a second after another still finds the worker busy
    when it is retried, on a loaded machine too."""
    srv = start_server(tmp_path_factory.mktemp("slow"), "--workers", "1", "--queue", "0",
                       "--timeout", "4", key=KEY, env={"HANDOUTS_TEST_RENDER_DELAY": "6"})
    yield srv
    srv.stop()


@pytest.fixture
def slow_page(browser, slow_server):
    with opened(browser, slow_server.url, 60000) as page:
        yield page


def test_progress_cancel_and_a_timeout_in_words(slow_page):
    page = slow_page
    sign_in(page)
    page.get_by_label("Insomnia", exact=True).check()
    fill_patient(page)
    downloads = []
    page.on("download", lambda d: downloads.append(d))
    page.get_by_role("button", name="Download PDF").click()
    expect(page.locator("#progress-text")).to_contain_text("Making the PDF")
    expect(page.get_by_role("button", name="Download PDF")).to_be_disabled()
    page.get_by_role("button", name="Cancel").click()
    expect(page.locator("#progress-text")).to_have_text("Cancelled. Nothing was downloaded.")
    expect(page.get_by_label("Patient name")).to_have_value(PATIENT)  # kept: nothing made
    expect(page.get_by_role("button", name="Download PDF")).to_be_enabled()
    # The render is stopped at --timeout: a message in words with what to do next.
    page.wait_for_timeout(8000)  # the cancelled render's worker is replaced meanwhile
    page.get_by_role("button", name="Download PDF").click()
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("took longer than 4 s", timeout=90000)
    expect(alert).to_contain_text("trying again is faster")
    assert "{" not in alert.inner_text() and '"detail"' not in page.content()
    assert downloads == []
    expect(page.get_by_label("Patient name")).to_have_value(PATIENT)


def test_busy_is_retried_once_then_said_in_words(slow_page, slow_server):
    import threading

    page = slow_page
    sign_in(page)
    page.get_by_label("Insomnia", exact=True).check()
    # Another desk's render holds the only worker (the queue takes none).
    with slow_server.client() as other:
        holder = threading.Thread(target=other.post, args=("/v1/documents",),
                                  kwargs={"json": {"specs": ["psychotherapy"]}})
        posts = []
        page.on("request", lambda r: posts.append(r) if r.method == "POST" else None)
        holder.start()
        page.wait_for_timeout(1000)  # the other render has the worker
        page.get_by_role("button", name="Download PDF").click()
        expect(page.locator("#progress-text")).to_contain_text("busy. Trying again in")
        alert = page.get_by_role("alert")
        expect(alert).to_contain_text("busy making other handouts", timeout=30000)
        holder.join()
    assert len([r for r in posts if r.url.endswith("/staff/document")]) == 2


def test_without_the_script_errors_are_the_page_not_json(browser, server):
    context = browser.new_context(base_url=server.url, java_script_enabled=False)
    page = context.new_page()
    sign_in(page)
    page.get_by_label("Insomnia", exact=True).check()
    page.get_by_label("Patient name").fill(PATIENT)
    page.get_by_label("Visit date").fill("2026-13-45")
    with page.expect_navigation() as answer:
        page.get_by_role("button", name="Download PDF").click()
    assert answer.value.status == 422
    assert answer.value.headers["content-type"].startswith("text/html")
    expect(page.get_by_role("alert")).to_contain_text("2026-13-45")
    expect(page.get_by_label("Patient name")).to_have_value(PATIENT)  # the form as it was
    assert page.get_by_label("Insomnia", exact=True).is_checked()
    context.close()


def test_the_front_desk_walkthrough_of_the_readme(page):
    """The steps docs/front-desk.md ("At the front desk", once README's) gives, in order; the
    screenshot there is made here (UPDATE_GOLDEN=1 writes it to docs/images/staff-page.png)."""
    import os
    from pathlib import Path

    sign_in(page)
    page.set_viewport_size({"width": 1000, "height": 1300})
    # 1. Search by what the patient says.
    page.get_by_label("Search topics by what the patient says, a title or an ICD-10-CM code") \
        .fill("can't sleep")
    every = page.locator(".topic").count()
    expect(page.locator("#count")).not_to_have_text(f"{every} topics shown")
    expect(page.get_by_label("Insomnia", exact=True)).to_be_visible()
    # 2. Tick the topics; 3. language and layout (Standard is already chosen).
    page.get_by_label("Insomnia", exact=True).check()
    assert page.get_by_label("Layout").input_value() == "standard"
    assert page.get_by_label("English where missing").is_checked()
    # 4. The patient's details.
    page.get_by_label("Patient name").fill("Sam Example")
    page.get_by_label("Visit date").fill("2026-12-07")
    shot = page.screenshot(full_page=True)
    assert shot[:8] == b"\x89PNG\r\n\x1a\n" and len(shot) > 20000
    if os.environ.get("UPDATE_GOLDEN"):
        target = Path(__file__).parents[1] / "docs" / "images" / "staff-page.png"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(shot)
    # 5. Download: the details clear for the next patient.
    with page.expect_download() as download_info:
        page.get_by_role("button", name="Download PDF").click()
    assert "Sam Example" in pdf_text(open(download_info.value.path(), "rb").read())
    expect(page.get_by_label("Patient name")).to_have_value("")


@pytest.mark.parametrize("label, name", [("Patient name", "patient"), ("Visit date", "visit date"),
                                         ("Clinician", "clinician"), ("Note", "note")])
def test_every_personal_field_is_checked_at_the_desk(page, label, name):
    """A character no declared font has, in any one field: refused, the field named, the
    value never echoed in the message (tests/test_personal_fields.py has the other doors)."""
    sign_in(page)
    page.get_by_label("Psychotherapy", exact=True).check()
    page.get_by_label(label, exact=True).fill("Qzxvq \ue000Wyvernz")
    page.get_by_role("button", name="Download PDF").click()
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("U+E000")
    text = alert.inner_text()
    assert f"The {name}" in text and "Qzxvq" not in text


def test_a_link_from_the_health_record_opens_in_a_browser_without_a_key(browser, server):
    """Case 6: a clinician clicks an Infobutton answer's link in the EHR: the handout opens
    with no key and no session; a changed link is refused in words."""
    from urllib.parse import urljoin

    from test_signed_links import ASK, feed_links

    with server.client() as ehr:
        answer = ehr.get("/infobutton", params=ASK)
    assert answer.status_code == 200, answer.text
    html_link = feed_links(answer)[1]
    context = browser.new_context()  # no cookie, no Authorization header
    page = context.new_page()
    opened = page.goto(urljoin(server.url, html_link))
    assert opened.status == 200
    expect(page.get_by_role("heading", level=1).first).to_be_visible()
    assert "ansiedad" in page.content().lower()
    changed = page.goto(urljoin(server.url, html_link.replace("lang=es", "lang=en")))
    assert changed.status == 403
    expect(page.get_by_text("This link has expired or was changed")).to_be_visible()
    context.close()
