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
    if path.is_dir():
        raise OutputError(f"cannot write {path}: it is a folder")
    if not folder.is_dir():
        raise OutputError(f"cannot write {path}: folder {folder} does not exist")
    tmp_name = None
    try:
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
    return True


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_output(target: str | Path, data: bytes) -> None:
    """`-` writes to standard output; anything else is a file written atomically."""
    if str(target) == "-":
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
    else:
        write_atomic(target, data)


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
