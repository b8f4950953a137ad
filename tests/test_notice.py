"""The "Language assistance" notice: a page of the packet, one line per language, each in
its own script, direction and `lang`, with the clinic's phone, from declared fonts only."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pikepdf
import pytest
from conftest import ROOT, page_texts, pdffonts
from test_fonts import declared_names
from test_translations import comparable

from handoutkit.build import BuildOptions, build
from handoutkit.content.brand import NOTICE_LANGS, load_brand
from handoutkit.content.library import Library
from handoutkit.content.wording import direction
from handoutkit.document.notice import notice
from handoutkit.errors import LibraryError

# Builds PDFs end to end, or starts servers, browsers or installs: a slow module
# (`pytest -m "not slow"` leaves it out).
pytestmark = pytest.mark.slow

PHONE = "(555) 010-0199"
LINES = tomllib.loads((ROOT / "layouts" / "language-assistance.toml").read_text("utf-8"))


def brand_file(tmp_path: Path, option: str, phone: str = PHONE) -> Path:
    path = tmp_path / "brand.toml"
    path.write_text(f'name = "Riverside Community Health"\nphone = "{phone}"\n'
                    f"language_assistance = {option}\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def packet(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("notice")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SOURCE_DATE_EPOCH", "1795651200")
        patch.setenv("HANDOUTS_CACHE_DIR", str(tmp / "cache"))
        path = tmp / "packet.pdf"
        path.write_bytes(build(Library(), ["insomnia", "suicide-prevention@ar"],
                               BuildOptions(brand=brand_file(tmp, "true"))))
    return path


def test_the_default_list_is_fifteen_languages_each_with_our_own_line():
    assert len(NOTICE_LANGS) == 15 and "en" not in NOTICE_LANGS
    for lang in NOTICE_LANGS:
        assert LINES[lang]["line"].count("{phone}") == 1, lang


def test_each_line_extracts_exactly_with_the_clinic_s_phone(packet):
    pages = page_texts(packet)
    notice_pages = [p for p in pages if "Language assistance" in p]
    assert len(notice_pages) == 1  # one page, the second, before the topics
    assert pages.index(notice_pages[0]) == 1
    flat = re.sub(r"\s+", "", notice_pages[0])
    letters = comparable(notice_pages[0])
    for lang in ("en", *NOTICE_LANGS):
        before, after = LINES[lang]["line"].split("{phone}")
        if direction(lang) == "ltr":
            assert re.sub(r"\s+", "", before + PHONE + after) in flat, lang
        else:
            # Poppler gives a right-to-left line's runs (between punctuation and the
            # phone) in drawing order: each run reads back letter for letter.
            for run in re.split(r"[:.۔]", before) + re.split(r"[:.۔]", after):
                assert comparable(run) in letters, (lang, run)
    assert notice_pages[0].count(PHONE) == 16  # the English line and 15 languages


def test_each_line_carries_its_language_in_the_structure_tree(packet):
    with pikepdf.open(packet) as pdf:
        tagged = {str(obj.Lang) for obj in pdf.objects if isinstance(obj, pikepdf.Dictionary)
                  and obj.get("/S") == "/P" and "/Lang" in obj}
    assert set(NOTICE_LANGS) <= tagged


def test_the_notice_prints_from_declared_fonts_only(packet):
    allowed = declared_names()
    rows = pdffonts(packet)
    faces = {row["name"].split("+", 1)[-1] for row in rows}
    for face in faces:
        assert re.sub(r"-(Bold|Italic|BoldItalic|Regular)$", "", face) in allowed, face
    assert all(row["emb"] == "yes" for row in rows)
    assert {"Noto-Sans-Devanagari", "Noto-Sans-Arabic", "Noto-Sans-CJK-TC"} <= faces


def test_a_clinic_chooses_its_languages(tmp_path, library):
    brand = load_brand(brand_file(tmp_path, '["vi", "zh-Hans", "fa"]'))
    found = notice(library, brand)
    assert [line["lang"] for line in found["lines"]] == ["vi", "zh-Hans", "fa"]
    assert found["lines"][2]["dir"] == "rtl" and found["lines"][2]["phone"] == PHONE
    assert notice(library, load_brand(brand_file(tmp_path, "false"))) is None


@pytest.mark.parametrize("option, phone, message", [
    ('"yes"', PHONE, "'language_assistance' must be true, false or a list"),
    ("[]", PHONE, "'language_assistance' must be true, false or a list"),
    ('["xx"]', PHONE, "lists 'xx', but layouts/language-assistance.toml has no line for it"),
    ("true", "", "'language_assistance' needs the clinic's 'phone'"),
])
def test_bad_options_are_named(tmp_path, library, option, phone, message):
    with pytest.raises(LibraryError, match=re.escape(message)):
        notice(library, load_brand(brand_file(tmp_path, option, phone)))


def test_a_clinic_line_must_hold_the_phone(make_library):
    root = make_library({"layouts/language-assistance.toml": '[es]\nline = "Llámenos."\n'})
    library = Library(root)
    brand = load_brand(library.default_brand)
    with pytest.raises(LibraryError, match=r"\[es\] 'line' must hold \{phone\} once"):
        notice(library, brand.__class__(**{**brand.__dict__, "language_assistance": ("es",)}))


def test_a_single_handout_without_personal_details_carries_the_notice(tmp_path):
    """A brand that asks for the notice gets it on every handout, not only on packets."""
    out = tmp_path / "single.pdf"
    out.write_bytes(build(Library(), ["psychotherapy"],
                          BuildOptions(brand=brand_file(tmp_path, "true"))))
    text = " ".join(" ".join(page_texts(out)).split())
    assert "Language assistance" in text and f"Llame al {PHONE}" in text
    plain = tmp_path / "plain.pdf"
    plain.write_bytes(build(Library(), ["psychotherapy"],
                            BuildOptions(brand=brand_file(tmp_path, "false"))))
    assert "Language assistance" not in " ".join(page_texts(plain))
