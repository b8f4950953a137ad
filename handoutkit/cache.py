"""A disk cache of rendered pieces (topic parts, covers without personal details, page
number overlays, merged fonts), keyed by everything that changes their bytes.

Entries are written atomically (temporary file, then rename), so processes can share the
cache. Each entry starts with an HMAC-SHA-256 of its key and payload, made with a secret
that is not in the cache folder (`cache.key` in the user's data folder, readable by its
owner only; HANDOUTS_CACHE_KEY_FILE overrides it). An entry that is damaged, or was
written by anyone without the secret, or was moved under another key, is a miss: it is
removed and rebuilt. So whoever can write the cache folder can at most slow builds down;
whoever can read the key file can put pages into handouts, so only the user that builds
may read it. Patient details never reach the cache: pieces that carry them are not cached.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from . import __version__
from .keys import KEY_BYTES, read_or_make_key

DIGEST = 32
SUFFIX = ".entry"


def default_dir() -> Path:
    """The cache folder: HANDOUTS_CACHE_DIR, else the user cache folder."""
    override = os.environ.get("HANDOUTS_CACHE_DIR")
    if override:
        return Path(override).expanduser()
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("handouts", appauthor=False))




def key_file() -> Path:
    """The file holding the secret cache entries are signed with (outside the cache)."""
    override = os.environ.get("HANDOUTS_CACHE_KEY_FILE")
    if override:
        return Path(override).expanduser()
    from platformdirs import user_data_dir

    return Path(user_data_dir("handouts", appauthor=False)) / "cache.key"


def load_secret(path: Path) -> bytes | None:
    """The signing secret, made (mode 0600) the first time; None when it cannot be had
    (then the cache is neither read nor written)."""
    try:
        secret = read_or_make_key(path)
    except OSError:
        return None
    return secret if len(secret) >= KEY_BYTES else None


def make_key(*parts: object) -> str:
    """A stable key from JSON-able parts plus the tool's version."""
    blob = json.dumps([__version__, *parts], sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()


@dataclass
class CacheStats:
    """Hits and misses of one process, for benchmarks and metrics."""

    hits: int = 0
    misses: int = 0
    damaged: int = 0


class Cache:
    """Rendered parts and parsed topics on disk, keyed by everything that shapes them,
    written atomically and signed; a damaged or unsigned entry is a miss. Never holds
    patient details."""

    def __init__(self, folder: Path | None = None, enabled: bool = True,
                 secret: Path | None = None):
        self.folder = Path(folder) if folder else default_dir()
        self.enabled = enabled
        self.stats = CacheStats()
        self._secret_file = secret
        self._secret: bytes | None = None

    def _sign(self, key: str, payload: bytes) -> bytes | None:
        if self._secret is None:
            self._secret = load_secret(self._secret_file or key_file())
            if self._secret is None:
                self.enabled = False
                return None
        return hmac.new(self._secret, key.encode() + b"\0" + payload, hashlib.sha256).digest()

    def _path(self, key: str) -> Path:
        return self.folder / key[:2] / (key + SUFFIX)

    def get(self, key: str) -> bytes | None:
        """The entry's bytes, or None (absent, damaged, badly signed, or the cache is off)."""
        if not self.enabled:
            return None
        path = self._path(key)
        try:
            data = path.read_bytes()
        except OSError:
            self.stats.misses += 1
            return None
        payload = data[DIGEST:]
        signature = self._sign(key, payload)
        if signature is None:
            return None
        if len(data) < DIGEST or not hmac.compare_digest(signature, data[:DIGEST]):
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
        signature = self._sign(key, payload)
        if signature is None:
            return
        path = self._path(key)
        tmp = None
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=SUFFIX)
            with os.fdopen(fd, "wb") as handle:
                handle.write(signature)
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
        """The entry files in the cache folder."""
        if not self.folder.is_dir():
            return []
        return sorted(self.folder.glob(f"*/*{SUFFIX}"))

    def info(self) -> dict:
        """The folder, the number of entries and their total size."""
        entries = self.entries()
        return {"folder": str(self.folder), "entries": len(entries),
                "bytes": sum(p.stat().st_size for p in entries)}

    def clear(self) -> int:
        """Remove every entry; returns how many were removed."""
        removed = 0
        for path in self.entries():
            try:
                path.unlink()
                removed += 1
            except OSError:
                pass
        return removed
