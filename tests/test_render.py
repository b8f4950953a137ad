"""Rendering: the PDF's text, pages, outline, metadata, fonts, tags and validity."""

import io
import os
import re
import statistics
import subprocess
from pathlib import Path

import pytest
from conftest import TEST_LIBRARY, page_texts, pdffonts, pdftotext, source_headings
from pypdf import PdfReader

from handoutkit.build import BuildOptions, build
from handoutkit.cache import Cache
from handoutkit.content.library import Library
from handoutkit.content.wording import direction
from handoutkit.options import Personal

# Builds PDFs end to end, or starts servers, browsers or installs: a slow module
# (`pytest -m "not slow"` leaves it out).
pytestmark = pytest.mark.slow

PERSONAL = Personal("Ana <b>Díaz</b>", "2026-11-26", "Dr. Lee", "Bring your sleep diary.")


@pytest.fixture(scope="module")
def pdfs(tmp_path_factory):
    """Build each variant once for the whole module."""
    out = tmp_path_factory.mktemp("pdf")
    os.environ["SOURCE_DATE_EPOCH"] = "1795651200"
    library = Library()
    variants = {
        "standard": BuildOptions(personal=PERSONAL),
        "large-print": BuildOptions(layout="large-print"),
        "a4": BuildOptions(paper="a4"),
        "plain": BuildOptions(),
    }
    paths = {}
    for name, options in variants.items():
        paths[name] = out / f"{name}.pdf"
        paths[name].write_bytes(build(library, ["psychotherapy"], options))
    return paths


def test_pdf_is_valid(pdfs):
    for path in pdfs.values():
        result = subprocess.run(["qpdf", "--check", str(path)], capture_output=True, text=True)
        assert result.returncode == 0, result.stdout + result.stderr
        assert "No syntax or stream encoding errors found" in result.stdout


def test_text_of_every_section_prints(pdfs, library):
    text = pdftotext(pdfs["plain"])
    flat = " ".join(text.split())
    titles = source_headings("psychotherapy")
    assert len(titles) == 9  # with the tool: questions to ask a therapist
    for title in titles:
        assert title in flat
    for fixed in ("More on this topic", "About this handout", "Call or text 988", "911",
                  "Topic psychotherapy · Version 1.3"):
        assert fixed in flat, fixed


def test_every_page_has_header_stamp_and_page_x_of_y(pdfs):
    # With personal details, page 1 is the patient's cover; the topic's pages follow.
    for name, first_topic_page in (("standard", 2), ("large-print", 1)):
        pages = page_texts(pdfs[name])
        assert len(pages) >= 2
        for number, page in enumerate(pages, 1):
            flat = " ".join(page.split())
            assert "Riverside Community Health" in flat
            assert f"Page {number} of {len(pages)}" in flat
            if number >= first_topic_page:
                assert ("Psychotherapy · Version 1.3 · "
                        "Printed November 26, 2026") in flat


def test_metadata_and_language(pdfs):
    reader = PdfReader(pdfs["standard"])
    meta = reader.metadata
    assert meta.title == "Psychotherapy"
    assert meta.subject.startswith("What talk therapy is")
    assert meta.author == "Riverside Community Health"
    assert "psychotherapy" in meta["/Keywords"] and "Z71.89" in meta["/Keywords"]
    assert reader.trailer["/Root"]["/Lang"] == "en"


def test_personal_fields_first_page_only_never_in_metadata(pdfs):
    pages = page_texts(pdfs["standard"])
    assert "Prepared for: Ana <b>Díaz</b>" in " ".join(pages[0].split())
    assert "Bring your sleep diary." in pages[0]
    for page in pages[1:]:
        assert "Ana" not in page
    reader = PdfReader(pdfs["standard"])
    info = " ".join(str(v) for v in reader.metadata.values())
    xmp = reader.trailer["/Root"].get("/Metadata")
    xmp_text = xmp.get_object().get_data().decode("utf-8", "replace") if xmp else ""
    assert "Ana" not in info and "Ana" not in xmp_text
    assert b"Ana" not in pdfs["standard"].read_bytes()  # not in any uncompressed object


