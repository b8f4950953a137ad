"""`build --bilingual LANG2`: each section in the reader's language, then in LANG2, marked,
in one tagged document; each part carries its language and direction."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pikepdf
import pytest
from click.testing import CliRunner
from conftest import ROOT, pdftotext
from test_translations import comparable

from handoutkit.batch.joblist import check as check_job_list
from handoutkit.build import BuildOptions, build, selections_for
from handoutkit.cli import main
from handoutkit.content.brand import load_brand
from handoutkit.content.library import Library
from handoutkit.document.articles import second_anchor
from handoutkit.document.assemble import Setting, assemble
from handoutkit.document.completeness import IncompleteError, check_html
from handoutkit.document.manifest import NAME
from handoutkit.errors import TopicNotFound

# Builds PDFs end to end, or starts servers, browsers or installs: a slow module
# (`pytest -m "not slow"` leaves it out).
pytestmark = pytest.mark.slow

HEADING_RE = re.compile(r"^## (.+?) \{#([a-z0-9-]+)[^}]*\}$", re.M)


def headings(topic: str, lang: str) -> dict[str, str]:
    """Section id -> title, read from the Markdown with a regular expression."""
    text = (ROOT / "handouts" / f"{topic}.{lang}.md").read_text(encoding="utf-8")
    return {sid: title for title, sid in HEADING_RE.findall(text)}


def words(path: Path, page: int) -> list[tuple[float, float, str]]:
    """(xMin, xMax, word) of every word on a page, from poppler's word boxes."""
    bbox = pdftotext(path, "-bbox", "-f", str(page), "-l", str(page))
    return [(float(a), float(b), w) for a, b, w in re.findall(
        r'<word xMin="([\d.]+)" yMin="[\d.]+" xMax="([\d.]+)"[^>]*>([^<]+)</word>', bbox)]


