"""A hostile clinic library: what prints is what is checked (pagecheck.py, safety.py).

Each layout, font folder, topic copy or brand below tries to leave the crisis block off
the page a patient holds (hidden, tiny, off the page, covered, unreadable, its numbers
reordered or blank) while the HTML still holds it. Each is refused with exit code 3 (or
earlier with exit code 1) through `build`, `batch` and `serve`, nothing written, and the
message names the rule.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import ROOT, pdftotext

from handoutkit.cli import main

BUNDLED_TOPIC = (ROOT / "handouts" / "psychotherapy.en.md").read_text(encoding="utf-8")
CRISIS = BUNDLED_TOPIC[BUNDLED_TOPIC.index("## What if I am in crisis?"):]
CRISIS = CRISIS[:CRISIS.index(":::\n", CRISIS.index("::: emergency") + 5) + 4]

CALM = f"""---
id: calm
lang: en
title: Feeling Calm
level: basics
version: "1.0"
updated: 2026-10-01
summary: Short ways to feel calm.
mental_health: true
credit: Written for the handouts tests.
reviewed_by: Test fixture
review_due: 2027-10-01
---

Slow breaths can help you feel calm.

## How do I breathe slowly? {{#breathe}}

- Breathe in for 4 counts.
- Breathe out for 6 counts.

