"""The manifest embedded in every PDF: which topics, versions and sections a patient was
given, and how the document was made. It never holds patient details."""

from __future__ import annotations

import datetime as dt
import json

from .. import __version__
from ..content.select import Selection

NAME = "handouts-manifest.json"
DESCRIPTION = "Which patient-education topics and versions this document holds"


def build_manifest(selections: list[Selection], *, layout: str, brand: str, paper: str,
                   archival: bool, generated: dt.datetime) -> dict:
    """The manifest of a document: which topics, versions, sections and source digests it
    holds and how it was made; never patient details."""
    return {
        "generator": f"handouts {__version__}",
        "generated": generated.isoformat().replace("+00:00", "Z"),
        "layout": layout,
        "brand": brand,
        "paper": paper,
        "archival": archival,
        "topics": [_entry(s) for s in selections],
    }


def _entry(selection: Selection) -> dict:
    """One topic of the manifest; a --bilingual topic names its second language's version."""
    topic = selection.topic
    entry = {"id": topic.id, "title": topic.title, "lang": topic.lang,
             "version": topic.version, "updated": topic.updated.isoformat(),
             "sections": selection.section_ids, "sha256": topic.sha256,
             "sources": list(topic.sources)}
    if selection.wanted_lang:
        # --fallback: the reader's language has no version of this topic yet.
        entry["not_available_in"] = selection.wanted_lang
    if selection.second is not None:
        other = selection.second.topic
        entry["bilingual"] = {"lang": other.lang, "title": other.title,
                              "version": other.version, "sha256": other.sha256}
    return entry


def dumps(manifest: dict) -> bytes:
    """The manifest as the JSON embedded in PDFs (sorted keys, so the bytes are stable)."""
    return json.dumps(manifest, indent=2, ensure_ascii=False, sort_keys=True).encode("utf-8")
