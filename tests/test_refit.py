"""The crisis block moves up (or to the topic's end) where it would leave the page before
it short: the block never splits, and no page is left short for it (handoutkit/pdf/refit.py)."""

from __future__ import annotations

import re

import pytest
from click.testing import CliRunner
from conftest import pdftotext

from handoutkit.cli import main
from handoutkit.content.library import Library
from handoutkit.pdf.pagefill import MIN_FILL, layout_margins, measure_pdf
from handoutkit.pdf.refit import Fit

HEADER = """---
id: demo
lang: en
title: Demo
level: basics
version: "1.0"
updated: 2026-11-20
summary: A topic whose crisis block falls at different places on its page.
credit: Written by the handouts project contributors.
mental_health: true
---
"""
PARAGRAPH = ("Sleep, food and moving your body each day all help your mood. Small steps "
             "count, and your care team can help you choose them.")
CRISIS = """
## What if I am in crisis? {#crisis .required}

::: emergency
**If you or someone you know is thinking about suicide, get help right away.**

- In danger now? Call 911 or go to the nearest emergency department.
- Call or text **988** to reach the 988 Suicide & Crisis Lifeline, or chat at 988lifeline.org.
- Veterans: call 988 and press 1.
- En español: call 988 and press 2, text AYUDA to 988, or chat at 988lineadevida.org.
- Other languages: call 988 and say the name of your language in English.
- Deaf or hard of hearing: text 988, or chat at 988lifeline.org.
- Call your care team too, but do not wait for a call back.
- Do not leave a person who is in danger alone.
:::
"""


def topic(sections: int, last_paragraphs: int) -> str:
    body = ""
    for n in range(sections):
        count = last_paragraphs if n == sections - 1 else 3
        body += f"\n## Part {n + 1} {{#part-{n + 1}}}\n\n" + "\n\n".join([PARAGRAPH] * count) + "\n"
    return HEADER + body + CRISIS


def test_layouts_are_ranked_by_short_pages_then_how_short_then_the_closing_page():
    # A page right at 60% counts as short (the margin), and the last page against 25%.
    assert Fit([0.9, 0.61, 0.5], 1).short_pages() == 1
    assert Fit([0.9, 0.7, 0.3], 1).short_pages() == 0
    # The About block alone on the last page is short whatever its fill; related topics
    # and About are within the limits but rank after a last page with the topic's words.
    assert Fit([0.9, 0.7, 0.6], 1, "about").short_pages() == 1
    closing = Fit([0.9, 0.7, 0.6], 1, "more")
    assert closing.short_pages() == 0
    assert Fit([0.9, 0.7, 0.6], 1).score() < closing.score() < Fit([0.9, 0.59, 0.6], 1).score()
    # Of two layouts with one short page each, the one nearer the limit wins, even over a
    # last page with the topic's own words.
    near, far = Fit([0.9, 0.57, 0.5], 1, "more"), Fit([0.9, 0.21, 0.9], 1)
    assert near.score() < far.score()


def test_placements_stay_in_the_topic_and_keep_every_word():
    from handoutkit.pdf.refit import placements

    html = ("<article>A<!--slot--><section class=\"flow\">B<!--slot:inner-->C</section>"
            "<!--float--><section data-float=\"crisis\">X</section><!--/float-->D</article>"
            "<article>E<!--slot-->F</article>")
    moved = placements(html)

    def strip(text):
        return re.sub(r"<[^>]+>|<!--.*?-->", "", text)

    # Two places in the first topic, none in the second; every word kept once.
    assert len(moved) == 2
    for candidate in moved:
        assert sorted(strip(candidate)) == sorted(strip(html))
        assert candidate.index("X") < candidate.index("<article>E")
    # Nearest first: between B and C (which closes and reopens the run of sections), then
    # before B.
    assert '</section><!--float-->' in moved[0]
    assert '<!--/float--><section class="flow">C' in moved[0]
    assert strip(moved[1]).startswith("AX")
    assert placements("<article>no block</article>") == []


@pytest.mark.parametrize("last_paragraphs", [1, 3, 5, 7])
def test_the_crisis_block_never_leaves_a_short_page_before_it(tmp_path, last_paragraphs):
    """Whatever the length of the text before it, the crisis block prints whole on one page
    and the page before it is at least 60% full."""
    (tmp_path / "handouts").mkdir()
    (tmp_path / "handouts" / "demo.en.md").write_text(topic(6, last_paragraphs), encoding="utf-8")
    out = tmp_path / "demo.pdf"
    result = CliRunner().invoke(main, ["--library", str(tmp_path), "build", "demo", "--layout",
                                       "large-print", "-o", str(out)])
    assert result.exit_code == 0, result.output
    pages = pdftotext(out).split("\f")
    first = [n for n, page in enumerate(pages) if "get help right away" in page]
    last = [n for n, page in enumerate(pages) if "Do not leave a person" in page]
    assert first == last and len(first) == 1  # whole, on one page
    # Every part is still there, in its order.
    text = " ".join(pages)
    positions = [text.index(f"Part {n}") for n in range(1, 7)]
    assert positions == sorted(positions)
    fills = measure_pdf(out.read_bytes(), *layout_margins(Library(tmp_path).layout_dirs,
                                                          "large-print"))
    page = first[0]
    if page > 0:
        assert fills[page - 1].fill >= MIN_FILL, [round(p.fill, 2) for p in fills]


def test_a_tool_moves_to_the_places_near_it_and_keeps_every_word():
    """A tool kept whole may move past a neighbouring section: nearest places first, either
    side of the crisis block, never after the closing block, never where it stood."""
    from handoutkit.pdf.refit import placements, tool_placements

    html = ("<article>A<!--slot--><section class=\"flow\">B<!--slot:inner-->C</section>"
            "<!--slot--><!--tool--><section class=\"wide\">T</section><!--/tool-->"
            "<!--slot--><section class=\"flow\">D</section>"
            "<!--float--><section data-float=\"crisis\">X</section><!--/float-->"
            "<section class=\"closing\">Z</section></article>")
    moved = tool_placements(html)

    def strip(text):
        return re.sub(r"<[^>]+>|<!--.*?-->", "", text)

    orders = [strip(candidate) for candidate in moved]
    assert all(sorted(order) == sorted(strip(html)) for order in orders)
    assert strip(html) not in orders and len(set(orders)) == len(orders)
    # Next to where it stood first (between B and C, or past D, before the crisis block),
    # then after the crisis block and before B; never after the closing block.
    assert set(orders) == {"ABTCDXZ", "ABCDTXZ", "ABCDXTZ", "ATBCDXZ"}
    assert set(orders[:2]) == {"ABTCDXZ", "ABCDTXZ"}
    # The crisis block can still stand on either side of the moved tool.
    past_d = moved[orders.index("ABCDTXZ")]
    assert "ABCXDTZ" in [strip(c) for c in placements(past_d)]
    assert tool_placements("<article>no tool</article>") == []
