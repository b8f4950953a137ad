"""Cache keys: with a warm cache, changing any input that shapes a part changes the
output the way it should (its text or structure), never a stale page from the cache.

One clinic library and one cache serve the whole module: the cache is warmed once, and
each test changes one input in place (the cache keys hold file paths, so a copy of the
library would miss for the wrong reason), builds, checks, and puts the input back.
"""

from __future__ import annotations

import contextlib
import io
import shutil
from pathlib import Path

import pytest
from conftest import TEST_LIBRARY
from pypdf import PdfReader

from handoutkit.build import BuildOptions, build
from handoutkit.cache import Cache
from handoutkit.content.library import Library

LOGO = ('<svg xmlns="http://www.w3.org/2000/svg" width="120" height="30">'
        '<text x="2" y="20" font-size="14">{word}</text></svg>')
BRAND = 'name = "{name}"\nlogo = "logo.svg"\ncolor = "#1f5f8b"\nphone = "(555) 010-0199"\n'


@pytest.fixture(scope="module")
def clinic(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("clinic")
    bundled = Library().bundled
    (root / "handouts").mkdir()
    shutil.copy(TEST_LIBRARY / "handouts" / "hand-washing.en.md", root / "handouts")
    for name in ("psychotherapy.en.md", "psychotherapy.es.md"):
        shutil.copy(bundled / "handouts" / name, root / "handouts")
    (root / "layouts").mkdir()
    (root / "layouts" / "brand.toml").write_text(BRAND.format(name="Alder Clinic"))
    (root / "layouts" / "logo.svg").write_text(LOGO.format(word="LOGOONE"))
    (root / "fonts").mkdir()
    for font in bundled.joinpath("fonts").glob("*.ttf"):
        shutil.copy(font, root / "fonts")
    return root


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> Cache:
    return Cache(tmp_path_factory.mktemp("cache"),
                 secret=tmp_path_factory.mktemp("key") / "cache.key")


def text_of(pdf: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


def make(clinic: Path, cache: Cache, spec: str = "hand-washing", **options) -> bytes:
    return build(Library(clinic), [spec], BuildOptions(jobs=1, **options), cache)


@pytest.fixture(scope="module")
def warm(clinic, cache) -> bytes:
    """The reference handout; every part the tests start from is now in the cache."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SOURCE_DATE_EPOCH", "1795651200")  # as conftest sets for each test
        make(clinic, cache, "psychotherapy@es")
        return make(clinic, cache)


@pytest.fixture
def cold_count(cache, warm):
    """Reset the cache's counters; the test then reads how many parts it rendered."""
    cache.stats.hits = cache.stats.misses = 0
    return cache.stats


@contextlib.contextmanager
def changed(path: Path, new: bytes | str):
    old = path.read_bytes()
    try:
        path.write_bytes(new.encode() if isinstance(new, str) else new)
        yield
    finally:
        path.write_bytes(old)


def test_warm_cache_is_used(clinic, cache, warm, cold_count):
    assert text_of(make(clinic, cache)) == text_of(warm)
    assert cold_count.misses == 0 and cold_count.hits > 0
    assert "Printed November 26, 2026" in text_of(warm)


def test_printed_date(clinic, cache, warm, cold_count, monkeypatch):
    """Probe: `printed.isoformat()` dropped from packet.part_key made a warm cache print
    the stale date on every topic page; this fails on it (the footer's date)."""
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1800000000")  # 2027-01-15
    text = text_of(make(clinic, cache))
    assert "Printed January 15, 2027" in text
    assert "November 26, 2026" not in text
    assert cold_count.misses >= 1


def test_paper(clinic, cache, warm):
    box = PdfReader(io.BytesIO(make(clinic, cache, paper="a4"))).pages[0].mediabox
    assert (round(float(box.width)), round(float(box.height))) == (595, 842)
    box = PdfReader(io.BytesIO(warm)).pages[0].mediabox
    assert (round(float(box.width)), round(float(box.height))) == (612, 792)


def test_layout(clinic, cache, warm):
    large = PdfReader(io.BytesIO(make(clinic, cache, layout="large-print")))
    standard = PdfReader(io.BytesIO(warm))
    # The same words, in 18 pt type: more pages.
    assert len(large.pages) > len(standard.pages)
    assert "Why wash your hands?" in text_of(make(clinic, cache, layout="large-print"))


def test_brand(clinic, cache, warm, cold_count):
    with changed(clinic / "layouts" / "brand.toml", BRAND.format(name="Birch Clinic")):
        text = text_of(make(clinic, cache))
    assert "Birch Clinic" in text and "Alder Clinic" not in text
    assert "Alder Clinic" in text_of(warm)


def test_logo_bytes(clinic, cache, warm):
    assert "LOGOONE" in text_of(warm)
    with changed(clinic / "layouts" / "logo.svg", LOGO.format(word="LOGOTWO")):
        text = text_of(make(clinic, cache))
    assert "LOGOTWO" in text and "LOGOONE" not in text


def test_related_topics_file(clinic, cache, warm):
    path = clinic / "handouts" / "psychotherapy.en.md"
    assert "Psychotherapy" in text_of(warm).split("More on this topic")[1]
    with changed(path, path.read_text().replace("title: Psychotherapy", "title: Talk Therapy",
                                                1)):
        more = text_of(make(clinic, cache)).split("More on this topic")[1]
    assert "Talk Therapy" in more and "Psychotherapy" not in more.split("\n")[1]


def test_sections(clinic, cache, warm):
    text = text_of(make(clinic, cache, "hand-washing:why"))
    assert "Why wash your hands?" in text and "When should I wash?" not in text
    assert "When should I wash?" in text_of(warm)


def test_language(clinic, cache, warm):
    spanish = text_of(make(clinic, cache, "psychotherapy@es"))
    english = text_of(make(clinic, cache, "psychotherapy"))
    assert "Impreso" in spanish and "Printed" not in spanish
    assert "Printed" in english and "Impreso" not in english


def test_fonts(clinic, cache, warm):
    """The embedded regular face follows the font file: its weight class (OS/2) read back
    from the PDF (the font names come from the CSS family, so they do not change)."""
    regular = clinic / "fonts" / "AtkinsonHyperlegible-Regular.ttf"
    bold = (clinic / "fonts" / "AtkinsonHyperlegible-Bold.ttf").read_bytes()
    assert weights(warm)["Atkinson-Hyperlegible"] == 400
    with changed(regular, bold):  # the regular face's file now holds the bold face
        # A process keeps each parsed stylesheet, fonts loaded, keyed by its text (which
        # names font files, not their bytes): a new command starts without them.
        from handoutkit.pdf.render import release_stylesheets

        release_stylesheets()
        assert weights(make(clinic, cache))["Atkinson-Hyperlegible"] == 700
    release_stylesheets()


def weights(pdf: bytes) -> dict[str, int]:
    """Embedded font name (without the subset tag) -> its OS/2 weight class."""
    import pikepdf
    from fontTools.ttLib import TTFont

    found = {}
    with pikepdf.open(io.BytesIO(pdf)) as doc:
        for obj in doc.objects:
            if isinstance(obj, pikepdf.Dictionary) and obj.get("/Type") == "/FontDescriptor":
                data = obj.get("/FontFile2")
                if data is not None:
                    font = TTFont(io.BytesIO(data.read_bytes()))
                    found[str(obj.FontName)[1:].split("+")[-1]] = font["OS/2"].usWeightClass
    return found
