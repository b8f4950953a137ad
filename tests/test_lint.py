"""`handouts lint`: the bundled library passes; each check fires on a broken fixture."""

import datetime as dt
import json

from click.testing import CliRunner
from conftest import TEST_LIBRARY

from handoutkit.cli import main
from handoutkit.content.brand import load_brand
from handoutkit.content.library import Library
from handoutkit.content.measures import contrast_ratio, plain_text
from handoutkit.lint.rules import Linter

GOOD = (TEST_LIBRARY / "handouts" / "hand-washing.en.md").read_text()


def lint(root, **kwargs):
    library = Library(root)
    linter = Linter(library, load_brand(library.default_brand), **kwargs)
    linter.run(["hand-washing"] if (root / "handouts" / "hand-washing.en.md").exists() else None)
    return linter


def checks(linter, severity="error"):
    return {(f.check, f.message) for f in linter.findings if f.severity == severity}


def test_bundled_library_passes_with_zero_errors():
    result = CliRunner().invoke(main, ["lint", "--json"])
    data = json.loads(result.output)
    assert data["errors"] == 0, [f for f in data["findings"] if f["severity"] == "error"]
    assert result.exit_code == 0
    langs = {(r["topic"], r["lang"]) for r in data["readability"]}
    assert len(langs) >= 16
    for row in data["readability"]:
        if row["lang"] == "en":
            assert row["score"] <= 7.0 and max(row["sections"].values()) <= 8.0, row
            # SMOG (years of school to understand it fully): grade 8 at most.
            assert row["smog"] is not None and row["smog"] <= 8.0, row
        else:
            assert row["score"] >= 70.0, row
            assert row["smog"] is None, row


def test_good_fixture_is_clean(make_library):
    root = make_library({"handouts/hand-washing.en.md": GOOD.replace(
        "[psychotherapy, not-in-library]", "[psychotherapy]")})
    assert lint(root).errors == []


def test_related_id_that_does_not_exist(make_library):
    root = make_library({"handouts/hand-washing.en.md": GOOD})
    assert ("related", "related topic 'not-in-library' does not exist") in checks(lint(root))


def test_mental_health_topic_without_crisis_block(make_library):
    text = GOOD.replace("related: [psychotherapy, not-in-library]", "related: []").replace(
        "review_due", "mental_health: true\nreview_due").replace("{#urgent .required}", "{#urgent}")
    found = checks(lint(make_library({"handouts/hand-washing.en.md": text})))
    assert ("crisis", "mental-health topic without a required section holding an ::: emergency "
            "callout") in found


def test_crisis_block_without_988(make_library):
    text = GOOD.replace("related: [psychotherapy, not-in-library]", "related: []").replace(
        "review_due", "mental_health: true\nreview_due")
    found = checks(lint(make_library({"handouts/hand-washing.en.md": text})))
    assert ("crisis", "crisis section does not give 988") in found
    assert not any("911" in message for _, message in found)


def test_metadata_error_is_reported_with_line(make_library):
    root = make_library({"handouts/hand-washing.en.md": GOOD.replace("level: basics", "level: x")})
    finding = lint(root).errors[0]
    assert (finding.check, finding.line) == ("metadata", 5)
    assert finding.message.startswith("'level' must be one of")


def test_dates(make_library):
    text = GOOD.replace("review_due: 2027-10-01", "review_due: 2026-11-01")
    linter = lint(make_library({"handouts/hand-washing.en.md": text}), today=dt.date(2026, 11, 26))
    assert ("review", "review was due on 2026-11-01") in checks(linter, "warning")
    future = lint(make_library({"handouts/hand-washing.en.md": GOOD}), today=dt.date(2026, 1, 1))
    assert ("metadata", "'updated' 2026-10-01 is in the future") in checks(future)


