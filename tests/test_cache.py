"""The cache of rendered parts: hits, invalidation, damage, concurrency, privacy."""

import io
import os
import subprocess
import sys

import pytest
from click.testing import CliRunner
from conftest import TEST_LIBRARY
from pypdf import PdfReader

from handoutkit.build import BuildOptions, build
from handoutkit.cache import Cache
from handoutkit.cli import main
from handoutkit.content.library import Library
from handoutkit.options import Personal

# Builds PDFs end to end, or starts servers, browsers or installs: a slow module
# (`pytest -m "not slow"` leaves it out).
pytestmark = pytest.mark.slow

SPECS = ["hand-washing", "psychotherapy:what-is"]


@pytest.fixture
def cache(tmp_path):
    return Cache(tmp_path / "cache")


def make(library, cache, **options):
    return build(library, SPECS, BuildOptions(jobs=1, **options), cache)


def clinic_copy(make_library):
    text = (TEST_LIBRARY / "handouts" / "hand-washing.en.md").read_text()
    return make_library({"handouts/hand-washing.en.md": text})


def test_second_build_is_served_from_the_cache(cache, test_library):
    first = make(test_library, cache)
    assert cache.stats.hits == 0 and cache.stats.misses > 0
    entries = len(cache.entries())
    cache.stats.hits = cache.stats.misses = 0
    second = make(test_library, cache)
    assert cache.stats.misses == 0 and cache.stats.hits == entries
    assert first == second


def test_warm_build_does_not_render(cache, test_library, monkeypatch):
    import handoutkit.pdf.render

    def fail(*args, **kwargs):
        raise AssertionError("rendered although everything was cached")

    first = make(test_library, cache)
    monkeypatch.setattr(handoutkit.pdf.render, "render_pdf", fail)
    assert make(test_library, cache) == first


@pytest.mark.parametrize("change", ["topic", "layout", "brand"])
def test_changes_invalidate(cache, make_library, change):
    root = clinic_copy(make_library)
    make(Library(root), cache)
    if change == "topic":
        path = root / "handouts" / "hand-washing.en.md"
        path.write_text(path.read_text().replace("Germs spread", "Germs travel"))
    elif change == "layout":
        (root / "layouts").mkdir(exist_ok=True)
        (root / "layouts" / "strings.toml").write_text('[en]\nmore_on_topic = "See also"\n')
    else:
        (root / "layouts").mkdir(exist_ok=True)
        (root / "layouts" / "brand.toml").write_text('name = "Other Clinic"\ncolor = "#1f5f8b"\n')
    cache.stats.hits = cache.stats.misses = 0
    pdf = make(Library(root), cache)
    assert cache.stats.misses >= 1
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages)
    expected = {"topic": "Germs travel", "layout": "See also", "brand": "Other Clinic"}[change]
    assert expected in text


def test_damaged_entry_is_detected_and_rebuilt(cache, test_library):
    good = make(test_library, cache)
    victim = cache.entries()[0]
    data = bytearray(victim.read_bytes())
    data[len(data) // 2] ^= 0xFF
    victim.write_bytes(bytes(data))
    cache.stats.hits = cache.stats.misses = 0
    assert make(test_library, cache) == good
    assert cache.stats.damaged == 1
    assert victim.exists()  # rebuilt
    truncated = cache.entries()[0]
    truncated.write_bytes(b"")
    assert make(test_library, cache) == good


def test_no_patient_detail_in_the_cache(cache, test_library):
    make(test_library, cache,
         personal=Personal("Zyxwv Qwerty", "2026-01-02", "Dr. Pqrs", "Xylo note"))
    assert cache.entries()
    for entry in cache.entries():
        payload = entry.read_bytes()[32:]
        assert b"Zyxwv" not in payload
        if payload.startswith(b"%PDF"):
            text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(payload)).pages)
            for detail in ("Zyxwv", "Qwerty", "Pqrs", "Xylo", "2026-01-02"):
                assert detail not in text


