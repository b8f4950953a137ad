"""Every topic of a packet, in every position and every output format, keeps its crisis
block: the check of the assembled HTML (completeness.py) and the check of the laid-out
pages (pagecheck.py) look at each topic, not only the first, and at the block's words,
not only its class."""

from __future__ import annotations

import re

import pytest
from click.testing import CliRunner
from test_hostile_library import CALM

from handoutkit.build import selections_for
from handoutkit.cli import main
from handoutkit.content.brand import load_brand
from handoutkit.content.library import Library
from handoutkit.document.articles import anchor_for
from handoutkit.document.assemble import Setting, assemble
from handoutkit.document.completeness import IncompleteError, check_html, promise_for

OTHERS = ["psychotherapy:what-is", "ocd:what-is"]


def packet_specs(position: int) -> list[str]:
    specs = list(OTHERS)
    specs.insert(position, "calm")
    return specs


@pytest.fixture(scope="module")
def clinic(tmp_path_factory):
    root = tmp_path_factory.mktemp("positions")
    (root / "handouts").mkdir()
    (root / "handouts" / "calm.en.md").write_text(CALM, encoding="utf-8")
    folder = root / "layouts" / "hide-calm"
    folder.mkdir(parents=True)
    # Only the calm topic's crisis block is hidden; every other topic prints whole.
    (folder / "layout.html.j2").write_text(
        '{% extends "standard/layout.html.j2" %}\n{% block style %}{{ super() }}\n'
        "#calm-en--crisis .callout-emergency { visibility: hidden }\n{% endblock %}\n",
        encoding="utf-8")
    return root


@pytest.mark.parametrize("output", ["pdf", "archival", "html"])
@pytest.mark.parametrize("position", [0, 1, 2])
def test_the_laid_out_check_finds_the_topic_in_any_position(clinic, tmp_path, position, output):
    out = tmp_path / "packet.out"
    extra = {"pdf": [], "archival": ["--archival"], "html": ["--format", "html"]}[output]
    result = CliRunner().invoke(main, ["--library", str(clinic), "build",
                                       *packet_specs(position), *extra, "--layout", "hide-calm",
                                       "-o", str(out)])
    assert result.exit_code == 3, result.output
    assert "crisis block of topic calm" in result.output and "hidden" in result.output
    assert not out.exists()


@pytest.mark.parametrize("position", [0, 1, 2])
def test_the_promise_holds_every_topic(clinic, position):
    library = Library(clinic)
    selections = selections_for(library, packet_specs(position), "en")
    promise = promise_for(selections, load_brand(library.default_brand), cover=True)
    anchors = [block.anchor for block in promise.blocks]
    assert anchors == [f"{anchor_for(s)}--crisis" for s in selections]
    assert all("911" in b.numbers and "988" in b.numbers for b in promise.blocks)
    assert promise.strip == tuple(anchor_for(s) for s in selections) and promise.cover


def callout(html: str, selection) -> re.Match:
    start = html.index(f'id="{anchor_for(selection)}--crisis"')
    return re.compile(r'<div class="callout callout-emergency".*?</div>', re.S).search(
        html, start)


@pytest.mark.parametrize("position", [0, 1, 2])
@pytest.mark.parametrize("damage", ["block", "words"])
def test_the_html_check_finds_the_topic_in_any_position(clinic, position, damage):
    library = Library(clinic)
    selections = selections_for(library, packet_specs(position), "en")
    setting = Setting(library, load_brand(library.default_brand))
    html = assemble(selections, setting, cover=True)
    check_html(html, selections, anchor_for)  # whole: passes
    found = callout(html, selections[position])
    if damage == "block":
        broken = html[:found.start()] + html[found.end():]
    else:
        # The box keeps its class; its words are gone.
        broken = (html[:found.start()] + '<div class="callout callout-emergency"></div>'
                  + html[found.end():])
    with pytest.raises(IncompleteError, match="'crisis'"):
        check_html(broken, selections, anchor_for)
