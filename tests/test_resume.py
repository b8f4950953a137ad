"""Batch resume state, unit by unit: the folder's key, the keyed digest, the journal."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from handoutkit.batch import resume
from handoutkit.errors import OutputError


def test_key_is_made_once_readable_by_its_owner_only(tmp_path):
    key = resume.load_key(tmp_path)
    path = tmp_path / ".handouts" / "key"
    assert resume.state_dir(tmp_path) == tmp_path / ".handouts"
    assert len(key) >= 32 and path.read_bytes() != b""
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert resume.load_key(tmp_path) == key  # the same key on the next run
    assert resume.load_key(tmp_path / "other") != key


def test_damaged_key_is_refused(tmp_path):
    (tmp_path / ".handouts").mkdir()
    (tmp_path / ".handouts" / "key").write_bytes(b"short")
    with pytest.raises(OutputError, match=r"key is damaged: remove it \(every row is then "
                                          r"built again\)"):
        resume.load_key(tmp_path)


def test_key_folder_that_cannot_be_made(tmp_path):
    (tmp_path / ".handouts").write_text("a file where the folder should be")
    with pytest.raises(OutputError, match=r"cannot use .*\.handouts/key"):
        resume.load_key(tmp_path)


def test_digest_depends_on_key_and_every_part():
    key, other = b"k" * 32, b"j" * 32
    base = resume.digest(key, "row", "a.pdf", ["ocd"], "Ana")
    assert len(base) == 64 and int(base, 16) >= 0
    assert resume.digest(key, "row", "a.pdf", ["ocd"], "Ana") == base
    assert resume.digest(other, "row", "a.pdf", ["ocd"], "Ana") != base
    assert resume.digest(key, "row", "a.pdf", ["ocd"], "Ann") != base
    assert resume.digest(key, "row", "a.pdf", ["ocd", "ptsd"], "Ana") != base
    assert resume.digest(key, "row", "b.pdf", ["ocd"], "Ana") != base
    # Non-ASCII details are digested as text (UTF-8), not escaped differently per run.
    assert resume.digest(key, "Díaz") == resume.digest(key, "Díaz")
    assert resume.digest(key, "Díaz") != resume.digest(key, "Diaz")


def test_digest_follows_the_version(monkeypatch):
    key = b"k" * 32
    before = resume.digest(key, "row")
    monkeypatch.setattr(resume, "__version__", "99.0")
    assert resume.digest(key, "row") != before


def test_journal_records_and_reads_back(tmp_path):
    resume.load_key(tmp_path)  # makes the state folder
    journal = resume.Journal(tmp_path)
    assert not journal.done("a.pdf", "pdf", "d1")
    journal.record("a.pdf", "pdf", "d1")
    assert journal.done("a.pdf", "pdf", "d1")
    assert not journal.done("a.pdf", "pdf", "d2")
    assert not journal.done("a.pdf", "print", "d1")
    assert not journal.done("b.pdf", "pdf", "d1")
    # A new run reads what the last one recorded: one JSON line per step, no details.
    again = resume.Journal(tmp_path)
    assert again.done("a.pdf", "pdf", "d1")
    lines = (tmp_path / ".handouts" / "journal").read_text().splitlines()
    assert [json.loads(line) for line in lines] == [
        {"output": "a.pdf", "step": "pdf", "digest": "d1"}]
    assert stat.S_IMODE((tmp_path / ".handouts" / "journal").stat().st_mode) == 0o600


def test_journal_appends_and_skips_a_line_cut_short(tmp_path):
    resume.load_key(tmp_path)
    path = tmp_path / ".handouts" / "journal"
    path.write_text(json.dumps({"output": "a.pdf", "step": "pdf", "digest": "d1"}) + "\n"
                    + '{"output": "b.pdf", "step": "pd' + "\n"
                    + json.dumps({"output": "c.pdf", "step": "fhir"}) + "\n"
                    + json.dumps(["not", "an", "object"]) + "\n")
    journal = resume.Journal(tmp_path)
    assert journal.done("a.pdf", "pdf", "d1")
    assert not journal.done("b.pdf", "pdf", "d1")
    journal.record("d.pdf", "print", "d4")
    assert journal.done("d.pdf", "print", "d4")
    assert path.read_text().splitlines()[0].startswith('{"output": "a.pdf"')
    assert resume.Journal(tmp_path).done("d.pdf", "print", "d4")


def test_journal_without_a_folder_is_an_output_error(tmp_path):
    journal = resume.Journal(tmp_path / "missing")
    assert not journal.done("a.pdf", "pdf", "d1")  # nothing recorded yet: not an error
    with pytest.raises(OutputError, match=r"cannot write .*journal: No such file"):
        journal.record("a.pdf", "pdf", "d1")


def test_journal_write_is_one_append(tmp_path, monkeypatch):
    resume.load_key(tmp_path)
    writes = []
    real = os.write

    def recording(fd, data):
        writes.append(data)
        return real(fd, data)

    monkeypatch.setattr(os, "write", recording)
    resume.Journal(tmp_path).record("a.pdf", "pdf", "d1")
    assert writes == [b'{"output": "a.pdf", "step": "pdf", "digest": "d1"}\n']


def test_digest_is_pinned(monkeypatch):
    """The digest of the same parts never changes for the same version (a packet made by
    an earlier run of this version stays current): key order, paths as text, UTF-8."""
    monkeypatch.setattr(resume, "__version__", "0.1.0")
    parts = ("row", {"b": 1, "a": Path("/x")}, "Díaz")
    assert resume.digest(b"k" * 32, *parts) == (
        "4403f6358809d46352774e0d59f803095f6dc04c065c59c6b875ede4b8c7180a")
    assert resume.digest(b"k" * 32, "row", {"a": Path("/x"), "b": 1}, "Díaz") == \
        resume.digest(b"k" * 32, *parts)


def test_journal_with_bytes_that_are_not_utf8(tmp_path):
    resume.load_key(tmp_path)
    path = tmp_path / ".handouts" / "journal"
    good = json.dumps({"output": "é.pdf", "step": "pdf", "digest": "d1"}, ensure_ascii=False)
    path.write_bytes(b"\xff\xfe broken\n" + good.encode("utf-8") + b"\n")
    assert resume.Journal(tmp_path).done("é.pdf", "pdf", "d1")