def test_concurrent_processes_share_the_cache(tmp_path):
    cache_dir = tmp_path / "shared-cache"
    env = {**os.environ, "HANDOUTS_CACHE_DIR": str(cache_dir), "SOURCE_DATE_EPOCH": "1795651200"}
    cmd = [sys.executable, "-m", "handoutkit", "build", "psychotherapy", "ocd", "insomnia",
           "--jobs", "1"]
    runs = [subprocess.Popen(cmd + ["-o", str(tmp_path / f"p{i}.pdf")], env=env,
                             stderr=subprocess.PIPE) for i in range(3)]
    for run in runs:
        assert run.wait(timeout=120) == 0, run.stderr.read()
    outputs = {(tmp_path / f"p{i}.pdf").read_bytes() for i in range(3)}
    assert len(outputs) == 1
    cache = Cache(cache_dir)
    assert cache.entries()
    for entry in cache.entries():
        assert cache.get(entry.stem) is not None  # every entry is whole
    assert cache.stats.damaged == 0
    assert not list(cache_dir.rglob(".tmp-*"))


def test_cache_commands(tmp_path, monkeypatch):
    monkeypatch.setenv("HANDOUTS_CACHE_DIR", str(tmp_path / "c"))
    runner = CliRunner()
    assert runner.invoke(main, ["build", "psychotherapy:what-is", "ocd:what-is", "-o",
                                str(tmp_path / "x.pdf")]).exit_code == 0
    info = runner.invoke(main, ["cache", "info", "--json"])
    import json

    data = json.loads(info.output)
    assert data["folder"] == str(tmp_path / "c") and data["entries"] >= 3 and data["bytes"] > 0
    cleared = runner.invoke(main, ["cache", "clear"])
    assert cleared.output.strip() == f"Removed {data['entries']} entries"
    assert json.loads(runner.invoke(main, ["cache", "info", "--json"]).output)["entries"] == 0


def test_no_cache_flag(tmp_path, monkeypatch):
    monkeypatch.setenv("HANDOUTS_CACHE_DIR", str(tmp_path / "c"))
    result = CliRunner().invoke(main, ["build", "psychotherapy:what-is", "ocd:what-is",
                                       "--no-cache", "-o", str(tmp_path / "x.pdf")])
    assert result.exit_code == 0
    assert not (tmp_path / "c").exists()
    text = " ".join(p.extract_text() for p in PdfReader(tmp_path / "x.pdf").pages)
    assert "What is psychotherapy?" in text and "What is OCD?" in text


def test_warm_packet_does_not_import_weasyprint(tmp_path):
    env = {**os.environ, "HANDOUTS_CACHE_DIR": str(tmp_path / "c"),
           "SOURCE_DATE_EPOCH": "1795651200"}
    args = ["build", "ocd:what-is", "ptsd:what-is", "-o", str(tmp_path / "x.pdf")]
    cold = subprocess.run([sys.executable, "-m", "handoutkit", *args], env=env,
                          capture_output=True, text=True)
    assert cold.returncode == 0, cold.stderr
    code = ("import sys; from handoutkit.cli import main\n"
            "try: main(%r)\n"
            "except SystemExit as e: assert e.code in (0, None), e.code\n"
            "print('weasyprint' in sys.modules)" % (args,))
    warm = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert warm.returncode == 0, warm.stderr
    assert warm.stdout.strip() == "False"


def test_parsed_topics_come_back_from_the_cache_unchanged(cache):
    fresh = Library()
    stored, served = Library(cache=cache), Library(cache=cache)
    for topic_id in fresh.topic_ids:
        stored.topic(topic_id)  # parses and stores
    misses = cache.stats.misses
    for topic_id in fresh.topic_ids:
        expected, got = fresh.topic(topic_id), served.topic(topic_id)
        assert got == expected  # metadata, dates, section ids, titles, lines, images
        assert [s.html() for s in got.sections] == [s.html() for s in expected.sections]
        assert got.intro.html() == expected.intro.html() if expected.intro else not got.intro
    assert cache.stats.misses == misses, "every topic was read back from the cache"


def test_an_edited_topic_is_parsed_again(cache, make_library):
    source = (TEST_LIBRARY / "handouts" / "hand-washing.en.md").read_text(encoding="utf-8")
    library_dir = make_library({"handouts/hand-washing.en.md": source})
    assert not Library(library_dir, cache=cache).topic("hand-washing").title.startswith("Edited")
    path = library_dir / "handouts" / "hand-washing.en.md"
    path.write_text(source.replace("title: ", "title: Edited ", 1), encoding="utf-8")
    assert Library(library_dir, cache=cache).topic("hand-washing").title.startswith("Edited ")
