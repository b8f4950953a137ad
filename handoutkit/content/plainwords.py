"""Plain words: the jargon a topic should avoid and the acronyms it may use, from
`layouts/plain-words.toml` (a clinic's own copy adds to the bundled one)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..errors import LibraryError
from .library import Library


@dataclass(frozen=True)
class PlainWords:
    """A language's plain-words rules (layouts/plain-words.toml): jargon and what to say
    instead, words in capitals that are not acronyms, how many acronyms a topic may use."""

    jargon: dict
    acronyms_allowed: frozenset
    max_acronyms: int


def load_plain_words(library: Library) -> dict[str, PlainWords]:
    """layouts/plain-words.toml of every layer, the clinic's entries over the bundled ones."""
    merged: dict[str, dict] = {}
    for path, lang, table in library.layout_tables("plain-words.toml"):
        into = merged.setdefault(lang, {"jargon": {}, "acronyms_allowed": [],
                                        "max_acronyms": 2})
        jargon = table.get("jargon", {})
        if not isinstance(jargon, dict) or not all(
                isinstance(v, str) for v in jargon.values()):
            raise LibraryError(f"{path}: [{lang}.jargon] must be word = \"instead\" lines")
        into["jargon"].update(jargon)
        allowed = table.get("acronyms_allowed", [])
        if not isinstance(allowed, list) or not all(isinstance(v, str) for v in allowed):
            raise LibraryError(f"{path}: [{lang}] acronyms_allowed must be a list of words")
        into["acronyms_allowed"] += allowed
        most = table.get("max_acronyms", into["max_acronyms"])
        if not isinstance(most, int) or isinstance(most, bool) or most < 0:
            raise LibraryError(f"{path}: [{lang}] max_acronyms must be a whole number")
        into["max_acronyms"] = most
    return {lang: PlainWords({k.lower(): v for k, v in d["jargon"].items() if v},
                             frozenset(d["acronyms_allowed"]), d["max_acronyms"])
            for lang, d in merged.items()}


ACRONYM_RE = re.compile(r"(?<![\w-])[A-Z][A-Z0-9]*[A-Z](?:-[A-Z]+)?(?![\w-])")
