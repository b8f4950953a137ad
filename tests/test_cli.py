"""The command line: exact exit codes and messages, help everywhere, thin start-up."""

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from conftest import ROOT, TEST_LIBRARY
from pypdf import PdfReader

from handoutkit.cli import main


@pytest.fixture
def run():
    runner = CliRunner()

    def invoke(*args, **kwargs):
        return runner.invoke(main, [str(a) for a in args], catch_exceptions=False, **kwargs)

    return invoke


def all_commands(group=main, prefix=()):
    for name, command in group.commands.items():
        yield (*prefix, name), command
        if isinstance(command, click.Group):
            yield from all_commands(command, (*prefix, name))


def test_every_command_has_help(run):
    assert main.help
    commands = list(all_commands())
    assert {"list", "show", "build"} <= {path[0] for path, _ in commands}
    for path, command in commands:
        assert command.help, f"{' '.join(path)} has no help text"
        result = CliRunner().invoke(main, [*path, "--help"], prog_name="handouts")
        assert result.exit_code == 0
        assert result.output.startswith("Usage: handouts " + " ".join(path) + " ")
        for param in command.params:
            if isinstance(param, click.Option) and param.name != "help":
                assert param.help, f"{' '.join(path)} {param.opts[0]} has no help text"


def test_list_prints_a_header_row(run):
    lines = run("list").output.splitlines()
    assert lines[0].split() == ["ID", "VERSION", "UPDATED", "LANGUAGES", "TITLE"]
    # Every column starts where its header does.
    row = next(line for line in lines if line.startswith("depression-adults "))
    for header in ("VERSION", "UPDATED", "LANGUAGES", "TITLE"):
        assert row[lines[0].index(header) - 1] == " " and row[lines[0].index(header)] != " "


def test_help_names_the_layouts_and_the_job_list_columns(run):
    from handoutkit.options import JOB_COLUMNS

    build_help = " ".join(run("build", "--help").output.split())
    assert "Layout: large-print, standard, or a clinic library's own" in build_help
    batch_help = run("batch", "--help").output
    for column in JOB_COLUMNS:
        assert column in batch_help, column


def test_print_exit_code_comes_from_the_error(run, tmp_path, monkeypatch):
    from handoutkit import deliver
    from handoutkit.errors import HandoutsError, OutputError

    pdf = tmp_path / "a.pdf"
    pdf.write_bytes(b"%PDF-1.7\n")

    class Refused(HandoutsError):
        exit_code = 3

    def refuse(paths, printer, **options):
        raise Refused("refused") if printer == "three" else OutputError("no printer")

    monkeypatch.setattr(deliver, "print_files", refuse)
    assert run("print", pdf, "--printer", "three").exit_code == 3
    assert run("print", pdf, "--printer", "other").exit_code == 4


def test_version(run):
    result = run("--version")
    assert result.exit_code == 0
    assert result.output.strip() == "handouts, version 0.1.0"


def test_list_json(run):
    result = run("list", "--json")
    assert result.exit_code == 0
    rows = json.loads(result.output)
    row = next(r for r in rows if r["id"] == "psychotherapy")
    assert row["title"] == "Psychotherapy" and "en" in row["languages"]
    assert row["version"] == "1.3" and len(row["updated"]) == 10


def test_list_with_clinic_library_from_environment(run):
    result = run("list", env={"HANDOUTS_LIBRARY": str(TEST_LIBRARY)})
    assert result.exit_code == 0
    assert "hand-washing" in result.output and "psychotherapy" in result.output


def test_show_lists_sections_with_required_flag(run):
    result = run("--library", TEST_LIBRARY, "show", "hand-washing", "--json")
    data = json.loads(result.output)
    assert data["sections"][-1] == {"id": "urgent", "title": "What if someone is very sick?",
                                    "required": True}
    text = run("--library", TEST_LIBRARY, "show", "hand-washing").output
    assert "urgent" in text and "[required]" in text


@pytest.mark.parametrize("args, code, message", [
    (("build", "psychoterapy", "-o", "{out}"), 1,
     "Error: unknown topic 'psychoterapy'; did you mean psychotherapy?"),
    (("build", "psychotherapy:nope", "-o", "{out}"), 1,
     "Error: topic 'psychotherapy' (en) has no section 'nope'; its sections are: what-is, "
     "how-it-helps, types, formats, sessions, find-therapist, more-to-know, questions, crisis"),
    (("build", "psychotherapy", "--layout", "fancy", "-o", "{out}"), 1,
     "Error: unknown layout 'fancy'; layouts: large-print, standard"),
    (("build", "Psycho!", "-o", "{out}"), 1, "Error: cannot read 'Psycho!'"),
    (("build", "psychotherapy", "--brand", "{tmp}/none.toml", "-o", "{out}"), 1,
     "Error: brand file not found: {tmp}/none.toml"),
    (("build", "psychotherapy", "-o", "{tmp}/no/such/folder/x.pdf"), 4,
     "Error: cannot write {tmp}/no/such/folder/x.pdf: folder {tmp}/no/such/folder does not exist"),
    (("build", "psychotherapy", "-o", "{tmp}"), 4, "Error: cannot write {tmp}: it is a folder"),
    (("show", "nope"), 1, "Error: unknown topic 'nope'; see 'handouts list'"),
    (("--library", "{tmp}/missing", "list"), 1, "Error: library folder not found: {tmp}/missing"),
])
def test_errors_are_one_line_with_exit_codes(run, tmp_path, args, code, message):
    out = tmp_path / "out.pdf"
    fill = {"out": out, "tmp": tmp_path}
    result = run(*[a.format(**fill) for a in args])
    assert result.exit_code == code
    assert result.stderr.strip().splitlines()[0].startswith(message.format(**fill))
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.output
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".handouts-")] == []


