"""A private temporary folder for a rendering process, and its removal whatever happens.

WeasyPrint copies the layout's fonts into `weasyprint-*` folders under the temporary folder.
A process that renders points Python's temporary folder at its own folder, named after the
host and process (`handouts-HOST-PID-*`), so that everything WeasyPrint leaves is inside it:
- it is removed when the process exits, also on SIGTERM and Ctrl-C (see `on_signals`);
- a later run removes the folders of processes on this host that are gone (kill -9).
Worker processes share their parent's folder; only the process that made it removes it.
"""

from __future__ import annotations

import atexit
import os
import shutil
import signal
import socket
import tempfile
from pathlib import Path

PREFIX = "handouts-"
_claimed: dict[str, object] = {}


def _prefix(pid: int) -> str:
    return f"{PREFIX}{socket.gethostname()}-{pid}-"


def claim() -> Path:
    """This process's temporary folder (made once); stale ones of dead processes go."""
    if "folder" in _claimed:
        return _claimed["folder"]  # type: ignore[return-value]
    base = Path(tempfile.gettempdir())
    remove_stale(base)
    folder = Path(tempfile.mkdtemp(prefix=_prefix(os.getpid()), dir=base))
    _claimed.update(folder=folder, owner=os.getpid())
    tempfile.tempdir = str(folder)
    atexit.register(release)
    return folder


def release() -> None:
    """Remove the folder, in the process that made it only."""
    folder = _claimed.get("folder")
    if folder is None or _claimed.get("owner") != os.getpid():
        return
    shutil.rmtree(folder, ignore_errors=True)


def remove_stale(base: Path) -> int:
    """Remove this host's folders whose process is gone."""
    from ..deliver import _alive

    host = socket.gethostname()
    removed = 0
    for path in base.glob(f"{PREFIX}{host}-*"):
        pid_text = path.name[len(f"{PREFIX}{host}-"):].split("-", 1)[0]
        if path.is_dir() and pid_text.isdigit() and not _alive(int(pid_text)):
            shutil.rmtree(path, ignore_errors=True)
            removed += 1
    return removed


def on_signals() -> None:
    """SIGTERM ends the run as an exception would (exit code 143): worker pools are
    stopped, temporary files and folders removed. Ctrl-C (SIGINT) already does so."""
    def stop(signum, frame):
        raise SystemExit(128 + signum)

    try:
        signal.signal(signal.SIGTERM, stop)
    except ValueError:
        pass  # not the main thread: leave signals to whoever runs us
