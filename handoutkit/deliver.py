"""Delivery: write outputs atomically (a temporary file beside the target, then rename)."""

from __future__ import annotations

import os
import socket
import sys
import tempfile
from pathlib import Path

from .errors import OutputError
from .options import FhirRefs


def write_atomic(path: str | Path, data: bytes) -> Path:
    """Write `data` to `path` so that readers see the old file or the whole new one."""
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    tmp_name = None
    try:
        if "\0" in str(path):
            raise OutputError(f"cannot write {str(path)!r}: a file name cannot hold a NUL byte")
        if path.is_dir():
            raise OutputError(f"cannot write {path}: it is a folder")
        if not folder.is_dir():
            raise OutputError(f"cannot write {path}: folder {folder} does not exist")
        # The temporary name carries nothing of the output's name: the host and process
        # that write it (so a later run can tell a dead writer's leftovers) and a random part.
        fd, tmp_name = tempfile.mkstemp(dir=folder, prefix=temporary_prefix(), suffix=".tmp")
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp_name, 0o644 & ~_umask())
        os.replace(tmp_name, path)
        tmp_name = None
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {exc.strerror or exc}") from None
    finally:
        if tmp_name is not None:
            try:
                os.unlink(tmp_name)
            except OSError:
                pass
    return path


TEMP_PREFIX = ".handouts-"


def temporary_prefix() -> str:
    """The start of this process's temporary file names: host and process id, nothing
    of the output's name."""
    return f"{TEMP_PREFIX}{socket.gethostname()}-{os.getpid()}-"


def remove_stale_temporaries(folder: Path, max_age: float = 3600.0) -> int:
    """Remove temporary files that killed writers left behind (they may hold patient
    details): this host's whose process is gone, and any host's older than `max_age`
    seconds. Files of writers still at work are left alone (shards may share a folder)."""
    import time

    removed = 0
    host = socket.gethostname()
    for path in Path(folder).glob(f"{TEMP_PREFIX}*.tmp"):
        rest = path.name[len(TEMP_PREFIX):]
        writer_host, _, pid_text = rest.rpartition("-")[0].rpartition("-")
        dead = writer_host == host and pid_text.isdigit() and not _alive(int(pid_text))
        try:
            old = time.time() - path.stat().st_mtime > max_age
            if dead or old:
                path.unlink()
                removed += 1
        except OSError:
            pass
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A killed process nobody has reaped yet (a zombie) still answers signal 0.
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rpartition(")")[2].split()[0] not in ("Z", "X")
    except (OSError, IndexError):
        return True


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_output(target: str | Path, data: bytes) -> None:
    """`-` writes to standard output; anything else is a file written atomically."""
    if str(target) == "-":
        try:
            sys.stdout.buffer.write(data)
            sys.stdout.buffer.flush()
        except OSError as exc:
            _drop_stdout()
            if isinstance(exc, BrokenPipeError):
                raise OutputError("output pipe closed before the PDF was written") from None
            raise OutputError(f"cannot write to standard output: "
                              f"{exc.strerror or exc}") from None
    else:
        write_atomic(target, data)


def make_folder(folder: str | Path) -> Path:
    """An output folder, made with its parents when it does not exist yet."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise OutputError(f"cannot use {folder} as the output folder: it is a file") from None
    except OSError as exc:
        raise OutputError(f"cannot make the output folder {folder}: "
                          f"{exc.strerror or exc}") from None
    return folder


def same_file(a: str | Path, b: str | Path) -> bool:
    """Whether two names given by the user are the same file (existing or not)."""
    try:
        return Path(a).resolve() == Path(b).resolve()
    except (OSError, RuntimeError, ValueError):
        return str(a) == str(b)


def check_writable(path: str | Path) -> None:
    """Refuse, before anything is built, an output whose folder is missing or read-only."""
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    try:
        if path.is_dir():
            raise OutputError(f"cannot write {path}: it is a folder")
        if not folder.is_dir():
            raise OutputError(f"cannot write {path}: folder {folder} does not exist")
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {exc.strerror or exc}") from None
    if not os.access(folder, os.W_OK | os.X_OK):
        raise OutputError(f"cannot write {path}: folder {folder} is not writable")


def _drop_stdout() -> None:
    """After standard output failed, point it at /dev/null: what Python still holds in its
    buffer is dropped instead of failing again (with a traceback) at exit."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass


def write_fhir(path: str | Path, pdf: bytes, manifest: dict, title: str,
               refs: FhirRefs) -> Path:
    """The FHIR R4 DocumentReference of a PDF just built, written atomically."""
    from . import fhir

    resource = fhir.document_reference(
        pdf, manifest, title=title, patient_ref=refs.patient_ref,
        encounter_ref=refs.encounter_ref, author_ref=refs.author_ref, url=refs.url)
    return write_atomic(path, fhir.dumps(resource))


def print_files(paths: list[Path], printer: str, *, copies: int = 1, duplex: bool = False,
                ) -> None:
    """Send PDFs to a CUPS printer with `lp`; errors name the file and say what lp said."""
    import shutil
    import subprocess

    lp = shutil.which("lp")
    if lp is None:
        raise OutputError("cannot print: the 'lp' command was not found (install cups-client)")
    for path in paths:
        command = [lp, "-d", printer, "-n", str(copies)]
        if duplex:
            command += ["-o", "sides=two-sided-long-edge"]
        command += ["--", str(path)]
        try:
            result = subprocess.run(command, capture_output=True, text=True, timeout=60)
        except subprocess.TimeoutExpired:
            raise OutputError(f"cannot print {path}: lp did not answer in 60 s") from None
        if result.returncode != 0:
            reason = (result.stderr or result.stdout).strip().splitlines()
            raise OutputError(f"cannot print {path} on '{printer}': "
                              f"{reason[-1] if reason else f'lp exit code {result.returncode}'}")
