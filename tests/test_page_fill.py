"""Page fill: every page of a handout is measured from its word boxes, and the limits
(60% for every page but a topic's last, 25% for the last, no last page holding only the
"About this handout" block) hold."""

from __future__ import annotations

import sys

import pytest

from handoutkit.build import make, selections_for
from handoutkit.cache import Cache
from handoutkit.options import BuildOptions, Personal
from handoutkit.pagefill import Page, TopicPages, layout_margins, measure_pdf

from conftest import ROOT


def build(library, spec, layout="standard", paper="letter"):
    options = BuildOptions(layout=layout, paper=paper, jobs=1)
    return make(library, selections_for(library, [spec], None), options,
                Cache(enabled=False)).data


@pytest.fixture(scope="module")
def script():
    """benchmarks/pages.py, the page-fill script, as a module."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import pages

    return pages


def test_limits_name_each_page_below_them():
    pages = [Page(0.9, "Title", 300), Page(0.55, "More", 200), Page(0.2, "About this handout", 40)]
    problems = TopicPages("t", pages, "About this handout").check()
    assert problems == ["page 2/3 is 55% full (at least 60%)",
                        "page 3/3 is 20% full (at least 25%)",
                        "page 3/3 holds only the 'About this handout' block"]
    assert TopicPages("t", [Page(0.7, "x", 9), Page(0.3, "Questions", 9)],
                      "About this handout").check() == []


def test_fill_is_measured_inside_the_margins(library):
    pdf = build(library, "psychotherapy")
    margins = layout_margins(library.layout_dirs, "standard")
    pages = measure_pdf(pdf, *margins)
    assert len(pages) >= 2
    # The first line of the text area is the topic's level, not the running header.
    assert pages[0].first_line != "Riverside Community Health"
    assert all(0 < p.fill <= 1 for p in pages)
    # A page that is full except for its last lines measures nearly full.
    assert max(p.fill for p in pages) > 0.85
    large = measure_pdf(build(library, "psychotherapy", "large-print"),
                        *layout_margins(library.layout_dirs, "large-print"))
    assert len(large) > len(pages)


def test_the_script_reports_a_table(library, script):
    result = script.measure_topic(library, "ocd", "en", "standard", "a4")
    assert result.name == "ocd@en standard a4" and result.pages


@pytest.mark.parametrize("layout", ["standard", "large-print"])
@pytest.mark.parametrize("paper", ["letter", "a4"])
def test_every_topic_file_fills_its_pages(library, script, layout, paper):
    """The limits hold for every topic file, in every language, in both layouts, on both
    papers."""
    failures = []
    for file in library.files():
        result = script.measure_topic(library, file.id, file.lang, layout, paper)
        failures += [f"{result.name}: {problem}" for problem in result.problems]
    assert failures == []


def test_the_four_topic_packet_is_twelve_pages_and_each_topic_fills_its_pages(library, script):
    """The packet the page-fill work was measured on: psychotherapy, depression-adults,
    insomnia and suicide-prevention with a patient's cover, standard letter. It was 17 pages
    (four of them nearly empty), then 12 (the cover, then 3 + 3 + 2 + 3); insomnia now also
    carries the next-morning driving warning for zolpidem-type medicines (clinical read 3),
    so it is 13: the cover, then 3 + 3 + 3 + 3, every page of every topic within the
    limits."""
    specs = "psychotherapy depression-adults insomnia suicide-prevention"
    pdf = script.build_topic(library, specs, "standard", "letter", Personal(patient="Test Patient"))
    pages = measure_pdf(pdf, *layout_margins(library.layout_dirs, "standard"))
    assert len(pages) <= 13
    ranges = script.packet_ranges(pdf)
    assert [title for title, _, _ in ranges] == [
        "Psychotherapy", "Depression in Adults", "Insomnia", "Suicide Prevention"]
    assert ranges[0][1] == 1  # the cover is one page
    for title, start, end in ranges:
        result = TopicPages(title, pages[start:end], "About this handout")
        assert result.check() == [], (title, result.problems)
