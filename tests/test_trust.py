"""Trust: no input drops the crisis block, hands a patient someone else's packet, or ends in
a traceback (each test reproduces one hole that was found, and shows it closed)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from handoutkit.cli import main
from handoutkit.scaffold import TOPIC_TEMPLATE

from conftest import pdftotext


def run(*args, **kwargs):
    return CliRunner().invoke(main, [str(a) for a in args], **kwargs)


def template_topic(topic_id: str = "deep", **replacements: str) -> str:
    text = TOPIC_TEMPLATE.format(id=topic_id, lang="en", title=topic_id.title(),
                                 title_lower=topic_id, today="2026-11-01",
                                 review_due="2027-11-01", clinic="clinic")
    for old, new in replacements.items():
        assert old in text
        text = text.replace(old, new)
    return text


def nested_list(levels: int) -> str:
    return "".join("  " * i + f"- level {i + 1}\n" for i in range(levels))


@pytest.fixture
def clinic(tmp_path):
    """A library made by `handouts init`, as a clinic starts one."""
    root = tmp_path / "clinic"
    assert run("init", root).exit_code == 0
    return root


# -- 1. a deep list never drops the rest of a topic ----------------------------------------

@pytest.mark.parametrize("levels", [10, 12, 30])
def test_deep_lists_keep_the_crisis_block(clinic, tmp_path, levels):
    (clinic / "handouts" / "deep.en.md").write_text(template_topic(**{
        "- Another sign.\n  - A detail under it.\n": nested_list(levels)}))
    out = tmp_path / "deep.pdf"
    result = run("--library", clinic, "build", "deep", "-o", out)
    assert result.exit_code == 0, result.output
    text = pdftotext(out)
    assert f"level {levels}" in text
    assert "988" in text and "Call 911" in text


def test_absurdly_deep_lists_are_refused_with_file_and_line(clinic, tmp_path):
    path = clinic / "handouts" / "deep.en.md"
    text = template_topic(**{"- Another sign.\n  - A detail under it.\n": nested_list(200)})
    path.write_text(text)
    out = tmp_path / "deep.pdf"
    result = run("--library", clinic, "build", "deep", "-o", out)
    assert result.exit_code == 1
    line = text.splitlines().index("  " * 31 + "- level 32") + 1
    assert result.stderr.strip() == (
        f"Error: {path}:{line}: lists, quotes or callouts are nested too deeply here "
        "(at most 30 levels); the rest of the topic would be lost")
    assert not out.exists()
    lint = run("--library", clinic, "lint", "deep")
    assert lint.exit_code == 1 and f"{path}:{line}" in lint.output


def test_deep_quotes_are_refused_not_cut(clinic):
    path = clinic / "handouts" / "deep.en.md"
    path.write_text(template_topic(**{"Write two or three short sentences.\n":
                                      "> " * 80 + "deep\n"}))
    result = run("--library", clinic, "build", "deep", "--format", "html", "-o", "-")
    assert result.exit_code == 1 and "nested too deeply" in result.stderr


def test_a_layout_that_drops_the_crisis_block_writes_nothing(clinic, tmp_path):
    (clinic / "handouts" / "calm.en.md").write_text(template_topic("calm"))
    (clinic / "layouts" / "clinic" / "layout.html.j2").write_text(
        '{% extends "standard/layout.html.j2" %}{% block style %}{{ super() }}{% endblock %}')
    page = (Path(__file__).resolve().parent.parent / "layouts" / "_base" / "page.html.j2")
    # A clinic's copy of the page that prints only sections that are not required.
    (clinic / "layouts" / "_base").mkdir()
    (clinic / "layouts" / "_base" / "page.html.j2").write_text(page.read_text().replace(
        "{% for section in a.sections %}",
        "{% for section in a.sections if not section.required %}"))
    for args in (["-o", tmp_path / "calm.pdf"], ["calm", "-o", tmp_path / "calm.pdf"],
                 ["--format", "html", "-o", tmp_path / "calm.pdf"]):
        specs = ["calm", "psychotherapy"] if args[0] == "calm" else ["calm"]
        result = run("--library", clinic, "build", *specs, *args[-2:] if args[0] == "calm"
                     else args, "--layout", "clinic")
        assert result.exit_code == 3, result.output
        assert "calm.en.md" in result.stderr and "'crisis'" in result.stderr
        assert "not written" in result.stderr
        assert not (tmp_path / "calm.pdf").exists()


def test_a_mental_health_crisis_block_stays_when_it_is_not_marked_required(clinic, tmp_path):
    (clinic / "handouts" / "calm.en.md").write_text(
        template_topic("calm", **{"{{#crisis .required}}".format(): "{#crisis}"}))
    out = tmp_path / "calm.pdf"
    result = run("--library", clinic, "build", "calm:what-is", "-o", out)
    assert result.exit_code == 0, result.output
    assert "988" in pdftotext(out)


def test_a_mental_health_topic_without_a_crisis_block_is_not_built(clinic, tmp_path):
    text = template_topic("calm")
    text = text[:text.index("## What if I am in crisis?")]
    (clinic / "handouts" / "calm.en.md").write_text(text)
    out = tmp_path / "calm.pdf"
    result = run("--library", clinic, "build", "calm", "-o", out)
    assert result.exit_code == 1 and "crisis block" in result.stderr
    assert not out.exists()