def test_release_fails_on_a_topic_pending_review_or_past_its_review_date(make_library):
    day = dt.date(2026, 11, 26)
    pending = GOOD.replace("reviewed_by: Test fixture", "reviewed_by: Pending local review")
    root = make_library({"handouts/hand-washing.en.md": pending})
    assert not any(c == "review" for c, _ in checks(lint(root, today=day)))
    released = checks(lint(root, today=day, release=True))
    assert ("review", "not reviewed by a clinician yet (reviewed_by: 'Pending local review'); "
            "record who reviewed it before release") in released
    result = CliRunner().invoke(main, ["--library", str(root), "lint", "--release",
                                       "hand-washing"])
    assert result.exit_code == 1 and "[review] not reviewed by a clinician yet" in result.output
    # Reviewed, but the next review is past: a warning, and an error for release.
    overdue = make_library({"handouts/hand-washing.en.md": GOOD})
    assert ("review", "review was due on 2027-10-01") in checks(
        lint(overdue, today=dt.date(2027, 10, 2)), "warning")
    assert ("review", "review was due on 2027-10-01") in checks(
        lint(overdue, today=dt.date(2027, 10, 2), release=True))
    assert not any(c == "review" for c, _ in checks(lint(overdue, today=day, release=True)))


def test_a_topic_without_sources_gets_a_warning(make_library):
    root = make_library({"handouts/hand-washing.en.md": GOOD})
    assert any(c == "sources" for c, _ in checks(lint(root), "warning"))
    cited = GOOD.replace("credit:", 'sources:\n  - "CDC: When and How to Wash Your Hands '
                         '(2024)"\ncredit:')
    root = make_library({"handouts/hand-washing.en.md": cited})
    assert not any(c == "sources" for c, _ in checks(lint(root), "warning"))
    assert Library(root).topic("hand-washing").sources == (
        "CDC: When and How to Wash Your Hands (2024)",)


def test_reading_level_per_topic_and_section(make_library):
    hard = ("Notwithstanding considerable epidemiological heterogeneity, interdisciplinary "
            "pharmacological interventions demonstrate substantial effectiveness.")
    text = GOOD.replace("Germs spread from hands to food and to other people.", hard)
    linter = lint(make_library({"handouts/hand-washing.en.md": text}))
    messages = [m for c, m in checks(linter) if c == "reading-level"]
    assert any(m.startswith("section 'why': Flesch-Kincaid grade") for m in messages)
    assert any(m.startswith("SMOG grade ") and "above the limit 8.0" in m for m in messages)
    relaxed = lint(make_library({"handouts/hand-washing.en.md": text}),
                   limits=__import__("handoutkit.lint.rules", fromlist=["Limits"]).Limits(
                       max_grade=60, max_section_grade=60, max_smog=60))
    assert not [m for c, m in checks(relaxed) if c == "reading-level"]


def test_picture_without_alt_text(make_library):
    text = GOOD.replace("Germs spread", "![](images/dot.png)\n\nGerms spread")
    found = checks(lint(make_library({"handouts/hand-washing.en.md": text})))
    assert ("alt-text", "picture images/dot.png has no description") in found


def test_brand_contrast(make_library):
    root = make_library({"handouts/hand-washing.en.md": GOOD,
                         "layouts/brand.toml": 'name = "Pale"\ncolor = "#99ccff"\n'})
    found = checks(lint(root))
    assert any(c == "contrast" and "#99ccff has contrast 1.6" in m for c, m in found)
    assert round(contrast_ratio("#1f5f8b"), 1) >= 4.5


def test_translation_that_lags(make_library):
    spanish = GOOD.replace("lang: en", "lang: es").replace('version: "2.1"', 'version: "2.0"')
    root = make_library({"handouts/hand-washing.en.md": GOOD,
                         "handouts/hand-washing.es.md": spanish})
    assert (("translation", "version 2.0 lags the English version 2.1")
            in checks(lint(root), "warning"))


def test_missing_disclaimer(make_library):
    root = make_library({"handouts/hand-washing.en.md": GOOD,
                         "layouts/strings.toml": '[en]\ndisclaimer = ""\n'})
    assert ("disclaimer", "no disclaimer for language 'en'") in checks(lint(root))


def test_plain_text_makes_list_items_sentences(test_library):
    text = plain_text(test_library.topic("hand-washing").section("how-do-i-wash-well"))
    assert text == "Wet your hands.\nUse soap and rub for 20 seconds."


