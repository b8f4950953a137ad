"""Secret keys kept in files: the cache's signing key and a batch folder's digest key."""

from __future__ import annotations

import os
import time
from pathlib import Path

KEY_BYTES = 32


def read_or_make_key(path: Path) -> bytes:
    """The key in `path`, made the first time: KEY_BYTES random bytes, the file readable by
    its owner only (mode 0600, in a folder made 0700). When another process is writing it
    right now, waits for it once. The result may be short if the file is damaged; OSError
    when it cannot be read or made."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    else:
        with os.fdopen(fd, "wb") as handle:
            handle.write(os.urandom(KEY_BYTES))
            handle.flush()
            os.fsync(handle.fileno())
    key = path.read_bytes()
    if len(key) < KEY_BYTES:
        time.sleep(0.2)
        key = path.read_bytes()
    return key
