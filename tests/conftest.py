"""Shared fixtures: the bundled library, the tiny test library, and PDF helpers."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from handoutkit.content.library import Library

ROOT = Path(__file__).resolve().parent.parent

TEST_LIBRARY = Path(__file__).resolve().parent / "library"


# Modules that look at the cache itself, count layouts or warnings, or change how pages
# are made: each of their tests starts with an empty cache of its own. A single test can
# ask for the same with `@pytest.mark.fresh_cache`.
FRESH_CACHE_MODULES = {"test_cache", "test_cache_units", "test_cache_keys"}


@pytest.fixture(scope="session")
def shared_cache(tmp_path_factory) -> Path:
    """One cache for the whole run (shared by pytest-xdist's workers), so a topic laid out
    by one test is not laid out again by the next. It cannot carry one test's patient
    details into another: pieces that hold them are never cached (see cache.py), and
    entries are keyed by everything that shapes their bytes. The folder lives in this
    run's temporary folder, so code changed between runs never meets old entries."""
    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        base = base.parent  # the run's folder, above each worker's own
    folder = base / "shared-cache"
    folder.mkdir(exist_ok=True)
    return folder


def cache_env(folder: Path) -> dict[str, str]:
    """The environment that points the cache, and its signing key, at `folder`."""
    return {"HANDOUTS_CACHE_DIR": str(folder / "entries"),
            "HANDOUTS_CACHE_KEY_FILE": str(folder / "cache.key")}


def _wants_fresh_cache(node) -> bool:
    module = node.module.__name__.rpartition(".")[2] if getattr(node, "module", None) else ""
    return module in FRESH_CACHE_MODULES or node.get_closest_marker("fresh_cache") is not None


@pytest.fixture(autouse=True)
def _reproducible(request, monkeypatch, tmp_path_factory, shared_cache):
    # A fixed printed date so text and golden files do not change from day to day.
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1795651200")  # 2026-11-26 00:00 UTC
    monkeypatch.delenv("HANDOUTS_LIBRARY", raising=False)
    # Commands run in tests never touch the user's own cache, nor the user's cache
    # signing key (kept outside the cache folder).
    folder = tmp_path_factory.mktemp("cache") if _wants_fresh_cache(request.node) \
        else shared_cache
    for name, value in cache_env(folder).items():
        monkeypatch.setenv(name, value)
    # Each test starts like a new process: no topics parsed earlier in this one.
    monkeypatch.setattr("handoutkit.content.topic._PARSED", {})


@pytest.fixture
def run():
    """The command line in this process: `run("build", "ocd", "-o", path)` (arguments made
    text), exceptions not caught."""
    from click.testing import CliRunner

    from handoutkit.cli import main

    runner = CliRunner()

    def invoke(*args):
        return runner.invoke(main, [str(a) for a in args], catch_exceptions=False)

    return invoke


@pytest.fixture
def library() -> Library:
    return Library()


@pytest.fixture
def test_library() -> Library:
    return Library(TEST_LIBRARY)


@pytest.fixture
def make_library(tmp_path):
    """Build a clinic library in a temporary folder: {relative path: text or bytes}."""

    def make(files: dict[str, str | bytes]) -> Path:
        root = tmp_path / "clinic"
        for name, content in files.items():
            path = root / name
            path.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                path.write_bytes(content)
            else:
                path.write_text(content, encoding="utf-8")
        root.mkdir(exist_ok=True)
        return root

    return make


def pdftotext(path: Path, *args: str) -> str:
    """The PDF's text in reading order (pages separated by form feeds)."""
    return subprocess.run(
        ["pdftotext", *args, str(path), "-"],
        check=True, capture_output=True, text=True,
    ).stdout


def page_texts(path: Path) -> list[str]:
    return pdftotext(path).split("\f")[:-1]


def pdffonts(path: Path) -> list[dict]:
    out = subprocess.run(["pdffonts", str(path)], check=True, capture_output=True, text=True)
    rows = []
    for line in out.stdout.splitlines()[2:]:
        parts = line.split()
        # name type... emb sub uni object ID: the last five columns are fixed.
        rows.append({"name": parts[0], "emb": parts[-5], "sub": parts[-4], "uni": parts[-3]})
    return rows


def source_headings(topic_id: str, lang: str = "en") -> list[str]:
    """A bundled topic's section titles read straight from its Markdown with a regular
    expression: expectations independent of the parser under test."""
    text = (ROOT / "handouts" / f"{topic_id}.{lang}.md").read_text(encoding="utf-8")
    return re.findall(r"^## (.+?)(?: \{[^}]*\})?$", text, re.MULTILINE)


# pytest-xdist (`--dist loadgroup`): a module's tests run in one worker, so its module
# fixtures (a packet in every language, a running service) are made once, not once per
# worker side by side. These modules' tests are long on their own and set up cheaply, so
# they spread over the workers (and meet the other modules' pages in the shared cache).
SPREAD_MODULES = {"test_page_fill", "test_render"}
# Modules whose module fixture takes params (a layout and paper each): one group per param,
# so the combinations are made side by side, each once.
GROUP_BY_PARAM = {"test_every_language": "built"}


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items):
    for item in items:
        module = item.module.__name__.rpartition(".")[2] if item.module else ""
        if module in SPREAD_MODULES or item.get_closest_marker("xdist_group"):
            continue
        group = module
        callspec = getattr(item, "callspec", None)
        if module in GROUP_BY_PARAM and callspec is not None:
            param = callspec.params.get(GROUP_BY_PARAM[module])
            if param is not None:
                group = f"{module}-{'-'.join(map(str, param))}"
        item.add_marker(pytest.mark.xdist_group(group))
