"""Right to left where the language is Arabic: a packet's cover and contents, bookmarks and
pictures, alone and among left-to-right topics (checked from poppler's word boxes and the
structure tree)."""

from __future__ import annotations

import re
from pathlib import Path

import pikepdf
import pytest
from conftest import pdftotext

from handoutkit.build import BuildOptions, build
from handoutkit.content.library import Library
from handoutkit.options import Personal

# Builds PDFs end to end, or starts servers, browsers or installs: a slow module
# (`pytest -m "not slow"` leaves it out).
pytestmark = pytest.mark.slow

MARGIN = 10 / 25.4 * 72  # the standard layout's side margin, in points
ARABIC_TITLE = "الوقاية من الانتحار"


def words(path: Path, page: int) -> list[dict]:
    """Every word on a page with its box, from `pdftotext -bbox`."""
    bbox = pdftotext(path, "-bbox", "-f", str(page), "-l", str(page))
    width = float(re.search(r'<page width="([\d.]+)"', bbox).group(1))
    return [{"x0": float(a), "y0": float(b), "x1": float(c), "y1": float(d), "text": t,
             "width": width}
            for a, b, c, d, t in re.findall(r'<word xMin="([\d.]+)" yMin="([\d.]+)" '
                                            r'xMax="([\d.]+)" yMax="([\d.]+)">([^<]+)</word>',
                                            bbox)]


def find(found: list[dict], word: str) -> dict:
    """A word, whichever order poppler gave its letters in."""
    matches = [w for w in found if w["text"] in (word, word[::-1])]
    assert matches, f"{word} not found"
    return matches[0]


def row(found: list[dict], word: dict) -> list[dict]:
    """The words on the same line as `word` (their middles within its height)."""
    return [w for w in found if word["y0"] <= (w["y0"] + w["y1"]) / 2 <= word["y1"]]


@pytest.fixture(scope="module")
def pdfs(tmp_path_factory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("rtl")
    out = {}
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SOURCE_DATE_EPOCH", "1795651200")
        patch.setenv("HANDOUTS_CACHE_DIR", str(tmp / "cache"))
        library = Library()
        jobs = {"alone": (["suicide-prevention@ar"], "Ana Díaz"),
                "mixed": (["psychotherapy", "suicide-prevention@ar"], None),
                "arabic-first": (["suicide-prevention@ar", "psychotherapy"], None)}
        for name, (specs, patient) in jobs.items():
            out[name] = tmp / f"{name}.pdf"
            out[name].write_bytes(build(library, specs,
                                        BuildOptions(personal=Personal(patient=patient))))
    return out


def test_an_arabic_cover_runs_right_to_left(pdfs):
    found = words(pdfs["alone"], 1)
    width = found[0]["width"]
    contents = find(found, "المحتويات")  # the contents heading
    assert width - contents["x1"] == pytest.approx(MARGIN, abs=3)
    first = find(found, "الوقاية")  # the entry's first word, at the right margin
    assert width - first["x1"] == pytest.approx(MARGIN, abs=3)
    number = min(row(found, first), key=lambda w: w["x0"])  # its page number, on the left
    assert number["x0"] == pytest.approx(MARGIN, abs=3)


@pytest.mark.parametrize("name", ["mixed", "arabic-first"])
def test_each_contents_entry_runs_in_its_topic_s_direction(pdfs, name):
    found = words(pdfs[name], 1)
    width = found[0]["width"]
    arabic = find(found, "الوقاية")
    assert width - arabic["x1"] == pytest.approx(MARGIN, abs=3)
    english = find(found, "Psychotherapy")
    assert english["x0"] == pytest.approx(MARGIN, abs=3)
    # Each entry's page number sits at the other end of its line.
    assert min(w["x0"] for w in row(found, arabic)) == pytest.approx(MARGIN, abs=3)
    assert width - max(w["x1"] for w in row(found, english)) == pytest.approx(MARGIN, abs=3)


@pytest.mark.parametrize("name", ["alone", "mixed"])
def test_bookmarks_carry_the_arabic_titles(pdfs, name, library):
    topic = library.topic("suicide-prevention", "ar")
    with pikepdf.open(pdfs[name]) as pdf, pdf.open_outline() as outline:
        titles = [item.title for item in outline.root]
        children = {item.title: [c.title for c in item.children] for item in outline.root}
    assert ARABIC_TITLE in titles and topic.title == ARABIC_TITLE
    assert children[ARABIC_TITLE] == [s.title for s in topic.sections]


def test_pictures_sit_at_the_right_margin_in_arabic(pdfs):
    """The structure tree's Figure boxes are in CSS pixels (96 per inch) from the left."""
    with pikepdf.open(pdfs["mixed"]) as pdf:
        width_px = float(pdf.pages[0].MediaBox[2]) / 72 * 96
        boxes = {}
        for obj in pdf.objects:
            if isinstance(obj, pikepdf.Dictionary) and obj.get("/S") == "/Figure" \
                    and "/Alt" in obj and "/A" in obj:
                text = pdftotext(pdfs["mixed"], "-f", str(pdf.pages.index(
                    pikepdf.Page(obj.Pg)) + 1), "-l", str(pdf.pages.index(
                        pikepdf.Page(obj.Pg)) + 1))
                lang = "ar" if "صفحة" in text else "en"
                boxes.setdefault(lang, []).append([float(v) for v in obj.A.BBox])
    margin_px = MARGIN / 72 * 96
    pictures = {lang: [b for b in found if b[2] - b[0] > 100] for lang, found in boxes.items()}
    assert pictures["ar"] and pictures["en"]
    # The standard layout sets text in two columns (5 mm apart): a picture starts at its
    # column's start, the right edge of a column in Arabic and the left edge in English.
    gap_px = 5 / 25.4 * 96
    column_px = (width_px - 2 * margin_px - gap_px) / 2
    right_edges = (width_px - margin_px, margin_px + column_px)
    left_edges = (margin_px, width_px - margin_px - column_px)
    for box in pictures["ar"]:
        assert min(abs(box[2] - edge) for edge in right_edges) < 2, box
        assert box[2] - box[0] < column_px - 20  # not as wide as the column: it sits right
    for box in pictures["en"]:
        assert min(abs(box[0] - edge) for edge in left_edges) < 2, box
