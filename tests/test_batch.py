"""Batch: checked job lists, per-row errors, resumable runs, shards, privacy, printing."""

import csv
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import ROOT, page_texts
from pypdf import PdfReader

from handoutkit.batch.joblist import check
from handoutkit.batch.run import parse_shard, shard
from handoutkit.cli import main
from handoutkit.content.library import Library

# Builds PDFs end to end, or starts servers, browsers or installs: a slow module
# (`pytest -m "not slow"` leaves it out).
pytestmark = pytest.mark.slow

TOPICS = ["psychotherapy", "ocd:what-is,treatment", "insomnia", "ptsd:what-is", "panic-disorder"]


def listing(out: Path) -> list[str]:
    """The files of an output folder, without the batch's own state folder (.handouts)."""
    return sorted(p.name for p in out.iterdir() if p.name != ".handouts")


def write_job_list(path: Path, rows: list[dict]) -> Path:
    columns = ["output", "topics", "patient", "visit_date", "clinician", "note", "duplex", "lang"]
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, columns)
        writer.writeheader()
        for row in rows:
            writer.writerow(row)
    return path


def forty_rows() -> list[dict]:
    rows = []
    for i in range(40):
        topics = " ".join(TOPICS[j % len(TOPICS)] for j in range(i % 3, i % 3 + 2))
        rows.append({"output": f"p{i:02d}.pdf", "topics": topics, "patient": f"Patient{i:02d} Zq",
                     "visit_date": "2026-11-26", "clinician": "Dr. Lee",
                     "note": "Bring your list." if i % 4 == 0 else "",
                     "duplex": "yes" if i % 5 == 0 else "no"})
    rows[3]["topics"] = "no-such-topic"
    rows[11]["output"] = "../escape.pdf"
    rows[17]["topics"] = "ptsd:no-section"
    rows[25]["duplex"] = "sometimes"
    rows[33]["output"] = "p00.pdf"  # a duplicate output name
    return rows


def run_batch(job_list, out_dir, *args, env=None):
    return CliRunner().invoke(main, ["batch", str(job_list), "--out-dir", str(out_dir), *args],
                              env=env)


def test_forty_rows_with_bad_rows(tmp_path):
    job_list = write_job_list(tmp_path / "m.csv", forty_rows())
    out = tmp_path / "out"
    out.mkdir()
    result = run_batch(job_list, out, "--jobs", "2")
    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    for line, reason in ((5, "unknown topic 'no-such-topic'"),
                         (13, "'output' must be a plain file name, not '../escape.pdf'"),
                         (19, "topic 'ptsd' (en) has no section 'no-section'"),
                         (27, "'duplex' must be true or false, not 'sometimes'"),
                         (35, "'output' p00.pdf is also on line 2")):
        assert any(f"m.csv:{line}: {reason}" in text for text in lines), (line, reason)
    assert lines[-1] == "35 built, 0 skipped (already current), 5 failed"
    built = listing(out)
    assert len(built) == 35 and "p03.pdf" not in built and not (tmp_path / "escape.pdf").exists()
    # Each packet names its own patient only, on the cover.
    for i in (0, 1, 2, 10, 39):
        pages = page_texts(out / f"p{i:02d}.pdf")
        assert f"Patient{i:02d} Zq" in pages[0]
        assert all("Zq" not in page for page in pages[1:])
        reader = PdfReader(out / f"p{i:02d}.pdf")
        if i % 5 == 0:
            assert len(reader.pages) % 2 == 0


def test_rerun_skips_current_outputs_and_rebuilds_changed_ones(tmp_path, make_library):
    text = (Library().bundled / "handouts" / "insomnia.en.md").read_text()
    root = make_library({"handouts/insomnia.en.md": text})
    job_list = write_job_list(tmp_path / "m.csv", [
        {"output": "a.pdf", "topics": "insomnia ocd", "patient": "A"},
        {"output": "b.pdf", "topics": "ocd suicide-prevention:what-is", "patient": "B"}])
    out = tmp_path / "out"
    out.mkdir()
    runner = CliRunner()
    base = ["--library", str(root), "batch", str(job_list), "--out-dir", str(out)]
    assert runner.invoke(main, base).exit_code == 0
    again = runner.invoke(main, base)
    assert again.exit_code == 0 and again.stderr.splitlines()[-1].startswith("0 built, 2 skipped")
    # A changed topic makes the packets that hold it out of date.
    (root / "handouts" / "insomnia.en.md").write_text(
        re.sub(r'version: "[\d.]+"', 'version: "9.9"', text))
    third = runner.invoke(main, base)
    assert third.stderr.splitlines()[-1].startswith("1 built, 1 skipped")
    # A truncated output is not complete: it is built again.
    (out / "b.pdf").write_bytes((out / "b.pdf").read_bytes()[:5000])
    fourth = runner.invoke(main, base)
    assert fourth.stderr.splitlines()[-1].startswith("1 built, 1 skipped")


