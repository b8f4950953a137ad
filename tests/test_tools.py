"""Tools: every topic has a section to fill in (a diary, a log, a plan) that builds alone,
with the crisis block, as boxes to write in."""

from __future__ import annotations

import pikepdf
import pytest
from click.testing import CliRunner
from conftest import pdftotext

from handoutkit.cli import main
from handoutkit.content.library import Library
from handoutkit.lint.blocks import has_tool

TOOLS = {
    "insomnia": "sleep-diary", "generalized-anxiety": "worry-log", "panic-disorder": "panic-log",
    "depression-adults": "mood-tracker", "substance-use": "overdose-card",
    "psychotherapy": "questions", "ptsd": "coping-plan", "ocd": "exposure-ladder",
    "social-anxiety": "exposure-ladder", "eating-disorders": "meal-log",
    "suicide-prevention": "my-safety-plan", "coping-with-stress": "stress-plan",
    "my-safety-plan": "plan",
}


# Every topic file, in every language, has its tool.
@pytest.mark.parametrize("entry", Library().files(),
                         ids=lambda e: e.path.name)
def test_every_topic_has_its_tool_section(entry):
    topic = Library().topic(entry.id, entry.lang)
    tools = [s.id for s in topic.sections if has_tool(s)]
    assert TOOLS[entry.id] in tools


@pytest.mark.parametrize("spec,words", [
    ("insomnia:sleep-diary", ["My sleep diary", "Minutes to fall asleep", "Rested?"]),
    ("suicide-prevention@es:my-safety-plan", ["Mi plan de seguridad", "Mis razones para vivir"]),
    ("suicide-prevention@vi:my-safety-plan",
     ["Kế hoạch an toàn của tôi", "Những lý do để tôi sống"]),
    ("suicide-prevention@ru:my-safety-plan", ["Мой план безопасности", "Ради чего я живу"]),
    ("suicide-prevention@ko:my-safety-plan", ["나의 안전 계획", "내가 살아야 할 이유"]),
    ("psychotherapy@zh-Hant:questions", ["可以問醫療團隊的問題", "我們怎樣知道治療有沒有效果？"]),
])
def test_a_tool_builds_alone_with_the_crisis_block(tmp_path, spec, words):
    out = tmp_path / "tool.pdf"
    result = CliRunner().invoke(main, ["build", spec, "-o", str(out)])
    assert result.exit_code == 0, result.output
    # In the order the page was drawn: a table's cells whole (a header cell over two lines
    # is read as one, not line by line across the row).
    text = " ".join(pdftotext(out, "-raw").split())
    for word in words:
        assert word in text
    assert "988" in text and "911" in text  # the required crisis section prints too
    topic_id = spec.split(":")[0].split("@")[0]
    lang = spec.split("@")[1].split(":")[0] if "@" in spec else "en"
    topic = Library().topic(topic_id, lang)
    tool = spec.split(":")[1]
    for section in topic.sections:
        if section.id not in (tool, "crisis"):
            assert section.title not in text, section.id
    # The boxes are a tagged table: a reader's screen reader finds its rows and cells.
    with pikepdf.open(out) as pdf:
        kinds = set()

        def walk(node):
            if isinstance(node, pikepdf.Array):
                for kid in node:
                    walk(kid)
            elif isinstance(node, pikepdf.Dictionary):
                if "/S" in node:
                    kinds.add(str(node.S))
                if "/K" in node:
                    walk(node.K)

        walk(pdf.Root.StructTreeRoot)
    assert {"/Table", "/TR", "/TD", "/TH"} <= kinds


TALL_TOOL = """---
id: long-log
lang: en
title: Long Log
level: basics
version: "1.0"
updated: 2026-11-20
summary: A log taller than a page.
credit: Written for the handouts tests.
---

Write in the log each day.

## My log {#log}

Fill in one row each day.

| Day | What I did | How I felt |
|---|---|---|
""" + "".join(f"| Day {n} | | |\n" for n in range(1, 41))


def test_a_tool_taller_than_a_page_still_goes_on_over_pages(make_library, tmp_path):
    """A tool's first five rows stay on one page only while they fit: a 40-row log (taller
    than a page) goes on over pages between its rows, and every row prints once."""
    root = make_library({"handouts/long-log.en.md": TALL_TOOL})
    out = tmp_path / "log.pdf"
    result = CliRunner().invoke(main, ["--library", str(root), "build", "long-log",
                                       "-o", str(out)])
    assert result.exit_code == 0, result.output
    pages = pdftotext(out).split("\f")[:-1]
    where = [[n for n, page in enumerate(pages) if f"Day {d}\n" in page] for d in range(1, 41)]
    assert all(len(found) == 1 for found in where), where
    assert len({found[0] for found in where}) >= 2  # over more than one page
    assert len({found[0] for found in where[:5]}) == 1  # its first five rows together
