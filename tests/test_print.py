"""Printing through a real CUPS server with the cups-pdf virtual printer.

The fixture starts cupsd when it is not running (CI installs cups and cups-pdf) and adds a
PDF printer; cups-pdf writes each printed job to ~/PDF.
"""

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from pypdf import PdfReader

from handoutkit.cli import main

# Builds PDFs end to end, or starts servers, browsers or installs: a slow module
# (`pytest -m "not slow"` leaves it out).
# One CUPS scheduler and one ~/PDF folder: these tests run in one pytest-xdist worker.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("cups")]

# One printer per test run, so that runs side by side never remove each other's.
PRINTER = f"HandoutsTestPDF{os.getpid()}"
CUPS_PDF_BACKEND = Path("/usr/lib/cups/backend/cups-pdf")


def _scheduler_running() -> bool:
    result = subprocess.run(["lpstat", "-r"], capture_output=True, text=True)
    return "is running" in result.stdout and "not" not in result.stdout


@pytest.fixture(scope="module")
def printer():
    if not (shutil.which("cupsd") and shutil.which("lpadmin") and CUPS_PDF_BACKEND.exists()):
        pytest.skip("CUPS and cups-pdf are not installed (.ci/run installs them)")
    started = False
    if not _scheduler_running():
        subprocess.run(["cupsd"], check=True)
        started = True
        for _ in range(50):
            if _scheduler_running():
                break
            time.sleep(0.1)
    subprocess.run(["lpadmin", "-p", PRINTER, "-E", "-v", "cups-pdf:/", "-m",
                    "lsb/usr/cups-pdf/CUPS-PDF_opt.ppd"], check=True, capture_output=True)
    yield PRINTER, Path.home() / "PDF"
    subprocess.run(["lpadmin", "-x", PRINTER], capture_output=True)
    if started:
        subprocess.run(["pkill", "-x", "cupsd"], capture_output=True)


def wait_for_new_pdf(folder: Path, before: set, timeout: float = 60) -> Path:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if folder.is_dir():
            # ~/PDF is shared with other test runs on this machine: a file that vanishes
            # was another run's, which removed it; look again.
            for path in [p for p in folder.glob("*.pdf") if p not in before]:
                try:
                    size = -1
                    # Wait until cups-pdf has finished: the size holds and the file is whole.
                    while (path.stat().st_size != size
                           or b"%%EOF" not in path.read_bytes()[-1024:]):
                        size = path.stat().st_size
                        time.sleep(0.3)
                        if time.time() > deadline:
                            break
                    return path
                except FileNotFoundError:
                    before = before | {path}
        time.sleep(0.2)
    raise AssertionError(f"no printed PDF appeared in {folder}")


def existing(folder: Path) -> set:
    return set(folder.glob("*.pdf")) if folder.is_dir() else set()


def test_print_command_sends_the_pdf_to_cups(printer, tmp_path):
    name, output_dir = printer
    source = tmp_path / "handout.pdf"
    assert CliRunner().invoke(main, ["build", "ocd:what-is", "-o", str(source)]).exit_code == 0
    before = existing(output_dir)
    result = CliRunner().invoke(main, ["print", str(source), "--printer", name, "--copies", "1"])
    assert result.exit_code == 0, result.stderr
    assert f"sent {source} to {name}" in result.stderr
    printed = wait_for_new_pdf(output_dir, before)
    assert len(PdfReader(printed).pages) == len(PdfReader(source).pages)
    printed.unlink()


def test_batch_prints_rows_with_a_printer(printer, tmp_path):
    name, output_dir = printer
    job_list = tmp_path / "m.csv"
    job_list.write_text("output,topics,patient,printer,copies\n"
                        f"row.pdf,ocd:what-is ptsd:what-is,A,{name},1\n")
    out = tmp_path / "out"
    out.mkdir()
    before = existing(output_dir)
    result = CliRunner().invoke(main, ["batch", str(job_list), "--out-dir", str(out)])
    assert result.exit_code == 0, result.stderr
    printed = wait_for_new_pdf(output_dir, before)
    assert len(PdfReader(printed).pages) == len(PdfReader(out / "row.pdf").pages)
    printed.unlink()


def test_unknown_printer_is_reported_per_file(printer, tmp_path):
    source = tmp_path / "a.pdf"
    assert CliRunner().invoke(main, ["build", "ocd:what-is", "-o", str(source)]).exit_code == 0
    result = CliRunner().invoke(main, ["print", str(source), "--printer", "NoSuchPrinter"])
    assert result.exit_code == 4
    assert f"Error: cannot print {source} on 'NoSuchPrinter': " in result.stderr


def test_no_cups_server(tmp_path, monkeypatch):
    if not shutil.which("lp"):
        pytest.skip("lp is not installed")
    source = tmp_path / "a.pdf"
    source.write_bytes(b"%PDF-1.7\n%%EOF\n")
    monkeypatch.setenv("CUPS_SERVER", str(tmp_path / "no-such-socket"))
    result = CliRunner().invoke(main, ["print", str(source), "--printer", "Any"])
    assert result.exit_code == 4
    assert f"Error: cannot print {source} on 'Any': " in result.stderr


def test_lp_missing(tmp_path, monkeypatch):
    source = tmp_path / "a.pdf"
    source.write_bytes(b"%PDF-1.7\n%%EOF\n")
    monkeypatch.setenv("PATH", str(tmp_path))
    result = CliRunner().invoke(main, ["print", str(source), "--printer", "Any"])
    assert result.exit_code == 4
    assert "the 'lp' command was not found" in result.stderr


@pytest.fixture
def fake_lp(tmp_path, monkeypatch):
    """A stand-in for `lp` on PATH that records its arguments (no CUPS needed)."""
    import json
    import sys

    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "lp.log"
    lp = bin_dir / "lp"
    lp.write_text(f"#!{sys.executable}\nimport json, sys\n"
                  f"open({str(log)!r}, 'a').write(json.dumps(sys.argv[1:]) + '\\n')\n")
    lp.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    return lambda: [json.loads(line) for line in log.read_text().splitlines()]


@pytest.mark.parametrize("options, expected", [
    ([], ["-n", "1"]),
    (["--copies", "3"], ["-n", "3"]),
    (["--duplex"], ["-n", "1", "-o", "sides=two-sided-long-edge"]),
    (["--copies", "2", "--duplex"], ["-n", "2", "-o", "sides=two-sided-long-edge"]),
])
def test_copies_and_duplex_reach_lp(fake_lp, tmp_path, options, expected):
    a, b = tmp_path / "a.pdf", tmp_path / "b.pdf"
    for path in (a, b):
        path.write_bytes(b"%PDF-1.7\n%%EOF\n")
    result = CliRunner().invoke(main, ["print", str(a), str(b), "--printer", "Desk", *options])
    assert result.exit_code == 0, result.output
    assert fake_lp() == [["-d", "Desk", *expected, "--", str(a)],
                         ["-d", "Desk", *expected, "--", str(b)]]
    assert result.stderr.splitlines() == [f"sent {a} to Desk", f"sent {b} to Desk"]


def test_copies_must_be_positive(fake_lp, tmp_path):
    source = tmp_path / "a.pdf"
    source.write_bytes(b"%PDF-1.7\n%%EOF\n")
    result = CliRunner().invoke(main, ["print", str(source), "--printer", "Desk", "--copies", "0"])
    assert result.exit_code == 2 and "--copies" in result.stderr
