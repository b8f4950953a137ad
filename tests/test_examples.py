"""Every example in README.md, in the documentation pages that hold what README used to
(DOC_PAGES), and in every command's --help runs, as a new user would type it, in a fresh
folder (in order: README, then the pages in the site's order; later examples use what
earlier ones made).

Printing goes to a stand-in `lp` that records its arguments; `handouts serve` examples start
the service on a free port and are stopped once it answers; the API key file of the serve
example is a temporary one. The first README block's install command is not run (the test
runs inside that installation); the build it ends with is the next block's first example.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import ROOT

from handoutkit.cli import main

# Builds PDFs end to end, or starts servers, browsers or installs: a slow module
# (`pytest -m "not slow"` leaves it out).
pytestmark = pytest.mark.slow

HANDOUTS = Path(sys.executable).with_name("handouts")
HELP_EXAMPLE_RE = re.compile(r"^\s+(handouts .*)$", re.M)


# README, then the pages README's text moved to, in the order of the site's navigation
# (mkdocs.yml). docs/content-operations.md has a test of its own (test_content_docs.py).
DOC_PAGES = ["README.md", "docs/index.md", "docs/everyday-use.md", "docs/batch-and-printing.md",
             "docs/front-desk.md", "docs/service.md", "docs/health-record.md",
             "docs/production.md", "docs/writing-topics.md", "docs/brands-and-layouts.md",
             "docs/languages.md", "docs/exit-codes.md", "docs/architecture.md",
             "docs/develop.md", "docs/benchmarks.md"]


def readme_examples() -> list[tuple[str, str]]:
    """(page, example) for every `handouts ...` line of a sh block of DOC_PAGES."""
    found = []
    for page in DOC_PAGES:
        text = (ROOT / page).read_text(encoding="utf-8")
        for block in re.findall(r"```sh\n(.*?)```", text, re.S):
            for line in block.replace("\\\n", " ").splitlines():
                line = line.strip()
                if line.startswith("handouts "):
                    found.append((page, _strip_comment(line)))
    return found


def _strip_comment(line: str) -> str:
    """Drop a trailing `# comment` (outside quotes)."""
    quote = None
    for index, char in enumerate(line):
        if char in "\"'" and quote in (None, char):
            quote = None if quote else char
        elif char == "#" and quote is None and line[index - 1] == " ":
            return line[:index].strip()
    return line


def _commands(group, path=()):
    for name, command in sorted(group.commands.items()):
        yield path + (name,), command
        if hasattr(command, "commands"):
            yield from _commands(command, path + (name,))


def help_examples() -> list[str]:
    found = []
    for path, _ in _commands(main):
        text = CliRunner().invoke(main, [*path, "--help"]).output
        if "Example" in text:
            tail = text[text.index("Example"):]
            found += [_strip_comment(m) for m in HELP_EXAMPLE_RE.findall(tail)]
    main_help = CliRunner().invoke(main, ["--help"]).output
    found += [_strip_comment(m) for m in HELP_EXAMPLE_RE.findall(main_help)]
    return found


EXAMPLES = readme_examples() + [("--help", e) for e in help_examples()]


def test_there_are_examples_to_run():
    assert len([e for e in EXAMPLES if e[0] in DOC_PAGES]) >= 20
    assert len([e for e in EXAMPLES if e[0] == "README.md"]) >= 3
    assert any("build" in e for _, e in EXAMPLES if _ == "--help")


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """A fresh folder with the examples folder, a stand-in lp and its own cache."""
    if not HANDOUTS.exists():
        pytest.skip("the project is not installed in this environment")
    root = tmp_path_factory.mktemp("examples")
    # The examples folder as shipped, and its files where examples name them bare.
    shutil.copytree(ROOT / "examples", root / "examples")
    for path in (ROOT / "examples").iterdir():
        shutil.copy(path, root / path.name)
    bin_dir = root / ".bin"
    bin_dir.mkdir()
    lp = bin_dir / "lp"
    lp.write_text(f'#!/bin/sh\ncat > /dev/null\necho "$@" >> {root / "lp.log"}\n'
                  'echo "request id is Front_Desk-1 (1 file(s))"\n')
    lp.chmod(0o755)
    keys = root / ".keys"
    keys.write_text("example-key-0123456789abcdef\n")
    env = {**os.environ,
           "PATH": f"{bin_dir}{os.pathsep}{HANDOUTS.parent}{os.pathsep}{os.environ['PATH']}",
           "HANDOUTS_CACHE_DIR": str(root / ".cache"),
           "HANDOUTS_CACHE_KEY_FILE": str(root / ".cache-key")}
    env.pop("HANDOUTS_LIBRARY", None)
    return root, env, keys


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _serve(command: str, root: Path, env: dict, keys: Path) -> None:
    port = _free_port()
    command = command.replace("/etc/handouts/keys", str(keys)) + f" --port {port}"
    process = subprocess.Popen(["bash", "-c", f"exec {command}"], cwd=root, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               start_new_session=True)
    try:
        deadline = time.time() + 60
        while time.time() < deadline:
            assert process.poll() is None, process.communicate()[1]
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                return
            except OSError:
                time.sleep(0.1)
        pytest.fail(f"{command}: the service did not start")
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@pytest.mark.slow
@pytest.mark.parametrize("where, command", EXAMPLES, ids=[f"{w}: {c}" for w, c in EXAMPLES])
def test_example_runs(folder, where, command):
    root, env, keys = folder
    if command.startswith("handouts serve"):
        _serve(command, root, env, keys)
        return
    done = subprocess.run(["bash", "-o", "pipefail", "-c", command], cwd=root, env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"{where}: {command}\n{done.stderr}"
    assert "Traceback" not in done.stderr
    written = re.findall(r"(?:-o|--fhir) (\S+\.(?:pdf|html|json))", command)
    for name in written:
        assert (root / name).stat().st_size > 1000, name