def test_tagged_pdf_ua(pdfs):
    reader = PdfReader(pdfs["standard"])
    root = reader.trailer["/Root"]
    assert "/StructTreeRoot" in root
    assert bool(root["/MarkInfo"]["/Marked"]) is True
    xmp = root["/Metadata"].get_object().get_data().decode()
    assert "pdfuaid:part" in xmp and re.search(r"pdfuaid:part[^0-9]*1", xmp)
    for page in reader.pages:
        assert "/StructParents" in page


def test_one_bookmark_per_section(pdfs, library):
    reader = PdfReader(pdfs["plain"])
    titles = [item.title for item in reader.outline]
    assert titles == source_headings("psychotherapy")


def test_only_bundled_fonts_all_embedded(pdfs):
    for path in pdfs.values():
        fonts = pdffonts(path)
        assert fonts
        for font in fonts:
            assert "Atkinson-Hyperlegible" in font["name"], font
            assert font["emb"] == "yes", font


def test_paper_sizes(pdfs):
    letter = PdfReader(pdfs["plain"]).pages[0].mediabox
    a4 = PdfReader(pdfs["a4"]).pages[0].mediabox
    assert (round(float(letter.width)), round(float(letter.height))) == (612, 792)
    assert (round(float(a4.width)), round(float(a4.height))) == (595, 842)


def _word_heights(path: Path) -> list[tuple[str, float]]:
    out = subprocess.run(["pdftotext", "-bbox", str(path), "-"], capture_output=True,
                         text=True, check=True).stdout
    words = re.findall(r'yMin="([\d.]+)" xMax="[\d.]+" yMax="([\d.]+)">([^<]*)</word>', out)
    return [(w, float(y2) - float(y1)) for y1, y2, w in words]


def test_large_print_body_and_page_numbers_at_least_18pt(pdfs):
    # A word box spans ascent to descent, about 1.2 times the font size.
    large = _word_heights(pdfs["large-print"])
    standard = _word_heights(pdfs["plain"])
    large_body = statistics.median(h for _, h in large)
    assert large_body >= 18 * 1.15
    assert statistics.median(h for _, h in standard) < 18
    page_word_heights = [h for w, h in large if w == "Page"]
    assert page_word_heights and min(page_word_heights) >= large_body - 0.5
    assert len(PdfReader(pdfs["large-print"]).pages) > len(PdfReader(pdfs["plain"]).pages)


def test_test_library_topic_renders_with_partial_notice(tmp_path):
    library = Library(TEST_LIBRARY)
    data = build(library, ["hand-washing:when"], BuildOptions())
    path = tmp_path / "x.pdf"
    path.write_bytes(data)
    text = " ".join(pdftotext(path).split())
    assert "This handout shows selected sections" in text
    assert "When should I wash?" in text and "What if someone is very sick?" in text
    assert "Why wash your hands?" not in text
    assert "Version 2.1" in text


def test_html_format_is_self_contained_and_renders_the_same(pdfs, tmp_path):
    html = build(Library(), ["psychotherapy"], BuildOptions(format="html")).decode()
    assert "file:" not in html and "http://" not in html
    assert html.count("data:font/ttf;base64,") == 4
    assert "data:image/svg+xml;base64," in html
    # Rendered with WeasyPrint and nothing but data: URIs, it gives the same pages.
    from weasyprint import HTML
    from weasyprint.urls import URLFetcher

    fetched = []

    class Recording(URLFetcher):
        def fetch(self, url, headers=None):
            fetched.append(url)
            return super().fetch(url, headers)

    pdf = HTML(string=html, url_fetcher=Recording()).write_pdf()
    assert fetched and all(url.startswith("data:") for url in fetched)
    path = tmp_path / "from-html.pdf"
    path.write_bytes(pdf)
    assert len(PdfReader(path).pages) == len(PdfReader(pdfs["plain"]).pages)
    assert sorted(f["name"].split("+")[1] for f in pdffonts(path)) == \
        sorted(f["name"].split("+")[1] for f in pdffonts(pdfs["plain"]))


def test_output_is_reproducible():
    first = build(Library(), ["psychotherapy"], BuildOptions())
    second = build(Library(), ["psychotherapy"], BuildOptions())
    assert first == second


