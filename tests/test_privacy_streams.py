"""Patient details never reach a stream they were not written for, when a row fails too.

Every way a batch row can fail (a bad topic, a bad section, a bad language, a detail that
must not print, a layout that breaks the safety promise) is run with a patient, a visit
date, a clinician and a note that appear nowhere else; standard output and error, the
batch's journal and state folder, the cache, the FHIR file of the row that succeeded and
every file name are searched for them.
"""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import pytest
from test_hostile_library import CALM

SECRETS = {"patient": "Qzxvq Wyvernz", "visit_date": "2026-11-26", "clinician": "Dr. Pmnbk",
           "note": "Ujklq fbnote"}
WORDS = ("Qzxvq", "Wyvernz", "Pmnbk", "Ujklq", "fbnote")


def rows() -> list[dict]:
    base = {**SECRETS, "layout": "standard"}
    return [
        {**base, "output": "good.pdf", "topics": "calm", "patient_ref": "Patient/1"},
        {**base, "output": "unknown.pdf", "topics": "no-such-topic"},
        {**base, "output": "section.pdf", "topics": "calm:no-such-section"},
        {**base, "output": "lang.pdf", "topics": "calm", "lang": "xx"},
        {**base, "output": "bidi.pdf", "topics": "calm", "patient": "Qzxvq \u202eWyvernz"},
        {**base, "output": "promise.pdf", "topics": "calm", "layout": "hidden"},
    ]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp("privacy")
    library = root / "clinic"
    (library / "handouts").mkdir(parents=True)
    (library / "handouts" / "calm.en.md").write_text(CALM, encoding="utf-8")
    hidden = library / "layouts" / "hidden"
    hidden.mkdir(parents=True)
    (hidden / "layout.html.j2").write_text(
        '{% extends "standard/layout.html.j2" %}\n{% block style %}{{ super() }}\n'
        ".callout-emergency { visibility: hidden }\n{% endblock %}\n", encoding="utf-8")
    jobs = root / "jobs.csv"
    with jobs.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, ["output", "topics", "lang", "layout", "patient",
                                         "visit_date", "clinician", "note", "patient_ref"])
        writer.writeheader()
        writer.writerows(rows())
    out = root / "out"
    cache = root / "cache"
    result = subprocess.run(
        [sys.executable, "-m", "handoutkit", "--library", str(library), "batch", str(jobs),
         "--out-dir", str(out), "--jobs", "2"],
        capture_output=True, text=True, timeout=600,
        env={**__import__("os").environ, "HANDOUTS_CACHE_DIR": str(cache)})
    return result, out, cache


def test_every_failing_row_is_reported_and_the_good_one_built(run):
    result, out, _ = run
    assert result.returncode == 3, result.stderr  # one row broke the safety promise
    failed = [line for line in result.stderr.splitlines() if line.startswith("failed:")]
    assert len(failed) == 5, result.stderr
    for line, output in zip(range(3, 8), ("unknown.pdf", "section.pdf", "lang.pdf", "bidi.pdf",
                                          "promise.pdf")):
        assert any(f":{line}:" in f or f"line {line} " in f for f in failed), (line, failed)
        assert not (out / output).exists()
    assert (out / "good.pdf").exists() and (out / "good.fhir.json").exists()


@pytest.mark.parametrize("stream", ["stdout", "stderr"])
def test_no_patient_detail_on_standard_streams(run, stream):
    text = getattr(run[0], stream)
    for word in WORDS:
        assert word not in text, (stream, word)


def every_file(folder: Path):
    for path in folder.rglob("*"):
        yield path
        if path.is_file():
            yield path.read_bytes()


def test_no_patient_detail_in_state_cache_or_names(run):
    _, out, cache = run
    for folder in (out / ".handouts", cache):
        for item in every_file(folder):
            blob = item if isinstance(item, bytes) else str(item).encode()
            for word in WORDS:
                assert word.encode() not in blob, (folder, word)
    for path in out.rglob("*"):
        for word in WORDS:
            assert word not in path.name


def test_the_fhir_file_carries_no_personal_text(run):
    _, out, _ = run
    fhir = (out / "good.fhir.json").read_text(encoding="utf-8")
    for word in WORDS:
        assert word not in fhir
