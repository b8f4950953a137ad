"""Exit codes end to end, one for each row of the table in docs/exit-codes.md, each with its
one-line message (the command runs as its own process, as a script would run it); and a --brand
build that succeeds with the brand's name, colour and logo in the PDF.

Exit code 143 (SIGTERM) and 4 for a closed standard output are run end to end in
test_trust.py (test_signals_remove_temporaries_and_leave_nothing_partial,
test_closed_stdout_*).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner
from conftest import TEST_LIBRARY, page_texts
from PIL import Image
from pypdf import PdfReader

from handoutkit.cli import main

GOOD_TOPIC = (TEST_LIBRARY / "handouts" / "hand-washing.en.md").read_text()


def handouts(*args: str, cwd: Path | None = None, env: dict | None = None):
    return subprocess.run([sys.executable, "-m", "handoutkit", *args], capture_output=True,
                          text=True, cwd=cwd, env={**os.environ, **(env or {})}, timeout=300)


def one_error_line(result) -> str:
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    assert "Traceback" not in result.stderr
    return lines[0]


def with_picture(make_library, name: str, picture: bytes | None) -> Path:
    topic = GOOD_TOPIC.replace("Clean hands stop many germs.",
                               f"Clean hands stop many germs.\n\n![A picture]({name})")
    files = {"handouts/hand-washing.en.md": topic}
    if picture is not None:
        files[f"handouts/{name}"] = picture
    return make_library(files)


def png(width: int, height: int, mode: str = "1") -> bytes:
    import io

    buffer = io.BytesIO()
    Image.new(mode, (width, height)).save(buffer, "PNG")
    return buffer.getvalue()


def test_1_malformed_topic_names_file_and_line(make_library, tmp_path):
    root = make_library({"handouts/bad.en.md": "---\nid: bad\nlang: en\ntitle: [unclosed\n"
                                                "---\n\nText.\n"})
    result = handouts("--library", str(root), "build", "bad", "-o", str(tmp_path / "x.pdf"))
    assert result.returncode == 1
    assert re.fullmatch(r"Error: .*bad\.en\.md:5: the header is not valid YAML .*",
                        one_error_line(result))
    assert not (tmp_path / "x.pdf").exists()


def test_1_unknown_topic_with_close_matches(tmp_path):
    result = handouts("build", "psychotherapi", "-o", str(tmp_path / "x.pdf"))
    assert result.returncode == 1
    line = one_error_line(result)
    assert "unknown topic 'psychotherapi'" in line and "psychotherapy" in line


def test_1_lint_errors(make_library):
    root = make_library({"handouts/hand-washing.en.md": GOOD_TOPIC.replace("level: basics",
                                                                           "level: expert")})
    result = handouts("--library", str(root), "lint", "hand-washing")
    assert result.returncode == 1
    assert result.stdout.splitlines() == [
        f"{root / 'handouts' / 'hand-washing.en.md'}:5: error: [metadata] 'level' must be "
        "one of: basics, in-depth"]
    assert "1 errors, 0 warnings" in result.stderr


def test_2_bad_usage(tmp_path):
    unknown = handouts("build", "ocd", "--colour", "red", "-o", str(tmp_path / "x.pdf"))
    assert unknown.returncode == 2 and "No such option '--colour'" in unknown.stderr
    control = handouts("build", "ocd", "--patient", "Ana\x07", "-o", str(tmp_path / "x.pdf"))
    assert control.returncode == 2
    assert one_error_line(control) == "Error: the patient holds a control character"
    assert not (tmp_path / "x.pdf").exists()


def test_3_oversized_image(make_library, tmp_path):
    root = with_picture(make_library, "huge.png", png(6000, 5000))
    result = handouts("--library", str(root), "build", "hand-washing", "--jobs", "1",
                      "-o", str(tmp_path / "x.pdf"))
    assert result.returncode == 3
    line = one_error_line(result)
    assert "huge.png is 6000x5000 pixels, over the limit of 25,000,000 pixels" in line
    assert not (tmp_path / "x.pdf").exists()


def test_3_reference_outside_the_library(make_library, tmp_path):
    root = with_picture(make_library, "../../outside.png", None)
    (root.parent / "outside.png").write_bytes(png(4, 4, "RGB"))
    result = handouts("--library", str(root), "build", "hand-washing", "--jobs", "1",
                      "-o", str(tmp_path / "x.pdf"))
    assert result.returncode == 3
    assert "refused to load ../../outside.png: it is outside the library" in \
        one_error_line(result)
    assert not (tmp_path / "x.pdf").exists()


def test_4_output_folder_missing(tmp_path):
    result = handouts("build", "ocd:what-is", "-o", str(tmp_path / "no" / "x.pdf"))
    assert result.returncode == 4
    assert one_error_line(result) == (f"Error: cannot write {tmp_path / 'no' / 'x.pdf'}: "
                                      f"folder {tmp_path / 'no'} does not exist")


def test_4_print_job_refused(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    lp = bin_dir / "lp"
    lp.write_text("#!/bin/sh\necho 'lp: The printer or class does not exist.' >&2\nexit 1\n")
    lp.chmod(0o755)
    pdf = tmp_path / "a.pdf"
    pdf.write_bytes(b"%PDF-1.7\n%%EOF\n")
    result = handouts("print", str(pdf), "--printer", "nowhere",
                      env={"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"})
    assert result.returncode == 4
    assert one_error_line(result) == (f"Error: cannot print {pdf} on 'nowhere': "
                                      "lp: The printer or class does not exist.")


def test_5_unexpected_error_is_one_line(monkeypatch, tmp_path):
    import handoutkit.build

    def broken(*args, **kwargs):
        raise ZeroDivisionError("planted")

    monkeypatch.setattr(handoutkit.build, "make", broken)
    result = CliRunner().invoke(main, ["build", "ocd", "-o", str(tmp_path / "x.pdf")])
    assert result.exit_code == 5
    assert result.stderr.strip() == (
        "Error: unexpected ZeroDivisionError; this is a bug in handouts, please report it "
        "(HANDOUTS_DEBUG=1 shows the details)")
    assert not (tmp_path / "x.pdf").exists()


def test_brand_success_path(tmp_path):
    """--brand FILE: the clinic's name, colour and logo are in the PDF."""
    logo = png(90, 30, "RGB")
    (tmp_path / "logo.png").write_bytes(logo)
    (tmp_path / "clinic.toml").write_text(
        'name = "Cedar Lane Clinic"\ncolor = "#2a6e3f"\nlogo = "logo.png"\n'
        'footer = "Call Cedar Lane at (555) 010-0333."\n')
    out = tmp_path / "b.pdf"
    result = handouts("build", "ocd:what-is", "--brand", str(tmp_path / "clinic.toml"),
                      "--jobs", "1", "-o", str(out))
    assert result.returncode == 0, result.stderr
    pages = page_texts(out)
    assert all("Cedar Lane Clinic" in page for page in pages)
    assert "Call Cedar Lane at (555) 010-0333." in pages[0]
    assert "Riverside" not in "".join(pages)
    reader = PdfReader(out)
    first = reader.pages[0]
    content = first.get_contents().get_data()
    # #2a6e3f as RGB fractions, used as a fill or stroke colour.
    assert re.search(rb"0\.16\d* 0\.43\d* 0\.24\d* (rg|RG)", content)
    images = [x for x in first.images]
    assert [(im.image.width, im.image.height) for im in images] == [(90, 30)]
