"""Translations that lag their source: made from an older version of it
(`translated_from.version`), or imported against a changed source (`stale: true`)."""

from __future__ import annotations

from dataclasses import dataclass

from handoutkit.content.library import DEFAULT_LANG, Library
from handoutkit.errors import HandoutsError


@dataclass(frozen=True)
class Stale:
    topic: str
    lang: str
    source_lang: str
    translated_from: str
    source_version: str
    why: str


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split("."))


def stale_translations(library: Library, lang: str | None = None) -> list[Stale]:
    """Every translation older than its source, by topic and language."""
    rows = []
    for entry in library.files():
        if lang and entry.lang != lang:
            continue
        try:
            topic = library.topic(entry.id, entry.lang)
        except HandoutsError:
            continue
        if topic.translated_from:
            source_lang, version = topic.translated_from.split()[:2]
        elif topic.lang != DEFAULT_LANG:  # no record: its own version against the English
            source_lang, version = DEFAULT_LANG, topic.version
        else:
            continue
        if not library.has(topic.id, source_lang):
            continue
        try:
            source = library.topic(topic.id, source_lang)
        except HandoutsError:
            continue
        if _version(version) < _version(source.version):
            why = f"translated from version {version}; the source is now {source.version}"
        elif topic.translation_stale:
            why = "imported with --force from a file made before its source changed"
        else:
            continue
        rows.append(Stale(topic.id, topic.lang, source_lang, version, source.version, why))
    return rows