{CRISIS}"""

# Each clinic layout adds these rules to the standard layout.
HOSTILE_CSS = {
    "display-none": ".callout-emergency,.crisis-strip,.cover-crisis{display:none!important}",
    "visibility": ".callout-emergency{visibility:hidden}",
    "font-size-0": ".callout-emergency{font-size:0}",
    "one-point": ".callout-emergency{font-size:1pt}",
    "off-page": ".callout-emergency{position:relative; left:-3000px}",
    "white-on-white": ".callout-emergency,.callout-emergency *{color:#fff!important;"
                      "background:#fff!important}",
    "transparent": ".callout-emergency{color:transparent}",
    "transform": ".callout-emergency{transform:scale(0.1)}",
    "opacity": ".callout-emergency{opacity:0.05}",
    "letter-spacing": ".callout-emergency{letter-spacing:40px}",
    "clipped": ".callout-emergency{height:10px; overflow:hidden}",
    "covered": ".required::after{content:''; display:block; position:relative; top:-150px;"
               " height:150px; background:#fff; z-index:10}",
    "fixed-cover": "body::before{content:''; position:fixed; top:0; left:0; width:100%;"
                   " height:100%; background:#fff; z-index:99}",
    "strip-hidden": ".crisis-strip{display:none}",
    "strip-white": ".crisis-strip{color:#ffffff}",
}


def layout(css: str) -> str:
    return ('{% extends "standard/layout.html.j2" %}\n{% block style %}{{ super() }}\n'
            + css + "\n{% endblock %}\n")


@pytest.fixture(scope="module")
def clinic(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("hostile")
    (root / "handouts").mkdir()
    (root / "handouts" / "calm.en.md").write_text(CALM, encoding="utf-8")
    for name, css in HOSTILE_CSS.items():
        folder = root / "layouts" / name
        folder.mkdir(parents=True)
        (folder / "layout.html.j2").write_text(layout(css), encoding="utf-8")
    return root


def run(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def error_line(result) -> str:
    lines = result.output.strip().splitlines()
    assert lines and lines[-1].startswith("Error: "), result.output
    assert "Traceback" not in result.output
    return lines[-1]


def test_the_clinic_library_builds_with_an_honest_layout(clinic, tmp_path):
    out = tmp_path / "calm.pdf"
    result = run("--library", str(clinic), "build", "calm", "-o", str(out))
    assert result.exit_code == 0, result.output
    text = pdftotext(out)
    assert "988" in text and "911" in text


@pytest.mark.parametrize("name", sorted(HOSTILE_CSS))
def test_a_layout_that_hides_the_crisis_block_is_refused(clinic, tmp_path, name):
    out = tmp_path / "calm.pdf"
    result = run("--library", str(clinic), "build", "calm", "--layout", name, "-o", str(out))
    assert result.exit_code == 3, result.output
    message = error_line(result)
    assert "crisis" in message and "calm" in message and "not written" in message
    assert not out.exists() and not list(tmp_path.iterdir())


def test_each_rule_is_named(clinic, tmp_path):
    expected = {"visibility": "hidden", "one-point": "smaller than", "off-page": "outside the page",
                "white-on-white": "contrast", "transform": "transform", "clipped": "clipped",
                "covered": "covered", "strip-hidden": "crisis strip"}
    for name, words in expected.items():
        result = run("--library", str(clinic), "build", "calm", "--layout", name,
                     "-o", str(tmp_path / "x.pdf"))
        assert words in error_line(result), (name, result.output)


def test_a_packet_and_html_and_archival_are_checked_too(clinic, tmp_path):
    for extra in (["calm", "psychotherapy", "--patient", "Test Patient"],
                  ["psychotherapy", "calm"], ["calm", "--archival"],
                  ["calm", "--format", "html"]):
        out = tmp_path / "out.bin"
        result = run("--library", str(clinic), "build", *extra, "--layout", "visibility",
                     "-o", str(out))
        assert result.exit_code == 3, (extra, result.output)
        assert "crisis block of topic" in error_line(result)
        assert not out.exists()


def blank_digit_fonts(folder: Path) -> None:
    from fontTools.ttLib import TTFont
    from fontTools.ttLib.tables._g_l_y_f import Glyph

    folder.mkdir(parents=True)
    for path in (ROOT / "fonts").glob("*.ttf"):
        font = TTFont(path)
        if "glyf" in font and path.name.startswith("Atkinson"):
            cmap = font.getBestCmap()
            for digit in "0123456789":
                font["glyf"][cmap[ord(digit)]] = Glyph()
        font.save(folder / path.name)


def test_fonts_whose_digits_print_blank_are_refused(tmp_path):
    root = tmp_path / "clinic"
    blank_digit_fonts(root / "fonts")
    out = tmp_path / "out.pdf"
    result = run("--library", str(root), "build", "psychotherapy", "-o", str(out))
    assert result.exit_code == 1, result.output
    message = error_line(result)
    assert "AtkinsonHyperlegible" in message and "'0'" in message and "no outline" in message
    assert not out.exists()


def topic_case(tmp_path: Path, name: str, text: str) -> tuple:
    root = tmp_path / "clinic"
    (root / "handouts").mkdir(parents=True)
    (root / "handouts" / name).write_text(text, encoding="utf-8")
    out = tmp_path / "out.pdf"
    return root, out


@pytest.mark.parametrize("case,edit,words", [
    ("bidi", lambda t: t.replace("Call 911", "Call \u202e911\u202c"), "U+202E"),
    ("emptied", lambda t: t[:t.index("::: emergency") + 14] + ":::\n", "does not give 911"),
    ("comment", lambda t: t.replace("Call 911", "Call <!-- 911 -->"), "editor's note"),
    ("comment-988", lambda t: t.replace("**988**", "<!-- 988 -->").replace(
        "text 988", "text").replace("call 988", "call").replace("988 Suicide", "Suicide")
        .replace("dial 711, then 988", "dial 711").replace("988lifeline.org", "lifeline")
        .replace("988lineadevida.org", "lineadevida").replace("AYUDA to 988", "AYUDA"),
     "988"),
])
def test_topic_tricks_are_refused_by_build_and_lint(tmp_path, case, edit, words):
    root, out = topic_case(tmp_path, "calm.en.md", edit(CALM))
    result = run("--library", str(root), "build", "calm", "-o", str(out))
    assert result.exit_code in (1, 3), result.output
    assert words in error_line(result)
    assert not out.exists()
    lint = run("--library", str(root), "lint", "calm")
    assert lint.exit_code == 1 and words in lint.output, lint.output


def test_a_clinic_copy_cannot_turn_off_mental_health(tmp_path):
    text = (ROOT / "handouts" / "suicide-prevention.en.md").read_text(encoding="utf-8")
    text = text.replace("mental_health: true", "mental_health: false")
    start = text.index("{#crisis .required}")
    start = text.rindex("\n## ", 0, start)
    end = text.find("\n## ", start + 4)
    text = text[:start] + (text[end:] if end > 0 else "\n")
    root, out = topic_case(tmp_path, "suicide-prevention.en.md", text)
    result = run("--library", str(root), "build", "suicide-prevention", "-o", str(out))
    assert result.exit_code == 1, result.output
    assert "mental-health" in error_line(result) and not out.exists()


def test_a_topic_that_speaks_of_suicide_or_has_an_f_code_is_mental_health(tmp_path):
    from handoutkit.content.library import Library

    plain = CALM.replace("mental_health: true\n", "")
    plain = plain[:plain.index("## What if I am in crisis?")]
    cases = {"calm": plain.replace("Slow breaths", "Thoughts of suicide pass. Slow breaths"),
             "coded": plain.replace("id: calm", "id: coded").replace(
                 "summary:", "codes: [F41.1]\nsummary:"),
             "sleep": plain.replace("id: calm", "id: sleep")}
    root = tmp_path / "clinic"
    (root / "handouts").mkdir(parents=True)
    for name, text in cases.items():
        (root / "handouts" / f"{name}.en.md").write_text(text, encoding="utf-8")
    library = Library(root)
    assert library.topic("calm").mental_health and library.topic("coded").mental_health
    assert not library.topic("sleep").mental_health
    result = run("--library", str(root), "build", "coded", "-o", str(tmp_path / "c.pdf"))
    assert result.exit_code == 1 and "mental-health" in error_line(result)
    assert run("--library", str(root), "build", "sleep",
               "-o", str(tmp_path / "s.pdf")).exit_code == 0


@pytest.mark.parametrize("brand,words", [
    ('name = "Pale"\ncolor = "#ffffff"\n', "1.00:1"),
    ('name = "Long"\nafter_hours = "' + "5" * 42000 + '"\n', "'after_hours' is 42,000"),
    ('name = "Long"\n[lang.es]\nfooter = "' + "x" * 500 + '"\n', "[lang.es] footer"),
])
def test_brands_within_limits(tmp_path, brand, words):
    path = tmp_path / "brand.toml"
    path.write_text(brand, encoding="utf-8")
    out = tmp_path / "out.pdf"
    result = run("build", "psychotherapy", "--brand", str(path), "-o", str(out))
    assert result.exit_code == 1, result.output
    assert words in error_line(result) and not out.exists()


# -- numbers in reading order -------------------------------------------------------------------

ARABIC_BRAND = '''name = "Riverside"
phone = "(555) 010-0199"
footer = "Questions? (555) 010-0199"
after_hours = "(555) 010-0123"
local_crisis = "(555) 010-0456"
[lang.ar]
footer = "هل لديك أسئلة؟ اتصل بنا على الرقم (555) 010-0199."
'''


def right_to_left_files() -> list[str]:
    from handoutkit.content.wording import direction

    return sorted(p.name for p in (ROOT / "handouts").glob("*.md")
                  if direction(p.name.split(".")[1]) == "rtl")


def test_every_right_to_left_file_prints_numbers_in_reading_order(tmp_path):
    """Each build lays the pages out and compares the digits' order as drawn (glyph
    positions) with the number as written; a Hebrew-named patient on the cover too."""
    brand = tmp_path / "brand.toml"
    brand.write_text(ARABIC_BRAND, encoding="utf-8")
    files = right_to_left_files()
    assert files
    for name in files:
        topic_id, lang = name.split(".")[:2]
        out = tmp_path / f"{topic_id}.pdf"
        result = run("build", f"{topic_id}@{lang}", "--brand", str(brand),
                     "--patient", "שרה כהן", "--visit-date", "2026-11-26", "-o", str(out))
        assert result.exit_code == 0, (name, result.output)
        text = pdftotext(out)
        assert "010-0123" in text and "010-0456" in text and "010-0199" in text


def test_a_reordered_number_is_an_error_not_a_warning(tmp_path):
    """The same Arabic line without the isolates: the bidi algorithm prints the phone
    number's groups the other way round, and the check says so."""
    from handoutkit.content.library import Library
    from handoutkit.errors import RenderError
    from handoutkit.pdf.render import render_pdf
    from handoutkit.pdf.sandbox import Sandbox

    library = Library()
    html = ('<html lang="ar" dir="rtl"><body><p>اتصل بنا على الرقم '
            '<strong>(555) 010-0199</strong> الآن</p></body></html>')
    with pytest.raises(RenderError, match="number order.*010-0199"):
        render_pdf(html, sandbox=Sandbox(library.roots), base_url=library.roots[0])
    fixed = html.replace("(555) 010-0199", "\u2066(555) 010-0199\u2069")
    assert render_pdf(fixed, sandbox=Sandbox(library.roots), base_url=library.roots[0])


