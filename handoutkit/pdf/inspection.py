"""`handouts inspect`: read back the manifest of a PDF this tool made.

The PDF may come from anywhere: it is read with pypdf's limits on decompressed sizes, the
manifest must be small, plain JSON of the expected shape, and text shown on a terminal has
its control characters escaped (`printable`).
"""

from __future__ import annotations

import json
from pathlib import Path

from ..document.manifest import NAME
from ..errors import DocumentError, _unsafe, printable  # noqa: F401 (re-export)

MAX_MANIFEST_BYTES = 1024 * 1024
TEXT_FIELDS = ("generator", "generated", "layout", "brand", "paper")
TOPIC_TEXT_FIELDS = ("id", "title", "lang", "version", "updated", "sha256")


def read_manifest(path: str | Path) -> dict:
    """The manifest embedded in a PDF this tool made, checked to be what this tool
    writes; DocumentError names the file when it is missing, damaged or hostile."""
    from pypdf import PdfReader

    path = Path(path)
    try:
        with path.open("rb") as handle:
            if handle.read(5) != b"%PDF-":
                raise DocumentError(f"{path} is not a PDF")
        reader = PdfReader(path)
        attachments = reader.attachments
        data = attachments[NAME][0] if NAME in attachments else None
    except FileNotFoundError:
        raise DocumentError(f"file not found: {path}") from None
    except OSError as exc:
        raise DocumentError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    except DocumentError:
        raise
    except (Exception, RecursionError) as exc:  # noqa: BLE001 - any damage pypdf meets
        reason = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        raise DocumentError(f"{path}: cannot be read as a PDF ({reason})") from None
    if data is None:
        raise DocumentError(f"{path} has no handouts manifest: it was not made by handouts")
    if len(data) > MAX_MANIFEST_BYTES:
        raise DocumentError(f"{path}: its handouts manifest is damaged (far too large)")
    try:
        manifest = json.loads(data)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise DocumentError(f"{path}: its handouts manifest is damaged") from None
    problem = _shape_problem(manifest)
    if problem:
        raise DocumentError(f"{path}: its handouts manifest is damaged ({problem})")
    return manifest


def _shape_problem(manifest: object) -> str | None:
    if not isinstance(manifest, dict) or not isinstance(manifest.get("topics"), list):
        return "no list of topics"
    for name in TEXT_FIELDS:
        if not isinstance(manifest.get(name, ""), str):
            return f"'{name}' is not text"
    if not isinstance(manifest.get("archival", False), bool):
        return "'archival' is not true or false"
    for topic in manifest["topics"]:
        if not isinstance(topic, dict):
            return "a topic is not an object"
        for name in TOPIC_TEXT_FIELDS:
            if not isinstance(topic.get(name), str):
                return f"a topic's '{name}' is not text"
        sections = topic.get("sections")
        if not isinstance(sections, list) or not all(isinstance(s, str) for s in sections):
            return "a topic's 'sections' is not a list of ids"
    return None


def printable_json(data: object) -> str:
    """JSON whose strings carry no raw control or format characters."""
    text = json.dumps(data, indent=2, ensure_ascii=False)
    return "".join(f"\\u{ord(c):04x}" if c != "\n" and _unsafe(c) else c for c in text)
