"""Boxes topic authors write (warning, key-points, tip) and numbered steps: their HTML, their
titles in the page's language, their place in the PDF's structure tree, their icons (drawn,
never text), and lint's checks of them."""

from __future__ import annotations

import re
import subprocess
import unicodedata
from pathlib import Path

import pikepdf
import pytest
from click.testing import CliRunner
from conftest import ROOT, pdftotext

from handoutkit.cli import main
from handoutkit.content.brand import load_brand
from handoutkit.content.library import Library
from handoutkit.content.topic import parse_topic
from handoutkit.lint.rules import Linter

HEADER = """---
id: demo
lang: {lang}
title: Demo
level: basics
version: "1.0"
updated: 2026-11-20
summary: A topic with every kind of box.
credit: Written by the handouts project contributors.
---
"""
BODY = """
## What to do {#steps}

Take these steps:

1. Call 911 now.
2. Spray one dose in one nostril.
3. Stay with the person.

::: warning
Never take this medicine with **alcohol**.
:::

::: tip
Write your questions down before your visit.
:::

::: key-points
- Call 911 first.
- Give the spray.
- Stay with the person.
:::

## Questions to ask your care team {#questions}

- What does this medicine do?
- How long will I take it?
- What should I do if I miss a dose?
"""


def topic_text(lang: str = "en", body: str = BODY) -> str:
    return HEADER.format(lang=lang) + body


def test_boxes_render_with_titles_in_the_page_language():
    topic = parse_topic(topic_text(), Path("demo.en.md"))
    html = topic.section("steps").html()
    assert '<div class="callout callout-warning" role="note">\n<h3 class="callout-title">' \
           'Caution</h3>' in html
    assert '<h3 class="callout-title">Remember</h3>' in html
    assert '<h3 class="callout-title">Tip</h3>' in html
    assert "<ol>" in html
    spanish = topic.section("steps").html(strings={"warning": "Precaución",
                                                   "key_points": "Recuerde", "tip": "Consejo"})
    assert ">Precaución</h3>" in spanish and ">Recuerde</h3>" in spanish


def _struct_kids(node):
    kids = node.get("/K")
    if kids is None:
        return []
    return list(kids) if isinstance(kids, pikepdf.Array) else [kids]


def _mcids(node) -> list[int]:
    """The marked-content ids of a structure element and everything under it."""
    found = []
    for kid in _struct_kids(node):
        if isinstance(kid, int):
            found.append(int(kid))
        elif isinstance(kid, pikepdf.Dictionary):
            if "/MCID" in kid:
                found.append(int(kid.MCID))
            elif "/S" in kid:
                found.extend(_mcids(kid))
    return found


def _text_of(pdf_path: Path, node, page_index: int, tmp_path: Path) -> str:
    """The words a structure element holds: the page with only its marked content shown,
    read by pdftotext."""
    wanted = set(_mcids(node))
    with pikepdf.open(pdf_path) as pdf:
        page = pdf.pages[page_index]
        out, stack = [], []
        for operands, operator in pikepdf.parse_content_stream(page):
            name = str(operator)
            if name in ("BDC", "BMC"):
                props = operands[1] if name == "BDC" and len(operands) > 1 else None
                mcid = int(props.MCID) if isinstance(props, pikepdf.Dictionary) and \
                    "/MCID" in props else None
                stack.append(mcid)
            elif name == "EMC" and stack:
                stack.pop()
            shown = any(m in wanted for m in stack if m is not None)
            if name in ("Tj", "TJ", "'", '"', "Do") and not shown:
                continue
            out.append((operands, operator))
        page.Contents = pdf.make_stream(pikepdf.unparse_content_stream(out))
        for annotated in list(pdf.pages)[::-1]:
            if annotated.objgen != page.objgen:
                del pdf.pages[pdf.pages.index(annotated)]
        single = tmp_path / f"part-{page_index}-{min(wanted, default=0)}.pdf"
        pdf.save(single)
    return " ".join(pdftotext(single).split())


def _elements(node, kind: str, found=None):
    found = [] if found is None else found
    for kid in _struct_kids(node):
        if isinstance(kid, pikepdf.Dictionary) and "/S" in kid:
            if kid.S == kind:
                found.append(kid)
            _elements(kid, kind, found)
    return found


