"""Resuming a batch: which rows are done, judged by content, never by modification times.

Each output folder holds a `.handouts/` folder with
- `key`: a random secret (mode 0600), made by the first run;
- `journal`: one line per completed step of a row (`pdf`, `fhir`, `print`), naming only the
  output file, the step and a digest.

A row's digest is an HMAC (keyed with that secret) of everything that shapes its packet:
the personal details, the topics' source files and the sections picked, the related
topics' files, language, layout, paper, duplex, archival, the brand file and logo, the
layouts and fonts, and the tool's version. The PDF carries it in its embedded manifest,
so an output is current only when its own bytes say they were made from this very row;
the digest reveals nothing of the patient without the key. A print or FHIR step is done
only when the journal records it for the digest of the packet it was done with.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from pathlib import Path

from .. import __version__
from ..errors import OutputError
from ..keys import KEY_BYTES, read_or_make_key

FOLDER = ".handouts"


def state_dir(out_dir: Path) -> Path:
    """The folder beside a batch's outputs that holds its key and journal."""
    return Path(out_dir) / FOLDER


def load_key(out_dir: Path) -> bytes:
    """The folder's secret, made (readable by its owner only) the first time."""
    path = state_dir(out_dir) / "key"
    try:
        key = read_or_make_key(path)
    except OSError as exc:
        raise OutputError(f"cannot use {path}: {exc.strerror or exc}") from None
    if len(key) < KEY_BYTES:
        raise OutputError(f"{path} is damaged: remove it (every row is then built again)")
    return key


def digest(key: bytes, *parts: object) -> str:
    """A keyed digest (HMAC-SHA-256) of `parts`: says nothing about them without the key."""
    blob = json.dumps([__version__, *parts], sort_keys=True, default=str,
                      ensure_ascii=False).encode("utf-8")
    return hmac.new(key, blob, hashlib.sha256).hexdigest()


class Journal:
    """Completed steps of the rows of one output folder; appended line by line, so
    concurrent shards and killed runs never damage more than their own last line."""

    def __init__(self, out_dir: Path):
        self.path = state_dir(out_dir) / "journal"
        self._done: set[tuple[str, str, str]] | None = None

    def _load(self) -> set[tuple[str, str, str]]:
        if self._done is None:
            self._done = set()
            try:
                lines = self.path.read_text(encoding="utf-8", errors="replace").splitlines()
            except OSError:
                lines = []
            for line in lines:
                try:
                    entry = json.loads(line)
                    self._done.add((entry["output"], entry["step"], entry["digest"]))
                except (ValueError, KeyError, TypeError):
                    continue  # a line cut short by a killed run
        return self._done

    def done(self, output: str, step: str, step_digest: str) -> bool:
        """Whether `step` of `output` was completed with this very digest."""
        return (output, step, step_digest) in self._load()

    def record(self, output: str, step: str, step_digest: str) -> None:
        """Record that `step` of `output` was completed (no patient details are written)."""
        line = json.dumps({"output": output, "step": step, "digest": step_digest}) + "\n"
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(fd, line.encode("utf-8"))
            finally:
                os.close(fd)
        except OSError as exc:
            raise OutputError(f"cannot write {self.path}: {exc.strerror or exc}") from None
        if self._done is not None:
            self._done.add((output, step, step_digest))
