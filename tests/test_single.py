"""A single handout is built from the cached topic, like a packet: a second build, even
for another patient, lays out only what is personal (its cover)."""

import os
import subprocess
import sys

import pytest
from conftest import page_texts
from pypdf import PdfReader

from handoutkit.build import build
from handoutkit.cache import Cache
from handoutkit.content.library import Library
from handoutkit.options import BuildOptions, Personal
from handoutkit.pdf.workers import Renderer

# Builds PDFs end to end, or starts servers, browsers or installs: a slow module
# (`pytest -m "not slow"` leaves it out).
pytestmark = pytest.mark.slow


def counting(monkeypatch) -> list[str]:
    """Record the HTML of every document laid out from now on."""
    laid_out: list[str] = []
    real = Renderer.each

    def each(self, htmls, promises=None):
        laid_out.extend(htmls)
        yield from real(self, htmls, promises)

    monkeypatch.setattr(Renderer, "each", each)
    return laid_out


def test_second_single_build_for_another_patient_lays_out_only_the_cover(tmp_path, monkeypatch):
    library, cache = Library(), Cache(tmp_path / "cache")
    first = build(library, ["psychotherapy"], BuildOptions(personal=Personal("Ana Díaz")), cache)
    laid_out = counting(monkeypatch)
    second = build(library, ["psychotherapy"],
                   BuildOptions(personal=Personal("Bo Chen", "2026-11-28")), cache)
    assert len(laid_out) == 1 and "Bo Chen" in laid_out[0]  # the cover, nothing else
    assert 'class="topic"' not in laid_out[0]
    (tmp_path / "second.pdf").write_bytes(second)
    pages = page_texts(tmp_path / "second.pdf")
    assert "Bo Chen" in pages[0] and "Ana" not in " ".join(pages)
    assert all("Bo Chen" not in page for page in pages[1:])  # the topic's pages hold no one
    assert "What is psychotherapy?" in pages[1]
    assert len(PdfReader(tmp_path / "second.pdf").pages) == len(pages)
    assert first != second


def test_single_build_without_personal_details_has_no_cover_and_is_served_warm(tmp_path,
                                                                              monkeypatch):
    library, cache = Library(), Cache(tmp_path / "cache")
    cold = build(library, ["psychotherapy"], BuildOptions(), cache)
    laid_out = counting(monkeypatch)
    warm = build(library, ["psychotherapy"], BuildOptions(), cache)
    assert laid_out == [] and warm == cold  # nothing laid out, the same bytes
    (tmp_path / "warm.pdf").write_bytes(warm)
    pages = page_texts(tmp_path / "warm.pdf")
    assert pages[0].lstrip().splitlines()[0].startswith("Riverside Community Health")
    assert "Psychotherapy" in pages[0] and "Your health information" not in pages[0]
    reader = PdfReader(tmp_path / "warm.pdf")
    assert reader.metadata.title == "Psychotherapy"
    assert [item.title for item in reader.outline][0] == "What is psychotherapy?"


def test_warm_single_build_does_not_import_weasyprint(tmp_path):
    env = {**os.environ, "HANDOUTS_CACHE_DIR": str(tmp_path / "c")}
    out = tmp_path / "p.pdf"
    args = [sys.executable, "-m", "handoutkit", "build", "psychotherapy", "-o", str(out)]
    assert subprocess.run(args, env=env, capture_output=True).returncode == 0
    code = ("import sys; from handoutkit.cli import main\n"
            f"try: main({['build', 'psychotherapy', '-o', str(out)]!r})\n"
            "except SystemExit as e: assert e.code in (0, None), e.code\n"
            "print('weasyprint' in sys.modules)")
    warm = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert warm.returncode == 0, warm.stderr
    assert warm.stdout.strip() == "False"


def test_parts_made_before_a_failure_are_kept_so_a_retry_goes_faster(tmp_path, monkeypatch):
    """A packet whose second part fails (as when the service stops a render at --timeout)
    keeps its first part in the cache: the retry lays out only what was not finished."""
    import handoutkit.pdf.workers as workers

    library, cache = Library(), Cache(tmp_path / "cache")
    real = workers._render_job
    made: list[str] = []

    def second_fails(args):
        if made:
            raise RuntimeError("stopped")
        made.append(args[0])
        return real(args)

    monkeypatch.setattr(workers, "_render_job", second_fails)
    with pytest.raises(RuntimeError):
        build(library, ["psychotherapy", "insomnia"], BuildOptions(jobs=1), cache)
    monkeypatch.setattr(workers, "_render_job", real)
    laid_out = counting(monkeypatch)
    data = build(library, ["psychotherapy", "insomnia"], BuildOptions(jobs=1), cache)
    assert len(made) == 1 and made[0] not in laid_out  # the finished part was not redone
    assert len(laid_out) >= 1  # the unfinished one was
    (tmp_path / "packet.pdf").write_bytes(data)
    text = " ".join(page_texts(tmp_path / "packet.pdf"))
    assert "What is psychotherapy?" in text and "Insomnia" in text
