"""Names in any script print from the declared fonts only, whatever fonts the computer has."""

from __future__ import annotations

import csv
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT

from handoutkit.content import fonts
from handoutkit.errors import LibraryError, TextError

# Builds PDFs end to end, or starts servers, browsers or installs: a slow module
# (`pytest -m "not slow"` leaves it out).
pytestmark = pytest.mark.slow

# One name per script the issue lists (Myanmar: a name poppler extracts without inserting a
# space between clusters).
NAMES = {
    "latin": "Ana Díaz-Núñez",
    "vietnamese": "Nguyễn Thị Ánh",
    "greek": "Ελένη Παπαδοπούλου",
    "cyrillic": "Иван Петров",
    "arabic": "محمد علي",
    "hebrew": "דוד כהן",
    "devanagari": "सीता राम",
    "bengali": "সুমন দাস",
    "gurmukhi": "ਹਰਪ੍ਰੀਤ ਕੌਰ",
    "gujarati": "ધ્રુવ પટેલ",
    "thai": "สมชาย ใจดี",
    "lao": "ສົມພອນ",
    "khmer": "សុខ ជា",
    "myanmar": "အောင်ဆန်း",
    "ethiopic": "አበበ ቢቂላ",
    "armenian": "Արամ Խաչատրյան",
    "georgian": "ნინო ბერიძე",
    "han-simplified": "李小龙",
    "han-traditional": "李小龍",
    "kana": "山田はなこ",
    "hangul": "김민준",
    "emoji": "Ana 😀",
}
# Poppler marks right-to-left runs with embedding characters when it extracts text.
POPPLER_MARKS = re.compile("[\u202a-\u202e]")
EMPTY_FONTCONFIG = ('<?xml version="1.0"?>\n<!DOCTYPE fontconfig SYSTEM '
                    '"urn:fontconfig:fonts.dtd">\n<fontconfig></fontconfig>\n')


def declared_names() -> set[str]:
    """The names WeasyPrint gives the declared faces in a PDF ('Noto-Sans-CJK-SC-Bold')."""
    families = {fonts.LATIN_FAMILY, *fonts.FALLBACK_FAMILIES, "Noto Sans CJK TC",
                "Noto Sans CJK JP", "Noto Sans CJK KR"}
    return {f.replace(" ", "-") for f in families}


def run_batch(tmp_path: Path, name: str, env_extra: dict) -> Path:
    folder = tmp_path / name
    folder.mkdir()
    manifest = folder / "manifest.csv"
    with manifest.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["output", "topics", "patient"])
        for script, patient in NAMES.items():
            writer.writerow([f"{script}.pdf", "psychotherapy:what-is", patient])
    env = {**os.environ, "HANDOUTS_CACHE_DIR": str(folder / "cache"),
           "SOURCE_DATE_EPOCH": "1795651200", **env_extra}
    out = folder / "out"
    out.mkdir()
    result = subprocess.run([sys.executable, "-m", "handoutkit", "batch", str(manifest),
                             "--out-dir", str(out), "--jobs", "2"],
                            env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    return out


@pytest.fixture(scope="module")
def packets(tmp_path_factory) -> dict[str, Path]:
    """The same batch twice: as the computer is, and with a fontconfig that has no fonts."""
    tmp = tmp_path_factory.mktemp("scripts")
    empty = tmp / "empty-fonts.conf"
    empty.write_text(EMPTY_FONTCONFIG)
    return {"system": run_batch(tmp, "system", {}),
            "no-fonts": run_batch(tmp, "no-fonts", {"FONTCONFIG_FILE": str(empty)})}


def pdffonts(path: Path) -> list[tuple[str, str]]:
    lines = subprocess.run(["pdffonts", str(path)], capture_output=True, text=True,
                           check=True).stdout.splitlines()[2:]
    return [(line.split()[0].split("+", 1)[-1], line.split()[-5]) for line in lines]


@pytest.mark.parametrize("setup", ["system", "no-fonts"])
def test_a_name_in_every_script_prints_from_declared_fonts_only(packets, setup):
    allowed = declared_names()
    for script, name in NAMES.items():
        pdf = packets[setup] / f"{script}.pdf"
        used = pdffonts(pdf)
        assert used, script
        for face, embedded in used:
            base = re.sub(r"-(Bold|Italic|BoldItalic|Regular)$", "", face)
            assert base in allowed, f"{script}: {face} is not a declared font"
            assert embedded == "yes", f"{script}: {face} is not embedded"
        text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True,
                              check=True).stdout
        line = next(row for row in text.splitlines() if row.startswith("Prepared for:"))
        assert POPPLER_MARKS.sub("", line) == f"Prepared for: {name}", script


def drawn(path: Path) -> list[bytes]:
    """What a PDF draws: each page's content and each embedded font program."""
    import pikepdf

    with pikepdf.open(path) as pdf:
        out = [page.Contents.read_bytes() if not isinstance(page.Contents, pikepdf.Array)
               else b"".join(c.read_bytes() for c in page.Contents) for page in pdf.pages]
        for obj in pdf.objects:
            if isinstance(obj, pikepdf.Dictionary) and obj.get("/Type") == "/FontDescriptor":
                for key in ("/FontFile2", "/FontFile3"):
                    if key in obj:
                        out.append(obj[key].read_bytes())
        return out


