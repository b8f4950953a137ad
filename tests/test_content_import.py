"""`handouts import`: a Word file made here (python-docx) with headings, nested lists, a
table, pictures with and without a description, a tracked change and a comment; HTML and
Markdown files; and files refused in one line with nothing written."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pytest
from conftest import ROOT, pdftotext
from wordfiles import PNG, make_docx

from handoutkit.content_ops.crisis import box_lines


@pytest.fixture
def clinic(tmp_path):
    root = tmp_path / "clinic"
    (root / "handouts").mkdir(parents=True)
    return root


def written(clinic: Path) -> list[str]:
    return sorted(str(p.relative_to(clinic)) for p in clinic.rglob("*") if p.is_file())


def english_crisis_box() -> str:
    path = ROOT / "handouts" / "suicide-prevention.en.md"
    line = next(i for i, text in enumerate(path.read_text().splitlines(), 1)
                if "{#crisis .required}" in text)
    return box_lines(path, line)


def test_word_tracked_changes_and_comments_are_refused_without_accept_changes(run, clinic,
                                                                             tmp_path):
    docx = make_docx(tmp_path / "leaflet.docx", tracked=True, comment=True)
    result = run("--library", clinic, "import", docx, "--id", "postpartum")
    assert result.exit_code == 1
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("Error: leaflet.docx:")
    assert "2 tracked changes and 1 comment" in result.stderr
    assert "section 'How is it treated?'" in result.stderr and "--accept-changes" in result.stderr
    assert written(clinic) == []


def test_word_handout_imports_as_a_topic_and_builds(run, clinic, tmp_path):
    docx = make_docx(tmp_path / "leaflet.docx", tracked=True, comment=True, extras=True)
    result = run("--library", clinic, "import", docx, "--id", "postpartum", "--accept-changes")
    assert result.exit_code == 0, result.output
    topic = clinic / "handouts" / "postpartum.en.md"
    text = topic.read_text(encoding="utf-8")
    files = written(clinic)
    assert files[:3] == ["handouts/images/postpartum-1.png",
                         "handouts/images/postpartum-2.png", "handouts/postpartum.en.md"]
    assert len(files) == 4 and files[3].startswith("history/postpartum.en/1.0.")
    assert (clinic / "handouts" / "images" / "postpartum-1.png").read_bytes() == PNG
    assert "title: Feeling Low After a Baby" in text
    assert "mental_health: true" in text and "reviewed_by: Pending" in text
    # Headings become sections with ids; the title style is the title, not a section.
    assert "## What is postpartum depression? {#what-is-postpartum-depression}" in text
    assert "## What are the signs? {#what-are-the-signs}" in text
    assert "## Feeling Low" not in text
    # Nested lists, numbered steps (the tracked insertion accepted, the deletion gone),
    # a table, bold and italics, a safe link kept and a script link dropped.
    assert "- Feeling sad most of the day\n  - Crying often\n- Not sleeping" in text
    assert "1. Call your doctor first. Or call the clinic.\n2. Talk therapy" in text
    assert "Old advice" not in text and "Check this dose" not in text
    assert "| Treatment | How long |\n|---|---|\n| Talk therapy | 8 to 12 weeks |" in text
    assert "It is a **common** illness that *can be treated*." in text
    assert "[the national site](https://www.nimh.nih.gov/health)" in text
    assert "javascript" not in text and "or this script." in text
    # Pictures: the description kept; a TODO where there was none.
    assert "![A parent holding a baby and smiling](images/postpartum-1.png)" in text
    assert "![TODO: describe this picture](images/postpartum-2.png)" in text
    # The language's standard crisis block, word for word, with a note.
    assert "## What if I am in crisis? {#crisis .required}" in text
    assert "::: emergency\n" + english_crisis_box() + "\n:::" in text
    assert "<!-- Added by handouts import: the standard 'en' crisis block" in text
    # The report: sections with reading levels, what was not carried over and where.
    out = result.stdout
    assert "Sections (Flesch-Kincaid grade):" in out
    assert "what-are-the-signs" in out and "crisis" in out
    assert "a tracked insertion ('Or call the clinic.'): in section 'How is it treated?'" in out
    assert "comment by Dr Lee: 'Check this dose'" in out
    assert "a link to 'javascript:alert(1)'" in out
    signs = "in section 'What are the signs?', paragraph 5"
    assert f"a text box (its words are kept as plain paragraphs): {signs}" in out
    assert f"a PAGE field (left out): {signs}" in out
    assert f"an embedded object (a spreadsheet, a drawing ...): {signs}" in out
    assert "Boxed tip" in text
    assert "Added the standard 'en' crisis block" in out and "suicide" in out
    assert "images/postpartum-2.png (section 'Pictures') has no description" in out

    lint = run("--library", clinic, "lint", "postpartum")
    assert lint.exit_code == 1
    assert "error: [alt-text] picture images/postpartum-2.png has no description yet" in lint.output
    crisis_errors = [line for line in lint.output.splitlines() if "[crisis]" in line]
    assert crisis_errors == []

    topic.write_text(text.replace("TODO: describe this picture", "A parent resting"),
                     encoding="utf-8")
    lint = run("--library", clinic, "lint", "postpartum")
    assert "[alt-text]" not in lint.output
    pdf = tmp_path / "postpartum.pdf"
    built = run("--library", clinic, "build", "postpartum", "-o", pdf)
    assert built.exit_code == 0, built.output
    printed = " ".join(pdftotext(pdf).split())
    assert "Feeling Low After a Baby" in printed and "Crying often" in printed
    assert "988" in printed


def test_import_report_as_json(run, clinic, tmp_path):
    docx = make_docx(tmp_path / "leaflet.docx", crisis_words=False)
    result = run("--library", clinic, "import", docx, "--id", "baby-blues", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    # "postpartum depression" is still a mental-health condition.
    assert report["mental_health"] is True
    assert [s["id"] for s in report["sections"]] == [
        "what-is-postpartum-depression", "what-are-the-signs", "how-is-it-treated",
        "pictures", "crisis"]
    graded = {s["id"]: s["reading_level"] for s in report["sections"]}
    assert isinstance(graded["what-are-the-signs"], float) and graded["pictures"] is None


def _zip(parts: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as package:
        for name, data in parts.items():
            package.writestr(name, data)
    return out.getvalue()


def _bad_files(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    good = make_docx(tmp_path / "good.docx").read_bytes()
    with zipfile.ZipFile(io.BytesIO(good)) as package:
        parts = {name: package.read(name) for name in package.namelist()}
    files = {}

    def add(name, data, words):
        path = tmp_path / name
        path.write_bytes(data)
        files[name] = (path, words)

    add("notes.docx", b"Just some text saved with the wrong name.\n", "not a Word .docx file")
    add("locked.docx", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 512
        + "EncryptionInfo".encode("utf-16-le") + b"\0" * 512, "password-protected")
    add("old.docx", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 2048, "Word 97-2003")
    add("broken.docx", good[: len(good) // 2], "damaged")
    add("bomb.docx", _zip({**parts, "word/media/huge.bin": b"\0" * (8 * 1024 * 1024)}),
        "zip bomb")
    add("macros.docx", _zip({**parts, "word/vbaProject.bin": b"\0" * 64}), "macros")
    add("spreadsheet.docx", _zip({"[Content_Types].xml": parts["[Content_Types].xml"],
                                  "xl/workbook.xml": b"<workbook/>"}), "not a Word document")
    entity = parts["word/document.xml"].replace(
        b"<w:document", b'<!DOCTYPE w [<!ENTITY a "a">]><w:document', 1)
    add("entities.docx", _zip({**parts, "word/document.xml": entity}), "entities")
    big = tmp_path / "big.docx"
    with big.open("wb") as handle:
        handle.truncate(51 * 1024 * 1024)  # sparse: nothing is really written
    files["big.docx"] = (big, "51 MB, more than the 50 MB")
    add("page.html", b"\xff\xfe<\0h\0t\0m\0l\0>\0", "not UTF-8 text")
    add("slides.pptx", b"PK", "import reads Word (.docx), HTML")
    return files


def test_bad_files_are_refused_in_one_line_and_nothing_is_written(run, clinic, tmp_path):
    sources = tmp_path / "incoming"
    sources.mkdir()
    for name, (path, words) in _bad_files(sources).items():
        result = run("--library", clinic, "import", path, "--id", "x")
        assert result.exit_code == 1, (name, result.output)
        assert result.stderr.startswith("Error: ") and result.stderr.count("\n") == 1, name
        assert words in result.stderr, (name, result.stderr)
        assert "Traceback" not in result.output
        assert written(clinic) == [], name


def test_an_existing_topic_is_not_overwritten(run, clinic, tmp_path):
    (clinic / "handouts" / "x.en.md").write_text("mine", encoding="utf-8")
    page = tmp_path / "x.html"
    page.write_text("<h2>What is it?</h2><p>Words.</p>", encoding="utf-8")
    result = run("--library", clinic, "import", page, "--id", "x")
    assert result.exit_code == 4 and "already exists" in result.stderr
    assert (clinic / "handouts" / "x.en.md").read_text() == "mine"


def test_html_and_markdown_import(run, clinic, tmp_path):
    import base64

    data = base64.b64encode(PNG).decode()
    page = tmp_path / "sleep.html"
    page.write_text(f"""<html><head><title>x</title><script>alert(1)</script></head><body>