def test_cli_exit_codes_and_strict(make_library):
    runner = CliRunner()
    broken = make_library({"handouts/hand-washing.en.md": GOOD})
    result = runner.invoke(main, ["--library", str(broken), "lint", "hand-washing"])
    assert result.exit_code == 1
    assert "error: [related] related topic 'not-in-library' does not exist" in result.output
    warn_only = GOOD.replace("[psychotherapy, not-in-library]", "[psychotherapy]").replace(
        "review_due: 2027-10-01", "review_due: 2026-10-02")
    (broken / "handouts" / "hand-washing.en.md").write_text(warn_only)
    assert runner.invoke(main, ["--library", str(broken), "lint", "hand-washing"]).exit_code == 0
    strict = runner.invoke(main, ["--library", str(broken), "lint", "hand-washing", "--strict"])
    assert strict.exit_code == 1
    unknown = runner.invoke(main, ["lint", "psychoterapy"])
    assert unknown.exit_code == 1 and "did you mean psychotherapy" in unknown.stderr


# -- pictures, tools and plain words -------------------------------------------------------

TOOL = """
## My hand-washing log {#log}

| Day | Times I washed my hands |
|---|---|
| Mon | |
"""
PICTURE = ('![Hands under running water](images/hands.svg "Wet your hands, then add soap.")'
           "\n\nGerms spread")


def _with(text: str, *, picture: bool, tool: bool) -> str:
    if picture:
        text = text.replace("Germs spread", PICTURE, 1)
    if tool:
        text = text.rstrip("\n") + "\n" + TOOL
    return text


SVG = ('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 480 240">'
       '<circle cx="240" cy="120" r="40" fill="none" stroke="#1f4e79"/></svg>')


def test_topic_without_picture_or_tool_is_a_warning_and_an_error_for_release(make_library):
    root = make_library({"handouts/hand-washing.en.md": GOOD})
    found = checks(lint(root), "warning")
    assert any(c == "picture" and m.startswith("no picture with a description") for c, m in found)
    assert any(c == "tool" and m.startswith("no tool") for c, m in found)
    released = checks(lint(root, release=True))
    assert {"picture", "tool"} <= {c for c, _ in released}
    result = CliRunner().invoke(main, ["--library", str(root), "lint", "--release",
                                       "hand-washing"])
    assert result.exit_code == 1 and "[tool]" in result.output and "[picture]" in result.output


def test_topic_with_captioned_picture_and_tool_passes_release(make_library):
    text = _with(GOOD.replace("[psychotherapy, not-in-library]", "[psychotherapy]"),
                 picture=True, tool=True)
    root = make_library({"handouts/hand-washing.en.md": text, "handouts/images/hands.svg": SVG})
    linter = lint(root, release=True)
    assert not {c for c, _ in checks(linter)} & {"picture", "tool", "jargon", "acronym"}
    assert not {c for c, _ in checks(linter, "warning")} & {"picture", "tool"}


def test_picture_without_caption_is_flagged(make_library):
    text = GOOD.replace("Germs spread", "![Hands under running water](images/hands.svg)\n\n"
                        "Germs spread", 1)
    root = make_library({"handouts/hand-washing.en.md": text, "handouts/images/hands.svg": SVG})
    found = checks(lint(root), "warning")
    assert ("picture", "picture images/hands.svg has no caption: write it in quotes after the "
            "file name") in found


def test_a_table_without_write_in_cells_is_not_a_tool(make_library):
    text = (GOOD.rstrip("\n")
            + "\n\n## Facts {#facts}\n\n| When | Why |\n|---|---|\n| Before meals | Germs |\n")
    found = checks(lint(make_library({"handouts/hand-washing.en.md": text})), "warning")
    assert any(c == "tool" for c, _ in found)