@pytest.fixture(scope="module")
def demo_pdf(tmp_path_factory):
    root = tmp_path_factory.mktemp("blocks")
    (root / "handouts").mkdir()
    (root / "handouts" / "demo.en.md").write_text(topic_text(), encoding="utf-8")
    out = root / "demo.pdf"
    result = CliRunner().invoke(main, ["--library", str(root), "build", "demo", "-o", str(out)])
    assert result.exit_code == 0, result.output
    return out


def test_warning_and_key_points_boxes_are_tagged_with_their_titles(demo_pdf, tmp_path):
    with pikepdf.open(demo_pdf) as pdf:
        pages = {p.objgen: i for i, p in enumerate(pdf.pages)}
        boxes = {}
        for div in _elements(pdf.Root.StructTreeRoot, "/Div"):
            kids = [k for k in _struct_kids(div) if isinstance(k, pikepdf.Dictionary)]
            assert kids and kids[0].S == "/H3", "a box starts with its title"
            page = pages[div.Pg.objgen]
            title = _text_of(demo_pdf, kids[0], page, tmp_path)
            boxes[title] = (div, [k.S for k in kids[1:]],
                            _text_of(demo_pdf, div, page, tmp_path))
    assert set(boxes) == {"Caution", "Tip", "Remember"}
    div, rest, text = boxes["Caution"]
    assert rest == ["/P"] and text == "Caution Never take this medicine with alcohol."
    div, rest, text = boxes["Remember"]
    assert rest == ["/L"]
    assert len(_elements(div, "/LI")) == 3
    assert text.startswith("Remember") and "Stay with the person." in text


def test_icons_are_not_text_nor_figures(demo_pdf):
    lines = [line.strip() for line in pdftotext(demo_pdf).splitlines() if line.strip()]
    # A heading may wrap in a column: a line, or two lines running on.
    runs = lines + [f"{a} {b}" for a, b in zip(lines, lines[1:])]
    for title in ("Caution", "Tip", "Remember", "Questions to ask your care team"):
        assert title in runs, title  # whole lines: no stray letters from an icon
    with pikepdf.open(demo_pdf) as pdf:
        assert _elements(pdf.Root.StructTreeRoot, "/Figure") == []


def test_numbered_steps_print_their_numbers(demo_pdf):
    # Each step is a line of its own with its number, in order (the page's two columns may
    # interleave other lines between them in poppler's reading order).
    lines = [line.strip() for line in pdftotext(demo_pdf).splitlines() if line.strip()]
    steps = ["1. Call 911 now.", "2. Spray one dose in one nostril.", "3. Stay with the person."]
    positions = [lines.index(step) for step in steps]
    assert positions == sorted(positions)


def _lint(root: Path) -> set[tuple[str, str, str]]:
    library = Library(root)
    linter = Linter(library, load_brand(library.default_brand))
    linter.run(["demo"])
    return {(f.severity, f.check, f.message) for f in linter.findings}


@pytest.mark.parametrize("change, severity, check, message", [
    ("- Stay with the person.\n:::", "error", "key-points",
     "section 'steps': the key-points box has 2 points; write exactly 3"),
    ("- Stay with the person.\n  - and keep them warm\n:::", "error", "key-points",
     "section 'steps': the key-points box must hold only a list of 3 points ('- ' lines)"),
    ("- Stay with the person, and keep talking to them in a calm voice until the people from "
     "the ambulance come and take over.\n:::", "warning", "key-points",
     "section 'steps': the key-points box: 'Stay with the person, and keep talking t...' has "
     "23 words; keep each point to one short sentence (20 words at most)"),
])
def test_lint_checks_the_key_points_box(make_library, change, severity, check, message):
    body = BODY.replace("- Give the spray.\n", "") if "2 points" in message else BODY
    body = body.replace("- Stay with the person.\n:::", change)
    root = make_library({"handouts/demo.en.md": topic_text(body=body)})
    assert (severity, check, message) in _lint(root)


def test_lint_refuses_an_unknown_block_and_flags_missing_teach_back(make_library):
    body = BODY.replace("::: tip", "::: caution").split("## Questions")[0]
    body = body.replace("::: key-points\n- Call 911 first.\n- Give the spray.\n"
                        "- Stay with the person.\n:::\n", "")
    found = _lint(make_library({"handouts/demo.en.md": topic_text(body=body)}))
    assert ("error", "block", "section 'steps': '::: caution' is not a block (blocks: "
            "emergency, tip, warning, key-points, write-in)") in found
    assert any(c == "key-points" and s == "warning" for s, c, _ in found)
    assert any(c == "questions" and s == "warning" for s, c, _ in found)


