"""Topics in Chinese, Vietnamese, Korean, Tagalog, Russian and Arabic: they build, read in
order, carry their language in the structure tree, and Arabic runs right to left."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pikepdf
import pytest

from handoutkit.build import BuildOptions, build
from handoutkit.library import Library
from handoutkit.lint import Linter
from handoutkit.brand import load_brand

LANGS = ("zh-Hans", "zh-Hant", "vi", "ko", "tl", "ru", "ar")
# The crisis block's first line in each language (exact text, in reading order).
CRISIS_FIRST = {
    "zh-Hans": "如果您或您认识的人在想自杀，请马上求助。",
    "zh-Hant": "如果您或您認識的人在想自殺，請馬上求助。",
    "vi": "Nếu quý vị hoặc người quý vị quen đang nghĩ đến tự tử, hãy tìm giúp đỡ ngay.",
    "ko": "당신이나 아는 사람이 자살을 생각하고 있다면 바로 도움을 받으세요.",
    "tl": "Kung ikaw o ang isang kakilala mo ay nag-iisip na magpakamatay, humingi agad ng tulong.",
    "ru": "Если вы или кто-то из ваших знакомых думает о самоубийстве, сразу обратитесь за помощью.",
    "ar": "إذا كنت أنت أو شخص تعرفه يفكر في الانتحار، فاطلب المساعدة فورًا.",
}
POPPLER_MARKS = re.compile("[\u202a-\u202e]")
# Poppler extracts the lam-alef ligature as its two letters in drawing order.
LAM_ALEF = re.compile("ل([اأإآ])")


def comparable(text: str) -> str:
    """Text as poppler can give it back: Arabic loses its vowel marks' places and writes a
    final yeh as alef maqsura (one glyph serves both), so letters are compared in order."""
    import unicodedata

    text = LAM_ALEF.sub(r"\1ل", POPPLER_MARKS.sub("", text)).replace("ى", "ي")
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
    assert "页 2 /" in text and "Page " in text and "صفحة" in text


def test_arabic_headings_sit_at_the_right_margin(pdfs):
    bbox = text_of(pdfs["ar"], "-bbox", "-f", "1", "-l", "1")
    width = float(re.search(r'<page width="([\d.]+)"', bbox).group(1))
    words = [(float(a), float(b), w) for a, b, w in
             re.findall(r'<word xMin="([\d.]+)" yMin="[\d.]+" xMax="([\d.]+)"[^>]*>([^<]+)</word>', bbox)]
    # The title's last word in the reading order ends at the right margin (19 mm).
    title = [w for w in words if w[2][::-1] == "الوقاية"]
    assert title, "title not found"
    right_margin = width - title[0][1]
    assert right_margin == pytest.approx(19 / 25.4 * 72, abs=3)
    # And the English footer stamp's page number sits on the left.
    number = [w for w in words if w[2] == "صفحة"[::-1] or w[2] == "صفحة"]
    assert number and number[0][0] < width / 2


def test_translations_are_linted_per_language(library):
    linter = Linter(library, load_brand(library.default_brand))
    findings = linter.run(["suicide-prevention"])
    assert [f for f in findings if f.severity == "error"] == []


def test_lint_finds_a_crisis_block_without_the_interpreter_line(make_library):
    source = (Path(__file__).parent.parent / "handouts" / "suicide-prevention.vi.md").read_text()
    broken = re.sub(r"^- Có thông dịch viên.*$\n", "", source, flags=re.M)
    broken = broken.replace("- Nhắn tin và trò chuyện trực tuyến với 988 chỉ có bằng tiếng Anh "
                            "và tiếng Tây Ban Nha. Hãy gọi điện để được nói bằng tiếng Việt.\n", "")
    english = "- Call 988 and ask for an interpreter if you need one, it is free for you.\n"
    broken = broken.replace("- Nếu quý vị là cựu quân nhân", english + "- Nếu quý vị là cựu quân nhân")
    root = make_library({"handouts/suicide-prevention.vi.md": broken})
    library = Library(root)
    findings = Linter(library, load_brand(library.default_brand)).run(["suicide-prevention"])
    messages = [f.message for f in findings if "suicide-prevention.vi.md" in f.path]
    assert any("free 988 interpreter" in m for m in messages), messages
    assert any("English sentence" in m for m in messages), messages