@pytest.mark.slow
@pytest.mark.parametrize("layout", ["standard", "large-print"])
def test_every_bundled_topic_builds_in_every_layout_and_language(layout, tmp_path):
    from handoutkit.content.wording import load_strings

    library = Library()
    strings = load_strings(library)
    cache = Cache()  # the run's shared cache: the page-fill tests build these topics too
    for entry in library.files():
        data = build(library, [f"{entry.id}@{entry.lang}"], BuildOptions(layout=layout), cache)
        path = tmp_path / f"{entry.id}.{entry.lang}.pdf"
        path.write_bytes(data)
        pages = page_texts(path)
        words = strings[entry.lang]
        total = len(pages)
        for number, page in enumerate(pages, 1):
            # (Poppler marks right-to-left runs with bidi embedding characters. On an Arabic
            # page taken up mostly by Latin words, such as the English titles of related
            # topics, it reads the footer's line left to right: "11 من 10 صفحة".)
            flat = re.sub(r"[\s\u202a-\u202e]", "", page)
            # The page number as the language writes it (strings.toml page_of).
            stamp = re.sub(r"\s", "", words["page_of"].format(page=number, pages=total))
            backwards = f"{total}{words['of']}{number}{words['page']}"
            # Poppler gives Devanagari and Bengali back with vowel signs out of place:
            # there, the numbers in order.
            indic = entry.lang in ("hi", "bn", "pa") and f"{number}/{total}" in flat
            assert stamp in flat or indic or (direction(entry.lang) == "rtl"
                                              and backwards in flat), (entry, number)
        fonts = {f["name"].split("+")[1] for f in pdffonts(path)}
        latin = {"Atkinson-Hyperlegible", "Atkinson-Hyperlegible-Bold",
                 "Atkinson-Hyperlegible-Italic", "Atkinson-Hyperlegible-BoldItalic"}
        if entry.lang in ("en", "es"):
            assert fonts <= latin, (entry, fonts)
        else:  # the language's own declared face first: Noto
            assert fonts and all(f.startswith("Noto-") or f in latin for f in fonts), (entry, fonts)
        assert PdfReader(path).trailer["/Root"]["/Lang"] == entry.lang


@pytest.mark.parametrize("specs, archival", [(["ocd"], False), (["ocd", "ptsd:what-is"], True)])
def test_duplex_documents_laid_out_whole_have_even_page_counts(specs, archival, tmp_path):
    library = Library()
    plain = len(PdfReader(io.BytesIO(build(library, specs, BuildOptions(archival=archival)))).pages)
    duplex = PdfReader(io.BytesIO(build(library, specs, BuildOptions(archival=archival,
                                                                     duplex=True))))
    assert len(duplex.pages) % 2 == 0 and len(duplex.pages) >= plain
    path = tmp_path / "d.pdf"
    path.write_bytes(build(library, specs, BuildOptions(archival=archival, duplex=True)))
    pages = page_texts(path)
    assert f"Page {len(pages)} of {len(pages)}" in " ".join(pages[-1].split())


def test_the_parent_still_renders_after_its_forked_workers_exit(library, tmp_path):
    """Workers are forked with the parent's parsed stylesheets, whose fonts WeasyPrint keeps
    in a temporary folder of the parent's. A worker that removed that folder as it exits
    would leave the parent unable to draw a letter: a long-running process (`serve`, a
    batch) renders in the parent again after its workers are gone."""
    from handoutkit.build import make, selections_for
    from handoutkit.cache import Cache
    from handoutkit.pdf import render

    def pdf(specs, jobs):
        options = BuildOptions(jobs=jobs)
        return make(library, selections_for(library, specs, None), options,
                    Cache(enabled=False)).data

    pdf(["ocd:what-is"], 1)  # the parent parses the layout's stylesheet and keeps it
    folders = [config._folder for config, _, _ in render._STYLESHEETS.values()]
    assert folders and all(folder.is_dir() for folder in folders)
    pdf(["ocd:what-is", "insomnia:what-is"], 2)  # forked workers render, then exit
    assert all(folder.is_dir() for folder in folders)
    again = tmp_path / "again.pdf"
    again.write_bytes(pdf(["ocd:what-is"], 1))
    assert "Obsessive-Compulsive Disorder" in " ".join(pdftotext(again).split())