def test_good_boxes_lint_clean(make_library):
    found = _lint(make_library({"handouts/demo.en.md": topic_text()}))
    assert not [f for f in found if f[1] in ("block", "key-points", "questions")]


def test_every_language_has_the_box_titles():
    from handoutkit.content.wording import load_strings

    strings = load_strings(Library())
    for lang in ("en", "es", "zh-Hans", "zh-Hant", "vi", "ko", "tl", "ru", "ar"):
        for key in ("warning", "key_points", "tip"):
            assert strings[lang][key].strip(), (lang, key)
        if lang != "en":
            assert strings[lang]["warning"] != strings["en"]["warning"], lang


WRITE_IN = """
## My plan {#plan}

::: write-in
1. My warning signs ___ ___
2. My care team's phone ___
:::

::: write-in
- My reasons for living ___ ___ ___
:::
"""


def test_write_in_items_print_labels_and_ruled_lines():
    topic = parse_topic(topic_text(body=WRITE_IN), Path("demo.en.md"))
    html = topic.section("plan").html()
    assert '<div class="callout callout-write-in" role="note">' in html
    assert '<ol class="write-in-list">' in html and '<ul class="write-in-list">' in html
    assert ('<li class="lines-2">My warning signs<textarea class="write-in-field" '
            'name="plan-1" title="My warning signs" aria-label="My warning signs" rows="2">'
            '</textarea></li>') in html
    assert '<li class="lines-1">My care team\'s phone<textarea' in html
    assert 'name="plan-3" title="My reasons for living"' in html and 'rows="3"' in html
    assert "___" not in html
    # In a document, each field is named after its section's anchor.
    named = topic.section("plan").html(anchor="demo-en--plan")
    assert 'name="demo-en--plan-1"' in named and 'name="demo-en--plan-3"' in named


def test_lint_refuses_a_write_in_item_without_lines(make_library):
    body = BODY + WRITE_IN.replace("2. My care team's phone ___", "2. My care team's phone")
    found = _lint(make_library({"handouts/demo.en.md": topic_text(body=body)}))
    assert ("error", "block", "section 'plan': the write-in box: 'My care team's phone' has no "
            "'___' to write on (one '___' a line)") in found
    clean = _lint(make_library({"handouts/demo.en.md": topic_text(body=BODY + WRITE_IN)}))
    assert not [f for f in clean if f[1] == "block"]


@pytest.mark.parametrize("spec, labels", [
    ("my-safety-plan", ["My warning signs", "What I can do on my own", "People I can ask for help",
                        "after-hours number", "Crisis line: call or text 988",
                        "emergency department", "make my home safe", "My reasons for living",
                        "If you cannot stay safe at any step, call 988 or 911 now"]),
    ("my-safety-plan@es", ["Mis señales de alerta", "Línea de crisis", "Mis razones para vivir"]),
])
def test_the_safety_plan_and_its_crisis_block_fill_the_first_letter_page(tmp_path, spec, labels):
    """The plan and its crisis block on one page (standard layout, letter): a person in crisis
    has the plan's steps and the ways to get help on one sheet; the closing block follows."""
    out = tmp_path / "plan.pdf"
    result = CliRunner().invoke(main, ["build", spec, "--paper", "letter", "-o", str(out)])
    assert result.exit_code == 0, result.output
    pages = [" ".join(page.split()) for page in pdftotext(out).split("\f") if page.strip()]
    assert len(pages) == 2
    first, second = pages
    # The whole plan, every field, on the first page, with its step to call 988 or 911.
    for label in labels:
        assert label in first, label
    assert "988" in first and "911" in first and "___" not in first
    # The crisis block whole on the first page too, from its lead line to its last line.
    assert "In danger now?" in first or "¿Hay peligro ahora?" in first
    assert "Do not leave a person" in first or "No deje sola a una persona" in first
    assert "More on this topic" in second or "Más sobre este tema" in second
    # The lines to write on are drawn, not printed as text: no underscores or rules in the text.
    assert "_" not in first


