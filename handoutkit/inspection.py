"""`handouts inspect`: read back the manifest of a PDF this tool made."""

from __future__ import annotations

import json
from pathlib import Path

from .errors import DocumentError
from .manifest import NAME


def read_manifest(path: str | Path) -> dict:
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    path = Path(path)
    try:
        with path.open("rb") as handle:
            if handle.read(5) != b"%PDF-":
                raise DocumentError(f"{path} is not a PDF")
        reader = PdfReader(path)
        attachments = reader.attachments
    except FileNotFoundError:
        raise DocumentError(f"file not found: {path}") from None
    except (PyPdfError, ValueError, KeyError) as exc:
        raise DocumentError(f"{path}: cannot be read as a PDF ({exc})") from None
    if NAME not in attachments:
        raise DocumentError(f"{path} has no handouts manifest: it was not made by handouts")
    try:
        manifest = json.loads(attachments[NAME][0])
    except (ValueError, UnicodeDecodeError):
        raise DocumentError(f"{path}: its handouts manifest is damaged") from None
    if not isinstance(manifest, dict) or "topics" not in manifest:
        raise DocumentError(f"{path}: its handouts manifest is damaged")
    return manifest