@pytest.fixture(scope="module")
def pdfs(tmp_path_factory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("bilingual")
    out = {}
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SOURCE_DATE_EPOCH", "1795651200")
        patch.setenv("HANDOUTS_CACHE_DIR", str(tmp / "cache"))
        library = Library()
        out["vi"] = tmp / "vi.pdf"
        out["vi"].write_bytes(build(library, ["suicide-prevention@vi"],
                                    BuildOptions(bilingual="en")))
        out["ar"] = tmp / "ar.pdf"
        out["ar"].write_bytes(build(library, ["suicide-prevention@ar"],
                                    BuildOptions(bilingual="en", layout="large-print",
                                                 paper="a4")))
    return out


def test_each_section_is_followed_by_its_second_language(pdfs):
    # The written order (-raw): in two columns poppler's reading order may take a section's
    # second-language half from the next column first.
    text = " ".join(pdftotext(pdfs["vi"], "-raw").split())
    vi, en = headings("suicide-prevention", "vi"), headings("suicide-prevention", "en")
    position = 0
    for sid, title in vi.items():
        # The crisis block may be moved up to where it leaves no page short, and the tool
        # past a neighbouring section (refit.py): each is followed by its English version
        # wherever it prints.
        moved = sid in ("crisis", "my-safety-plan")
        start = 0 if moved else position
        mine = text.index(title, start)
        marked = text.index("English " + en[sid], mine)  # the label, then the heading
        assert marked > mine
        if not moved:
            position = marked
    # Both crisis blocks print whole, each in its own language.
    assert "Đang gặp nguy hiểm? Hãy gọi 911" in text
    assert "In danger now? Call 911 or go to the nearest emergency department." in text


def test_the_second_language_is_tagged_in_the_structure_tree(pdfs):
    with pikepdf.open(pdfs["vi"]) as pdf:
        assert str(pdf.Root.Lang) == "vi"
        sections = [obj for obj in pdf.objects if isinstance(obj, pikepdf.Dictionary)
                    and obj.get("/S") == "/Sect" and str(obj.get("/Lang", "")) == "en"]
        # At least one Sect per English section (a section split across pages makes two).
        assert len(sections) >= len(headings("suicide-prevention", "vi"))
        manifest = json.loads(pdf.attachments[NAME].get_file().read_bytes())
    topic = manifest["topics"][0]
    assert topic["lang"] == "vi" and topic["bilingual"]["lang"] == "en"
    assert topic["bilingual"]["version"]


def test_each_part_runs_in_its_own_direction(pdfs):
    ar, en = headings("suicide-prevention", "ar"), headings("suicide-prevention", "en")
    flat = comparable(pdftotext(pdfs["ar"]))
    assert comparable(ar["what-is"]) in flat and comparable(ar["crisis"]) in flat
    assert "هل هناك خطر الآن؟" in pdftotext(pdfs["ar"]) or comparable(
        "هل هناك خطر الآن؟") in flat
    with pikepdf.open(pdfs["ar"]) as pdf:
        width = float(pdf.pages[0].MediaBox[2])
        assert width == pytest.approx(595.28, abs=1)  # A4
        pages = len(pdf.pages)
    english_first = en["what-is"].split()[0]  # "What", at the left margin
    for page in range(1, pages + 1):
        found = [w for w in words(pdfs["ar"], page) if w[2] == english_first]
        if found:
            assert found[0][0] == pytest.approx(16 / 25.4 * 72, abs=3)  # large print: 16 mm
            break
    else:
        pytest.fail("the English heading was not found")
    # The Arabic title ends at the right margin.
    title = [w for w in words(pdfs["ar"], 1) if w[2][::-1] == "الوقاية" or w[2] == "الوقاية"]
    assert title and width - title[0][1] == pytest.approx(16 / 25.4 * 72, abs=3)


def test_a_missing_second_language_is_an_error_and_nothing_is_written(tmp_path):
    out = tmp_path / "x.pdf"
    result = CliRunner().invoke(main, ["build", "insomnia", "--bilingual", "vi", "-o",
                                       str(out)], prog_name="handouts")
    assert result.exit_code == 1, result.output
    assert "--bilingual vi: topic 'insomnia' has no 'vi' version" in result.output
    assert not out.exists()


def test_the_second_crisis_block_may_not_go_missing(library):
    selections = selections_for(library, ["suicide-prevention@vi"], None, "en")
    html = assemble(selections, Setting(library, load_brand(library.default_brand)))
    second = selections[0].second
    check_html(html, [second], lambda s: second_anchor(selections[0]))
    anchor = second_anchor(selections[0]) + "--crisis"
    start = html.index(f'id="{anchor}"')
    broken = html[:start] + html[html.index("</section>", start):]
    with pytest.raises(IncompleteError):
        check_html(broken, [second], lambda s: second_anchor(selections[0]))


def test_a_topic_already_in_the_second_language_prints_once(library):
    selections = selections_for(library, ["suicide-prevention@vi", "insomnia"], None, "en")
    assert selections[0].second.topic.lang == "en" and selections[1].second is None
    with pytest.raises(TopicNotFound, match="has no 'ko' version"):
        selections_for(library, ["insomnia"], None, "ko")


def test_a_job_list_row_may_be_bilingual(tmp_path):
    jobs = tmp_path / "jobs.csv"
    jobs.write_text("output,topics,bilingual\na.pdf,suicide-prevention@ko,en\n"
                    "b.pdf,insomnia,ru\n", encoding="utf-8")
    rows, bad = check_job_list(Library(), jobs)
    assert rows[0].selections[0].second.topic.lang == "en"
    assert len(bad) == 1 and "--bilingual ru: topic 'insomnia'" in str(bad[0])


def test_every_second_language_element_carries_its_language(pdfs):
    """The second language's title, labels, sections and intro are tagged with the second
    language, in the HTML and in the PDF's structure tree (a title tagged with the first
    language is read aloud in the wrong voice)."""
    import re as _re

    from handoutkit.build import selections_for
    from handoutkit.content.brand import load_brand
    from handoutkit.document.assemble import Setting, assemble

    library = Library()
    selections = selections_for(library, ["suicide-prevention@vi"], None, "en")
    html = assemble(selections, Setting(library, load_brand(library.default_brand)))
    opened = _re.findall(r'<(?:p|div|section)\b[^>]*class="(?:second-title|intro second|'
                         r'section second[^"]*)"[^>]*>', html)
    assert any("second-title" in tag for tag in opened)
    assert opened and all('lang="en"' in tag for tag in opened), opened
    with pikepdf.open(pdfs["vi"]) as pdf:
        tagged = [obj for obj in pdf.objects if isinstance(obj, pikepdf.Dictionary)
                  and obj.get("/S") == "/P" and str(obj.get("/Lang", "")) == "en"]
        assert tagged  # the second-language title is a paragraph in English
        assert not [obj for obj in pdf.objects if isinstance(obj, pikepdf.Dictionary)
                    and obj.get("/S") == "/Sect" and str(obj.get("/Lang", "")) == "vi"]
