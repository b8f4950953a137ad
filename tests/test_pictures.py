"""Pictures: every topic has a captioned picture with a description; in the PDF each is a
tagged Figure with its description, its caption next to it, inside the text column."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pikepdf
import pytest
from conftest import page_texts

from handoutkit.build import BuildOptions, build
from handoutkit.content.library import Library
from handoutkit.lint.blocks import is_form

# Builds PDFs end to end, or starts servers, browsers or installs: a slow module
# (`pytest -m "not slow"` leaves it out).
pytestmark = pytest.mark.slow

PX = 0.75  # WeasyPrint writes a Figure's layout box in CSS pixels; a point is 4/3 of one


def _figures(pdf: pikepdf.Pdf) -> list[dict]:
    """Each Figure of the structure tree: its description, page number and box in points."""
    pages = {page.objgen: number for number, page in enumerate(pdf.pages)}
    found = []

    def walk(node):
        if isinstance(node, pikepdf.Array):
            for kid in node:
                walk(kid)
            return
        if not isinstance(node, pikepdf.Dictionary):
            return
        if node.get("/S") == "/Figure":
            box = [float(v) * PX for v in node.A.BBox]
            page = pages.get(node.Pg.objgen) if "/Pg" in node else None
            found.append({"alt": str(node.get("/Alt", "")), "page": page, "box": box})
        if "/K" in node:
            walk(node.K)

    walk(pdf.Root.StructTreeRoot)
    return found


def _captions(pdf: pikepdf.Pdf) -> int:
    count = 0

    def walk(node):
        nonlocal count
        if isinstance(node, pikepdf.Array):
            for kid in node:
                walk(kid)
        elif isinstance(node, pikepdf.Dictionary):
            count += node.get("/S") == "/Caption"
            if "/K" in node:
                walk(node.K)

    walk(pdf.Root.StructTreeRoot)
    return count


@pytest.mark.parametrize("entry", Library().files(), ids=lambda e: e.path.name)
def test_every_topic_has_a_captioned_picture_from_the_library(entry):
    library = Library()
    topic = library.topic(entry.id, entry.lang)
    if is_form(topic):  # a one-page form (my-safety-plan) has no room for a picture
        assert not topic.images and entry.id == "my-safety-plan"
        return
    assert topic.images, f"{entry.path.name} has no picture"
    for image in topic.images:
        assert image.alt and image.caption, image
        path = topic.path.parent / image.src
        svg = path.read_text(encoding="utf-8")
        # Line art with no words: the same file serves every language.
        assert "<text" not in svg and 'viewBox="0 0 480 240"' in svg


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    out = tmp_path_factory.mktemp("pictures")
    library = Library()
    paths = {}
    for spec, layout in [("substance-use", "standard"), ("psychotherapy@es", "standard"),
                         ("substance-use", "large-print"), ("psychotherapy", "large-print")]:
        path = out / f"{spec}-{layout}.pdf"
        path.write_bytes(build(library, [spec], BuildOptions(layout=layout)))
        paths[spec, layout] = path
    return paths


@pytest.mark.parametrize("spec,lang", [("substance-use", "en"), ("psychotherapy@es", "es")])
def test_pictures_are_tagged_figures_with_their_description_and_caption(built, spec, lang):
    topic = Library().topic(spec.split("@")[0], lang)
    with pikepdf.open(built[spec, "standard"]) as pdf:
        figures = _figures(pdf)
        captions = _captions(pdf)
    alts = [f["alt"] for f in figures]
    for image in topic.images:
        assert image.alt in alts
    assert captions >= len(topic.images)
    texts = page_texts(built[spec, "standard"])
    for image in topic.images:
        figure = next(f for f in figures if f["alt"] == image.alt)
        # The caption prints on the picture's page.
        page = " ".join(texts[figure["page"]].split())
        assert image.caption.split(":")[0].split(",")[0] in page


def test_naloxone_picture_stays_on_the_page_with_its_steps(built):
    path = built["substance-use", "standard"]
    with pikepdf.open(path) as pdf:
        figure = next(f for f in _figures(pdf) if "naloxone" in f["alt"])
    page = " ".join(page_texts(path)[figure["page"]].split())
    assert "press the plunger firmly" in page and "turn them on their side" in page


def _word_boxes(path: Path, page: int) -> list[tuple[float, float, float, float]]:
    html = subprocess.run(["pdftotext", "-bbox", "-f", str(page + 1), "-l", str(page + 1),
                           str(path), "-"], check=True, capture_output=True, text=True).stdout
    return [tuple(float(v) for v in m) for m in re.findall(
        r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)"', html)]


@pytest.mark.parametrize("spec", ["substance-use", "psychotherapy"])
def test_large_print_pictures_scale_with_the_text_column(built, spec):
    path = built[spec, "large-print"]
    with pikepdf.open(path) as pdf:
        figures = _figures(pdf)
        width = float(pdf.pages[0].mediabox[2])
    margin = 16 / 25.4 * 72  # the large-print layout's side margin
    assert figures
    for figure in figures:
        x1, y1, x2, y2 = figure["box"]
        words = _word_boxes(path, figure["page"])
        left = min(w[0] for w in words)
        # Inside the column: from the text's left edge to the right margin, no further.
        assert x1 >= margin - 0.5 and abs(x1 - left) < 2
        assert x2 <= width - margin + 0.5
        # ...and half the column wide in large print: it scales with the column
        # (layouts/large-print), leaving room for the line before it on the same page.
        assert abs((x2 - x1) - 0.5 * (width - 2 * margin)) < 2
        # Its height follows its width (480 x 240 drawings) and fits the page.
        assert abs((y2 - y1) - (x2 - x1) / 2) < 2
