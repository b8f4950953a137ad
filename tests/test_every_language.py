"""Every topic in a language other than English (and the English topics they translate)
builds in both layouts on both papers, alone and in one packet mixing every language; the
text reads back in order, and each part carries its language in the structure tree."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pikepdf
import pytest
from conftest import ROOT, cache_env, pdftotext
from test_translations import comparable

from handoutkit.build import BuildOptions, build
from handoutkit.cache import Cache
from handoutkit.content.library import Library
from handoutkit.content.wording import direction, format_date, language_name

# Builds PDFs end to end, or starts servers, browsers or installs: a slow module
# (`pytest -m "not slow"` leaves it out).
pytestmark = pytest.mark.slow

COMBOS = [("standard", "letter"), ("standard", "a4"), ("large-print", "letter"),
          ("large-print", "a4")]
WIDTHS = {"letter": 612.0, "a4": 595.28}
HEADING_RE = re.compile(r"^(#{1,2}) (.+?)(?: \{[^}]*\})?$", re.M)
FRONT_TITLE_RE = re.compile(r"^title: (.+)$", re.M)


def language_files() -> list[tuple[str, str]]:
    """(topic, language) of every non-English file in handouts/, and English for the
    topics they translate."""
    found = [tuple(p.name[:-3].split(".", 1)) for p in (ROOT / "handouts").glob("*.*.md")]
    translated = {topic for topic, lang in found if lang != "en"}
    return sorted((t, lang) for t, lang in found if lang != "en" or t in translated)


FILES = language_files()


def expected(topic: str, lang: str) -> list[str]:
    """The title and section headings, read from the Markdown with regular expressions."""
    text = (ROOT / "handouts" / f"{topic}.{lang}.md").read_text(encoding="utf-8")
    title = FRONT_TITLE_RE.search(text).group(1).strip().strip('"')
    # The crisis block may be moved up to where it leaves no page short, and a tool past a
    # neighbouring section (refit.py): their headings are sought on their own
    # (crisis_heading, tool_heading), the others in their order.
    moved = (crisis_heading(topic, lang), tool_heading(topic, lang))
    return [title] + [h for level, h in HEADING_RE.findall(text)
                      if level == "##" and h not in moved]


def tool_heading(topic: str, lang: str) -> str | None:
    """The heading of the topic's tool table (a section holding a table), if it has one."""
    text = (ROOT / "handouts" / f"{topic}.{lang}.md").read_text(encoding="utf-8")
    for section in re.split(r"^(?=## )", text, flags=re.M):
        if re.search(r"^\|", section, re.M) and section.startswith("## "):
            return HEADING_RE.match(section).group(2).strip()
    return None


def crisis_heading(topic: str, lang: str) -> str:
    text = (ROOT / "handouts" / f"{topic}.{lang}.md").read_text(encoding="utf-8")
    return re.search(r"^## (.+?) \{#crisis", text, re.M).group(1).strip()


# Scripts whose vowel signs poppler may give back out of place (a Devanagari or Bengali
# i-sign is drawn before its consonant): their letters are compared without the signs.
INDIC = ("hi", "bn", "pa", "gu", "mr", "ne", "ta", "te", "kn", "ml")
REPH = re.compile("\u09b0\u09cd|\u0930\u094d|\u09cd\u09b0|\u094d\u0930")


def flat(text: str, lang: str) -> str:
    """Text as compared: letters only for right-to-left text (poppler's order of marks
    differs) and for Indic scripts (vowel signs), without white space for the others (CJK
    lines break anywhere)."""
    if lang.split("-")[0] in INDIC:
        # A reph (ra with a virama, drawn over the next letter) comes back after it.
        return comparable(REPH.sub("", text))
    if direction(lang) == "rtl":
        return comparable(text)
    return re.sub(r"\s+", "", text)


def reading_text(path: Path, lang: str) -> str:
    """The PDF's text in reading order. Left-to-right pages: in the order the page draws
    it (-raw), the document's order (poppler's layout analysis reads the standard layout's
    two columns across); right-to-left: poppler's order (-raw keeps visual order)."""
    return pdftotext(path) if direction(lang) == "rtl" else pdftotext(path, "-raw")


def in_order(text: str, lang: str, headings: list[str]) -> bool:
    """Every heading appears in `text`, each after the one before. Of a right-to-left
    heading only its first two words are sought: poppler may put a word holding a vowel
    mark (شخصًا) on a line of its own, out of order; and only its page is compared."""
    if direction(lang) == "rtl":
        # Poppler's guess at the order of two right-to-left columns changes with small
        # shifts of the lines: on those pages each heading must be on the page of the one
        # before it or a later one (and none missing).
        pages, number = [flat(page, lang) for page in text.split("\f")], 0
        for heading in headings:
            sought = flat(" ".join(heading.split()[:2]), lang)
            while number < len(pages) and sought not in pages[number]:
                number += 1
            if number == len(pages):
                return False
        return True
    position, page = 0, flat(text, lang)
    find = loose_find if lang.split("-")[0] in INDIC else str.find
    for heading in headings:
        position = find(page, flat(heading, lang), position)
        if position < 0:
            return False
    return True


