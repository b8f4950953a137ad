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
    manifest = write_csv(tmp_path / "m.csv", "output,topics,patient_ref", "a.pdf,ocd:what-is,Patient/1")
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
    run("build", "ocd", "--format", "html", "-o", tmp_path / "c.html")
    assert "<script>x()" in (tmp_path / "c.html").read_text()
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