def test_killed_run_loses_nothing_and_resumes(tmp_path):
    rows = [{"output": f"k{i:02d}.pdf", "topics": "psychotherapy ocd insomnia", "patient": f"K{i}"}
            for i in range(16)]
    job_list = write_job_list(tmp_path / "m.csv", rows)
    out = tmp_path / "out"
    out.mkdir()
    env = {**os.environ, "HANDOUTS_CACHE_DIR": str(tmp_path / "cache")}
    command = [sys.executable, "-m", "handoutkit", "batch", str(job_list), "--out-dir", str(out),
               "--jobs", "2"]
    process = subprocess.Popen(command, env=env, stderr=subprocess.PIPE, start_new_session=True)
    deadline = time.time() + 120
    while time.time() < deadline and len(list(out.glob("k*.pdf"))) < 3:
        time.sleep(0.05)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    finished = sorted(out.glob("k*.pdf"))
    assert 0 < len(finished) < 16, "the run should have been stopped midway"
    for path in finished:  # nothing partial under a final name
        assert len(PdfReader(path).pages) > 3
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    summary = result.stderr.strip().splitlines()[-1]
    skipped = int(summary.split(" skipped")[0].split(", ")[1])
    assert skipped >= len(finished)
    assert listing(out) == [f"k{i:02d}.pdf" for i in range(16)]


def test_stale_temporary_files_are_removed(tmp_path):
    import socket

    job_list = write_job_list(tmp_path / "m.csv",
                              [{"output": "a.pdf", "topics": "ocd:what-is", "patient": "A"}])
    out = tmp_path / "out"
    out.mkdir()
    dead = subprocess.Popen(["true"])
    dead.wait()
    host = socket.gethostname()
    # Left by a dead writer on this host: removed at once.
    (out / f".handouts-{host}-{dead.pid}-abc123.tmp").write_bytes(b"%PDF- partial, a patient name")
    # Another host's, an hour old: removed. Another host's, fresh: a shard at work, kept.
    old = out / ".handouts-otherhost-12-old000.tmp"
    old.write_bytes(b"%PDF- partial")
    os.utime(old, (time.time() - 7200, time.time() - 7200))
    (out / ".handouts-otherhost-13-new000.tmp").write_bytes(b"%PDF- in progress")
    # This host, a live writer (this test process): kept.
    (out / f".handouts-{host}-{os.getpid()}-live00.tmp").write_bytes(b"%PDF- in progress")
    assert run_batch(job_list, out).exit_code == 0
    assert listing(out) == sorted([
        "a.pdf", ".handouts-otherhost-13-new000.tmp", f".handouts-{host}-{os.getpid()}-live00.tmp"])


def test_shards_partition_the_rows(tmp_path, test_library):
    rows = [{"output": f"s{i:02d}.pdf", "topics": "ocd:what-is", "patient": "S"} for i in range(30)]
    job_list = write_job_list(tmp_path / "m.csv", rows)
    good, bad = check(Library(), job_list)
    assert not bad
    shards = [shard(good, i, 4) for i in range(1, 5)]
    names = [row.output for part in shards for row in part]
    assert sorted(names) == sorted(r["output"] for r in rows)  # every row, once
    assert all(part for part in shards)
    # Stable: the same rows in another order land in the same shards.
    reversed_job_list = write_job_list(tmp_path / "r.csv", list(reversed(rows)))
    again, _ = check(Library(), reversed_job_list)
    assert [sorted(r.output for r in shard(again, i, 4)) for i in range(1, 5)] == \
        [sorted(r.output for r in part) for part in shards]
    # Built shard by shard, the outputs are exactly the unsharded set.
    out = tmp_path / "out"
    out.mkdir()
    small = write_job_list(tmp_path / "small.csv", rows[:6])
    for i in (1, 2, 3):
        assert run_batch(small, out, "--shard", f"{i}/3").exit_code == 0
    assert listing(out) == [f"s{i:02d}.pdf" for i in range(6)]


@pytest.mark.parametrize("text, message", [("0/3", "from 1 to 3"), ("x", "must look like 2/4"),
                                           ("4/3", "from 1 to 3")])
def test_bad_shard(text, message):
    from handoutkit.errors import HandoutsError

    with pytest.raises(HandoutsError, match=message):
        parse_shard(text)


