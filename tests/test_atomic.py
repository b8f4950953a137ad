"""Outputs are written atomically: a write that fails partway leaves the previous file
exactly as it was and no temporary file behind (write_atomic, build -o, --out-dir, a
batch row).

The failure is made by a stand-in for os.replace (the rename that publishes a finished
file) or for os.fsync (after the data went to the temporary file): a writer that writes
straight to the final name has already overwritten the previous file by then.
"""

from __future__ import annotations

import csv
import errno
import os
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import TEST_LIBRARY

from handoutkit import deliver
from handoutkit.cli import main
from handoutkit.errors import OutputError

OLD = b"%PDF-1.7 the previous, complete output\n%%EOF\n"


def fail_into(monkeypatch, folder: Path, what: str = "replace") -> list[str]:
    """Make os.replace (or os.fsync) fail for files of `folder` only (the cache, which
    also renames, keeps working); returns the names it was asked about."""
    calls: list[str] = []
    if what == "replace":
        real = os.replace

        def replace(src, dst, *args, **kwargs):
            if Path(dst).parent == folder:
                calls.append(str(dst))
                raise OSError(errno.EIO, "Input/output error (planted)")
            return real(src, dst, *args, **kwargs)

        monkeypatch.setattr(os, "replace", replace)
    else:
        real_fsync = os.fsync

        def fsync(fd):
            name = os.readlink(f"/proc/self/fd/{fd}")
            if Path(name).parent == folder:
                calls.append(name)
                raise OSError(errno.ENOSPC, "No space left on device (planted)")
            return real_fsync(fd)

        monkeypatch.setattr(os, "fsync", fsync)
    return calls


def leftovers(folder: Path, keep: set[str]) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name not in keep)


@pytest.mark.parametrize("what", ["replace", "fsync"])
def test_write_atomic_failing_partway_keeps_the_previous_file(tmp_path, monkeypatch, what):
    """Probe: write_atomic as `path.write_bytes(data)` (straight to the final name) fails
    this test: the previous file is gone when the write fails."""
    target = tmp_path / "out.pdf"
    target.write_bytes(OLD)
    calls = fail_into(monkeypatch, tmp_path, what)
    with pytest.raises(OutputError, match=r"cannot write .*out.pdf: .*planted"):
        deliver.write_atomic(target, b"%PDF-1.7 new" + b"x" * 100_000)
    assert calls, "the planted failure was never reached"
    assert target.read_bytes() == OLD
    assert leftovers(tmp_path, {"out.pdf"}) == []


def test_write_atomic_publishes_whole_file_with_usual_permissions(tmp_path):
    target = tmp_path / "new.pdf"
    seen = []
    real = os.replace

    def replace(src, dst):
        # At the moment of the rename the final name does not exist yet and the
        # temporary file already holds every byte.
        assert Path(src).parent == Path(dst).parent  # beside the target: one file system
        seen.append((Path(dst).exists(), Path(src).read_bytes(), Path(src).name))
        return real(src, dst)

    old_mask = os.umask(0o022)
    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(os, "replace", replace)
            deliver.write_atomic(target, b"whole")
    finally:
        os.umask(old_mask)
    assert seen == [(False, b"whole", seen[0][2])]
    # Named so that a later run can tell a dead writer's leftovers (remove_stale_temporaries).
    assert seen[0][2].startswith(deliver.temporary_prefix()) and "new" not in seen[0][2]
    assert seen[0][2].endswith(".tmp")
    assert target.read_bytes() == b"whole"
    assert oct(target.stat().st_mode & 0o777) == oct(0o644)
    assert leftovers(tmp_path, {"new.pdf"}) == []


def run(*args):
    return CliRunner().invoke(main, ["--library", str(TEST_LIBRARY), *args])


@pytest.mark.parametrize("what", ["replace", "fsync"])
def test_build_output_failing_partway_keeps_the_previous_file(tmp_path, monkeypatch, what):
    """Probe: `build -o` writing with `Path.write_bytes` fails this test."""
    out = tmp_path / "out"
    out.mkdir()
    target = out / "hand.pdf"
    target.write_bytes(OLD)
    calls = fail_into(monkeypatch, out, what)
    result = run("build", "hand-washing", "--jobs", "1", "-o", str(target))
    assert calls
    assert result.exit_code == 4, result.output
    assert "cannot write" in result.stderr and "planted" in result.stderr
    assert "Traceback" not in result.output
    assert target.read_bytes() == OLD
    assert leftovers(out, {"hand.pdf"}) == []


def test_out_dir_failing_partway_keeps_the_previous_files(tmp_path, monkeypatch):
    """Probe: build_each writing with `Path.write_bytes` fails this test."""
    out = tmp_path / "out"
    out.mkdir()
    (out / "hand-washing.pdf").write_bytes(OLD)
    calls = fail_into(monkeypatch, out)
    result = run("build", "hand-washing", "psychotherapy:what-is", "--jobs", "1",
                 "--out-dir", str(out))
    assert calls and calls[0].endswith("hand-washing.pdf")
    assert result.exit_code == 4, result.output
    assert (out / "hand-washing.pdf").read_bytes() == OLD
    assert leftovers(out, {"hand-washing.pdf"}) == []


def test_batch_row_failing_partway_keeps_the_previous_file(tmp_path, monkeypatch):
    """Probe: batch rows written with `target.write_bytes(built.data)` instead of
    write_atomic (batch.py) fail this test; so does write_atomic itself writing straight
    to the final name."""
    job_list = tmp_path / "jobs.csv"
    with job_list.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["output", "topics", "patient"])
        writer.writerow(["a.pdf", "hand-washing", "Ann"])
        writer.writerow(["b.pdf", "psychotherapy:what-is", "Bob"])
    out = tmp_path / "out"
    out.mkdir()
    (out / "a.pdf").write_bytes(OLD)  # not current: the row is built again
    calls = fail_into(monkeypatch, out)
    result = run("batch", str(job_list), "--out-dir", str(out), "--jobs", "1")
    assert sorted(Path(c).name for c in calls) == ["a.pdf", "b.pdf"]
    assert result.exit_code == 1, result.output
    assert "line 2 (a.pdf): cannot write" in result.stderr
    assert result.stderr.splitlines()[-1] == "0 built, 0 skipped (already current), 2 failed"
    assert (out / "a.pdf").read_bytes() == OLD
    assert leftovers(out, {"a.pdf", ".handouts"}) == []
    # The next run, with a working disk, builds both rows.
    monkeypatch.undo()
    again = run("batch", str(job_list), "--out-dir", str(out), "--jobs", "1")
    assert again.stderr.splitlines()[-1].startswith("2 built"), again.output
    assert (out / "a.pdf").read_bytes() != OLD
