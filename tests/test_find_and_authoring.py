"""`handouts find` (ICD-10-CM codes to topics), `new` and `init`."""

import json

import pytest
from click.testing import CliRunner
from conftest import pdftotext

from handoutkit.cli import main
from handoutkit.content.codes import CodeError, find, match_kind, normalize
from handoutkit.content.library import Library
from handoutkit.content_ops.scaffold import PLACEHOLDERS


@pytest.mark.parametrize("code, compact", [("f411", "F411"), ("F41.1", "F411"),
                                           (" z71.89 ", "Z7189"), ("R45.851", "R45851")])
def test_normalize(code, compact):
    assert normalize(code) == compact


@pytest.mark.parametrize("bad", ["41.1", "FF1", "F4", "hello", "F41.12345"])
def test_bad_codes(bad):
    with pytest.raises(CodeError, match="is not an ICD-10-CM code"):
        normalize(bad)


@pytest.mark.parametrize("query, topic_code, kind", [
    ("F411", "F41.1", "exact"), ("F329", "F32", "broader"), ("F1220", "F10-F19", "range"),
    ("F1220", "F10–F19", "range"), ("F41", "F41.1", "narrower"), ("F20", "F10-F19", None),
    ("G1220", "F10-F19", None), ("F42", "F41.1", None),
])
def test_match_kind(query, topic_code, kind):
    assert match_kind(query, topic_code) == kind


def test_find_in_bundled_library():
    results = find(Library(), ["f411", "F32.9", "F12.20", "F41", "X99"])
    assert [m.topic_id for m in results["f411"]] == ["generalized-anxiety"]
    assert results["F32.9"][0].topic_id == "depression-adults"
    assert results["F32.9"][0].kind == "broader"
    assert [m.topic_id for m in results["F12.20"]] == ["substance-use"]
    assert {m.topic_id for m in results["F41"]} >= {"generalized-anxiety", "panic-disorder"}
    assert results["X99"] == []


def test_find_ranks_exact_before_broader(make_library):
    topic = (Library().bundled / "handouts" / "generalized-anxiety.en.md").read_text()
    broad = topic.replace("id: generalized-anxiety", "id: anxiety-overview").replace(
        "codes: [F41.1]", "codes: [F41]")
    root = make_library({"handouts/anxiety-overview.en.md": broad})
    matches = find(Library(root), ["F41.1"])["F41.1"]
    assert [(m.topic_id, m.kind) for m in matches][:2] == [
        ("generalized-anxiety", "exact"), ("anxiety-overview", "broader")]


def test_find_cli():
    runner = CliRunner()
    result = runner.invoke(main, ["find", "f411", "X99.9"])
    assert result.exit_code == 0
    assert "F41.1" in result.output or "f411" in result.output
    assert "generalized-anxiety" in result.output
    assert "X99.9: no topic matches this code" in result.output
    data = json.loads(runner.invoke(main, ["find", "F32.9", "--json"]).output)
    assert data["F32.9"][0] == {"code": "F32.9", "topic": "depression-adults",
                                "title": "Depression in Adults", "matched": "F32",
                                "match": "broader", "lang": "en"}
    # Words that are not codes are searched as words patients use (test_search.py).
    words = runner.invoke(main, ["find", "qwertyuiop"])
    assert words.exit_code == 0 and words.output.strip() == "no topic matches 'qwertyuiop'"


def test_init_then_new_then_build(tmp_path):
    runner = CliRunner()
    clinic = tmp_path / "clinic"
    result = runner.invoke(main, ["init", str(clinic)])
    assert result.exit_code == 0, result.output
    assert (clinic / "layouts" / "brand.toml").is_file()
    assert (clinic / "layouts" / "clinic" / "layout.html.j2").is_file()
    assert (clinic / "handouts").is_dir()
    again = runner.invoke(main, ["init", str(clinic)])
    assert again.exit_code == 4 and "already exists and is not empty" in again.stderr

    result = runner.invoke(main, ["--library", str(clinic), "new", "sleep-hygiene"])
    assert result.exit_code == 0, result.stderr
    path = clinic / "handouts" / "sleep-hygiene.en.md"
    assert path.is_file()
    assert f"then run 'handouts --library {clinic} lint sleep-hygiene'" in result.output
    dup = runner.invoke(main, ["--library", str(clinic), "new", "sleep-hygiene"])
    assert dup.exit_code == 4 and "already exists" in dup.stderr

    library = Library(clinic)
    topic = library.topic("sleep-hygiene")
    assert topic.section("crisis").required and topic.section("crisis").has_emergency
    assert "Notes between these marks" not in path.read_text().split("-->")[-1]
    # The template's stand-in sentences fail lint, and the build, until the author
    # replaces them ...
    out = tmp_path / "x.pdf"
    build = ["--library", str(clinic), "build", "sleep-hygiene", "psychotherapy:what-is",
             "--layout", "clinic", "-o", str(out)]
    refused = runner.invoke(main, build)
    assert refused.exit_code == 1 and not out.exists()
    assert "template text left in" in refused.stderr and "sleep-hygiene.en.md" in refused.stderr
    lint = runner.invoke(main, ["--library", str(clinic), "lint", "sleep-hygiene"])
    assert lint.exit_code == 1
    assert "[crisis]" not in lint.output
    assert "[template]" in lint.output and "Write two or three short sentences." in lint.output
    # ... and pass once they are replaced.
    written = path.read_text()
    for placeholder in PLACEHOLDERS:
        written = written.replace(placeholder, "Sleep well.")
    path.write_text(written)
    lint = runner.invoke(main, ["--library", str(clinic), "lint", "sleep-hygiene"])
    assert "[template]" not in lint.output, lint.output
    # The new library uses its own layout and still has the bundled topics.
    result = runner.invoke(main, build)
    assert result.exit_code == 0, result.stderr
    text = " ".join(pdftotext(out).split())
    assert "What is sleep hygiene?" in text and "What is psychotherapy?" in text
    assert "988" in text and "Notes between these marks" not in text


def test_new_rejects_bad_ids(tmp_path):
    runner = CliRunner()
    runner.invoke(main, ["init", str(tmp_path / "c")])
    result = runner.invoke(main, ["--library", str(tmp_path / "c"), "new", "Bad Name"])
    assert result.exit_code == 1
    assert "is not a topic id" in result.stderr


def test_editor_notes_never_print(test_library, make_library):
    topic = (test_library.bundled / "handouts" / "psychotherapy.en.md").read_text()
    noted = topic.replace("## What is psychotherapy?",
                          "<!-- secret editor note\nline two -->\n## What is psychotherapy?")
    root = make_library({"handouts/psychotherapy.en.md": noted})
    clinic_topic = Library(root).topic("psychotherapy")
    html = "".join(s.html() for s in clinic_topic.sections) + (
        clinic_topic.intro.html() if clinic_topic.intro else "")
    assert "secret" not in html
    original = Library().topic("psychotherapy")
    assert clinic_topic.section("types").line == original.section("types").line + 2
