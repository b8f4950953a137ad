"""Topics in Chinese, Vietnamese, Korean, Tagalog, Russian and Arabic: they build, read in
order, carry their language in the structure tree, and Arabic runs right to left."""

from __future__ import annotations

import html
import re
import subprocess
from pathlib import Path

import pikepdf
import pytest

from handoutkit.build import BuildOptions, build
from handoutkit.content.brand import load_brand
from handoutkit.content.library import Library
from handoutkit.lint.rules import Linter

LANGS = ("zh-Hans", "zh-Hant", "vi", "ko", "tl", "ru", "ar")
# The crisis block's first line in each language (danger now: 911), exact, in reading order.
CRISIS_FIRST = {
    "zh-Hans": "现在有危险吗？请拨打 911，或者去最近的急诊室。",
    "zh-Hant": "現在有危險嗎？請撥打 911，或者去最近的急診室。",
    "vi": "Đang gặp nguy hiểm? Hãy gọi 911 hoặc đến phòng cấp cứu.",
    "ko": "지금 위험한가요? 911에 전화하거나 가장 가까운 응급실로 가세요.",
    "tl": "Nasa panganib ngayon? Tumawag sa 911 o pumunta sa emergency room.",
    "ru": "Опасность сейчас? Звоните 911 или идите в отделение неотложной помощи.",
    "ar": "هل هناك خطر الآن؟ اتصل بالرقم 911 أو اذهب إلى أقرب قسم طوارئ.",
}
POPPLER_MARKS = re.compile("[\u202a-\u202e]")
# Poppler extracts the lam-alef ligatures (and lam with alef maqsura, as in على) as their two
# letters in drawing order.
LAM_ALEF = re.compile("ل([اأإآى])")


def comparable(text: str) -> str:
    """Text as poppler can give it back: Arabic loses its vowel marks' places and writes a
    final yeh as alef maqsura (one glyph serves both), so letters are compared in order."""
    import unicodedata

    # Vowel marks go first, so a lam-alef with a mark between its letters (مثلًا) is seen;
    # spaces stay until the ligatures are turned, as a ligature never spans two words.
    text = "".join(c for c in POPPLER_MARKS.sub("", text) if unicodedata.category(c)[0] != "M")
    text = LAM_ALEF.sub(r"\1ل", text).replace("ى", "ي")
    return "".join(c for c in text if unicodedata.category(c)[0] in "LN")


def text_of(path: Path, *args: str) -> str:
    return subprocess.run(["pdftotext", *args, str(path), "-"], capture_output=True,
                          text=True, check=True).stdout


@pytest.fixture(scope="module")
def pdfs(tmp_path_factory) -> dict[str, Path]:
    """Each language alone (standard, letter), plus a mixed packet in large print on A4."""
    tmp = tmp_path_factory.mktemp("translations")
    out = {}
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SOURCE_DATE_EPOCH", "1795651200")
        patch.setenv("HANDOUTS_CACHE_DIR", str(tmp / "cache"))
        library = Library()
        for lang in LANGS:
            out[lang] = tmp / f"{lang}.pdf"
            out[lang].write_bytes(build(library, [f"suicide-prevention@{lang}"], BuildOptions()))
        out["mixed"] = tmp / "mixed.pdf"
        out["mixed"].write_bytes(build(
            library, ["suicide-prevention@zh-Hans", "suicide-prevention@ar", "psychotherapy@en"],
            BuildOptions(layout="large-print", paper="a4")))
    return out


@pytest.mark.parametrize("lang", LANGS)
def test_each_translation_reads_in_order(pdfs, lang):
    flat = comparable(text_of(pdfs[lang]))
    assert comparable(CRISIS_FIRST[lang]) in flat
    assert "911" in flat and "988" in flat and "240" in flat
    with pikepdf.open(pdfs[lang]) as pdf:
        assert str(pdf.Root.Lang) == lang


def test_a_mixed_packet_keeps_each_part_s_language(pdfs):
    with pikepdf.open(pdfs["mixed"]) as pdf:
        langs = set()
        for obj in pdf.objects:
            if isinstance(obj, pikepdf.Dictionary) and "/Lang" in obj and "/S" in obj:
                langs.add(str(obj.Lang))
        assert {"zh-Hans", "ar", "en"} <= langs
        assert float(pdf.pages[0].MediaBox[2]) == pytest.approx(595.28, abs=1)  # A4
    text = text_of(pdfs["mixed"])
    assert "第 2 页，共" in text and "Page " in text and "صفحة" in text