def test_usage_error_exit_code_2(run):
    result = run("build", "psychotherapy")
    assert result.exit_code == 2
    assert "give either -o FILE or --out-dir DIR" in result.stderr


def test_build_writes_pdf_atomically_and_reports(run, tmp_path):
    out = tmp_path / "handout.pdf"
    out.write_bytes(b"old contents")
    result = run("build", "psychotherapy:what-is", "--patient", "Ana", "-o", out)
    assert result.exit_code == 0, result.output
    assert f"Wrote {out}" in result.stderr
    assert len(PdfReader(out).pages) >= 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["handout.pdf"]


def test_failed_build_keeps_the_previous_output(run, tmp_path):
    out = tmp_path / "handout.pdf"
    out.write_bytes(b"previous")
    result = run("build", "psychotherapy", "--layout", "fancy", "-o", out)
    assert result.exit_code == 1
    assert out.read_bytes() == b"previous"


def test_output_to_stdout(run):
    result = run("build", "psychotherapy:what-is", "-o", "-")
    assert result.exit_code == 0
    assert result.stdout_bytes.startswith(b"%PDF-") and result.stdout_bytes.rstrip().endswith(b"%%EOF")
    reader = PdfReader(io.BytesIO(result.stdout_bytes))
    assert reader.metadata.title == "Psychotherapy"
    assert "What is psychotherapy?" in reader.pages[0].extract_text()


def test_html_format(run, tmp_path):
    out = tmp_path / "h.html"
    result = run("build", "psychotherapy:what-is,crisis", "--format", "html", "-o", out)
    assert result.exit_code == 0, result.output
    html = out.read_text()
    assert html.startswith("<!DOCTYPE html>") and '<html lang="en" dir="ltr">' in html
    assert "<title>Psychotherapy</title>" in html
    assert "What is psychotherapy?" in html and "What if I am in crisis?" in html
    assert "How can therapy help me?" not in html  # only the sections asked for
    assert "988" in html
    # Self-contained: fonts and the logo inside, no file or network reference.
    assert "file:" not in html and "http://" not in html.split("<body>")[0]
    assert html.count("data:font/ttf;base64,") == 4 and "data:image/svg+xml;base64," in html


def test_commands_that_do_not_render_do_not_import_weasyprint():
    code = (
        "import sys; from handoutkit.cli import main\n"
        "for args in (['list'], ['show', 'psychotherapy'], ['--help']):\n"
        "    try: main(args)\n"
        "    except SystemExit as e: assert e.code == 0, e.code\n"
        "assert 'weasyprint' not in sys.modules, 'weasyprint imported'\n"
        "print('clean')"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith("clean")


def test_installed_command_works_from_any_folder(tmp_path):
    # The tests run against the installed package (README: pip install ".[test]", or -e).
    script = Path(sys.executable).with_name("handouts")
    assert script.exists(), "install the project first: pip install -e '.[test]'"
    env = {k: v for k, v in os.environ.items() if k != "HANDOUTS_LIBRARY"}
    result = subprocess.run([str(script), "build", "psychotherapy", "-o", "p.pdf"],
                            cwd=tmp_path, capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stderr
    assert PdfReader(tmp_path / "p.pdf").metadata.title == "Psychotherapy"
    # The bundled library is inside the package (pip install .) or, for an editable
    # install, the checkout the package is imported from.
    where = subprocess.run([str(script.with_name("python")), "-c",
                            "import handoutkit, handoutkit.content.library as l; "
                            "print(handoutkit.__file__); print(l.bundled_root())"],
                           cwd=tmp_path, capture_output=True, text=True, env=env)
    assert where.returncode == 0, where.stderr
    package_file, bundled = where.stdout.split()
    package = Path(package_file).parent
    expected = package / "library" if (package / "library").is_dir() else package.parent
    assert Path(bundled) == expected
    assert sorted(p.name for p in (expected / "handouts").glob("*.md")) == sorted(
        p.name for p in (ROOT / "handouts").glob("*.md"))


def test_a_render_error_on_the_workers_is_one_line_and_leaves_nothing(tmp_path):
    # A packet's topics render on two worker processes; a broken layout fails there. The
    # user sees one line and exit code 3; no output and no temporary files remain.
    library = tmp_path / "clinic"
    (library / "layouts" / "broken").mkdir(parents=True)
    (library / "layouts" / "broken" / "layout.html.j2").write_text(
        '{% extends "standard/layout.html.j2" %}{% block style %}{{ super() }}'
        '@font-face { font-family: Broken; src: url("layouts/broken/bad.ttf"); } '
        'h1 { font-family: Broken; }{% endblock %}')
    (library / "layouts" / "broken" / "bad.ttf").write_bytes(b"not a font")
    temp = tmp_path / "tmp"
    temp.mkdir()
    out = tmp_path / "packet.pdf"
    env = {**os.environ, "TMPDIR": str(temp), "HANDOUTS_CACHE_DIR": str(tmp_path / "cache")}
    result = subprocess.run(
        [sys.executable, "-m", "handoutkit", "--library", str(library), "build", "ocd",
         "insomnia", "ptsd", "--layout", "broken", "--jobs", "2", "-o", str(out)],
        env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 3
    assert result.stderr.startswith("Error: rendering failed: Font-face 'Broken' cannot be loaded")
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
    assert not out.exists()
    assert list(temp.rglob("*")) == []


def test_a_reader_that_stops_early_ends_the_listing_quietly():
    # `handouts list | head -1`: the pipe closes while the list is being written.
    result = subprocess.run(f"{sys.executable} -m handoutkit list | head -1", shell=True,
                            capture_output=True, text=True)
    assert result.stdout.split()[:2] == ["ID", "VERSION"]
    assert result.stderr == ""
