"""Pages in the reader's language: brand wording, dates, related topics, crisis options."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from handoutkit.build import BuildOptions, build
from handoutkit.content.brand import load_brand
from handoutkit.content.library import Library
from handoutkit.errors import LibraryError

# Builds PDFs end to end, or starts servers, browsers or installs: a slow module
# (`pytest -m "not slow"` leaves it out).
pytestmark = pytest.mark.slow


def page_texts(pdf: bytes, tmp: Path) -> list[str]:
    path = tmp / "doc.pdf"
    path.write_bytes(pdf)
    text = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True,
                          text=True, check=True).stdout
    return text.split("\f")[:-1]


@pytest.fixture(scope="module")
def mixed(tmp_path_factory) -> list[str]:
    """A Spanish topic and an English one in one packet (printed 26 November 2026)."""
    tmp = tmp_path_factory.mktemp("mixed")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SOURCE_DATE_EPOCH", "1795651200")
        patch.setenv("HANDOUTS_CACHE_DIR", str(tmp / "cache"))
        pdf = build(Library(), ["psychotherapy@es", "insomnia"], BuildOptions())
    return page_texts(pdf, tmp)


def test_each_page_carries_its_own_language_s_brand_footer(mixed):
    spanish = [p for p in mixed if "Psicoterapia ·" in p]
    english = [p for p in mixed if "Insomnia ·" in p]
    assert spanish and english
    for page in spanish:
        assert "¿Tiene preguntas sobre esta hoja? Llámenos al (555) 010-0199." in page
        assert "Questions about this handout?" not in page
        assert "Página" in page and "Page " not in page
    for page in english:
        assert "Questions about this handout? Call us at (555) 010-0199." in page
        assert "Llámenos" not in page


def test_dates_are_written_the_way_each_language_writes_them(mixed):
    spanish = "\n".join(p for p in mixed if "Psicoterapia ·" in p)
    english = "\n".join(p for p in mixed if "Insomnia ·" in p)
    assert "Impreso 26 de noviembre de 2026" in spanish
    assert "Última actualización: 6 de diciembre de 2026" in spanish
    assert "2026-11-26" not in spanish and "November" not in spanish
    assert "Printed November 26, 2026" in english


def test_related_topics_in_the_reader_s_language_or_marked_english(mixed):
    spanish = " ".join(" ".join(p.split()) for p in mixed if "Psicoterapia ·" in p)
    # Topics with a Spanish version print its title; the others their English title, marked.
    assert "Depresión en adultos" in spanish
    assert "Coping with Stress (en inglés)" in spanish
    assert "Panic Disorder (en inglés)" in spanish
    assert "(in English)" not in spanish


def test_every_spanish_crisis_block_gives_the_spanish_988_options(library):
    for topic_id in ("psychotherapy", "suicide-prevention", "depression-adults",
                     "generalized-anxiety"):
        crisis = library.topic(topic_id, "es").section("crisis").html()
        # The lead line (bold, larger): call 988 and press 2, or text AYUDA.
        assert "<strong>Llame al 988 y oprima 2, o envíe AYUDA al 988.</strong>" in crisis, topic_id
        assert "988lineadevida.org" in crisis, topic_id
        assert "911" in crisis, topic_id


def test_the_crisis_block_and_headings_are_never_hyphenated(mixed):
    for page in mixed:
        if "¿Qué hago si estoy en crisis?" in page:
            block = page.split("¿Qué hago si estoy en crisis?")[1].split("Más sobre este tema")[0]
            assert not any(line.rstrip().endswith("-") for line in block.splitlines()), block


def test_brand_wording_per_language(tmp_path):
    brand = tmp_path / "brand.toml"
    brand.write_text('name = "Clinic"\nfooter = "Call us."\n[lang.es]\nfooter = "Llámenos."\n'
                     'name = "Clínica"\n', encoding="utf-8")
    loaded = load_brand(brand)
    assert loaded.for_lang("es").footer == "Llámenos." and loaded.for_lang("es").name == "Clínica"
    assert loaded.for_lang("en").footer == "Call us." and loaded.for_lang("vi").name == "Clinic"
    brand.write_text('name = "Clinic"\n[lang.es]\ncolor = "#000000"\n', encoding="utf-8")
    with pytest.raises(LibraryError, match=r"\[lang.es\] cannot set 'color'"):
        load_brand(brand)
