"""Delivery, unit by unit: checks before building, atomic writes, stale temporaries, lp."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import pytest

from handoutkit import deliver
from handoutkit.errors import OutputError


def test_write_atomic_refuses_bad_targets(tmp_path):
    with pytest.raises(OutputError, match="a file name cannot hold a NUL byte"):
        deliver.write_atomic(str(tmp_path / "a\0b.pdf"), b"x")
    with pytest.raises(OutputError, match=f"cannot write {tmp_path}: it is a folder"):
        deliver.write_atomic(tmp_path, b"x")
    with pytest.raises(OutputError, match=f"folder {tmp_path / 'no'} does not exist"):
        deliver.write_atomic(tmp_path / "no" / "a.pdf", b"x")
    assert list(tmp_path.iterdir()) == []


def test_write_atomic_in_the_current_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert deliver.write_atomic("plain.pdf", b"data") == deliver.Path("plain.pdf")
    assert (tmp_path / "plain.pdf").read_bytes() == b"data"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plain.pdf"]


def test_write_atomic_replaces_an_existing_file(tmp_path):
    target = tmp_path / "a.pdf"
    target.write_bytes(b"old")
    deliver.write_atomic(target, b"new")
    assert target.read_bytes() == b"new"


def test_temporary_prefix_names_host_and_process():
    assert deliver.temporary_prefix() == f".handouts-{socket.gethostname()}-{os.getpid()}-"


def test_stale_temporaries(tmp_path):
    host = socket.gethostname()
    dead = subprocess.Popen(["true"])
    dead.wait()
    names = {
        "dead": f".handouts-{host}-{dead.pid}-abc.tmp",
        "live": f".handouts-{host}-{os.getpid()}-abc.tmp",
        "old-other": ".handouts-otherhost-12-abc.tmp",
        "new-other": ".handouts-otherhost-13-abc.tmp",
        "not-ours": "handouts-x-1-abc.tmp",
        "other-suffix": f".handouts-{host}-{dead.pid}-abc.pdf",
        "odd": f".handouts-{host}-notapid-abc.tmp",
    }
    for name in names.values():
        (tmp_path / name).write_bytes(b"x")
    past = time.time() - 7200
    os.utime(tmp_path / names["old-other"], (past, past))
    assert deliver.remove_stale_temporaries(tmp_path) == 2
    left = sorted(p.name for p in tmp_path.iterdir())
    assert left == sorted(names[k] for k in ("live", "new-other", "not-ours", "other-suffix",
                                              "odd"))
    # A shorter age limit removes any host's file older than it.
    old = time.time() - 120
    os.utime(tmp_path / names["new-other"], (old, old))
    assert deliver.remove_stale_temporaries(tmp_path, max_age=60) == 1
    assert not (tmp_path / names["new-other"]).exists()
    assert (tmp_path / names["live"]).exists()
    assert deliver.remove_stale_temporaries(tmp_path / "missing") == 0


def test_alive():
    assert deliver._alive(os.getpid())
    zombie = subprocess.Popen(["true"])
    for _ in range(100):  # exited, not yet reaped: a zombie
        if open(f"/proc/{zombie.pid}/stat").read().rpartition(")")[2].split()[0] == "Z":
            break
        time.sleep(0.02)
    assert not deliver._alive(zombie.pid)
    zombie.wait()
    assert not deliver._alive(zombie.pid)


def test_make_folder(tmp_path):
    made = deliver.make_folder(tmp_path / "a" / "b")
    assert made == tmp_path / "a" / "b" and made.is_dir()
    assert deliver.make_folder(made) == made  # already there: fine
    (tmp_path / "file").write_text("x")
    with pytest.raises(OutputError, match="cannot use .*file as the output folder: it is a file"):
        deliver.make_folder(tmp_path / "file")
    with pytest.raises(OutputError, match="cannot make the output folder .*file/sub"):
        deliver.make_folder(tmp_path / "file" / "sub")


def test_same_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert deliver.same_file("a.pdf", tmp_path / "a.pdf")
    assert deliver.same_file("x/../a.pdf", "a.pdf")
    assert not deliver.same_file("a.pdf", "b.pdf")
    assert deliver.same_file("a\0b", "a\0b") and not deliver.same_file("a\0b", "a\0c")


def test_check_writable(tmp_path, monkeypatch):
    deliver.check_writable(tmp_path / "ok.pdf")
    monkeypatch.chdir(tmp_path)
    deliver.check_writable("ok.pdf")
    with pytest.raises(OutputError, match="it is a folder"):
        deliver.check_writable(tmp_path)
    with pytest.raises(OutputError, match=f"folder {tmp_path / 'no'} does not exist"):
        deliver.check_writable(tmp_path / "no" / "a.pdf")
    too_long = tmp_path / ("x" * 300) / "a.pdf"
    with pytest.raises(OutputError, match=r"^cannot write .*: File name too long$"):
        deliver.check_writable(too_long)
    monkeypatch.setattr(os, "access", lambda path, mode: mode != os.W_OK | os.X_OK)
    with pytest.raises(OutputError, match=f"folder {tmp_path} is not writable"):
        deliver.check_writable(tmp_path / "a.pdf")
    assert list(tmp_path.iterdir()) == []


def lp(tmp_path, monkeypatch, script: str):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    path = bin_dir / "lp"
    path.write_text(f"#!{sys.executable}\n{script}")
    path.chmod(0o755)
    monkeypatch.setenv("PATH", str(bin_dir))
    return path


def test_print_files_arguments_and_errors(tmp_path, monkeypatch):
    log = tmp_path / "log"
    lp(tmp_path, monkeypatch, "import sys\n"
       f"open({str(log)!r}, 'a').write(' '.join(sys.argv[1:]) + '\\n')\n")
    deliver.print_files([tmp_path / "a.pdf", tmp_path / "b.pdf"], "Desk", copies=2,
                        duplex=True)
    deliver.print_files([tmp_path / "c.pdf"], "Desk")
    assert log.read_text().splitlines() == [
        f"-d Desk -n 2 -o sides=two-sided-long-edge -- {tmp_path / 'a.pdf'}",
        f"-d Desk -n 2 -o sides=two-sided-long-edge -- {tmp_path / 'b.pdf'}",
        f"-d Desk -n 1 -- {tmp_path / 'c.pdf'}"]


def test_print_files_reports_lp_last_line_or_its_exit_code(tmp_path, monkeypatch):
    lp(tmp_path, monkeypatch, "import sys\nsys.stderr.write('first\\nlp: no such printer\\n')\n"
                              "sys.exit(1)\n")
    with pytest.raises(OutputError, match=r"^cannot print .*a.pdf on 'Desk': lp: no such "
                                          r"printer$"):
        deliver.print_files([tmp_path / "a.pdf"], "Desk")
    lp(tmp_path, monkeypatch, "import sys\nsys.exit(3)\n")
    with pytest.raises(OutputError, match=r"on 'Desk': lp exit code 3$"):
        deliver.print_files([tmp_path / "a.pdf"], "Desk")


def test_print_files_timeout(tmp_path, monkeypatch):
    lp(tmp_path, monkeypatch, "")

    def slow(*args, **kwargs):
        assert kwargs["timeout"] == 60
        raise subprocess.TimeoutExpired(args[0], 60)

    monkeypatch.setattr(subprocess, "run", slow)
    with pytest.raises(OutputError, match="lp did not answer in 60 s"):
        deliver.print_files([tmp_path / "a.pdf"], "Desk")


def test_print_files_without_lp(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(OutputError, match=r"the 'lp' command was not found \(install "
                                          r"cups-client\)"):
        deliver.print_files([tmp_path / "a.pdf"], "Desk")


def test_write_output_to_a_file(tmp_path):
    deliver.write_output(tmp_path / "a.pdf", b"data")
    assert (tmp_path / "a.pdf").read_bytes() == b"data"


class FakeStdout:
    """Standard output whose buffer fails with `error`; its fileno is a real file."""

    def __init__(self, path, error=None):
        self.handle = open(path, "wb")
        self.error = error
        self.buffer = self

    def write(self, data):
        if self.error:
            raise self.error
        self.handle.write(data)

    def flush(self):
        self.handle.flush()

    def fileno(self):
        return self.handle.fileno()


def test_write_output_to_standard_output(tmp_path, monkeypatch):
    fake = FakeStdout(tmp_path / "out")
    monkeypatch.setattr(sys, "stdout", fake)
    deliver.write_output("-", b"%PDF data")
    assert (tmp_path / "out").read_bytes() == b"%PDF data"
    assert not (tmp_path / "-").exists()


@pytest.mark.parametrize("error, message", [
    (BrokenPipeError(32, "Broken pipe"), "^output pipe closed before the PDF was written$"),
    (OSError(28, "No space left on device"),
     "^cannot write to standard output: No space left on device$"),
])
def test_standard_output_failing(tmp_path, monkeypatch, error, message):
    fake = FakeStdout(tmp_path / "out", error)
    monkeypatch.setattr(sys, "stdout", fake)
    with pytest.raises(OutputError, match=message):
        deliver.write_output("-", b"%PDF data")
    # What Python still holds for standard output now goes to /dev/null.
    assert os.readlink(f"/proc/self/fd/{fake.fileno()}") == os.devnull
    fake.handle.close()



def test_stale_temporaries_with_a_hyphen_in_the_host_name(tmp_path, monkeypatch):
    monkeypatch.setattr(socket, "gethostname", lambda: "ward-3-printer")
    dead = subprocess.Popen(["true"])
    dead.wait()
    (tmp_path / f".handouts-ward-3-printer-{dead.pid}-abc.tmp").write_bytes(b"x")
    (tmp_path / f".handouts-ward-3-printer-{os.getpid()}-abc.tmp").write_bytes(b"x")
    assert deliver.remove_stale_temporaries(tmp_path) == 1
    assert [p.name for p in tmp_path.iterdir()] == [
        f".handouts-ward-3-printer-{os.getpid()}-abc.tmp"]
