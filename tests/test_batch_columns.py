"""Every column of a job list, end to end: the PDF each row gets and the `lp` command it
prints with (a recording stand-in for `lp` on PATH, so this runs without CUPS); the
progress bar on a terminal and one line per row otherwise."""

from __future__ import annotations

import csv
import json
import os
import pty
import re
import select
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import page_texts
from pypdf import PdfReader

from handoutkit.cli import main

FAKE_LP = """#!{python}
import json, os, sys
with open(os.environ["FAKE_LP_LOG"], "a") as log:
    log.write(json.dumps(sys.argv[1:]) + "\\n")
print("request id is fake-1 (1 file(s))")
"""

LOGO = ('<svg xmlns="http://www.w3.org/2000/svg" width="160" height="30">'
        '<text x="2" y="20" font-size="14">NORTHLOGO</text></svg>')
BRAND = 'name = "North Street Clinic"\ncolor = "#7a1f5c"\nlogo = "north.svg"\n'

COLUMNS = ["output", "topics", "lang", "layout", "paper", "brand", "patient", "duplex",
           "archival", "copies", "printer"]
ROWS = [
    # output, topics, lang, layout, paper, brand, patient, duplex, archival, copies, printer
    ["plain.pdf", "ocd:what-is", "", "", "", "", "Pat Plain", "", "", "", ""],
    ["spanish.pdf", "psychotherapy:what-is", "es", "", "", "", "Pat Es", "", "", "", ""],
    ["large.pdf", "ocd:what-is", "", "large-print", "", "", "Pat Large", "", "", "", ""],
    ["a4.pdf", "ocd:what-is", "", "", "a4", "", "Pat Afour", "", "", "", ""],
    ["brand.pdf", "ocd:what-is", "", "", "", "brands/north.toml", "Pat Brand", "", "", "", ""],
    ["archival.pdf", "ocd:what-is", "", "", "", "", "Pat Arch", "", "yes", "", ""],
    ["duplex.pdf", "ocd:what-is insomnia:what-is", "", "", "", "", "Pat Duplex", "yes", "",
     "3", "front-desk"],
    ["once.pdf", "ocd:what-is", "", "", "", "", "Pat Once", "no", "", "", "back-office"],
]


@pytest.fixture(scope="module")
def batch_run(tmp_path_factory):
    """One batch of every kind of row, printed through the fake lp."""
    folder = tmp_path_factory.mktemp("jobs")
    (folder / "brands").mkdir()
    (folder / "brands" / "north.toml").write_text(BRAND)
    (folder / "brands" / "north.svg").write_text(LOGO)
    job_list = folder / "jobs.csv"
    with job_list.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(COLUMNS)
        writer.writerows(ROWS)
    bin_dir = folder / "bin"
    bin_dir.mkdir()
    lp = bin_dir / "lp"
    lp.write_text(FAKE_LP.format(python=sys.executable))
    lp.chmod(0o755)
    log = folder / "lp.log"
    out = folder / "out"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
        patch.setenv("FAKE_LP_LOG", str(log))
        patch.setenv("SOURCE_DATE_EPOCH", "1795651200")
        patch.setenv("HANDOUTS_CACHE_DIR", str(folder / "cache"))
        patch.setenv("HANDOUTS_CACHE_KEY_FILE", str(folder / "cache.key"))
        patch.delenv("HANDOUTS_LIBRARY", raising=False)
        result = CliRunner().invoke(main, ["batch", str(job_list), "--out-dir", str(out),
                                           "--jobs", "2"])
    calls = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    return result, out, calls


def test_every_row_is_built(batch_run):
    result, out, _ = batch_run
    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines()[-1] == "8 built, 0 skipped (already current), 0 failed"
    assert sorted(p.name for p in out.glob("*.pdf")) == sorted(row[0] for row in ROWS)
    for row in ROWS:  # each packet's cover names its own patient
        assert row[6] in page_texts(out / row[0])[0]


def test_lang_column(batch_run):
    _, out, _ = batch_run
    text = "".join(page_texts(out / "spanish.pdf"))
    assert "Psicoterapia" in text and "Impreso" in text and "Printed" not in text
    assert PdfReader(out / "spanish.pdf").trailer["/Root"]["/Lang"] == "es"


def test_layout_column(batch_run):
    _, out, _ = batch_run
    # The same section in 18 pt type takes more pages than in the standard layout.
    assert len(PdfReader(out / "large.pdf").pages) > len(PdfReader(out / "plain.pdf").pages)