def test_jargon_and_acronyms(make_library):
    text = GOOD.replace("Germs spread", "Your clinician may refer you. Ask about CBT. "
                        "Obsessive-compulsive disorder (OCD) is common. PTSD and GAD too.\n\n"
                        "Germs spread", 1)
    found = checks(lint(make_library({"handouts/hand-washing.en.md": text})), "warning")
    assert ("jargon", "'clinician' is jargon: say 'doctor or nurse, or care team'") in found
    assert ("jargon", "'refer' is jargon: say 'send you to'") in found
    assert ("acronym", "'CBT' is not spelled out at first use: write the words, then '(CBT)'") \
        in found
    assert not any("'OCD'" in m for _, m in found)  # spelled out: words, then (OCD)
    assert any(c == "acronym" and m.startswith("4 acronyms (CBT, OCD, PTSD, GAD)")
               for c, m in found)


def test_clinic_plain_words_list_adds_and_removes_words(make_library):
    text = GOOD.replace("Germs spread", "Your clinician will utilize soap.\n\nGerms spread", 1)
    root = make_library({
        "handouts/hand-washing.en.md": text,
        "layouts/plain-words.toml": '[en.jargon]\nclinician = ""\nsoap = "a cleaner"\n'})
    found = checks(lint(root), "warning")
    jargon = {m for c, m in found if c == "jargon"}
    assert "'soap' is jargon: say 'a cleaner'" in jargon
    assert "'utilize' is jargon: say 'use'" in jargon
    assert not any("clinician" in m for m in jargon)


def test_bundled_library_is_clean_for_release_but_for_its_pending_reviews():
    result = CliRunner().invoke(main, ["lint", "--release", "--json"])
    data = json.loads(result.output)
    assert len(data["readability"]) >= 16
    # Every bundled topic waits for a clinic's own clinical review: the release check names
    # that in each of them, and nothing else (every translation of suicide-prevention has its
    # safety-plan tool again).
    errors = {(f["check"], f["path"].rsplit("/", 1)[-1]) for f in data["findings"]
              if f["severity"] == "error"}
    files = {entry.path.name for entry in Library().files()}
    assert errors == {("review", name) for name in files}
    assert result.exit_code == 1


def test_every_bundled_topic_lists_its_sources_and_the_manifest_carries_them(tmp_path):
    from pypdf import PdfReader

    library = Library()
    for entry in library.files():
        if entry.lang in ("en", "es"):
            assert library.topic(entry.id, entry.lang).sources, entry.path.name
    out = tmp_path / "two.pdf"
    result = CliRunner().invoke(main, ["build", "insomnia", "substance-use:crisis", "-o", str(out)])
    assert result.exit_code == 0, result.output
    manifest = json.loads(PdfReader(out).attachments["handouts-manifest.json"][0])
    for row in manifest["topics"]:
        assert row["sources"] == list(library.topic(row["id"]).sources) and row["sources"]


def test_amharic_sentences_end_at_the_ethiopic_full_stop_and_question_mark(make_library):
    # Five short Amharic sentences, 33 words in all, on one line: each ends at "።" or
    # "፧", so none is over the limit of 30 words; one sentence of 33 words is.
    short = ("እጅዎን በሳሙና እና በውሃ በደንብ ይታጠቡ። ይህ ጀርሞች ወደ ምግብ እና ወደ ሌሎች ሰዎች "
             "እንዳይሄዱ ይረዳል። ከምግብ በፊት እና ከመጸዳጃ ቤት በኋላ ሁልጊዜ ይታጠቡ። "
             "ልጆች እጃቸውን በደንብ እንዲታጠቡ ይርዷቸው፧ ንጹሕ እጆች ብዙ በሽታዎችን ይከላከላሉ።")
    assert len(short.split()) > 30
    amharic = GOOD.replace("lang: en", "lang: am").replace(
        "Germs spread from hands to food and to other people.", short)
    root = make_library({"handouts/hand-washing.en.md": GOOD,
                         "handouts/hand-washing.am.md": amharic})
    found = [m for c, m in checks(lint(root)) if c == "sentence-length"]
    assert found == [], found
    one_long = amharic.replace(short, short.replace("።", "፣").replace("፧", "፣")[:-1] + "።")
    (root / "handouts" / "hand-washing.am.md").write_text(one_long, encoding="utf-8")
    found = [m for c, m in checks(lint(root)) if c == "sentence-length"]
    assert any("section 'why'" in m and "at most 30" in m for m in found), found