def test_isolation_wraps_numbers_and_addresses_only_on_right_to_left_documents():
    from handoutkit.document.bidi import isolate_numbers

    page = ('<html dir="rtl"><head><style>p { margin: 0 0 3pt }</style></head><body>'
            '<p class="a">اتصل (555) 010-0199. أو 988lifeline.org</p></body></html>')
    done = isolate_numbers(page)
    assert "\u2066(555) 010-0199\u2069." in done
    assert "\u2066988lifeline.org\u2069" in done
    assert "margin: 0 0 3pt" in done and 'class="a"' in done
    assert isolate_numbers(page.replace('dir="rtl"', 'dir="ltr"')) == page.replace(
        'dir="rtl"', 'dir="ltr"')


# -- the other front doors ---------------------------------------------------------------------

def test_batch_refuses_the_row_with_exit_code_3(clinic, tmp_path):
    jobs = tmp_path / "jobs.csv"
    jobs.write_text("output,topics,layout,patient\n"
                    "ok.pdf,calm,standard,Ana Diaz\n"
                    "bad.pdf,calm,visibility,Bea Diaz\n", encoding="utf-8")
    out = tmp_path / "out"
    result = subprocess.run(
        [sys.executable, "-m", "handoutkit", "--library", str(clinic), "batch", str(jobs),
         "--out-dir", str(out), "--jobs", "1"], capture_output=True, text=True, timeout=300)
    assert result.returncode == 3, result.stderr
    assert "line 3 (bad.pdf)" in result.stderr and "crisis block" in result.stderr
    assert "Bea" not in result.stderr  # never a patient's details in a row's message
    assert (out / "ok.pdf").exists() and not (out / "bad.pdf").exists()