def test_the_computer_s_fonts_change_nothing(packets):
    # (Whole files differ: each batch signs its packets with a key of its own.)
    for script in NAMES:
        same = drawn(packets["system"] / f"{script}.pdf") == \
            drawn(packets["no-fonts"] / f"{script}.pdf")
        assert same, f"{script}: the PDF depends on the computer's fonts"


def test_scripts_use_their_own_face(packets):
    expect = {"arabic": "Noto-Sans-Arabic", "han-simplified": "Noto-Sans-CJK-SC",
              "thai": "Noto-Sans-Thai", "emoji": "Noto-Emoji", "vietnamese": "Noto-Sans"}
    for script, face in expect.items():
        assert face in {f for f, _ in pdffonts(packets["system"] / f"{script}.pdf")}, script


def test_an_arabic_name_on_an_english_cover_reads_right_to_left(packets):
    # The first word typed is the right-most one on the page (-bbox gives each word's
    # glyphs left to right, so an Arabic word comes out reversed).
    bbox = subprocess.run(["pdftotext", "-bbox", "-f", "1", "-l", "1",
                           str(packets["system"] / "arabic.pdf"), "-"],
                          capture_output=True, text=True, check=True).stdout
    x = {m.group(2)[::-1]: float(m.group(1))
         for m in re.finditer(r'<word xMin="([\d.]+)"[^>]*>([^<]+)</word>', bbox)}
    assert x["محمد"] > x["علي"] > x[":rof"]


def test_refused_personal_text(library):
    from handoutkit.checks import personal_problem
    from handoutkit.options import Personal

    for bad, expected in [
            ("Ana\u202eZ", "the patient holds U+202E RIGHT-TO-LEFT OVERRIDE, which can make"),
            ("Ana\u2067Z", "the patient holds U+2067 RIGHT-TO-LEFT ISOLATE"),
            ("Ana\x07", "the patient holds a control character"),
            ("Ana\nDíaz", "the patient holds a control character")]:
        assert personal_problem(Personal(patient=bad)).startswith(expected), bad
    # A note may run over several lines.
    assert personal_problem(Personal(patient="Ana", note="Line one\nLine two")) is None
    font_set = fonts.find_fonts(library.roots)
    with pytest.raises(TextError, match=r"^the patient: character U\+E000 is in no declared font"):
        fonts.check_personal(font_set, {"patient": "Ana \ue000"})
    # Joiners and variation selectors need no glyph of their own.
    fonts.check_personal(font_set, {"patient": "👩\u200d⚕️ Ana"})


def test_a_bidi_override_in_a_name_is_refused_before_anything_is_written(tmp_path):
    env = {**os.environ, "HANDOUTS_CACHE_DIR": str(tmp_path / "cache")}
    result = subprocess.run(
        [sys.executable, "-m", "handoutkit", "build", "psychotherapy", "--patient",
         "Ana \u202eZ", "-o", str(tmp_path / "x.pdf")], env=env, capture_output=True,
        text=True)
    assert result.returncode == 2
    assert "U+202E RIGHT-TO-LEFT OVERRIDE" in result.stderr
    assert len(result.stderr.splitlines()) == 1 and not (tmp_path / "x.pdf").exists()


def test_a_character_no_font_has_is_one_line_naming_it(tmp_path):
    env = {**os.environ, "HANDOUTS_CACHE_DIR": str(tmp_path / "cache")}
    result = subprocess.run(
        [sys.executable, "-m", "handoutkit", "build", "psychotherapy", "--patient",
         "Ana \U000f0000", "-o", str(tmp_path / "x.pdf")], env=env, capture_output=True,
        text=True)
    assert result.returncode == 1
    assert result.stderr == ("Error: the patient: character U+F0000 is in no declared font; "
                             "remove it, or add a font that has it (README: fonts)\n")
    assert not (tmp_path / "x.pdf").exists()


def test_a_topic_with_a_character_no_font_has_is_named(make_library, tmp_path):
    from handoutkit.build import BuildOptions, build
    from handoutkit.content.library import Library

    topic = (ROOT / "handouts" / "insomnia.en.md").read_text()
    root = make_library({"handouts/insomnia.en.md": topic.replace("Sleep", "Sleep \ue123", 1)})
    with pytest.raises(TextError, match=r"^topic insomnia \(en, insomnia.en.md\): "
                                        r"character U\+E123 is in no declared font"):
        build(Library(root), ["insomnia"], BuildOptions())


def test_a_missing_declared_font_says_which_and_how_to_install(monkeypatch, tmp_path):
    monkeypatch.setattr(fonts, "SYSTEM_DIRS", (tmp_path,))
    fonts._find.cache_clear()
    try:
        with pytest.raises(LibraryError, match=r"font 'Noto Sans' \(NotoSans-Regular.ttf\) "
                                               r"not found in .*apt-get install fonts-noto-core"):
            fonts.find_fonts([ROOT])
    finally:
        fonts._find.cache_clear()


def test_a_cjk_name_keeps_the_packet_small(packets):
    # Noto Sans CJK subsets keep only the glyphs drawn (not an empty glyph for every id
    # below the highest one, about 90 KB).
    english = (packets["system"] / "latin.pdf").stat().st_size
    for script in ("han-simplified", "han-traditional", "kana", "hangul"):
        assert (packets["system"] / f"{script}.pdf").stat().st_size < 1.1 * english, script
