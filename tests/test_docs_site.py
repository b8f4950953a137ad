"""The documentation: README.md stays a newcomer's page (at most 200 lines, with the set-up
and test commands CI relies on), and the site built from docs/ (mkdocs.yml) has a command
reference made from the real --help of every command and subcommand of `handouts`."""

from __future__ import annotations

import html
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import ROOT

import handoutkit
from handoutkit.cli import main

README_MAX_LINES = 200


def _commands(group, path=()):
    """(path, command) for every command under `group`, subcommands of groups included."""
    for name, command in sorted(group.commands.items()):
        yield path + (name,), command
        if hasattr(command, "commands"):
            yield from _commands(command, path + (name,))


def _first_line(command) -> str:
    text = (command.help or command.short_help or "").strip()
    return text.split("\n\n")[0].splitlines()[0].strip() if text else ""


def _plain(fragment: str) -> str:
    """The text of an HTML fragment, tags dropped, entities read, white space collapsed."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", fragment)).split())


def test_readme_is_short():
    lines = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    assert len(lines) <= README_MAX_LINES, f"README.md has {len(lines)} lines"


def test_readme_keeps_the_set_up_and_test_commands():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert '.venv/bin/pip install ".[test]" && .venv/bin/handouts build psychotherapy' in readme
    assert "\n.venv/bin/pytest\n" in readme
    assert "\n.venv/bin/pytest\n" in (ROOT / ".ci" / "run").read_text(encoding="utf-8")


def test_readme_links_resolve():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    links = re.findall(r"\]\((docs/[^)#]+)(?:#[^)]*)?\)", readme)
    assert len(links) >= 10
    for link in links:
        assert (ROOT / link).is_file(), link


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    """The site, built with --strict into a temporary folder from this checkout's docs."""
    pytest.importorskip("mkdocs")
    out = tmp_path_factory.mktemp("site")
    # The hook imports handoutkit.cli: the one these tests import, whatever is installed.
    package_root = str(Path(handoutkit.__file__).resolve().parents[1])
    env = {**os.environ,
           "PYTHONPATH": os.pathsep.join(filter(None, [package_root,
                                                       os.environ.get("PYTHONPATH")]))}
    done = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict",
                           "-f", str(ROOT / "mkdocs.yml"), "-d", str(out)],
                          capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    return out


def test_every_command_has_a_reference_made_from_its_help(site):
    page = (site / "commands" / "index.html").read_text(encoding="utf-8")
    # Each command's part of the page: from its heading to the next heading.
    parts = {}
    headings = list(re.finditer(r'<h\d id="[^"]*">(.*?)<a class="headerlink"', page))
    for heading, following in zip(headings, headings[1:] + [None], strict=True):
        end = following.start() if following else len(page)
        parts[_plain(heading.group(1))] = _plain(page[heading.end():end])
    commands = list(_commands(main))
    assert len(commands) >= 20  # the walk reached the subcommands of groups
    assert "handouts" in parts and _first_line(main) in parts["handouts"]
    for path, command in commands:
        name = "handouts " + " ".join(path)
        assert name in parts, f"{name}: no entry in the command reference"
        assert _first_line(command), f"{name}: no help text"
        assert _first_line(command) in parts[name], f"{name}: its help is not in its entry"
        assert f"Usage: {name}" in parts[name], f"{name}: no usage line"
        # The whole of what `handouts ... --help` prints (at the page's width).
        shown = CliRunner().invoke(main, [*path, "--help"], prog_name="handouts",
                                   terminal_width=88, max_content_width=88)
        assert shown.exit_code == 0, shown.output
        assert " ".join(shown.output.split()) in parts[name], f"{name}: not its --help"
        for option in command.params:
            for opt in getattr(option, "opts", []):
                if opt.startswith("--") and not getattr(option, "hidden", False):
                    assert opt in parts[name], f"{name}: option {opt} is not in its entry"


def test_the_benchmarks_page_gives_each_figure_its_machine_and_date():
    text = (ROOT / "docs" / "benchmarks.md").read_text(encoding="utf-8")
    sections = re.split(r"\n## ", text)[1:]
    assert len(sections) >= 5
    for section in sections:
        title = section.splitlines()[0]
        assert "Machine:" in section, title
        assert re.search(r"20\d\d", section), title
