"""Personal details on covers are text, never markup: escaped, printed literally, and
nothing they name is ever fetched (packets, single handouts with a patient, batch rows).

Every render here runs in this process (one job), so a recording stand-in for
Sandbox.read sees every URL WeasyPrint asks for.
"""

from __future__ import annotations

import csv
import re

import pytest
from click.testing import CliRunner
from conftest import TEST_LIBRARY, page_texts

from handoutkit.build import BuildOptions, make, selections_for
from handoutkit.cache import Cache
from handoutkit.cli import main
from handoutkit.content.library import Library
from handoutkit.options import Personal
from handoutkit.pdf.sandbox import Sandbox

# Each field carries markup that, if it reached the HTML unescaped, would be an element
# WeasyPrint acts on: a picture it fetches, a stylesheet link, an inline style, bold text.
MARKER = "zz-planted"
PERSONAL = Personal(
    patient=f'<img src="{MARKER}-patient.png">Ana',
    visit_date=f'<link rel="stylesheet" href="{MARKER}-date.css">2026-11-26',
    clinician=f'<b>Dr.</b> <img src="file:///etc/{MARKER}-clinician.png">Lee',
    note=f'<style>@import "{MARKER}-note.css";</style>Wash & dry <i>well</i>.',
)


@pytest.fixture
def fetched(monkeypatch) -> list[str]:
    """Every URL the renderer asks the sandbox for, in this process."""
    urls: list[str] = []
    real = Sandbox.read

    def recording(self, url):
        urls.append(url)
        return real(self, url)

    monkeypatch.setattr(Sandbox, "read", recording)
    return urls


def flat(text: str) -> str:
    """pdftotext's text without whitespace (long lines wrap, even inside `</i>`)."""
    return re.sub(r"\s+", "", text)


def check_cover(pages: list[str], fetched: list[str], personal: Personal = PERSONAL) -> None:
    cover = flat(pages[0])
    for value in filter(None, (personal.patient, personal.visit_date, personal.clinician,
                               personal.note)):
        assert flat(value) in cover, f"{value!r} is not printed literally on the cover"
    for page in pages[1:]:
        assert "Ana" not in page and MARKER not in page
    assert fetched, "the recording fetcher saw nothing: the test does not watch the renderer"
    assert not [url for url in fetched if MARKER in url], "a personal detail was fetched"


def test_packet_cover_prints_personal_markup_literally_and_fetches_nothing(tmp_path, fetched):
    """Probe: `{{ personal.patient|safe }}` in layouts/_base/page.html.j2 (the patient's
    name no longer escaped) made the renderer fetch the <img> in the name; this fails."""
    library = Library(TEST_LIBRARY)
    selections = selections_for(library, ["hand-washing", "psychotherapy:what-is"], None)
    built = make(library, selections, BuildOptions(jobs=1, personal=PERSONAL),
                 Cache(tmp_path / "cache"))
    out = tmp_path / "packet.pdf"
    out.write_bytes(built.data)
    check_cover(page_texts(out), fetched)


def test_single_handout_with_a_patient_escapes_too(tmp_path, fetched):
    """A single handout with personal details gets a cover of its own: the same rule."""
    out = tmp_path / "one.pdf"
    result = CliRunner().invoke(main, [
        "--library", str(TEST_LIBRARY), "build", "hand-washing", "--jobs", "1", "-o", str(out),
        "--patient", PERSONAL.patient, "--visit-date", PERSONAL.visit_date,
        "--clinician", PERSONAL.clinician, "--note", PERSONAL.note])
    assert result.exit_code == 0, result.output
    check_cover(page_texts(out), fetched)


def test_archival_cover_escapes_too(tmp_path, fetched):
    """Archival packets are laid out whole (not merged from parts): the same rule."""
    out = tmp_path / "a.pdf"
    result = CliRunner().invoke(main, [
        "--library", str(TEST_LIBRARY), "build", "hand-washing", "--archival", "--jobs", "1",
        "-o", str(out), "--patient", PERSONAL.patient, "--note", PERSONAL.note])
    assert result.exit_code == 0, result.output
    check_cover(page_texts(out), fetched,
                Personal(patient=PERSONAL.patient, note=PERSONAL.note))


def test_batch_row_cover_escapes_every_column(tmp_path, fetched):
    """Probe: the patient's name unescaped (as above) also fails this batch row."""
    job_list = tmp_path / "jobs.csv"
    with job_list.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["output", "topics", "patient", "visit_date", "clinician", "note"])
        writer.writerow(["row.pdf", "hand-washing psychotherapy:what-is", PERSONAL.patient,
                         PERSONAL.visit_date, PERSONAL.clinician, PERSONAL.note])
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["--library", str(TEST_LIBRARY), "batch", str(job_list),
                                       "--out-dir", str(out), "--jobs", "1"])
    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines()[-1].startswith("1 built")
    check_cover(page_texts(out / "row.pdf"), fetched)
