"""Copies of the versions of a topic that were imported, exported for translation or
reviewed, kept in the library's `history/` folder (`history/ID.LANG/VERSION.DIGEST.md`),
so that `diff` can show what changed since a review and `translate export --changed-since`
what changed since a version. The topic reader never looks there."""

from __future__ import annotations

import hashlib
from pathlib import Path

from handoutkit.content.topic import Topic
from handoutkit.errors import LibraryError

from .topicfile import write_text

FOLDER = "history"


def digest_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def folder(root: Path, topic_id: str, lang: str) -> Path:
    return root / FOLDER / f"{topic_id}.{lang}"


def keep(root: Path, topic: Topic, text: str, digest: str | None = None) -> Path:
    """Keep a copy of a topic's text as it is now (once per version and content); `digest`
    names it instead of the text's own (a review's digest of the reviewed content)."""
    name = f"{topic.version}.{(digest or digest_text(text))[:16]}.md"
    path = folder(root, topic.id, topic.lang) / name
    if not path.exists():
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise LibraryError(f"cannot create {path.parent}: {exc.strerror}") from None
        write_text(path, text)
    return path


def versions(roots, topic_id: str, lang: str) -> list[Path]:
    """The kept copies of a topic, newest last."""
    found = []
    for root in roots:
        found += folder(root, topic_id, lang).glob("*.md")
    return sorted(found, key=lambda p: p.stat().st_mtime)


def by_version(roots, topic_id: str, lang: str, version: str) -> Path | None:
    """The latest kept copy of one version of a topic, or None."""
    matches = [p for p in versions(roots, topic_id, lang)
               if p.name.rsplit(".", 2)[0] == version]
    return matches[-1] if matches else None


def by_digest(roots, topic_id: str, lang: str, digest: str) -> Path | None:
    """The kept copy whose text had this SHA-256 (a reviewed version), or None."""
    for path in versions(roots, topic_id, lang):
        if path.name.rsplit(".", 2)[1] == digest[:16]:
            return path
    return None
