"""Signed, expiring links: what an Infobutton answer gives a health record, so that a
clinician's click opens the handout without the service's key.

A link carries `expires` (unix time) and `sig`, the HMAC-SHA256 of the path and the
canonical query (every parameter but `sig`, sorted, `expires` among them) under the
service's link secret. A signature opens only the read-only topic documents
(/v1/topics/{id}.pdf and .html) and only the exact path and query it was made for; the
query holds what the handout is (topic, language, layout, paper, brand), never a patient.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import time
from pathlib import Path
from urllib.parse import urlencode

# Where a signature counts: the plain topic documents, which hold no patient detail.
SIGNED_PATH = re.compile(r"/v1/topics/[^/]+\.(pdf|html)")
LINK_PARAMS = ("lang", "layout", "paper", "brand")  # what a signed link may say
MAX_LIFETIME = 30 * 24 * 3600  # seconds: a link is a door, not a key
REFUSED = ("This link has expired or was changed. Open the handout again from the health "
           "record.")


class LinkRefused(Exception):
    """A signed link that is expired, changed or not a signed link's path (403)."""


def canonical(path: str, params) -> bytes:
    """What is signed: the path and the query, less `sig`, in one order."""
    pairs = sorted((str(k), str(v)) for k, v in params if k != "sig")
    return f"{path}\n{urlencode(pairs)}".encode("utf-8", "surrogatepass")


class LinkSigner:
    """Makes and checks signed links with one secret; `clock` gives unix time (tests)."""

    def __init__(self, secret: bytes, lifetime: float, clock=time.time):
        if len(secret) < 16:
            raise ValueError("a link secret needs at least 16 bytes")
        self._secret, self.lifetime, self.clock = secret, lifetime, clock

    def _mac(self, message: bytes) -> str:
        digest = hmac.new(self._secret, message, hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")

    def sign(self, path: str, params: dict[str, str]) -> str:
        """`path?query&expires=…&sig=…` for a topic document path like /v1/topics/ocd.pdf;
        `params` may only be what a handout is (LINK_PARAMS)."""
        if not SIGNED_PATH.fullmatch(path):
            raise ValueError(f"only topic documents are signed, not {path}")
        unknown = set(params) - set(LINK_PARAMS)
        if unknown:
            raise ValueError(f"a signed link cannot carry {', '.join(sorted(unknown))}")
        pairs = [(k, v) for k, v in params.items()]
        pairs.append(("expires", str(int(self.clock() + self.lifetime))))
        pairs.append(("sig", self._mac(canonical(path, pairs))))
        return f"{path}?{urlencode(pairs)}"

    def check(self, path: str, params) -> None:
        """Return if `params` (name, value pairs of the query) sign `path` and have not
        expired; raise LinkRefused otherwise. One `sig` and one `expires` only."""
        params = list(params)
        sigs = [v for k, v in params if k == "sig"]
        expires = [v for k, v in params if k == "expires"]
        if not SIGNED_PATH.fullmatch(path) or len(sigs) != 1 or len(expires) != 1:
            raise LinkRefused(REFUSED)
        expected = self._mac(canonical(path, params))
        if not hmac.compare_digest(expected.encode(), sigs[0].encode("utf-8", "surrogatepass")):
            raise LinkRefused(REFUSED)
        if not expires[0].isascii() or not expires[0].isdigit() \
                or int(expires[0]) <= self.clock():
            raise LinkRefused(REFUSED)


def link_secret(given: bytes | None, session_secret: str) -> bytes:
    """The key links are signed with: the link secret file's, else one derived from the
    session secret (which replicas already share), kept apart from it by the label."""
    if given:
        return given
    return hmac.new(session_secret.encode(), b"handouts signed links v1",
                    hashlib.sha256).digest()


def parse_lifetime(text: str) -> int:
    """Seconds from `90`, `90s`, `30m`, `24h` or `7d`; at least 1 s, at most 30 days."""
    match = re.fullmatch(r"\s*(\d+)\s*([smhd]?)\s*", text.lower())
    if not match:
        raise ValueError(f"'{text}' is not a duration: give seconds, or a number with s, m, "
                         "h or d (like 24h)")
    seconds = int(match[1]) * {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}[match[2]]
    if not 1 <= seconds <= MAX_LIFETIME:
        raise ValueError(f"'{text}' is not between 1 second and 30 days")
    return seconds


def read_link_secret(path: str) -> bytes:
    """The secret of a link secret file: its text, without the white space around it; at
    least 32 characters (`openssl rand -hex 32` makes one)."""
    from ..errors import HandoutsError

    try:
        secret = Path(path).read_bytes().strip()
    except OSError as exc:
        raise HandoutsError(f"cannot read the link secret file {path}: "
                            f"{exc.strerror or exc}") from None
    if len(secret) < 32:
        raise HandoutsError(f"the link secret file {path} must hold at least 32 characters "
                            f"(it has {len(secret)}); make one with: openssl rand -hex 32")
    return secret
