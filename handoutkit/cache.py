"""A disk cache of rendered pieces (topic parts, covers without personal details, page
number overlays, merged fonts), keyed by everything that changes their bytes.

Entries are written atomically (temporary file, then rename), so processes can share the
cache; each entry starts with the SHA-256 of its payload, so a damaged entry is detected,
removed and rebuilt. Patient details never reach it: pieces that carry them are not cached.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from . import __version__

DIGEST = 32
SUFFIX = ".entry"


def default_dir() -> Path:
    override = os.environ.get("HANDOUTS_CACHE_DIR")
    if override:
        return Path(override).expanduser()
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("handouts", appauthor=False))


def make_key(*parts: object) -> str:
    """A stable key from JSON-able parts plus the tool's version."""
    blob = json.dumps([__version__, *parts], sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()


@dataclass
class CacheStats:
    hits: int = 0
    misses: int = 0
    damaged: int = 0


class Cache:
    def __init__(self, folder: Path | None = None, enabled: bool = True):
        self.folder = Path(folder) if folder else default_dir()
        self.enabled = enabled
        self.stats = CacheStats()

    def _path(self, key: str) -> Path:
        return self.folder / key[:2] / (key + SUFFIX)

    def get(self, key: str) -> bytes | None:
        if not self.enabled:
            return None
        path = self._path(key)
        try:
            data = path.read_bytes()
        except OSError:
            self.stats.misses += 1
            return None
        payload = data[DIGEST:]
        if len(data) < DIGEST or hashlib.sha256(payload).digest() != data[:DIGEST]:
            self.stats.damaged += 1
            self.stats.misses += 1
            try:
                path.unlink()
            except OSError:
                pass
            return None
        self.stats.hits += 1
        return payload

    def put(self, key: str, payload: bytes) -> None:
        """Store an entry; a cache that cannot be written is skipped, never an error."""
        if not self.enabled:
            return
        path = self._path(key)
        tmp = None
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=SUFFIX)
            with os.fdopen(fd, "wb") as handle:
                handle.write(hashlib.sha256(payload).digest())
                handle.write(payload)
            os.replace(tmp, path)
            tmp = None
        except OSError:
            pass
        finally:
            if tmp:
                try:
                    os.unlink(tmp)
                except OSError:
                    pass

    def entries(self) -> list[Path]:
        if not self.folder.is_dir():
            return []
        return sorted(self.folder.glob(f"*/*{SUFFIX}"))

    def info(self) -> dict:
        entries = self.entries()
        return {"folder": str(self.folder), "entries": len(entries),
                "bytes": sum(p.stat().st_size for p in entries)}

    def clear(self) -> int:
        removed = 0
        for path in self.entries():
            try:
                path.unlink()
                removed += 1
            except OSError:
                pass
        return removed