def test_json_lines_job_list_and_fhir_column(tmp_path):
    job_list = tmp_path / "m.jsonl"
    job_list.write_text(
        json.dumps({"output": "j.pdf", "topics": ["ocd:what-is", "ptsd:what-is"],
                    "patient": "Jo", "patient_ref": "Patient/7", "encounter_ref": "Encounter/8"})
        + "\n" + "{not json\n")
    out = tmp_path / "out"
    out.mkdir()
    result = run_batch(job_list, out)
    assert result.exit_code == 1
    assert "m.jsonl:2: not valid JSON" in result.stderr
    fhir = json.loads((out / "j.fhir.json").read_text())
    assert fhir["subject"]["reference"] == "Patient/7"
    assert fhir["context"]["encounter"][0]["reference"] == "Encounter/8"


def test_example_job_list_is_valid_and_shows_every_column():
    from handoutkit.options import JOB_COLUMNS

    path = ROOT / "examples" / "jobs.csv"
    good, bad = check(Library(), path)
    assert not bad and len(good) == 3
    assert path.read_text().splitlines()[0].split(",") == list(JOB_COLUMNS)
    assert good[2].options.brand == path.parent / "north-clinic.toml"
    assert good[0].author_ref == "Practitioner/77"
    assert [s.topic.id for s in good[0].selections] == ["psychotherapy", "depression-adults"]


@pytest.mark.parametrize("content, message", [
    ("name,topics\nx.pdf,ocd\n", "the header must name an 'output' column"),
    ("output,topics,colour\nx.pdf,ocd,red\n", "unknown column 'colour'"),
])
def test_bad_job_list_header(tmp_path, content, message):
    job_list = tmp_path / "m.csv"
    job_list.write_text(content)
    out = tmp_path / "out"
    out.mkdir()
    result = run_batch(job_list, out)
    assert result.exit_code == 1 and message in result.stderr
    assert run_batch(tmp_path / "missing.csv", out).exit_code == 1


def test_patient_details_stay_out_of_cache_and_logs(tmp_path):
    job_list = write_job_list(tmp_path / "m.csv", [
        {"output": "x.pdf", "topics": "ocd:what-is panic-disorder:what-is",
         "patient": "Qzxv Wyvern", "note": "Ujkl note", "clinician": "Dr. Pmnb"}])
    out = tmp_path / "out"
    out.mkdir()
    cache_dir = tmp_path / "cache"
    result = run_batch(job_list, out, env={"HANDOUTS_CACHE_DIR": str(cache_dir)})
    assert result.exit_code == 0
    for secret in ("Qzxv", "Wyvern", "Ujkl", "Pmnb"):
        assert secret not in result.output and secret not in result.stderr
    for entry in cache_dir.rglob("*"):
        if entry.is_file():
            data = entry.read_bytes()
            assert b"Qzxv" not in data
    import io
    for entry in cache_dir.rglob("*.entry"):
        payload = entry.read_bytes()[32:]
        if payload.startswith(b"%PDF"):
            text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(payload)).pages)
            assert "Qzxv" not in text and "Ujkl" not in text
    assert listing(out) == ["x.pdf"]


def test_batch_without_cache(tmp_path):
    job_list = write_job_list(tmp_path / "m.csv", [
        {"output": f"n{i}.pdf", "topics": "ocd:what-is ptsd:what-is", "patient": "N"}
        for i in range(3)])
    out = tmp_path / "out"
    out.mkdir()
    cache_dir = tmp_path / "cache"
    result = run_batch(job_list, out, "--no-cache", "--jobs", "2",
                       env={"HANDOUTS_CACHE_DIR": str(cache_dir)})
    assert result.exit_code == 0, result.stderr
    assert listing(out) == ["n0.pdf", "n1.pdf", "n2.pdf"]
    for name in listing(out):
        pages = page_texts(out / name)
        assert "Prepared for: N" in pages[0] and "What is OCD?" in "".join(pages)
    # Nothing was cached: no entry, not even the folder.
    assert not cache_dir.exists() or not [p for p in cache_dir.rglob("*") if p.is_file()]


def test_nothing_left_in_the_temporary_folder(tmp_path):
    # A separate process with its own TMPDIR: the run (WeasyPrint's font folders in every
    # worker, the writer's temporary files) leaves nothing there, patient details least.
    job_list = write_job_list(tmp_path / "m.csv", [
        {"output": f"r{i}.pdf", "topics": "ocd:what-is insomnia", "patient": "Qzxv Wyvern",
         "note": "Ujkl note", "clinician": "Dr. Pmnb"} for i in range(3)])
    out, temp = tmp_path / "out", tmp_path / "tmp"
    out.mkdir()
    temp.mkdir()
    env = {**os.environ, "TMPDIR": str(temp), "HANDOUTS_CACHE_DIR": str(tmp_path / "cache")}
    result = subprocess.run([sys.executable, "-m", "handoutkit", "batch", str(job_list),
                             "--out-dir", str(out), "--jobs", "2"],
                            env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert listing(out) == ["r0.pdf", "r1.pdf", "r2.pdf"]
    assert list(temp.rglob("*")) == []
