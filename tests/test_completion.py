"""Shell completion: topic ids, section ids after `TOPIC:`, languages after `@`, layout
names and brand names, as bash asks for them (`_HANDOUTS_COMPLETE=bash_complete`)."""

import pathlib

import pytest
from click.testing import CliRunner

from handoutkit.cli import main


def complete(line: str, env: dict | None = None) -> list[str]:
    words = line.split(" ")
    result = CliRunner().invoke(main, [], prog_name="handouts", env={
        "_HANDOUTS_COMPLETE": "bash_complete", "COMP_WORDS": line,
        "COMP_CWORD": str(len(words) - 1), **(env or {})})
    assert result.exit_code == 0, result.output
    return [row.split(",", 1)[1] for row in result.output.splitlines() if row.startswith("plain,")]


def test_topic_ids():
    assert complete("handouts build psy") == ["psychotherapy"]
    assert "depression-adults" in complete("handouts build d")
    assert complete("handouts show suicide") == ["suicide-prevention"]


def test_languages_after_at():
    # Every language the library has the topic in, and only those: English first, then the
    # others in order.
    folder = pathlib.Path(__file__).resolve().parent.parent / "handouts"
    langs = ["en"] + sorted(path.name.split(".")[1] for path in folder.glob("psychotherapy.*.md")
                            if path.name != "psychotherapy.en.md")
    offered = complete("handouts build psychotherapy@")
    assert offered == [f"psychotherapy@{lang}" for lang in langs]
    assert {"psychotherapy@en", "psychotherapy@es", "psychotherapy@ar"} <= set(offered)
    assert complete("handouts build psychotherapy@e") == ["psychotherapy@en", "psychotherapy@es"]


def test_sections_after_colon_and_comma():
    sections = complete("handouts build psychotherapy:")
    assert "psychotherapy:what-is" in sections and "psychotherapy:types" in sections
    assert complete("handouts build psychotherapy:what-is,ty") == ["psychotherapy:what-is,types"]
    spanish = complete("handouts build psychotherapy@es:wh")
    assert spanish == ["psychotherapy@es:what-is"]


def test_layouts_and_languages_of_options():
    assert complete("handouts build psychotherapy --layout ") == ["large-print", "standard"]
    assert complete("handouts build psychotherapy --lang e") == ["en", "es"]


def test_brands_of_the_library(make_library):
    clinic = make_library({"layouts/brands/north.toml": 'name = "North Clinic"\n',
                           "layouts/brands/south.toml": 'name = "South Clinic"\n'})
    found = complete(f"handouts --library {clinic} build psychotherapy --brand ")
    assert found == ["north", "south"]
    assert complete("handouts build psychotherapy --brand ", {"HANDOUTS_LIBRARY": str(clinic)}) \
        == ["north", "south"]


def test_a_broken_library_completes_nothing_and_prints_no_error(tmp_path):
    assert complete(f"handouts --library {tmp_path / 'missing'} build psy") == []


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_completion_scripts(shell):
    result = CliRunner().invoke(main, [], prog_name="handouts",
                                env={"_HANDOUTS_COMPLETE": f"{shell}_source"})
    assert result.exit_code == 0
    assert "_HANDOUTS_COMPLETE" in result.output


def test_brand_by_name_builds_and_an_unknown_name_is_one_line(make_library, tmp_path):
    from conftest import pdftotext

    clinic = make_library({"layouts/brands/north.toml":
                           'name = "North Clinic"\ncolor = "#7a1f5c"\nphone = "(555) 010-0777"\n'})
    out = tmp_path / "north.pdf"
    runner = CliRunner()
    result = runner.invoke(main, ["--library", str(clinic), "build", "ocd:what-is",
                                  "--brand", "north", "-o", str(out)])
    assert result.exit_code == 0, result.output
    text = " ".join(pdftotext(out).split())
    assert "North Clinic" in text and "(555) 010-0777" in text
    bad = runner.invoke(main, ["--library", str(clinic), "build", "ocd", "--brand", "nort",
                               "-o", str(tmp_path / "x.pdf")])
    assert bad.exit_code == 1
    assert bad.output.strip() == ("Error: unknown brand 'nort': not a brand of the library "
                                  "(brands: north) nor a file")
    assert not (tmp_path / "x.pdf").exists()