def test_arabic_headings_sit_at_the_right_margin(pdfs):
    bbox = text_of(pdfs["ar"], "-bbox", "-f", "1", "-l", "1")
    width = float(re.search(r'<page width="([\d.]+)"', bbox).group(1))
    words = [(float(a), float(b), w) for a, b, w in
             re.findall(r'<word xMin="([\d.]+)" yMin="[\d.]+" xMax="([\d.]+)"[^>]*>'
                        r'([^<]+)</word>', bbox)]
    # The title's last word in the reading order ends at the right margin (10 mm, layouts/standard).
    title = [w for w in words if w[2][::-1] == "الوقاية"]
    assert title, "title not found"
    right_margin = width - title[0][1]
    assert right_margin == pytest.approx(10 / 25.4 * 72, abs=3)
    # And the English footer stamp's page number sits on the left.
    number = [w for w in words if w[2] == "صفحة"[::-1] or w[2] == "صفحة"]
    assert number and number[0][0] < width / 2


def test_translations_are_linted_per_language(library):
    linter = Linter(library, load_brand(library.default_brand))
    findings = linter.run(["suicide-prevention"])
    assert [f for f in findings if f.severity == "error"] == []


def test_lint_finds_a_crisis_block_without_the_interpreter_line(make_library):
    source = (Path(__file__).parent.parent / "handouts" / "suicide-prevention.vi.md").read_text()
    # The Vietnamese block without its interpreter line, and an English line in its place.
    broken, removed = re.subn(r"^- Đây là 988 Suicide.*$\n", "", source, flags=re.M)
    assert removed == 1
    english = "- Call 988 and ask for an interpreter if you need one, it is free for you.\n"
    broken = broken.replace("- Cựu quân nhân", english + "- Cựu quân nhân")
    assert english in broken
    root = make_library({"handouts/suicide-prevention.vi.md": broken})
    library = Library(root)
    findings = Linter(library, load_brand(library.default_brand)).run(["suicide-prevention"])
    messages = [f.message for f in findings if "suicide-prevention.vi.md" in f.path]
    assert any("free 988 interpreter" in m for m in messages), messages
    assert any("English sentence" in m for m in messages), messages


# Psychotherapy in the languages that have it (vi, tl, ru and ar at least): built alone in
# standard print on letter, and together in large print on A4.
PSYCHOTHERAPY_LANGS = tuple(lang for lang in LANGS
                            if (Path(__file__).parent.parent / "handouts"
                                / f"psychotherapy.{lang}.md").exists())


def crisis_items(topic) -> list[str]:
    """The crisis block's lines (its bold first line and each list item), as plain text."""
    source = topic.section("crisis").html()
    items = re.findall(r"<(?:li|strong)>(.*?)</(?:li|strong)>", source, flags=re.S)
    plain = [html.unescape(re.sub(r"<[^>]+>", "", item)).strip() for item in items]
    return [p for p in plain if len(comparable(p)) > 6]


