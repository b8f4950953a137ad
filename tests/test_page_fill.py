"""Page fill: every page of a handout is measured from its word boxes, and the limits
(60% for every page but a topic's last, 25% for the last, no last page holding only the
"About this handout" block) hold, with the default brand and with a brand that sets every
documented option that adds to the pages (`after_hours`, `local_crisis`, `online_url`).
A tool table's first five rows never split between pages."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys

import pytest
from conftest import ROOT

from handoutkit.build import make, selections_for
from handoutkit.cache import Cache
from handoutkit.content.brand import load_brand
from handoutkit.content.library import Library
from handoutkit.options import BuildOptions, Personal
from handoutkit.pdf.pagefill import Page, TopicPages, about_texts, layout_margins, measure_pdf

# Builds PDFs end to end, or starts servers, browsers or installs: a slow module
# (`pytest -m "not slow"` leaves it out).
pytestmark = pytest.mark.slow


def build(library, spec, layout="standard", paper="letter", brand=None):
    options = BuildOptions(layout=layout, paper=paper, jobs=1, brand=brand)
    return make(library, selections_for(library, [spec], None), options,
                Cache(enabled=False)).data


@pytest.fixture(scope="module")
def clinic_brand(tmp_path_factory):
    """The bundled brand with the documented options that print more on the pages: the
    clinic's after-hours and local crisis lines (at the end of every crisis block) and its
    online address (a QR code and the address in every "About this handout")."""
    folder = tmp_path_factory.mktemp("brand")
    shutil.copy(ROOT / "layouts" / "logo.svg", folder / "logo.svg")
    path = folder / "brand.toml"
    path.write_text(
        (ROOT / "layouts" / "brand.toml").read_text(encoding="utf-8").replace(
            "cover_tools = true\n",
            "cover_tools = true\n"
            'online_url = "https://riverside-health.example.org/handouts/{id}/{lang}"\n'
            'after_hours = "(555) 010-0123"\n'
            'local_crisis = "(555) 010-0777"\n', 1),
        encoding="utf-8")
    brand = load_brand(path)
    assert brand.after_hours and brand.local_crisis and brand.online_url
    return path


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
    failures, cache = [], Cache()  # the run's shared cache: other tests build these too
    for file in library.files():
        result = script.measure_topic(library, file.id, file.lang, layout, paper, cache)
        failures += [f"{result.name}: {problem}" for problem in result.problems]
    assert failures == []


ENGLISH = sorted({file.id for file in Library().files() if file.lang == "en"})


@pytest.mark.parametrize("layout", ["standard", "large-print"])
def test_a_brand_with_its_clinic_lines_and_online_address_fills_the_pages(
        library, clinic_brand, layout):
    """With `after_hours`, `local_crisis` and `online_url` set, every crisis block is two
    lines longer and every closing block holds a QR code: the limits still hold. Measured on
    the English topic files, letter paper: each topic once, with its crisis block and its
    tool (its translations have the same blocks and are measured with the default brand in
    every language, layout and paper), in both layouts: 26 builds, an eighth of every file
    on both papers. Insomnia, whose sleep diary these lines once split, is measured on A4
    too (test below)."""
    failures = []
    for topic in ENGLISH:
        if (topic, layout) in KNOWN_SHORT:
            continue
        failures += brand_fill_problems(library, topic, layout, clinic_brand)
    assert failures == []


# Known: with the clinic's two lines the crisis block no longer fits under the one-page
# plan (97% full with the default brand), and goes over alone, leaving the plan's page
# 53-56% full. Not fixed yet (issue 27); the test below says when it is.
KNOWN_SHORT = {("my-safety-plan", "standard")}


def brand_fill_problems(library, topic, layout, brand):
    from handoutkit.content.wording import load_strings

    strings = load_strings(library)["en"]
    pages = measure_pdf(build(library, f"{topic}@en", layout, "letter", brand),
                        *layout_margins(library.layout_dirs, layout))
    result = TopicPages(f"{topic}@en {layout} letter", pages, strings["about_heading"],
                        about_texts(strings))
    return [f"{result.name}: {problem}" for problem in result.check()]


@pytest.mark.xfail(strict=True, reason="the crisis block with the clinic's lines goes over "
                                       "and leaves the one-page safety plan's page short")
def test_the_safety_plan_with_the_clinic_lines_fills_its_page(library, clinic_brand):
    assert brand_fill_problems(library, "my-safety-plan", "standard", clinic_brand) == []


DIARY_ROWS = ["In bed at", "Minutes to fall", "Times I woke up", "Up at", "Rested? (0 to 10)"]


def row_pages(pdf: bytes, rows: list[str]) -> list[list[int]]:
    """For each row label, the pages (1-based) with a line that starts with it."""
    text = subprocess.run(["pdftotext", "-", "-"], input=pdf, capture_output=True,
                          check=True).stdout.decode("utf-8")
    pages = text.split("\f")
    return [[n for n, page in enumerate(pages, 1)
             if re.search(rf"(?m)^\s*{re.escape(row)}", page)] for row in rows]


@pytest.mark.parametrize("layout", ["standard", "large-print"])
@pytest.mark.parametrize("paper", ["letter", "a4"])
def test_the_sleep_diary_never_splits_and_the_pages_stay_full(
        library, clinic_brand, layout, paper):
    """Insomnia's sleep diary (a week across the page, five rows to fill in) printed over
    two pages, three rows and two, once the brand's crisis lines and QR code made the pages
    before it longer. Its first five rows stay on one page (the table goes over with its
    heading and the words before it; the renderer moves it past a neighbouring section
    where that would leave a page short), and every page stays within the limits."""
    from handoutkit.content.wording import load_strings

    pdf = build(library, "insomnia", layout, paper, clinic_brand)
    found = row_pages(pdf, DIARY_ROWS)
    assert all(len(pages) == 1 for pages in found), found  # each row printed once
    assert len({pages[0] for pages in found}) == 1, f"rows split over pages {found}"
    strings = load_strings(library)["en"]
    pages = measure_pdf(pdf, *layout_margins(library.layout_dirs, layout))
    result = TopicPages(f"insomnia {layout} {paper}", pages, strings["about_heading"],
                        about_texts(strings))
    assert result.check() == []


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
