"""The manifest embedded in every PDF: which topics, versions and sections a patient was
given, and how the document was made. It never holds patient details."""

from __future__ import annotations

import datetime as dt
import json

from . import __version__
from .select import Selection

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
        "topics": [
            {
                "id": s.topic.id,
                "title": s.topic.title,
                "lang": s.topic.lang,
                "version": s.topic.version,
                "updated": s.topic.updated.isoformat(),
                "sections": s.section_ids,
                "sha256": s.topic.sha256,
            }
            for s in selections
        ],
    }


def dumps(manifest: dict) -> bytes:
    """The manifest as the JSON embedded in PDFs (sorted keys, so the bytes are stable)."""
    return json.dumps(manifest, indent=2, ensure_ascii=False, sort_keys=True).encode("utf-8")
