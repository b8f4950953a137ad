"""Access that can be taken back: the keys file re-read when it changes (or on SIGHUP),
staff sessions kept on the server (sign-out and a removed key end them), and a limit on
failed key checks and sign-ins per client address."""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import secrets
import threading
import time
from collections import OrderedDict, deque
from pathlib import Path

from ..errors import HandoutsError

log = logging.getLogger("handouts.serve")

MIN_KEY = 16  # characters: shorter keys are refused when the service starts
RELOAD_EVERY = 1.0  # seconds between looks at the keys file
SESSION_SECONDS = 8 * 3600
MAX_SESSIONS = 10_000


def parse_keys(text: str, source: str) -> list[str]:
    """One key a line; blank lines and comments (`#` after optional spaces) are skipped.
    A key shorter than MIN_KEY characters is an error naming its line (never the key)."""
    keys = []
    for number, line in enumerate(text.splitlines(), 1):
        key = line.strip()
        if not key or key.startswith("#"):
            continue
        if len(key) < MIN_KEY:
            raise HandoutsError(f"{source}:{number}: a key must be at least {MIN_KEY} "
                                f"characters long (this one has {len(key)})")
        keys.append(key)
    return keys


def read_keys(path: str | Path) -> list[str]:
    """The keys of a keys file (see parse_keys)."""
    return parse_keys(Path(path).read_text(encoding="utf-8"), str(path))


def key_id(key: str) -> str:
    """What a session remembers of a key: a digest, so removing the key ends it."""
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def _digest(text: str) -> bytes:
    # surrogatepass: a lone surrogate stays itself (errors="replace" made it "?", which
    # matched a key with a "?" in its place).
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()


class KeyRing:
    """The service's keys, from a file looked at again at most every RELOAD_EVERY seconds
    (and at once after `reload()`, which SIGHUP calls). A file that cannot be read or holds
    a bad line leaves no key working until it is fixed: access fails closed."""

    def __init__(self, keys: list[str], path: str | Path | None = None):
        self.path = Path(path) if path else None
        self._keys = list(keys)
        self._ids = {key_id(k) for k in keys}
        self._stamp = self._stat()
        self._checked = time.monotonic()
        self._lock = threading.Lock()
        self.on_change = lambda ids: None  # told the ids of the keys now valid

    def _stat(self):
        if self.path is None:
            return None
        try:
            st = os.stat(self.path)
        except OSError:
            return "missing"
        return (st.st_mtime_ns, st.st_size, st.st_ino)

    def keys(self) -> list[str]:
        if self.path is not None and time.monotonic() - self._checked >= RELOAD_EVERY:
            self._checked = time.monotonic()
            if self._stat() != self._stamp:
                self.reload()
        return self._keys

    def reload_soon(self) -> None:
        """Read the file at the next request (safe in a signal handler)."""
        self._checked = float("-inf")
        self._stamp = ("reload",)

    def reload(self) -> None:
        if self.path is None:
            return
        with self._lock:
            self._stamp = self._stat()
            try:
                keys = read_keys(self.path)
            except (OSError, UnicodeDecodeError, HandoutsError) as exc:
                detail = getattr(exc, "strerror", None) or exc
                log.warning("keys file %s not usable, no key works until it is fixed: %s",
                            self.path, detail)
                keys = []
            self._keys = keys
            self._ids = {key_id(k) for k in keys}
            log.info("keys file %s read: %d keys", self.path, len(keys))
        self.on_change(set(self._ids))

    def match(self, given: str) -> str | None:
        """The key equal to `given`, character for character (nothing stripped or folded),
        compared against every key. Their SHA-256 digests are compared, in constant
        time, so neither the time nor an early exit tells a key's length or its first
        differing character."""
        wanted = _digest(given)
        found = None
        for key in self.keys():
            if hmac.compare_digest(wanted, _digest(key)):
                found = key
        return found

    def valid_id(self, kid: str) -> bool:
        self.keys()
        return any(hmac.compare_digest(kid, k) for k in self._ids)


class Sessions:
    """Staff sessions on the server: the cookie carries only a random id."""

    def __init__(self, seconds: float = SESSION_SECONDS, limit: int = MAX_SESSIONS):
        self.seconds, self.limit = seconds, limit
        self._live: OrderedDict[str, tuple[str, float]] = OrderedDict()

    def open(self, kid: str) -> str:
        sid = secrets.token_urlsafe(32)
        self._live[sid] = (kid, time.monotonic() + self.seconds)
        while len(self._live) > self.limit:
            self._live.popitem(last=False)
        return sid

    def key_of(self, sid: str | None) -> str | None:
        entry = self._live.get(sid) if isinstance(sid, str) else None
        if entry is None:
            return None
        if entry[1] < time.monotonic():
            self._live.pop(sid, None)
            return None
        return entry[0]

    def close(self, sid: str | None) -> None:
        if isinstance(sid, str):
            self._live.pop(sid, None)

    def keep_only(self, ids: set[str]) -> None:
        """End every session signed in with a key that is no longer valid."""
        for sid, (kid, _) in list(self._live.items()):
            if kid not in ids:
                self._live.pop(sid, None)

    def __len__(self) -> int:
        return len(self._live)


class Limiter:
    """At most `failures` failed attempts per client address in `window` seconds; then
    every attempt from it is refused until the oldest failure is out of the window."""

    def __init__(self, failures: int = 10, window: float = 60.0, addresses: int = 10_000):
        self.failures, self.window, self.addresses = failures, window, addresses
        self._seen: OrderedDict[str, deque] = OrderedDict()

    def _recent(self, address: str) -> deque:
        now = time.monotonic()
        times = self._seen.get(address)
        if times is None:
            return deque()
        while times and times[0] <= now - self.window:
            times.popleft()
        if not times:
            self._seen.pop(address, None)
        return times

    def wait(self, address: str) -> int:
        """Seconds the address must wait before trying again, 0 when it may try now."""
        times = self._recent(address)
        if len(times) < self.failures:
            return 0
        return max(1, int(times[0] + self.window - time.monotonic()) + 1)

    def failed(self, address: str) -> None:
        times = self._seen.setdefault(address, deque())
        self._seen.move_to_end(address)
        times.append(time.monotonic())
        while len(times) > self.failures:
            times.popleft()
        while len(self._seen) > self.addresses:
            self._seen.popitem(last=False)