VIRAMA = re.compile("[\u094d\u09cd]")
PLAN_LANGS = sorted(path.name.split(".")[1]
                    for path in (ROOT / "handouts").glob("my-safety-plan.*.md"))


def _plan_lines(lang: str) -> tuple[list[str], str, str]:
    """The plan's step labels, and its crisis block's first and last lines, from its file."""
    text = (ROOT / "handouts" / f"my-safety-plan.{lang}.md").read_text(encoding="utf-8")
    labels = re.findall(r"^\d+\. (.+?)(?: ___)+$", text, re.MULTILINE)
    block = re.search(r"^::: emergency\n(.*?)^:::$", text, re.MULTILINE | re.DOTALL).group(1)
    lines = [line for line in block.splitlines() if line.strip()]
    return labels, lines[0].strip("*"), lines[-1].removeprefix("- ")


@pytest.mark.parametrize("paper", ["letter", "a4"])
@pytest.mark.parametrize("lang", PLAN_LANGS)
def test_the_safety_plan_and_its_crisis_block_fill_the_first_page_in_every_language(
        tmp_path, lang, paper):
    """In every language the plan is written in, on both papers (standard layout): its eight
    steps (their fields) and its whole crisis block on the first page, the closing block on
    the second. The crisis block's lines are sought word by word: poppler may give a wrapped
    right-to-left line back in another order, and Devanagari and Bengali conjuncts (a
    consonant with a virama) in other letters, so words holding one are not sought."""
    from test_every_language import flat, reading_text

    def letters(text: str) -> str:
        text = flat(unicodedata.normalize("NFKC", text), lang)
        return "".join(c for c in text if unicodedata.category(c)[0] in "LN")

    labels, first_line, last_line = _plan_lines(lang)
    assert len(labels) == 8
    out = tmp_path / "plan.pdf"
    result = CliRunner().invoke(main, ["build", f"my-safety-plan@{lang}", "--paper", paper,
                                       "-o", str(out)])
    assert result.exit_code == 0, result.output
    with pikepdf.open(out) as pdf:
        assert len(pdf.pages) == 2
        steps = [[str(a.get("/TU", a.get("/Parent", {}).get("/TU", ""))) for a in
                  page.get("/Annots", []) if a.get("/Subtype") == "/Widget"]
                 for page in pdf.pages]
    assert steps == [labels, []]
    first = letters(reading_text(out, lang).split("\f")[0])
    for line in (first_line, last_line):
        for word in line.split():
            if not VIRAMA.search(word):
                assert letters(word) in first, (line, word)


def _form_elements(pdf) -> list:
    return _elements(pdf.Root.StructTreeRoot, "/Form")


def test_write_in_fields_are_fillable_tagged_and_clean(tmp_path):
    out = tmp_path / "plan.pdf"
    result = CliRunner().invoke(main, ["build", "my-safety-plan", "my-safety-plan@es",
                                       "-o", str(out)])
    assert result.exit_code == 0, result.output
    check = subprocess.run(["qpdf", "--check", str(out)], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    with pikepdf.open(out) as pdf:
        fields = list(pdf.Root.AcroForm.Fields)
        names = [str(f.T) for f in fields]
        assert len(names) == len(set(names)) == 16  # 8 a language, each named once
        assert names[0] == "my-safety-plan-en--plan-1"
        assert str(fields[0].TU) == "My warning signs"  # what a screen reader says
        assert str(fields[8].TU) == "Mis señales de alerta"
        assert all(str(f.FT) == "/Tx" for f in fields)
        # Each field is a Form element of the structure tree, inside its list item.
        forms = _form_elements(pdf)
        assert len(forms) == 16
        widgets = [a for page in pdf.pages for a in page.get("/Annots", [])
                   if a.get("/Subtype") == "/Widget"]
        assert len(widgets) == 16 and all("/StructParent" in w for w in widgets)


def test_archival_pdf_keeps_write_in_lines_without_fields(tmp_path):
    out = tmp_path / "plan.pdf"
    result = CliRunner().invoke(main, ["build", "my-safety-plan", "--archival", "-o", str(out)])
    assert result.exit_code == 0, result.output
    with pikepdf.open(out) as pdf:
        assert "/AcroForm" not in pdf.Root and not _form_elements(pdf)
    assert "My reasons for living" in pdftotext(out)
