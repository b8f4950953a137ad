"""Every personal field, through every front door, gets every check.

The personal fields are one list (`Personal.items()`); each check of personal details walks
it. Here each field is given a value that must not print, one field at a time, through the
command line (PDF and HTML), a batch job list, the API and the staff page: each door must
refuse it, name the field, and never echo the value on any stream.
"""

from __future__ import annotations

import csv
import os
import subprocess
import sys

import pytest
from servers import KEY, start_server

from handoutkit.options import Personal

FIELDS = tuple(Personal().items())
WORDS = ("Qzxvq", "Wyvernz")
# A value of each kind that must not print: a character no declared font has (a
# private-use one), a bidi override, and a control character.
BAD = {
    "font": "Qzxvq \ue000Wyvernz",
    "bidi": "Qzxvq \u202eWyvernz",
    "control": "Qzxvq \x07Wyvernz",
}
SAID = {"font": "U+E000", "bidi": "U+202E", "control": "control character"}


def test_the_fields_are_the_ones_every_door_takes():
    from handoutkit.options import JOB_COLUMNS
    from handoutkit.request import FIELDS as REQUEST_FIELDS

    assert FIELDS == ("patient", "visit_date", "clinician", "note")
    assert set(FIELDS) <= set(JOB_COLUMNS) and set(FIELDS) <= set(REQUEST_FIELDS)


@pytest.mark.parametrize("fmt", ["pdf", "html"])
@pytest.mark.parametrize("kind", sorted(BAD))
@pytest.mark.parametrize("name", FIELDS)
def test_command_line(run, tmp_path, name, kind, fmt):
    out = tmp_path / f"handout.{fmt}"
    result = run("build", "psychotherapy", f"--{name.replace('_', '-')}", BAD[kind],
                 "--format", fmt, "-o", out)
    assert result.exit_code in (1, 2), result.output
    assert Personal.label(name) in result.output or name in result.output
    assert SAID[kind] in result.output
    assert not any(word in result.output for word in WORDS)
    assert not out.exists() and list(tmp_path.iterdir()) == []


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    """One job list: a row per field and kind, each with only that field bad, then a good
    row; the batch runs once."""
    root = tmp_path_factory.mktemp("fields")
    jobs = root / "jobs.csv"
    with jobs.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, ["output", "topics", *FIELDS])
        writer.writeheader()
        for name in FIELDS:
            for kind, value in sorted(BAD.items()):
                writer.writerow({"output": f"{name}-{kind}.pdf", "topics": "psychotherapy",
                                 name: value})
        writer.writerow({"output": "good.pdf", "topics": "psychotherapy", "patient": "Ana"})
    out = root / "out"
    result = subprocess.run(
        [sys.executable, "-m", "handoutkit", "batch", str(jobs), "--out-dir", str(out),
         "--jobs", "1"], capture_output=True, text=True, timeout=600,
        env={**os.environ, "HANDOUTS_CACHE_DIR": str(root / "cache")})
    return result, out


@pytest.mark.parametrize("kind", sorted(BAD))
@pytest.mark.parametrize("name", FIELDS)
def test_job_list(batch, name, kind):
    result, out = batch
    streams = result.stdout + result.stderr
    assert result.returncode != 0
    row = 2 + FIELDS.index(name) * len(BAD) + sorted(BAD).index(kind)  # its line in the file
    lines = [line for line in streams.splitlines() if f"jobs.csv:{row}:" in line]
    assert lines, streams
    assert any(name in line or Personal.label(name) in line for line in lines), lines
    assert SAID[kind] in lines[0]
    assert not (out / f"{name}-{kind}.pdf").exists()
    assert (out / "good.pdf").exists()
    assert not any(word in streams for word in WORDS)
    for path in out.rglob("*"):
        if path.is_file() and path.suffix != ".pdf":
            assert not any(word in path.read_text(errors="replace") for word in WORDS), path


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = start_server(tmp_path_factory.mktemp("fields-api"), "--workers", "1", key=KEY)
    yield srv
    srv.stop()


@pytest.mark.parametrize("fmt", ["pdf", "html"])
@pytest.mark.parametrize("kind", sorted(BAD))
@pytest.mark.parametrize("name", FIELDS)
def test_api(server, name, kind, fmt):
    with server.client() as client:
        answer = client.post("/v1/documents", json={
            "specs": ["psychotherapy"], "format": fmt, "personal": {name: BAD[kind]}})
        metrics = client.get("/metrics").text
    assert answer.status_code == 422, answer.text
    body = answer.json()
    assert Personal.label(name) in body["detail"] or name in body["detail"]
    assert SAID[kind] in body["detail"]
    assert not any(word in answer.text for word in WORDS)
    assert not any(word in server.log_text() + metrics for word in WORDS)


@pytest.mark.parametrize("name", FIELDS)
def test_the_limits_of_each_field(name):
    """At most MAX_PERSONAL characters; a line break or tab only in the note."""
    from handoutkit.checks import MAX_PERSONAL, personal_problem

    def problem(value):
        return personal_problem(Personal(**{name: value}))

    if name != "visit_date":  # a date of 1,000 characters is words, and may print
        assert problem("a" * MAX_PERSONAL) is None
    assert f"{MAX_PERSONAL + 1:,} characters long" in problem("a" * (MAX_PERSONAL + 1))
    for char in ("\n", "\t"):
        said = problem(f"Qzxvq{char}Wyvernz")
        if name == "note":
            assert said is None
        else:
            assert said == f"the {Personal.label(name)} holds a control character"