@pytest.fixture(scope="module")
def psychotherapy_pdfs(tmp_path_factory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("psychotherapy")
    out = {}
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SOURCE_DATE_EPOCH", "1795651200")
        patch.setenv("HANDOUTS_CACHE_DIR", str(tmp / "cache"))
        library = Library()
        for lang in PSYCHOTHERAPY_LANGS:
            out[lang] = tmp / f"{lang}.pdf"
            out[lang].write_bytes(build(library, [f"psychotherapy@{lang}"], BuildOptions()))
        out["mixed"] = tmp / "mixed.pdf"
        out["mixed"].write_bytes(build(
            library, [f"psychotherapy@{lang}" for lang in ("vi", "tl", "ru", "ar")],
            BuildOptions(layout="large-print", paper="a4")))
    return out


def test_psychotherapy_is_translated_into_vietnamese_tagalog_russian_and_arabic():
    assert {"vi", "tl", "ru", "ar"} <= set(PSYCHOTHERAPY_LANGS)


@pytest.mark.parametrize("lang", PSYCHOTHERAPY_LANGS)
def test_psychotherapy_translation_follows_english(library, lang):
    english = library.topic("psychotherapy", "en")
    topic = library.topic("psychotherapy", lang)
    assert topic.section_ids == english.section_ids
    assert [s.id for s in topic.sections if s.required] == ["crisis"]
    assert topic.translated_from.split()[0] == "en"
    assert topic.reviewed_by.startswith("Pending review by a qualified")
    # One language, one crisis wording: the block is the one suicide prevention prints.
    other = library.topic("suicide-prevention", lang)
    assert topic.section("crisis").html() == other.section("crisis").html()
    # The questions tool keeps its boxes, and the picture its own description and caption.
    from handoutkit.lint.blocks import has_tool
    assert has_tool(topic.section("questions"))
    assert [i.src for i in topic.images] == [i.src for i in english.images]
    for picture, original in zip(topic.images, english.images, strict=True):
        assert picture.alt and picture.caption
        assert picture.alt != original.alt and picture.caption != original.caption


@pytest.mark.parametrize("lang", PSYCHOTHERAPY_LANGS)
def test_psychotherapy_reads_in_order(library, psychotherapy_pdfs, lang):
    topic = library.topic("psychotherapy", lang)
    # The order the page was written in (poppler's guess at columns can put a heading from
    # the right column before a picture's caption in the left one).
    text = text_of(psychotherapy_pdfs[lang], *([] if lang == "ar" else ["-raw"]))
    # Every heading in the order written; and the crisis block's heading, then its every
    # line, in order (the block itself may be moved up to where it leaves no page short).
    sections = [s.title for s in topic.sections if s.id != "crisis"]
    crisis = [topic.section("crisis").title] + crisis_items(topic)
    expected = sections + crisis
    if lang == "ar":
        # Poppler sets a Latin word inside an Arabic line apart from it ("Arabic", the
        # Lifeline's name): the Arabic letters and the numbers are compared in order, and
        # the Latin words are looked for on their own.
        for word in ("Arabic", "Suicide & Crisis Lifeline"):
            assert word in text
        latin = re.compile("[A-Za-z]")
        text, expected = latin.sub("", text), [latin.sub("", e) for e in expected]
    expected = [comparable(e) for e in expected]
    assert len(expected) >= len(topic.sections) + 6
    runs = [expected[:len(sections)], expected[len(sections):]]
    if lang == "ar":
        # Poppler's guess at the order of two right-to-left columns changes with small
        # shifts of the lines (see test_every_language): each heading must be on the page
        # of the one before it or a later one; the crisis block, across the page, is read
        # line by line in order.
        pages, number = [comparable(page) for page in text.split("\f")], 0
        for piece in runs.pop(0):
            while number < len(pages) and piece not in pages[number]:
                number += 1
            assert number < len(pages), piece
    flat = comparable(text)
    for run in runs:
        position = 0
        for piece in run:
            found = flat.find(piece, position)
            assert found >= 0, piece
            position = found + len(piece)
    with pikepdf.open(psychotherapy_pdfs[lang]) as pdf:
        assert str(pdf.Root.Lang) == lang


def test_psychotherapy_in_four_languages_in_large_print_on_a4(library, psychotherapy_pdfs):
    pdf_path = psychotherapy_pdfs["mixed"]
    with pikepdf.open(pdf_path) as pdf:
        assert float(pdf.pages[0].MediaBox[2]) == pytest.approx(595.28, abs=1)
        langs = {str(obj.Lang) for obj in pdf.objects
                 if isinstance(obj, pikepdf.Dictionary) and "/Lang" in obj and "/S" in obj}
    assert {"vi", "tl", "ru", "ar"} <= langs
    flat = comparable(text_of(pdf_path))
    position = 0
    for lang in ("vi", "tl", "ru", "ar"):
        first = comparable(CRISIS_FIRST[lang])
        found = flat.find(first, position)
        assert found >= 0, lang
        position = found + len(first)


# Simplified and Traditional Chinese and Korean follow English 1.1 of both topics: the same
# sections, version and sources, and the key-points box printed before the questions.
CAUGHT_UP = ("zh-Hans", "zh-Hant", "ko")
KEY_POINTS = {"zh-Hans": "请记住", "zh-Hant": "請記住", "ko": "꼭 기억하세요"}


@pytest.mark.parametrize("lang", CAUGHT_UP)
def test_chinese_and_korean_follow_english_1_1(library, lang):
    for topic_id in ("psychotherapy", "suicide-prevention"):
        english = library.topic(topic_id, "en")
        topic = library.topic(topic_id, lang)
        assert topic.section_ids == english.section_ids, topic_id
        assert topic.translated_from.split() == ["en", english.version], topic_id
        assert topic.sources == english.sources, topic_id


@pytest.mark.parametrize("lang", CAUGHT_UP)
def test_key_points_print_before_the_questions(library, pdfs, psychotherapy_pdfs, lang):
    for topic_id, pdf in (("psychotherapy", psychotherapy_pdfs[lang]),
                          ("suicide-prevention", pdfs[lang])):
        topic = library.topic(topic_id, lang)
        # The order the page was written in: poppler's guess at two columns can read across.
        text = text_of(pdf, "-raw")
        assert "**" not in text  # every bold mark was read as one
        flat = comparable(text)
        # The box ends the section that holds it (the last one before the questions or the
        # tool), as in English.
        holder = next(s for s in topic.sections
                      if any(t.type == "container_key-points_open" for t in s.tokens))
        english = library.topic(topic_id, "en")
        assert any(t.type == "container_key-points_open"
                   for t in english.section(holder.id).tokens), topic_id
        heading = flat.rfind(comparable(holder.title), 0, flat.find(comparable(KEY_POINTS[lang])))
        box = flat.find(comparable(KEY_POINTS[lang]), heading)
        after = topic.sections[topic.section_ids.index(holder.id) + 1]
        assert 0 <= heading < box < flat.find(comparable(after.title), box), topic_id