def test_serve_answers_500_naming_the_rule(clinic, tmp_path):
    pytest.importorskip("starlette")
    from servers import start_server

    server = start_server(tmp_path / "serve", "--workers", "1", library=clinic,
                          key="hostile-test-key-0001")
    try:
        with server.client() as api:
            answer = api.post("/v1/documents", json={"specs": ["calm"],
                                                     "layout": "visibility"})
            assert answer.status_code == 500, answer.text
            body = answer.json()
            assert "crisis block of topic calm" in json.dumps(body)
            good = api.post("/v1/documents", json={"specs": ["calm"]})
            assert good.status_code == 200 and good.content.startswith(b"%PDF")
    finally:
        server.stop()


def test_table_header_cells_carry_their_scope(tmp_path):
    import pikepdf

    out = tmp_path / "insomnia.pdf"
    assert run("build", "insomnia", "-o", str(out)).exit_code == 0
    found = []

    def walk(node):
        if isinstance(node, pikepdf.Dictionary):
            if node.get("/S") == "/TH":
                found.append(node.get("/A"))
            kids = node.get("/K")
            for kid in (kids if isinstance(kids, pikepdf.Array) else [kids]):
                if isinstance(kid, pikepdf.Dictionary):
                    walk(kid)

    with pikepdf.open(out) as pdf:
        walk(pdf.Root.StructTreeRoot)
    assert found and all(a is not None and a.get("/Scope") == "/Column" for a in found)


@pytest.mark.fresh_cache
def test_the_check_runs_once_per_part(clinic, tmp_path, monkeypatch):
    """A warm packet pays nothing: parts are checked when they are made and cached."""
    from handoutkit.pdf import pagecheck

    calls = []
    original = pagecheck.verify
    monkeypatch.setattr(pagecheck, "verify", lambda *a: calls.append(1) or original(*a))
    import handoutkit.pdf.render as render

    monkeypatch.setattr(render, "verify", pagecheck.verify)
    for _ in range(2):
        result = run("--library", str(clinic), "build", "calm", "--jobs", "1",
                     "-o", str(tmp_path / "calm.pdf"))
        assert result.exit_code == 0, result.output
    assert len(calls) == 1
    shutil.rmtree(tmp_path)
