"""`handouts lint`: the bundled library passes; each check fires on a broken fixture."""

import datetime as dt
import json

from click.testing import CliRunner

from handoutkit.cli import main
from handoutkit.brand import load_brand
from handoutkit.library import Library
from handoutkit.lint import Linter, contrast_ratio, plain_text

from conftest import TEST_LIBRARY

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
        else:
            assert row["score"] >= 70.0, row


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


def test_reading_level_per_topic_and_section(make_library):
    hard = ("Notwithstanding considerable epidemiological heterogeneity, interdisciplinary "
            "pharmacological interventions demonstrate substantial effectiveness.")
    text = GOOD.replace("Germs spread from hands to food and to other people.", hard)
    linter = lint(make_library({"handouts/hand-washing.en.md": text}))
    messages = [m for c, m in checks(linter) if c == "reading-level"]
    assert any(m.startswith("section 'why': Flesch-Kincaid grade") for m in messages)
    relaxed = lint(make_library({"handouts/hand-washing.en.md": text}),
                   limits=__import__("handoutkit.lint", fromlist=["Limits"]).Limits(
                       max_grade=60, max_section_grade=60))
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
    assert ("translation", "version 2.0 lags the English version 2.1") in checks(lint(root), "warning")


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
