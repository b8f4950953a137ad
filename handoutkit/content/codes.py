"""ICD-10-CM codes -> topics, the way MedlinePlus Connect serves EHRs.

Codes compare without case or dots (`f411` = `F41.1`). A topic's code matches the codes
beneath it (`F32` matches `F32.9`), a range (`F10-F19`) matches every code in those
categories, and a broad query (`F41`) finds topics listed under narrower codes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..errors import CodeError
from .library import Library

CODE_RE = re.compile(r"^[A-Z][0-9][0-9A-Z][0-9A-Z]{0,4}$")
RANGE_RE = re.compile(r"^([A-Z][0-9][0-9A-Z])\s*[-–]\s*([A-Z][0-9][0-9A-Z])$")

# Lower ranks sort first: the closest matches lead.
EXACT, RANGE, BROADER, NARROWER = "exact", "range", "broader", "narrower"
RANK = {EXACT: 0, BROADER: 1, RANGE: 2, NARROWER: 3}


def normalize(code: str) -> str:
    """'f41.1' -> 'F411'; raises CodeError for something that is not a code."""
    compact = re.sub(r"[\s.]", "", code).upper()
    if not CODE_RE.match(compact):
        raise CodeError(f"'{code}' is not an ICD-10-CM code (like F41.1)")
    return compact


def display(compact: str) -> str:
    """A code as people write it: 'F411' -> 'F41.1'."""
    return compact if len(compact) <= 3 else f"{compact[:3]}.{compact[3:]}"


@dataclass(frozen=True)
class Match:
    """A topic that matches a code, how closely (`kind`) and on which of its codes."""

    query: str
    topic_id: str
    title: str
    code: str  # the topic's code that matched, as the topic writes it
    kind: str
    lang: str = "en"  # the language of the version a reader of the asked language gets

    def as_dict(self) -> dict:
        """The match as JSON for `find --json`."""
        return {"code": self.query, "topic": self.topic_id, "title": self.title,
                "matched": self.code, "match": self.kind, "lang": self.lang}


def match_kind(query: str, topic_code: str) -> str | None:
    """How a topic code relates to a normalized query code, or None."""
    ranged = RANGE_RE.match(topic_code.upper().replace(".", ""))
    if ranged:
        low, high = ranged.groups()
        category = query[:3]
        same_letter = category[0] == low[0] == high[0]
        return RANGE if same_letter and low <= category <= high else None
    code = normalize(topic_code)
    if code == query:
        return EXACT
    if query.startswith(code):
        return BROADER
    if code.startswith(query):
        return NARROWER
    return None


def find(library: Library, codes: list[str], lang: str = "en") -> dict[str, list[Match]]:
    """For each code, the topics that fit it, closest first."""
    queries = [(code, normalize(code)) for code in codes]
    topics = [library.in_language(tid, lang) for tid in library.topic_ids]
    results: dict[str, list[Match]] = {}
    for original, query in queries:
        found: dict[str, Match] = {}
        for topic in topics:
            for topic_code in topic.codes:
                try:
                    kind = match_kind(query, topic_code)
                except CodeError:
                    continue  # lint reports malformed topic codes
                if kind is None:
                    continue
                match = Match(display(query), topic.id, topic.title, topic_code, kind,
                              topic.lang)
                best = found.get(topic.id)
                if best is None or RANK[kind] < RANK[best.kind]:
                    found[topic.id] = match
        results[original] = sorted(found.values(), key=lambda m: (RANK[m.kind], m.topic_id))
    return results


def is_code(text: str) -> bool:
    """Whether `text` reads as an ICD-10-CM code ('F41.1', 'f411', 'F32'), not a word."""
    return bool(CODE_RE.match(re.sub(r"[\s.]", "", text).upper()))
