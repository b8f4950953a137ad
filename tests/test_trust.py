"""Trust: no input drops the crisis block, hands a patient someone else's packet, or ends in
a traceback (each test reproduces one hole that was found, and shows it closed)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import pdftotext

from handoutkit.cli import main
from handoutkit.content_ops.scaffold import PLACEHOLDERS, TOPIC_TEMPLATE

# Builds PDFs end to end, or starts servers, browsers or installs: a slow module
# (`pytest -m "not slow"` leaves it out).
pytestmark = pytest.mark.slow


def run(*args, **kwargs):
    return CliRunner().invoke(main, [str(a) for a in args], **kwargs)


def template_topic(topic_id: str = "deep", **replacements: str) -> str:
    text = TOPIC_TEMPLATE.format(id=topic_id, lang="en", title=topic_id.title(),
                                 title_lower=topic_id, today="2026-11-01",
                                 review_due="2027-11-01", clinic="clinic")
    for old, new in replacements.items():
        assert old in text
        text = text.replace(old, new)
    # The template's stand-in sentences, written over: a build refuses them.
    for placeholder in PLACEHOLDERS:
        text = text.replace(placeholder, "Rest helps.")
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
        "{% for section in group.sections %}",
        "{% for section in group.sections if not section.required %}"))
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


# -- 2. resuming a batch never keeps another patient's packet ------------------------------

def write_csv(path: Path, header: str, *rows: str) -> Path:
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


def last_line(result) -> str:
    return result.stderr.strip().splitlines()[-1]


def test_resume_rebuilds_a_packet_made_for_another_patient(tmp_path):
    import os
    import stat

    out = tmp_path / "out"
    out.mkdir()
    alice = write_csv(tmp_path / "alice.csv", "output,topics,patient",
                      "room1.pdf,ocd:what-is,Alice Qwerty")
    first = run("batch", alice, "--out-dir", out)
    assert first.exit_code == 0 and last_line(first).startswith("1 built")
    bob = write_csv(tmp_path / "bob.csv", "output,topics,patient,duplex",
                    "room1.pdf,ocd:what-is,Bob Zxcvb,yes")
    os.utime(bob, (1_000_000_000, 1_000_000_000))  # older than the PDF
    second = run("batch", bob, "--out-dir", out)
    assert second.exit_code == 0 and last_line(second).startswith("1 built, 0 skipped")
    text = pdftotext(out / "room1.pdf")
    assert "Bob Zxcvb" in text and "Alice" not in text
    # The batch's state holds no patient detail; its key is for its owner only.
    key = out / ".handouts" / "key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    for path in (out / ".handouts").iterdir():
        assert b"Bob" not in path.read_bytes() and b"Alice" not in path.read_bytes()
    third = run("batch", bob, "--out-dir", out)
    assert last_line(third).startswith("0 built, 1 skipped")


@pytest.mark.parametrize("column, first, second", [
    ("patient", "Ann", "Anne"), ("visit_date", "2026-11-26", "2026-11-27"),
    ("clinician", "Dr. Lee", "Dr. Li"), ("note", "Rest.", "Rest more."),
    ("paper", "letter", "a4"), ("layout", "standard", "large-print"),
    ("archival", "no", "yes"), ("lang", "en", "es"),
    ("topics", "psychotherapy:what-is", "psychotherapy:types"),
])
def test_resume_compares_everything_that_shapes_the_packet(tmp_path, column, first, second):
    out = tmp_path / "out"
    out.mkdir()
    values = {"topics": "psychotherapy:what-is", "patient": "Ann"}
    for value, expected in ((first, "1 built"), (first, "0 built, 1 skipped"),
                            (second, "1 built")):
        values[column] = value
        manifest = write_csv(tmp_path / "m.csv", ",".join(["output", *values]),
                             ",".join(["p.pdf", *values.values()]))
        result = run("batch", manifest, "--out-dir", out)
        assert result.exit_code == 0, result.stderr
        assert last_line(result).startswith(expected), (column, value, result.stderr)


def test_resume_notices_a_changed_brand_or_logo(tmp_path):
    from PIL import Image

    out = tmp_path / "out"
    out.mkdir()
    (tmp_path / "brand.toml").write_text('name = "Clinic"\nlogo = "logo.png"\n')
    Image.new("RGB", (20, 20), "red").save(tmp_path / "logo.png")
    manifest = write_csv(tmp_path / "m.csv", "output,topics,brand", "p.pdf,ocd:what-is,brand.toml")
    assert last_line(run("batch", manifest, "--out-dir", out)).startswith("1 built")
    assert last_line(run("batch", manifest, "--out-dir", out)).startswith("0 built, 1 skipped")
    Image.new("RGB", (20, 20), "blue").save(tmp_path / "logo.png")
    assert last_line(run("batch", manifest, "--out-dir", out)).startswith("1 built")
    (tmp_path / "brand.toml").write_text('name = "Clinic Two"\nlogo = "logo.png"\n')
    assert last_line(run("batch", manifest, "--out-dir", out)).startswith("1 built")
    assert "Clinic Two" in pdftotext(out / "p.pdf")


# -- 3. a failed print (or FHIR file) is retried, and only it ------------------------------

def fake_lp(folder: Path, log: Path) -> Path:
    folder.mkdir(exist_ok=True)
    lp = folder / "lp"
    lp.write_text(f'#!/bin/sh\necho "$@" >> {log}\necho "request id is fake-1"\n')
    lp.chmod(0o755)
    return folder


def test_failed_print_jobs_are_retried(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    manifest = write_csv(tmp_path / "m.csv", "output,topics,patient,printer",
                         "a.pdf,ocd:what-is,Ann,Front", "b.pdf,ptsd:what-is,Ben,Front")
    no_lp = {"PATH": str(tmp_path / "empty")}
    for _ in range(2):  # lp missing: the rows fail, and fail again on the next run
        result = run("batch", manifest, "--out-dir", out, env=no_lp)
        assert result.exit_code == 1
        assert last_line(result) == "0 built, 0 skipped (already current), 2 failed" or \
            last_line(result).endswith("2 failed")
        assert "'lp' command was not found" in result.stderr
    built = (out / "a.pdf").read_bytes()
    log = tmp_path / "lp.log"
    with_lp = {"PATH": str(fake_lp(tmp_path / "bin", log))}
    result = run("batch", manifest, "--out-dir", out, env=with_lp)
    assert result.exit_code == 0 and last_line(result).startswith("2 built")
    assert (out / "a.pdf").read_bytes() == built  # only the print step ran again
    assert len(log.read_text().splitlines()) == 2
    again = run("batch", manifest, "--out-dir", out, env=with_lp)
    assert last_line(again).startswith("0 built, 2 skipped")
    assert len(log.read_text().splitlines()) == 2


def test_a_failed_fhir_file_is_retried(tmp_path):
    import json

    out = tmp_path / "out"
    out.mkdir()
    manifest = write_csv(tmp_path / "m.csv", "output,topics,patient_ref",
                         "a.pdf,ocd:what-is,Patient/1")
    (out / "a.fhir.json").mkdir()  # in the way: the FHIR file cannot be written
    first = run("batch", manifest, "--out-dir", out)
    assert first.exit_code == 1 and "a.fhir.json" in first.stderr
    (out / "a.fhir.json").rmdir()
    built = (out / "a.pdf").read_bytes()
    second = run("batch", manifest, "--out-dir", out)
    assert second.exit_code == 0 and last_line(second).startswith("1 built")
    assert (out / "a.pdf").read_bytes() == built
    fhir = json.loads((out / "a.fhir.json").read_text())
    assert fhir["subject"]["reference"] == "Patient/1"
    assert last_line(run("batch", manifest, "--out-dir", out)).startswith("0 built, 1 skipped")


# -- 4. the cache cannot be tampered with --------------------------------------------------

def test_a_cache_entry_rewritten_with_a_matching_sha256_is_a_miss(tmp_path, monkeypatch):
    import hashlib
    import os
    import stat

    from handoutkit.cache import Cache, key_file

    cache_dir = tmp_path / "cache"
    monkeypatch.setenv("HANDOUTS_CACHE_DIR", str(cache_dir))
    first = run("build", "ocd", "--format", "html", "-o", tmp_path / "a.html")
    assert first.exit_code == 0
    topic_entries = [p for p in cache_dir.rglob("*.entry") if b'"tokens"' in p.read_bytes()]
    assert topic_entries
    import json

    def tampered(entry: Path) -> bytes:
        data = json.loads(entry.read_bytes()[32:])
        for section in data["sections"]:
            for token in section["tokens"]:
                for child in token.get("children") or []:
                    if child["type"] == "text":
                        child["type"], child["content"] = "html_inline", "<script>x()</script>"
        return json.dumps(data).encode()

    # An attacker with write access to the cache folder, and the old SHA-256 framing.
    originals = {entry: entry.read_bytes() for entry in topic_entries}
    for entry in topic_entries:
        payload = tampered(entry)
        entry.write_bytes(hashlib.sha256(payload).digest() + payload)
    from handoutkit.content import topic as topic_module

    topic_module._PARSED.clear()  # this process parsed ocd already: read it from the cache
    again = run("build", "ocd", "--format", "html", "-o", tmp_path / "b.html")
    assert again.exit_code == 0
    html = (tmp_path / "b.html").read_text()
    assert "<script>x()" not in html
    assert html == (tmp_path / "a.html").read_text()
    # The same entries signed with the key would be trusted: the key is what protects.
    cache = Cache(cache_dir)
    for entry, original in originals.items():
        entry.write_bytes(original)
        cache.put(entry.name[:-len(".entry")], tampered(entry))
    topic_module._PARSED.clear()
    trusted = run("build", "ocd", "--format", "html", "-o", tmp_path / "c.html")
    # The signed, tampered topic is read as written (its words replaced by markup) ...
    from handoutkit.content.library import Library

    topic_module._PARSED.clear()
    tokens = Library(cache=Cache(cache_dir)).topic("ocd").sections[0].tokens
    assert any(c.type == "html_inline" for t in tokens for c in t.children or [])
    # ... and its crisis block has lost its words, so nothing is written all the same.
    assert trusted.exit_code in (1, 3) and "crisis" in trusted.stderr, trusted.stderr
    assert not (tmp_path / "c.html").exists()
    # The key lives outside the cache folder, readable by its owner only.
    key = key_file()
    assert not key.is_relative_to(cache_dir)
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    # An entry moved under another key is a miss too.
    cache = Cache(cache_dir)
    cache.put("a" * 64, b"payload one")
    os.replace(cache._path("a" * 64), cache._path("b" * 64).parent.mkdir(
        parents=True, exist_ok=True) or cache._path("b" * 64))
    assert cache.get("b" * 64) is None and cache.get("a" * 64) is None


def test_a_cache_without_its_key_is_not_used(tmp_path, monkeypatch):
    from handoutkit.cache import Cache

    blocked = tmp_path / "file"
    blocked.write_text("not a folder")
    cache = Cache(tmp_path / "cache", secret=blocked / "cache.key")
    cache.put("k" * 64, b"data")
    assert cache.get("k" * 64) is None and not (tmp_path / "cache").exists()


# -- 5. one bad row never stops the batch --------------------------------------------------

def bomb_png() -> bytes:
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("1", (20000, 20000)).save(buffer, "PNG")  # 48 KB, 400 million pixels
    return buffer.getvalue()


def test_bad_rows_are_reported_on_their_own_and_the_rest_builds(tmp_path):
    import json

    (tmp_path / "bomb").mkdir()
    (tmp_path / "bomb" / "logo.png").write_bytes(bomb_png())
    (tmp_path / "bomb" / "brand.toml").write_text('name = "Bomb"\nlogo = "logo.png"\n')
    rows = [
        {"output": "nul\u0000.pdf", "topics": "ocd:what-is"},
        {"output": "x" * 300 + ".pdf", "topics": "ocd:what-is"},
        {"output": "bomb.pdf", "topics": "ocd:what-is", "brand": "bomb/brand.toml"},
        {"output": "object.pdf", "topics": "ocd:what-is", "patient": {"name": "x"}},
        {"output": "good.pdf", "topics": "ocd:what-is", "patient": "Good Qz"},
        {"output": "twice.pdf", "topics": "ocd:what-is", "copies": "²"},
    ]
    manifest = tmp_path / "m.jsonl"
    manifest.write_text("\n".join(json.dumps(r) for r in rows) + "\n"
                        + '{"output": "d.pdf", "output": "e.pdf", "topics": "ocd"}\n')
    out = tmp_path / "out"
    result = run("batch", manifest, "--out-dir", out)
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("failed: ")]
    expected = {1: "control character", 2: "file names may have at most 240",
                3: "decompression bomb", 4: "'patient' must be text, not an object",
                6: "'copies' must be a whole number", 7: "column 'output' is given twice"}
    for line, reason in expected.items():
        assert any(f"m.jsonl:{line}: " in e and reason in e for e in errors), (line, errors)
    assert len(errors) == len(expected)
    assert last_line(result) == "1 built, 0 skipped (already current), 6 failed"
    assert "Good Qz" in pdftotext(out / "good.pdf")


def test_a_row_that_fails_while_building_does_not_stop_the_others(tmp_path, monkeypatch):
    import handoutkit.batch.run as batch

    real = batch.make

    def sometimes(library, selections, options, *args, **kwargs):
        if options.personal.patient == "Boom":
            raise RuntimeError("surprise")
        return real(library, selections, options, *args, **kwargs)

    monkeypatch.setattr(batch, "make", sometimes)
    manifest = write_csv(tmp_path / "m.csv", "output,topics,patient",
                         "a.pdf,ocd:what-is,Boom", "b.pdf,ocd:what-is,Fine")
    result = run("batch", manifest, "--out-dir", tmp_path / "out", "--jobs", "1")
    assert result.exit_code == 1
    assert "line 2 (a.pdf): unexpected error (RuntimeError)" in result.stderr
    assert last_line(result).startswith("1 built, 0 skipped (already current), 1 failed")


# -- 6. bombs and wrong types are refused at once ------------------------------------------

def test_a_logo_decompression_bomb_is_refused_in_build_and_lint(tmp_path):
    (tmp_path / "logo.png").write_bytes(bomb_png())
    brand = tmp_path / "brand.toml"
    brand.write_text('name = "Bomb"\nlogo = "logo.png"\n')
    for args in (["build", "ocd:what-is", "--brand", brand, "-o", tmp_path / "x.pdf"],
                 ["lint", "ocd", "--brand", brand]):
        result = run(*args)
        assert result.exit_code == 1 and "decompression bomb" in result.stderr, result.output
        assert result.stderr.count("\n") == 1
    assert not (tmp_path / "x.pdf").exists()


ALIAS_BOMB = "".join(
    ['a0: &a0 ["x","x","x","x","x","x","x","x","x"]\n'] +
    [f"a{i}: &a{i} [*a{i - 1},*a{i - 1},*a{i - 1},*a{i - 1},*a{i - 1},*a{i - 1},*a{i - 1},"
     f"*a{i - 1},*a{i - 1}]\n" for i in range(1, 9)])


def test_a_yaml_alias_bomb_is_refused_in_milliseconds(clinic, tmp_path):
    import time

    text = template_topic("bomb").replace("---\n", "---\n" + ALIAS_BOMB.replace(
        "a8:", "related:"), 1)
    assert len(ALIAS_BOMB) < 2000  # 9**9 strings once expanded
    (clinic / "handouts" / "bomb.en.md").write_text(text)
    started = time.perf_counter()
    result = run("--library", clinic, "build", "bomb", "-o", tmp_path / "x.pdf")
    assert time.perf_counter() - started < 5
    assert result.exit_code == 1
    assert "bomb.en.md:2: the header may not use YAML anchors or aliases" in result.stderr


def test_new_with_a_very_long_id(clinic):
    result = run("--library", clinic, "new", "a" * 300)
    assert result.exit_code == 1 and "at most" in result.stderr
    assert list((clinic / "handouts").iterdir()) == []


@pytest.mark.parametrize("table, message", [
    ("months = []", "'months' must list the 12 month names"),
    ("months = 3", "'months' must list the 12 month names"),
    ("page = 5", "'page' must be text in quotes"),
    ('date_format = "{weekday} {day}"', "may use only {day}, {month} and {year}"),
    ("levels = 1", "'levels' must be a table"),
])
def test_strings_of_the_wrong_type_are_refused(clinic, tmp_path, table, message):
    (clinic / "layouts" / "strings.toml").write_text(f"[en]\n{table}\n")
    result = run("--library", clinic, "build", "ocd:what-is", "-o", tmp_path / "x.pdf")
    assert result.exit_code == 1, result.output
    assert message in result.stderr and "strings.toml: [en]" in result.stderr


def manifest_pdf(tmp_path: Path, payload: bytes, name: str = "evil.pdf") -> Path:
    import pikepdf

    from handoutkit.document.manifest import NAME

    pdf = pikepdf.new()
    pdf.add_blank_page()
    pdf.attachments[NAME] = pikepdf.AttachedFileSpec(pdf, payload, filename=NAME)
    path = tmp_path / name
    pdf.save(path)
    return path


@pytest.mark.parametrize("payload, message", [
    (b'{"topics": "not a list"}', "no list of topics"),
    (b'{"topics": [{"id": 5}]}', "a topic's 'id' is not text"),
    (b'{"topics": [], "archival": "yes"}', "'archival' is not true or false"),
    (b"[" * 10000 + b"]" * 10000, "damaged"),
    (b'{"topics": [' + b"[" * 10000 + b"]" * 10000 + b"]}", "damaged"),
])
def test_inspect_refuses_a_damaged_manifest(tmp_path, payload, message):
    result = run("inspect", manifest_pdf(tmp_path, payload))
    assert result.exit_code == 1 and message in result.stderr
    assert result.stderr.count("\n") == 1


def test_inspect_refuses_a_compression_bomb(tmp_path):
    import time
    import zlib

    import pikepdf

    from handoutkit.document.manifest import NAME

    pdf = pikepdf.new()
    pdf.add_blank_page()
    bomb = zlib.compress(b" " * 300_000_000, 9)  # 300 MB of spaces in 300 KB
    stream = pikepdf.Stream(pdf, bomb)
    stream.Filter = pikepdf.Name.FlateDecode
    stream.Type = pikepdf.Name.EmbeddedFile
    spec = pikepdf.Dictionary(Type=pikepdf.Name.Filespec, F=NAME, UF=NAME,
                              EF=pikepdf.Dictionary(F=stream))
    pdf.Root.Names = pikepdf.Dictionary(EmbeddedFiles=pikepdf.Dictionary(
        Names=pikepdf.Array([pikepdf.String(NAME), pdf.make_indirect(spec)])))
    path = tmp_path / "bomb.pdf"
    pdf.save(path)
    started = time.perf_counter()
    result = run("inspect", path)
    assert time.perf_counter() - started < 10
    assert result.exit_code == 1 and "bomb.pdf" in result.stderr
    assert result.stderr.count("\n") == 1


def test_standard_output_that_is_full(tmp_path):
    import os

    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full")
    with open("/dev/full", "wb") as full:
        done = subprocess.run([sys.executable, "-m", "handoutkit", "build", "ocd:what-is",
                               "-o", "-"], stdout=full, stderr=subprocess.PIPE, text=True)
    assert done.returncode == 4
    assert done.stderr.strip() == ("Error: cannot write to standard output: "
                                   "No space left on device")


# -- 7. a closed pipe ----------------------------------------------------------------------

def test_a_pipe_closed_by_its_reader():
    reader = subprocess.Popen(["true"], stdin=subprocess.PIPE)
    reader.wait()
    done = subprocess.run([sys.executable, "-m", "handoutkit", "build", "ocd", "-o", "-"],
                          stdout=reader.stdin, stderr=subprocess.PIPE, text=True)
    reader.stdin.close()
    assert done.returncode == 4
    assert done.stderr.strip() == "Error: output pipe closed before the PDF was written"


# -- 8. inspect prints no terminal control sequences ---------------------------------------

def test_inspect_escapes_control_sequences(tmp_path):
    import json

    evil = "\x1b]0;owned\x07\x1b[2J\x9b31m\u202e"
    manifest = {"generator": evil, "generated": "now", "layout": "standard", "brand": evil,
                "paper": "letter", "archival": False,
                "topics": [{"id": evil, "title": evil, "lang": "en", "version": "1",
                            "updated": "2026-01-01", "sha256": "0", "sections": [evil]}]}
    path = manifest_pdf(tmp_path, json.dumps(manifest).encode())
    for args in ([], ["--json"]):
        result = run("inspect", path, *args)
        assert result.exit_code == 0
        for char in "\x1b\x07\x9b\u202e":
            assert char not in result.output
        assert "\\x1b" in result.output or "\\u001b" in result.output
    assert json.loads(run("inspect", path, "--json").output)["brand"] == evil


# -- 9. --fhir and -o -----------------------------------------------------------------------

def test_fhir_into_the_pdf_itself_is_refused(tmp_path):
    out = tmp_path / "x.pdf"
    result = run("build", "ocd:what-is", "-o", out, "--fhir", out, "--patient-ref", "Patient/1")
    assert result.exit_code == 2 and "is the PDF's own file" in result.stderr
    assert not out.exists()


def test_fhir_into_a_missing_folder_writes_no_pdf(tmp_path):
    out = tmp_path / "x.pdf"
    result = run("build", "ocd:what-is", "-o", out, "--fhir", tmp_path / "no" / "x.json",
                 "--patient-ref", "Patient/1")
    assert result.exit_code == 4 and "does not exist" in result.stderr
    assert not out.exists()


def test_a_fhir_file_that_fails_after_the_pdf_says_so(tmp_path, monkeypatch):
    import handoutkit.deliver as deliver
    from handoutkit.errors import OutputError

    def fail(*args, **kwargs):
        raise OutputError("cannot write x.json: Disk quota exceeded")

    monkeypatch.setattr(deliver, "write_fhir", fail)
    out = tmp_path / "x.pdf"
    result = run("build", "ocd:what-is", "-o", out, "--fhir", tmp_path / "x.json",
                 "--patient-ref", "Patient/1")
    assert result.exit_code == 4
    assert f"the PDF was written to {out}, but the FHIR file was not" in result.stderr


# -- 10. byte order marks -------------------------------------------------------------------

def test_a_topic_and_a_brand_with_a_byte_order_mark(clinic, tmp_path):
    (clinic / "handouts" / "bom.en.md").write_text("\ufeff" + template_topic("bom"),
                                                  encoding="utf-8")
    brand = clinic / "layouts" / "brand.toml"
    brand.write_text("\ufeff" + 'name = "Bom Clinic"\n', encoding="utf-8")
    out = tmp_path / "bom.pdf"
    result = run("--library", clinic, "build", "bom", "-o", out)
    assert result.exit_code == 0, result.output
    text = pdftotext(out)
    assert "Bom Clinic" in text and "What is bom?" in text
    lint = run("--library", clinic, "lint", "bom", "--json")
    assert "metadata" not in lint.output


# -- 12, 13. manifest columns and brands ----------------------------------------------------

def test_a_column_given_twice_is_refused(tmp_path):
    manifest = write_csv(tmp_path / "m.csv", "output,topics,patient,patient",
                         "a.pdf,ocd,Ann,Bob")
    result = run("batch", manifest, "--out-dir", tmp_path / "out")
    assert result.exit_code == 1
    assert f"{manifest}:1: column 'patient' is given twice" in result.stderr


@pytest.mark.parametrize("brand", ["/etc/handouts/brand.toml", "../brand.toml",
                                   "sub/../../brand.toml", "link/brand.toml"])
def test_a_brand_outside_the_manifest_folder_is_refused(tmp_path, brand):
    (tmp_path / "brand.toml").write_text('name = "Outside"\n')
    (tmp_path / "jobs").mkdir()
    (tmp_path / "jobs" / "link").symlink_to(tmp_path)
    manifest = write_csv(tmp_path / "jobs" / "m.csv", "output,topics,brand",
                         f"a.pdf,ocd:what-is,{brand}", "b.pdf,ocd:what-is,")
    result = run("batch", manifest, "--out-dir", tmp_path / "out")
    assert result.exit_code == 1
    assert "m.csv:2: 'brand' must be a file in the job list's folder" in result.stderr
    assert last_line(result).startswith("1 built")


# -- 15. --out-dir is made when missing ------------------------------------------------------

def test_out_dir_is_made_with_its_parents(tmp_path):
    result = run("build", "ocd:what-is", "--out-dir", tmp_path / "a" / "b")
    assert result.exit_code == 0 and (tmp_path / "a" / "b" / "ocd.pdf").is_file()
    assert "What is OCD?" in pdftotext(tmp_path / "a" / "b" / "ocd.pdf")
    manifest = write_csv(tmp_path / "m.csv", "output,topics", "p.pdf,ocd:what-is")
    result = run("batch", manifest, "--out-dir", tmp_path / "c" / "d")
    assert result.exit_code == 0 and (tmp_path / "c" / "d" / "p.pdf").is_file()
    assert "What is OCD?" in pdftotext(tmp_path / "c" / "d" / "p.pdf")


# -- 18. limits ------------------------------------------------------------------------------

def test_a_topic_over_the_size_limit_is_refused(clinic, tmp_path, monkeypatch):
    path = clinic / "handouts" / "big.en.md"
    path.write_text(template_topic("big") + ("Some words here. " * 10 + "\n\n") * 15000)
    assert path.stat().st_size > 2 * 1024 * 1024
    result = run("--library", clinic, "build", "big", "--format", "html", "-o", "-")
    assert result.exit_code == 1
    assert f"{path}: " in result.stderr and "HANDOUTS_MAX_TOPIC_BYTES" in result.stderr
    monkeypatch.setenv("HANDOUTS_MAX_TOPIC_BYTES", "1000")
    small = clinic / "handouts" / "small.en.md"
    small.write_text(template_topic("small"))
    assert run("--library", clinic, "build", "small", "-o", tmp_path / "s.pdf").exit_code == 1


def test_a_topic_with_too_many_sections_is_refused(clinic):
    sections = "".join(f"## Part {i} {{#part-{i}}}\n\nText.\n\n" for i in range(501))
    (clinic / "handouts" / "many.en.md").write_text(template_topic("many") + sections)
    result = run("--library", clinic, "build", "many", "--format", "html", "-o", "-")
    assert result.exit_code == 1 and "sections, more than the 500" in result.stderr


# -- 16. without libharfbuzz-subset0: one warning, not an error ----------------------------

@pytest.mark.fresh_cache
def test_missing_harfbuzz_subset_is_one_warning(tmp_path, monkeypatch):
    import weasyprint.pdf.fonts

    from handoutkit.pdf import render

    # WeasyPrint then subsets with fontTools and logs a warning for every font.
    monkeypatch.setattr(weasyprint.pdf.fonts, "harfbuzz_subset", None)
    monkeypatch.setattr(render, "_warned", set())
    out = tmp_path / "x.pdf"
    result = run("build", "ocd", "psychotherapy:what-is", "-o", out, "--no-cache", "--jobs", "1")
    assert result.exit_code == 0, result.stderr
    warnings = [line for line in result.stderr.splitlines() if line.startswith("Warning: ")]
    assert warnings == ["Warning: libharfbuzz-subset0 is not installed: fonts are subset with "
                        "fontTools, more slowly (install it with your package manager)"]
    assert "988" in pdftotext(out)


# -- 11. nothing runs off the page ----------------------------------------------------------

def words_beyond_the_margin(pdf: Path, margin: float = 20.0) -> list[str]:
    """Words whose box ends within `margin` points of the page's right edge, or past it
    (the layouts' side margins are 10 mm, 28 pt, or more)."""
    import re

    boxes = pdftotext(pdf, "-bbox")
    width = float(re.search(r'<page width="([\d.]+)"', boxes).group(1))
    return [word for x_max, word in re.findall(r'xMax="([\d.]+)"[^>]*>([^<]*)<', boxes)
            if float(x_max) > width - margin]


@pytest.mark.parametrize("layout", ["standard", "large-print"])
def test_long_words_and_wide_tables_wrap_inside_the_page(clinic, tmp_path, layout):
    word = "Supercalifragilistic" * 14  # 280 characters
    columns = 14
    table = ("| " + " | ".join(f"Column{i}" for i in range(columns)) + " |\n|"
             + "---|" * columns + "\n| "
             + " | ".join(f"value{i}xxxxxxxx" for i in range(columns)) + " |\n")
    (clinic / "handouts" / "wide.en.md").write_text(template_topic("wide", **{
        "Write two or three short sentences.\n":
            f"Word {word} end.\n\n{table}\n\n    {'x' * 250}\n"}))
    out = tmp_path / "wide.pdf"
    result = run("--library", clinic, "build", "wide", "--layout", layout, "-o", out,
                 "--patient", "N" * 300)
    assert result.exit_code == 0, result.output
    assert words_beyond_the_margin(out) == []
    # The text area only (a word may go on over a page: the running header and footer
    # would come between its halves).
    from handoutkit.content.library import Library
    from handoutkit.pdf.pagefill import layout_margins

    top, bottom = layout_margins(Library().layout_dirs, layout)
    area = ["-y", str(int(top)), "-H", str(int(792 - top - bottom)), "-W", "1000"]
    text = "".join(pdftotext(out, *area).split())
    assert word in text and "N" * 300 in text  # wrapped, every letter printed


def test_a_word_too_long_for_any_line_is_refused(clinic):
    path = clinic / "handouts" / "long.en.md"
    path.write_text(template_topic("long", **{"Write two or three short sentences.\n":
                                              "a" * 200_000 + "\n"}))
    result = run("--library", clinic, "build", "long", "--format", "html", "-o", "-")
    assert result.exit_code == 1
    line = path.read_text().splitlines().index("a" * 200_000) + 1
    assert f"{path}:{line}: a word of 200,000 characters (at most 300)" in result.stderr


# -- 14. temporary folders go, whatever stops the run ---------------------------------------

def _start_batch(tmp_path: Path, name: str):
    import csv
    import os
    import signal

    manifest = tmp_path / f"{name}.csv"
    with manifest.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["output", "topics", "patient"])
        for i in range(12):
            writer.writerow([f"{name}{i}.pdf", "psychotherapy ocd insomnia ptsd", f"P{i}"])
    scratch = tmp_path / f"tmp-{name}"
    scratch.mkdir()
    env = {**os.environ, "TMPDIR": str(scratch),
           "HANDOUTS_CACHE_DIR": str(tmp_path / f"cache-{name}")}
    process = subprocess.Popen(
        [sys.executable, "-m", "handoutkit", "batch", str(manifest), "--out-dir",
         str(tmp_path / f"out-{name}"), "--jobs", "2"],
        env=env, stderr=subprocess.PIPE, text=True, start_new_session=True,
        # A shell without job control starts background jobs with Ctrl-C ignored, and the
        # child would inherit that: give it the default a terminal user has.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    return process, scratch, env


def _wait_for_font_folders(scratch: Path, process) -> None:
    import time

    deadline = time.time() + 60
    while time.time() < deadline and process.poll() is None:
        if list(scratch.glob("handouts-*/weasyprint-*")):
            return
        time.sleep(0.02)
    pytest.fail("no WeasyPrint font folder appeared")


@pytest.mark.parametrize("how", ["SIGTERM", "SIGINT"])
def test_temporary_folders_are_removed_after_a_signal(tmp_path, how):
    import os
    import signal

    process, scratch, _ = _start_batch(tmp_path, how.lower())
    _wait_for_font_folders(scratch, process)
    if how == "SIGTERM":
        process.send_signal(signal.SIGTERM)  # `kill PID`: the main process only
    else:
        os.killpg(process.pid, signal.SIGINT)  # Ctrl-C: the whole process group
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == (143 if how == "SIGTERM" else 1), stderr
    assert "Traceback" not in stderr
    assert list(scratch.iterdir()) == []


def test_the_next_run_removes_what_a_killed_run_left(tmp_path):
    import os
    import signal

    process, scratch, env = _start_batch(tmp_path, "kill")
    _wait_for_font_folders(scratch, process)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    left = list(scratch.glob("handouts-*"))
    assert left
    for _ in range(50):  # the killed workers may take a moment to be gone
        done = subprocess.run([sys.executable, "-m", "handoutkit", "build", "ocd:what-is",
                               "-o", str(tmp_path / "next.pdf"), "--no-cache"],
                              env=env, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        if not any(path.exists() for path in left):
            break
    assert not any(path.exists() for path in left)
    assert list(scratch.iterdir()) == []
