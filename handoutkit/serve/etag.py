"""The ETag of a plain handout (GET /v1/topics/{id}.pdf|.html), known before rendering:
derived from the same digests the cache keys a part by, so an edit that changes what
prints changes the ETag, even when the topic's version does not."""

from __future__ import annotations

import hashlib
import json

from starlette.requests import Request

from .. import __version__
from ..request import BuildRequest
from .jobs import find_brand


def topic_etag(library, request: BuildRequest) -> str:
    """The plain handout's ETag, known before rendering, from the digests the cache keys
    its parts by (packet.part_key: the topic file, its related topics and pictures, the
    sections) and the print fingerprint (brand and logo, layouts, strings, fonts, tool
    version), with the printed date, the format and the manifest's topic versions."""
    from ..build import selections_for
    from ..content.brand import load_brand
    from ..options import printed_date
    from ..pdf.packet import fingerprint, part_key

    request.check_library(library)
    brand = load_brand(find_brand(library, request.brand) or library.default_brand)
    printed = printed_date()
    print_fp = fingerprint(library, brand, request.layout, request.paper)
    selections = selections_for(library, list(request.specs), request.lang)
    parts = [part_key(s, library, print_fp, printed) for s in selections]
    versions = [(s.topic.id, s.topic.lang, s.topic.version) for s in selections]
    blob = json.dumps([parts, versions, print_fp, printed.isoformat(), request.format,
                       request.layout, request.paper, __version__], sort_keys=True)
    return '"' + hashlib.sha256(blob.encode()).hexdigest()[:32] + '"'


def etag_matches(request: Request, etag: str) -> bool:
    given = request.headers.get("if-none-match", "")
    return any(tag.strip().removeprefix("W/") == etag for tag in given.split(",")) or \
        given.strip() == "*"
