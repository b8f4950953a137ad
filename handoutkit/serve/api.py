"""The service's routes: request parsing and one handler per route (see openapi.py).

Handlers reach the engine only through the Service's warm workers; what they answer is
JSON with the command line's messages, or the rendered document.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from .. import __version__
from ..errors import HandoutsError
from ..options import FORMATS, PAPERS
from .app import (DIGEST_HEADER, FHIR_FIELDS, FHIR_JSON, PERSONAL_FIELDS, ApiError, Service,
                  Settings, engine_error, manifest_digest)


# -- request parsing ---------------------------------------------------------------------

async def read_json(request: Request, limit: int) -> dict:
    length = request.headers.get("content-length")
    if length and length.isdigit() and int(length) > limit:
        raise ApiError(413, "too_large", f"the request body is over {limit} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise ApiError(413, "too_large", f"the request body is over {limit} bytes")
    try:
        data = json.loads(body or b"null")
    except (ValueError, UnicodeDecodeError):
        raise ApiError(400, "bad_json", "the request body is not valid JSON") from None
    if not isinstance(data, dict):
        raise ApiError(422, "bad_input", "the request body must be a JSON object")
    return data


def document_job(data: dict, settings: Settings) -> tuple[dict, dict | None]:
    """Check a POST /v1/documents body; the render job and the FHIR references."""
    def fail(detail: str):
        raise ApiError(422, "bad_input", detail)

    known = {"specs", "lang", "bilingual", "layout", "paper", "brand", "duplex", "archival", "personal",
             "format", "fhir"}
    unknown = sorted(set(data) - known)
    if unknown:
        fail(f"unknown field '{unknown[0]}'; the fields are: {', '.join(sorted(known))}")
    specs = data.get("specs")
    if isinstance(specs, str):
        specs = specs.split()
    if not isinstance(specs, list) or not specs or not all(isinstance(s, str) for s in specs):
        fail("'specs' must be a list of SPECs like [\"psychotherapy\", "
             "\"insomnia:what-is\"]")
    if len(specs) > settings.max_specs:
        fail(f"too many SPECs: {len(specs)} (at most {settings.max_specs})")
    job: dict = {"specs": specs}
    for name in ("lang", "bilingual", "layout", "brand"):
        value = data.get(name)
        if value is not None and (not isinstance(value, str) or len(value) > 64):
            fail(f"'{name}' must be a short text")
        if value:
            job[name] = value
    paper = data.get("paper")
    if paper is not None and paper not in PAPERS:
        fail(f"'paper' must be one of: {', '.join(PAPERS)}")
    job["paper"] = paper
    fmt = data.get("format", "pdf")
    if fmt not in FORMATS:
        fail(f"'format' must be one of: {', '.join(FORMATS)}")
    job["format"] = fmt
    for name in ("duplex", "archival"):
        value = data.get(name, False)
        if not isinstance(value, bool):
            fail(f"'{name}' must be true or false")
        job[name] = value
    personal = data.get("personal") or {}
    if not isinstance(personal, dict):
        fail("'personal' must be an object with patient, visit_date, clinician, note")
    bad = sorted(set(personal) - set(PERSONAL_FIELDS))
    if bad:
        fail(f"unknown personal field '{bad[0]}'; they are: {', '.join(PERSONAL_FIELDS)}")
    for name, value in personal.items():
        limit = settings.max_note if name == "note" else settings.max_field
        if value is not None and not isinstance(value, str):
            fail(f"personal '{name}' must be text")
        if value and len(value) > limit:
            fail(f"personal '{name}' is longer than {limit} characters")
    job["personal"] = {k: v for k, v in personal.items() if v}
    fhir = data.get("fhir")
    if fhir is not None:
        if not isinstance(fhir, dict) or not all(isinstance(v, str) and len(v) <= 500
                                                 for v in fhir.values()):
            fail(f"'fhir' must be an object with text fields: {', '.join(FHIR_FIELDS)}")
        bad = sorted(set(fhir) - set(FHIR_FIELDS))
        if bad:
            fail(f"unknown fhir field '{bad[0]}'; they are: {', '.join(FHIR_FIELDS)}")
    return job, fhir


def download_name(manifest: dict, fmt: str) -> str:
    """From the topic (one) or 'packet' (several); never from a patient."""
    topics = manifest["topics"]
    if len(topics) > 1:
        return f"packet.{fmt}"
    topic = topics[0]
    return f"{topic['id']}{'' if topic['lang'] == 'en' else '.' + topic['lang']}.{fmt}"


# -- routes ------------------------------------------------------------------------------

def service_of(request: Request) -> Service:
    return request.app.state.service


async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok", "version": __version__})


async def readyz(request: Request) -> Response:
    pool = service_of(request).pool
    if pool.ready:
        return JSONResponse({"status": "ready", "workers": pool.size})
    return JSONResponse({"status": "starting", "workers": pool.size}, status_code=503)


async def metrics(request: Request) -> Response:
    service = service_of(request)
    service.require_key(request)
    return service.metrics.response(service.pool)


async def openapi(request: Request) -> Response:
    service_of(request).require_key(request)
    from .openapi import document

    return JSONResponse(document(__version__))


async def list_topics(request: Request) -> Response:
    service = service_of(request)
    service.require_key(request)
    library = service.library()
    lang, code = request.query_params.get("lang"), request.query_params.get("code")
    try:
        if code:
            from ..codes import find

            matches = find(library, [code], lang or "en")[code]
            rows = [dict(topic_summary(library, m.topic_id, lang), match=m.kind,
                         matched=m.code) for m in matches]
        else:
            rows = [topic_summary(library, tid, lang) for tid in library.topic_ids
                    if not lang or lang in library.languages(tid)]
    except HandoutsError as exc:
        raise engine_error(exc) from None
    return JSONResponse({"topics": rows})


def topic_summary(library, topic_id: str, lang: str | None) -> dict:
    langs = library.languages(topic_id)
    topic = library.in_language(topic_id, lang or langs[0])
    return {"id": topic.id, "title": topic.title, "lang": topic.lang, "languages": langs,
            "version": topic.version, "updated": topic.updated.isoformat(),
            "summary": topic.summary, "codes": list(topic.codes)}


async def show_topic(request: Request) -> Response:
    service = service_of(request)
    service.require_key(request)
    library = service.library()
    topic_id = request.path_params["id"]
    try:
        lang = request.query_params.get("lang") or "en"
        if not library.has(topic_id):
            library.topic(topic_id, lang)  # raises: unknown topic, with close matches
        versions = {}
        for language in library.languages(topic_id):
            t = library.topic(topic_id, language)
            versions[language] = {"version": t.version, "updated": t.updated.isoformat(),
                                  "title": t.title}
        topic = library.topic(topic_id, lang)
    except HandoutsError as exc:
        raise engine_error(exc) from None
    return JSONResponse({
        "id": topic.id, "lang": topic.lang, "title": topic.title, "level": topic.level,
        "version": topic.version, "updated": topic.updated.isoformat(),
        "summary": topic.summary, "related": list(topic.related), "codes": list(topic.codes),
        "languages": library.languages(topic_id), "versions": versions,
        "sections": [{"id": s.id, "title": s.title, "required": s.required}
                     for s in topic.sections],
        "links": {"pdf": f"/v1/topics/{topic.id}.pdf?lang={topic.lang}",
                  "html": f"/v1/topics/{topic.id}.html?lang={topic.lang}"},
    })


def topic_etag(library, topic_id: str, params, fmt: str) -> str:
    """The plain handout's ETag, known before rendering: a digest of its manifest (less
    the time it was made) with the printed date and everything else that shapes its
    pages (layout files, brand, fonts, tool version)."""
    from ..brand import load_brand
    from ..options import printed_date
    from ..build import selections_for
    from ..manifest import build_manifest
    from ..packet import fingerprint
    from .jobs import find_brand

    layout = params.get("layout") or "standard"
    paper = params.get("paper") or "letter"
    if paper not in PAPERS:
        raise ApiError(422, "bad_input", f"'paper' must be one of: {', '.join(PAPERS)}")
    if layout not in library.layout_names:
        raise ApiError(422, "bad_input", f"unknown layout '{layout}'; the layouts are: "
                       f"{', '.join(library.layout_names)}")
    brand = load_brand(find_brand(library, params.get("brand")) or library.default_brand)
    selections = selections_for(library, [topic_id], params.get("lang"))
    manifest = build_manifest(selections, layout=layout, brand=brand.name, paper=paper,
                              archival=False, generated=dt.datetime(2000, 1, 1))
    manifest.pop("generated")
    blob = json.dumps([manifest, printed_date().isoformat(), fmt,
                       fingerprint(library, brand, layout, paper)], sort_keys=True)
    return '"' + hashlib.sha256(blob.encode()).hexdigest()[:32] + '"'


def etag_matches(request: Request, etag: str) -> bool:
    given = request.headers.get("if-none-match", "")
    return any(tag.strip().removeprefix("W/") == etag for tag in given.split(",")) or \
        given.strip() == "*"


async def topic_file(request: Request) -> Response:
    service = service_of(request)
    service.require_key(request)
    fmt = "pdf" if request.url.path.endswith(".pdf") else "html"
    topic_id = request.path_params["id"]
    params = request.query_params
    library = service.library()
    try:
        etag = topic_etag(library, topic_id, params, fmt)
    except HandoutsError as exc:
        raise engine_error(exc) from None
    headers = {"ETag": etag, "Cache-Control": "private, max-age=0, must-revalidate"}
    if etag_matches(request, etag):
        return Response(status_code=304, headers=headers)
    job = {"specs": [topic_id], "format": fmt, "paper": params.get("paper")}
    for name in ("lang", "layout", "brand"):
        if params.get(name):
            job[name] = params[name]
    reply = await service.render(job)
    headers[DIGEST_HEADER] = manifest_digest(reply["manifest"])
    headers["Content-Disposition"] = f'inline; filename="{download_name(reply["manifest"], fmt)}"'
    if fmt == "html":
        headers["Content-Security-Policy"] = PREVIEW_CSP
        return Response(reply["data"], media_type="text/html; charset=utf-8", headers=headers)
    return Response(reply["data"], media_type="application/pdf", headers=headers)


# The self-contained HTML of a handout: its own styles, fonts and pictures, nothing else.
PREVIEW_CSP = ("default-src 'none'; style-src 'unsafe-inline'; font-src data:; "
               "img-src data:; frame-ancestors 'self'; base-uri 'none'; form-action 'none'")


async def create_document(request: Request) -> Response:
    service = service_of(request)
    service.require_key(request)
    data = await read_json(request, service.settings.max_body)
    job, fhir_refs = document_job(data, service.settings)
    wants_fhir = FHIR_JSON in request.headers.get("accept", "")
    if wants_fhir and (job["format"] != "pdf" or not (fhir_refs or {}).get("patient_ref")):
        raise ApiError(422, "bad_input", "a FHIR DocumentReference describes one PDF and "
                       "needs fhir.patient_ref (the FHIR subject, e.g. Patient/123)")
    reply = await service.render(job)
    return document_response(reply, job["format"], fhir_refs if wants_fhir else None)


def document_response(reply: dict, fmt: str, fhir_refs: dict | None,
                      disposition: str = "attachment") -> Response:
    headers = {DIGEST_HEADER: manifest_digest(reply["manifest"]), "Cache-Control": "no-store"}
    if fhir_refs is not None:
        from .. import fhir

        resource = fhir.document_reference(
            reply["data"], reply["manifest"], title=reply["title"],
            patient_ref=fhir_refs["patient_ref"], encounter_ref=fhir_refs.get("encounter_ref"),
            author_ref=fhir_refs.get("author_ref"), url=fhir_refs.get("url"))
        return Response(fhir.dumps(resource), media_type=FHIR_JSON, headers=headers)
    headers["Content-Disposition"] = \
        f'{disposition}; filename="{download_name(reply["manifest"], fmt)}"'
    if fmt == "html":
        headers["Content-Security-Policy"] = PREVIEW_CSP
        return Response(reply["data"], media_type="text/html; charset=utf-8", headers=headers)
    return Response(reply["data"], media_type="application/pdf", headers=headers)


async def infobutton(request: Request) -> Response:
    from ..brand import load_brand
    from . import infobutton as ib

    service = service_of(request)
    service.require_key(request)
    library = service.library()
    try:
        query = ib.parse(request.query_params, library)
        found = ib.entries(query, library, str(request.base_url))
        brand = load_brand(library.default_brand).name
    except HandoutsError as exc:
        raise engine_error(exc) from None
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    base = str(request.base_url)
    if query.response_type == "application/json":
        return JSONResponse(ib.as_json(query, found, base, brand, now))
    return Response(ib.as_atom(query, found, base, brand, now),
                    media_type="text/xml; charset=utf-8")