def loose_find(page: str, sought: str, start: int = 0, gap: int = 3) -> int:
    """Where `sought` starts in `page` at or after `start`, its letters in order with at
    most `gap` other letters between two of them (poppler may give a conjunct's letter
    twice in Bengali or Devanagari); -1 if nowhere."""
    for first in range(start, len(page)):
        if page[first] != sought[0]:
            continue
        at = first
        for letter in sought[1:]:
            found = page.find(letter, at + 1, at + 2 + gap)
            if found < 0:
                break
            at = found
        else:
            return first
    return -1


@pytest.fixture(scope="module", params=COMBOS, ids=lambda combo: "-".join(combo))
def built(request, tmp_path_factory, shared_cache) -> dict:
    """One combination of layout and paper: the mixed packet, then each file alone (from
    the parts the packet cached)."""
    layout, paper = request.param
    tmp = tmp_path_factory.mktemp(f"{layout}-{paper}")
    out = {"paper": paper}
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SOURCE_DATE_EPOCH", "1795651200")
        # The run's shared cache: the page-fill tests lay out each of these files too.
        for name, value in cache_env(shared_cache).items():
            patch.setenv(name, value)
        library, cache = Library(), Cache()
        options = BuildOptions(layout=layout, paper=paper)
        out["mixed"] = tmp / "mixed.pdf"
        out["mixed"].write_bytes(build(library, [f"{t}@{lang}" for t, lang in FILES],
                                       options, cache))
        for topic, lang in FILES:
            out[topic, lang] = tmp / f"{topic}.{lang}.pdf"
            out[topic, lang].write_bytes(build(library, [f"{topic}@{lang}"], options, cache))
    return out


def test_each_file_alone_reads_in_order(built):
    for topic, lang in FILES:
        path = built[topic, lang]
        text = reading_text(path, lang)
        assert in_order(text, lang, expected(topic, lang)), (topic, lang)
        assert in_order(text, lang, [crisis_heading(topic, lang)]), (topic, lang)
        if tool_heading(topic, lang):
            assert in_order(text, lang, [tool_heading(topic, lang)]), (topic, lang)
        # The running header's web address never wraps (CJK faces' Latin is wider).
        assert "riverside-health.example.org" in text, (topic, lang)
        with pikepdf.open(path) as pdf:
            assert str(pdf.Root.Lang) == lang
            assert float(pdf.pages[0].MediaBox[2]) == pytest.approx(WIDTHS[built["paper"]],
                                                                    abs=1)


def test_the_mixed_packet_keeps_every_part_in_order_and_in_its_language(built):
    pages = {lang: reading_text(built["mixed"], lang).split("\f") for _, lang in FILES}
    with pikepdf.open(built["mixed"]) as pdf:
        tagged = [str(obj.Lang) for obj in pdf.objects if isinstance(obj, pikepdf.Dictionary)
                  and obj.get("/S") == "/Art" and "/Lang" in obj]
    assert set(tagged) == {lang for _, lang in FILES}
    # Each part's pages, in the packet's order, hold its headings in order.
    start = 1  # after the cover
    for topic, lang in FILES:
        headings = expected(topic, lang)
        end = start
        while not in_order("\n".join(pages[lang][start:end + 1]), lang, headings):
            end += 1
            assert end < len(pages[lang]), (topic, lang)
        start = end + 1


HANGUL = re.compile(r"[\uac00-\ud7a3]+")


def test_korean_lines_break_between_words_only(built):
    """Every Korean word on the page is a word of the topic or of the layouts' wording:
    none was cut at a line end."""
    wording = "".join((ROOT / "layouts" / name).read_text(encoding="utf-8")
                      for name in ("strings.toml", "brand.toml"))
    # Dates and language names come from CLDR.
    wording += f" {format_date(dt.date(2026, 11, 26), {}, 'ko')} {language_name('en', 'ko')} "
    for topic, lang in FILES:
        if lang != "ko":
            continue
        # "More on this topic" prints the titles of the related Korean topics too.
        source = wording + "".join(path.read_text("utf-8")
                                   for path in (ROOT / "handouts").glob("*.ko.md"))
        words = {"".join(HANGUL.findall(w)) for w in source.split()}
        printed = {"".join(HANGUL.findall(w)) for w in pdftotext(built[topic, lang]).split()}
        assert printed - {""} <= words, sorted(printed - words)[:5]