<h1>Sleep Better</h1>
<h2>Why does sleep matter?</h2>
<p>Sleep helps your <b>mood</b> and <i>memory</i>. See <a href="https://example.org/s">this</a>,
<a href="tel:+15551234567">call us</a> or <a href="file:///etc/passwd">that</a>.</p>
<p>Ask your clinician about CBT.</p>
<h2>What helps?</h2>
<ol><li>Go to bed at the same time.<ul><li>Even on weekends.</li></ul></li>
<li># Keep the room dark.</li></ol>
<p><img src="data:image/png;base64,{data}" alt="A dark, quiet bedroom"></p>
<p><img src="https://example.org/tracker.png" alt="x"></p>
<iframe src="https://example.org/video"></iframe>
<table><tr><th>Day</th><th>Hours</th></tr><tr><td>Mon | Tue</td><td></td></tr>
<tr><td><img src="data:image/png;base64,{data}" alt="a clock"></td><td>8</td></tr></table>
</body></html>""", encoding="utf-8")
    result = run("--library", clinic, "import", page, "--id", "sleep-better", "--lang", "en")
    assert result.exit_code == 0, result.output
    text = (clinic / "handouts" / "sleep-better.en.md").read_text()
    assert "title: Sleep Better" in text and "mental_health: false" in text
    assert "## Why does sleep matter? {#why-does-sleep-matter}" in text
    assert "Sleep helps your **mood** and *memory*." in text
    assert "[this](https://example.org/s)" in text and "[call us](tel:+15551234567)" in text
    assert "file:" not in text and "alert" not in text
    assert "1. Go to bed at the same time.\n   - Even on weekends.\n2. \\# Keep" in text
    assert "![A dark, quiet bedroom](images/sleep-better-1.png)" in text
    assert "| Day | Hours |\n|---|---|\n| Mon \\| Tue |  |" in text
    assert "{#crisis" not in text
    out = result.stdout
    assert "a picture ('https://example.org/tracker.png' is on the web" in out
    assert "an embedded object (<iframe>): in section 'What helps?'" in out
    assert "a link to 'file:///etc/passwd'" in out
    assert "a picture inside a list or a table (put it on a line of its own): in section " \
        "'What helps?'" in out
    assert "'clinician' is jargon: say 'doctor or nurse, or care team'" in out
    assert "'CBT' is not spelled out at first use" in out

    legacy = tmp_path / "legacy.htm"
    legacy.write_bytes('<meta charset="windows-1252"><h2>Caf\u00e9 hours</h2><p>Open at 9 \u2013 '
                       'come in.</p>'.encode("cp1252"))
    result = run("--library", clinic, "import", legacy, "--id", "legacy")
    assert result.exit_code == 0, result.output
    assert "## Café hours {#cafe-hours}\n\nOpen at 9 – come in." in (
        clinic / "handouts" / "legacy.en.md").read_text(encoding="utf-8")

    notes = tmp_path / "anxiety.md"
    notes.write_text("# Worry\n\n## What is anxiety? {#what-is}\n\n"
                     "Anxiety is worry that does not stop.\n\n"
                     "- It can be treated.\n  - Talk therapy helps.\n", encoding="utf-8")
    # --library may come after the command too, as in `handouts import FILE --library DIR`.
    result = run("import", notes, "--id", "worry", "--lang", "es", "--library", clinic)
    assert result.exit_code == 0, result.output
    text = (clinic / "handouts" / "worry.es.md").read_text()
    assert "lang: es" in text and "mental_health: true" in text
    assert "- It can be treated.\n  - Talk therapy helps." in text
    assert "## What is anxiety? {#what-is-anxiety}" in text
    assert "::: emergency\n**¿Hay peligro ahora? Llame al 911" in text  # the es wording


def test_the_title_is_found_after_a_logo_and_sections_get_unique_ids(run, clinic, tmp_path):
    import base64

    logo = base64.b64encode(PNG).decode()
    page = tmp_path / "page.html"
    page.write_text(f"<p><img src='data:image/png;base64,{logo}' alt='Clinic logo'></p>"
                    "<h1>Healthy Habits</h1><h2>Tips</h2><p>Walk every day.</p>"
                    "<h2>Tips</h2><p>Sleep well.</p><h3>At night</h3><p>Dim the lights.</p>",
                    encoding="utf-8")
    result = run("--library", clinic, "import", page, "--id", "habits")
    assert result.exit_code == 0, result.output
    text = (clinic / "handouts" / "habits.en.md").read_text()
    assert "title: Healthy Habits" in text and "## Healthy Habits" not in text
    assert "## Tips {#tips}" in text and "## Tips {#tips-2}" in text
    assert "### At night\n\nDim the lights." in text
    assert text.index("![Clinic logo](images/habits-1.png)") < text.index("## Tips {#tips}")
