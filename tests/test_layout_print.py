"""What the pages carry besides the topic: the crisis strip on every page of a
mental-health topic, the footer, the "About this handout" block (review status, sources),
the intentionally blank duplex page, the packet's cover and the QR code of the online
version. Checked in the PDFs' text, fonts and pixels."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import ROOT, page_texts
from pypdf import PdfReader

from handoutkit.build import make, selections_for
from handoutkit.cache import Cache
from handoutkit.content.library import Library
from handoutkit.content.wording import direction, load_strings
from handoutkit.options import BuildOptions, Personal

# Builds PDFs end to end, or starts servers, browsers or installs: a slow module
# (`pytest -m "not slow"` leaves it out).
pytestmark = pytest.mark.slow

STRIP = "In crisis? Call or text 988 · Emergency: 911"


def build(library: Library, specs: list[str], tmp_path: Path, name: str = "out.pdf",
          **options) -> Path:
    settings = BuildOptions(jobs=1, **options)
    data = make(library, selections_for(library, specs, None), settings,
                Cache(enabled=False)).data
    path = tmp_path / name
    path.write_bytes(data)
    return path


BIDI_MARKS = re.compile("[\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def flat(text: str) -> str:
    return " ".join(BIDI_MARKS.sub("", text).split())


def top_words(path: Path, below: float = 25 / 25.4 * 72) -> list[list[str]]:
    """Per page, the words printed above the text area (`below` points from the top):
    the running header and the crisis strip."""
    bbox = subprocess.run(["pdftotext", "-bbox", str(path), "-"], check=True,
                          capture_output=True, text=True).stdout
    pages = []
    for page in bbox.split("<page ")[1:]:
        pages.append([BIDI_MARKS.sub("", w) for y, w in re.findall(
            r'<word xMin="[\d.]+" yMin="[\d.]+" xMax="[\d.]+" yMax="([\d.]+)">([^<]+)</word>',
            page) if float(y) < below])
    return pages


def has_strip(words: list[str], strip: str, rtl: bool) -> bool:
    """The crisis strip's words are there. Right-to-left text comes out of pdftotext in
    visual order with some letters joined differently, so there the numbers and most of
    the words are enough."""
    expected = strip.replace("·", " ").split()
    if not rtl:
        return " ".join(w for w in words if w != "·").find(" ".join(expected)) >= 0
    found = [w for w in expected if w in words or w[::-1] in words]
    return "988" in "".join(words) and "911" in "".join(words) and len(found) >= len(expected) / 2


def text_runs(path: Path, index: int) -> list[tuple[str, str, float, float]]:
    """(text, font name, size in points, distance from the page's top) of each run."""
    reader = PdfReader(path)
    page = reader.pages[index]
    height = float(page.mediabox.height)
    runs = []

    def visit(text, cm, tm, font, size):
        if text.strip():
            scale = abs(cm[0]) or 1
            top = height - (cm[5] + cm[3] * tm[5])
            runs.append((text, str(font.get("/BaseFont", "")) if font else "",
                         size * scale, top))

    page.extract_text(visitor_text=visit)
    return runs


def test_crisis_strip_on_every_page_of_every_mental_health_topic(library, tmp_path):
    strings = load_strings(library)
    checked = 0
    for file in library.files():
        topic = library.topic(file.id, file.lang)
        if not topic.mental_health:
            continue
        strip = strings[file.lang]["crisis_strip"]
        pdf = build(library, [f"{file.id}@{file.lang}"], tmp_path, f"{file.id}.{file.lang}.pdf")
        pages = top_words(pdf)
        assert len(pages) >= 2
        for number, words in enumerate(pages, 1):
            # Devanagari and Bengali come back from poppler with vowel signs out of place
            # and words cut: there, the strip's two numbers above the text area.
            if file.lang in ("hi", "bn", "pa"):
                assert "988" in "".join(words) and "911" in "".join(words), (file.id, number)
                continue
            assert has_strip(words, strip, direction(file.lang) == "rtl"), (
                f"{file.id}@{file.lang}: page {number} has no crisis strip: {words}")
        checked += 1
    assert checked >= 12
    # Large print too.
    large = build(library, ["suicide-prevention"], tmp_path, layout="large-print")
    for number, words in enumerate(top_words(large, 31 / 25.4 * 72), 1):
        assert has_strip(words, STRIP, False), number


def test_no_crisis_strip_on_other_topics(test_library, tmp_path):
    assert not test_library.topic("hand-washing").mental_health
    pdf = build(test_library, ["hand-washing"], tmp_path)
    for page, words in zip(page_texts(pdf), top_words(pdf)):
        assert "In crisis?" not in page and "988" not in words


def test_footer_is_large_enough_with_the_clinic_phone_in_bold(library, tmp_path):
    for layout, least in (("standard", 9.5), ("large-print", 14)):
        pdf = build(library, ["psychotherapy"], tmp_path, f"{layout}.pdf", layout=layout)
        height = float(PdfReader(pdf).pages[0].mediabox.height)
        footer = [run for run in text_runs(pdf, 1) if run[3] > height - 90]
        assert footer, layout
        assert all(size >= least - 0.01 for _, _, size, _ in footer), (layout, footer)
        phones = [run for run in footer if "(555) 010-0199" in run[0]]
        assert phones and all("Bold" in font for _, font, _, _ in phones), (layout, footer)
        # The footer says what the pages are by title and version, not by a machine id.
        text = flat(page_texts(pdf)[1])
        version = library.topic("psychotherapy").version
        assert f"Psychotherapy · Version {version} · Printed November 26, 2026" in text
        assert "Topic psychotherapy" not in text


def test_about_block_says_the_topic_is_not_yet_reviewed(library, tmp_path):
    english = flat(page_texts(build(library, ["psychotherapy"], tmp_path, "en.pdf"))[-1])
    assert ("This handout has not yet been reviewed by a clinician at Riverside Community "
            "Health.") in english
    assert "Reviewed by" not in english
    spanish = flat(page_texts(build(library, ["psychotherapy@es"], tmp_path, "es.pdf"))[-1])
    assert ("Esta hoja todavía no ha sido revisada por un profesional clínico de Riverside "
            "Community Health.") in spanish


def test_about_block_names_the_reviewer_and_when(test_library, tmp_path):
    topic = test_library.topic("hand-washing")
    assert topic.reviewed_by == "Test fixture"
    text = flat(page_texts(build(test_library, ["hand-washing"], tmp_path))[-1])
    assert ("Reviewed by Test fixture. This version: October 1, 2026. "
            "Next review: October 1, 2027.") in text
    assert "not yet been reviewed" not in text


def test_sources_print_in_small_type(library, tmp_path):
    topic = library.topic("substance-use")
    assert topic.sources
    pdf = build(library, ["substance-use"], tmp_path)
    pages = page_texts(pdf)
    last = flat(pages[-1])
    assert "Sources:" in last
    # Lines may break after a hyphen (which pdftotext then drops).
    packed = "".join(last.split()).replace("-", "")
    for source in topic.sources:
        assert "".join(source.split()).replace("-", "")[:40] in packed, source
    runs = text_runs(pdf, len(pages) - 1)
    body = [size for text, _, size, _ in text_runs(pdf, 0) if len(text) > 40]
    small = [size for text, _, size, _ in runs if topic.sources[0][:20] in text]
    assert small and max(small) < 0.85 * max(set(body), key=body.count)


def test_duplex_blank_page_says_so_in_its_language(library, tmp_path):
    for spec, words in ((["psychotherapy", "ocd"], "This page is intentionally blank"),
                        (["psychotherapy@es", "depression-adults@es"],
                         "Esta página se dejó en blanco a propósito")):
        pdf = build(library, spec, tmp_path, f"{spec[0]}.pdf", duplex=True,
                    personal=Personal(patient="Test Patient"))
        pages = page_texts(pdf)
        blanks = [i for i, page in enumerate(pages) if words in flat(page)]
        assert blanks and 1 in blanks  # the cover's back, at least
        for index in blanks:
            text = flat(pages[index])
            assert re.fullmatch(re.escape(words) + r" \w+ \d+ \w+ \d+", text), text
            # In the header's style: bold, in the header's place, the header's size.
            runs = [run for run in text_runs(pdf, index) if words.split()[0] in run[0]]
            assert runs and all("Bold" in font and size >= 10 - 0.01 and top < 100
                                for _, font, size, top in runs), runs


def test_packet_cover_uses_its_space(library, tmp_path):
    pdf = build(library, ["psychotherapy", "depression-adults"], tmp_path,
                personal=Personal(patient="Test Patient", visit_date="2026-11-26"))
    cover = flat(page_texts(pdf)[0])
    for topic_id in ("psychotherapy", "depression-adults"):
        topic = library.topic(topic_id)
        assert f"{topic.title} (Version {topic.version})" in cover
    assert "Topic psychotherapy" not in cover
    assert "(555) 010-0199" in cover and STRIP in cover
    assert "Visit date: November 26, 2026" in cover
    for block in ("My next appointment", "Date:", "Time:", "With:", "Questions I want to ask",
                  "Notes"):
        assert block in cover
    spanish = flat(page_texts(build(library, ["psychotherapy@es", "depression-adults@es"],
                                    tmp_path, "es.pdf",
                                    personal=Personal(visit_date="2026-11-26")))[0])
    assert "Fecha de la visita: 26 de noviembre de 2026" in spanish
    assert "Mi próxima cita" in spanish and "Preguntas que quiero hacer" in spanish


def copy_brand(tmp_path: Path, extra: str) -> Path:
    folder = tmp_path / "brand"
    folder.mkdir()
    shutil.copy(ROOT / "layouts" / "logo.svg", folder / "logo.svg")
    path = folder / "brand.toml"
    path.write_text('name = "Lakeside Clinic"\nlogo = "logo.svg"\nphone = "(555) 010-0123"\n'
                    'footer = "Call us at (555) 010-0123."\n' + extra, encoding="utf-8")
    return path


def test_brand_turns_the_cover_blocks_off(library, tmp_path):
    brand = copy_brand(tmp_path, "cover_tools = false\n")
    cover = flat(page_texts(build(library, ["psychotherapy", "ocd"], tmp_path, brand=brand))[0])
    assert "Psychotherapy" in cover and "(555) 010-0123" in cover
    assert "My next appointment" not in cover and "Questions I want to ask" not in cover


def zbarimg(png: Path) -> subprocess.CompletedProcess:
    if shutil.which("zbarimg") is None:
        pytest.skip("zbarimg (apt package zbar-tools) is not installed")
    return subprocess.run(["zbarimg", "--quiet", "--raw", str(png)], capture_output=True,
                          text=True)


def test_qr_code_decodes_to_the_topics_online_address(library, tmp_path):
    brand = copy_brand(tmp_path, 'online_url = "https://lakeside.example.org/h/{id}/{lang}"\n')
    for spec, url in (("ocd", "https://lakeside.example.org/h/ocd/en"),
                      ("psychotherapy@es", "https://lakeside.example.org/h/psychotherapy/es")):
        pdf = build(library, [spec], tmp_path, f"{spec}.pdf", brand=brand)
        pages = page_texts(pdf)
        last = len(pages)
        assert url.removeprefix("https://") in "".join(pages[-1].split())
        subprocess.run(["pdftoppm", "-png", "-r", "150", "-f", str(last), "-l", str(last),
                        "-singlefile", str(pdf), str(tmp_path / "last")], check=True)
        result = zbarimg(tmp_path / "last.png")
        assert result.stdout.split() == [url], result
    # The code is a vector drawing with its description.
    html_brand = BuildOptions(format="html", brand=brand)
    html = make(library, selections_for(library, ["ocd"], None), html_brand).data.decode()
    assert 'alt="QR code for the online version of this handout: ' \
           'https://lakeside.example.org/h/ocd/en"' in html
    assert 'src="data:image/svg+xml;base64,' in html


def test_no_qr_code_without_an_online_address(library, tmp_path):
    pdf = build(library, ["ocd"], tmp_path)
    pages = page_texts(pdf)
    assert "Read this online" not in pages[-1]
    last = len(pages)
    subprocess.run(["pdftoppm", "-png", "-r", "150", "-f", str(last), "-l", str(last),
                    "-singlefile", str(pdf), str(tmp_path / "last")], check=True)
    assert zbarimg(tmp_path / "last.png").stdout.strip() == ""


def test_online_url_must_be_an_https_address_with_the_topic(tmp_path, library):
    from handoutkit.content.brand import load_brand
    from handoutkit.errors import LibraryError

    for number, bad in enumerate(('"http://example.org/{id}"', '"https://example.org/handouts"',
                                  '"https://example.org/{topic}"', "true")):
        (tmp_path / str(number)).mkdir()
        path = copy_brand(tmp_path / str(number), f"online_url = {bad}\n")
        with pytest.raises(LibraryError, match="online_url"):
            load_brand(path)
    (tmp_path / "flag").mkdir()
    path = copy_brand(tmp_path / "flag", 'cover_tools = "no"\n')
    with pytest.raises(LibraryError, match="cover_tools' must be true or false"):
        load_brand(path)