def size(path: Path) -> tuple[int, int]:
    box = PdfReader(path).pages[0].mediabox
    return round(float(box.width)), round(float(box.height))


def test_paper_column(batch_run):
    _, out, _ = batch_run
    assert size(out / "a4.pdf") == (595, 842)
    assert size(out / "plain.pdf") == (612, 792)


def test_relative_brand_column(batch_run):
    _, out, _ = batch_run
    text = "".join(page_texts(out / "brand.pdf"))
    assert "North Street Clinic" in text and "NORTHLOGO" in text
    assert "Riverside" not in text
    assert "North Street" not in "".join(page_texts(out / "plain.pdf"))
    # The brand's colour reaches the page (headings and rules): 7a1f5c as RGB fractions.
    pdf = PdfReader(out / "brand.pdf")
    content = b"".join(page.get_contents().get_data() for page in pdf.pages)
    assert re.search(rb"0\.478\d* 0\.121\d* 0\.360\d* (rg|RG)", content)


def test_archival_column(batch_run):
    _, out, _ = batch_run
    xmp = PdfReader(out / "archival.pdf").trailer["/Root"]["/Metadata"].get_object()
    xmp = xmp.get_data().decode()
    assert re.search(r'pdfaid:part="3"', xmp) and re.search(r'pdfaid:conformance="A"', xmp)
    plain = PdfReader(out / "plain.pdf").trailer["/Root"]
    if "/Metadata" in plain:
        assert "pdfaid" not in plain["/Metadata"].get_object().get_data().decode()


def test_duplex_column(batch_run):
    _, out, _ = batch_run
    pages = page_texts(out / "duplex.pdf")
    plain = page_texts(out / "plain.pdf")
    # The cover's back is blank but for saying so and its page number; each topic starts
    # on a right-hand (odd) page, and the contents say so.
    assert len(pages) % 2 == 0
    assert pages[1].split() == ["This", "page", "is", "intentionally", "blank",
                                "Page", "2", "of", str(len(pages))]
    starts = [i + 1 for i, page in enumerate(pages) if "THE BASICS" in page]
    assert len(starts) == 2 and all(start % 2 == 1 for start in starts)
    assert f"Page {starts[0]}" in pages[0] and f"Page {starts[1]}" in pages[0]
    assert "Page 2 of" in plain[1] and "THE BASICS" in plain[1]  # no blank page without


def test_printer_copies_and_duplex_reach_lp(batch_run):
    _, out, calls = batch_run
    by_file = {Path(call[-1]).name: call for call in calls}
    assert sorted(by_file) == ["duplex.pdf", "once.pdf"]
    assert by_file["duplex.pdf"][:-1] == ["-d", "front-desk", "-n", "3", "-o",
                                          "sides=two-sided-long-edge", "--"]
    assert by_file["once.pdf"][:-1] == ["-d", "back-office", "-n", "1", "--"]
    assert Path(by_file["duplex.pdf"][-1]) == out / "duplex.pdf"


def small_job_list(folder: Path) -> Path:
    job_list = folder / "small.csv"
    job_list.write_text("output,topics,patient\nx.pdf,ocd:what-is,X\ny.pdf,ocd:what-is,Y\n")
    return job_list


def test_one_line_per_row_when_not_a_terminal(tmp_path):
    result = CliRunner().invoke(main, ["batch", str(small_job_list(tmp_path)), "--out-dir",
                                       str(tmp_path / "out"), "--jobs", "1"])
    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines() == ["[1/2] built x.pdf", "[2/2] built y.pdf",
                                          "2 built, 0 skipped (already current), 0 failed"]


def test_progress_bar_on_a_terminal(tmp_path):
    """Standard error on a pseudo-terminal: a progress bar, not one line per row."""
    job_list = small_job_list(tmp_path)
    leader, follower = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "handoutkit", "batch", str(job_list), "--out-dir",
         str(tmp_path / "out"), "--jobs", "1"],
        stdin=subprocess.DEVNULL, stdout=follower, stderr=follower, env=os.environ.copy())
    os.close(follower)
    chunks = []
    while True:
        ready, _, _ = select.select([leader], [], [], 120)
        if not ready:
            break
        try:
            data = os.read(leader, 4096)
        except OSError:  # EIO: the other end closed
            break
        if not data:
            break
        chunks.append(data)
    os.close(leader)
    assert process.wait(timeout=120) == 0
    shown = b"".join(chunks).decode("utf-8", "replace")
    assert "Building" in shown and "100%" in shown
    assert "[1/2]" not in shown
    assert "2 built, 0 skipped (already current), 0 failed" in shown
