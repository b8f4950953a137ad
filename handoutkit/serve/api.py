"""The service's routes: request parsing and one handler per route (see openapi.py).

Handlers reach the engine only through the Service's warm workers; what they answer is
JSON with the command line's messages, or the rendered document.
"""

from __future__ import annotations

import datetime as dt
import json
import re

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from .. import __version__
from ..errors import HandoutsError
from ..request import (
    FIELDS,
    LANG_PATTERN,
    NAME_PATTERN,
    PERSONAL_FIELDS,
    UNSAFE_RE,
    BuildRequest,
    Limits,
    RequestError,
    _shown,
)
from .etag import etag_matches, topic_etag
from .links import LinkRefused
from .service import (
    DIGEST_HEADER,
    FHIR_FIELDS,
    FHIR_JSON,
    ApiError,
    Service,
    Settings,
    engine_error,
    error_response,
    manifest_digest,
)

# -- request parsing ---------------------------------------------------------------------

MAX_DEPTH = 8  # nesting of a JSON body: a request needs 3


async def read_json(request: Request, limit: int) -> dict:
    """The JSON object of the body (its size is bounded by middleware.Guard before and while it
    is read; `limit` is checked again here for callers outside the service)."""
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise ApiError(413, "too_large", f"the request body is over {limit} bytes")
    try:
        data = json.loads(body or b"null")
    except RecursionError:
        data = None
        too_deep = True
    except (ValueError, UnicodeDecodeError):
        raise ApiError(400, "bad_json", "the request body is not valid JSON") from None
    else:
        too_deep = _depth(data) > MAX_DEPTH
    if too_deep:
        raise ApiError(400, "bad_json", f"the request body is nested deeper than "
                       f"{MAX_DEPTH} levels")
    if not isinstance(data, dict):
        raise ApiError(422, "bad_input", "the request body must be a JSON object")
    return data


def _depth(value, level: int = 1) -> int:
    if level > MAX_DEPTH:
        return level
    if isinstance(value, dict):
        return max([_depth(v, level + 1) for v in value.values()] or [level])
    if isinstance(value, list):
        return max([_depth(v, level + 1) for v in value] or [level])
    return level


def request_error(exc: RequestError) -> ApiError:
    return ApiError(422, "bad_input", str(exc), field=exc.field)


def document_job(data: dict, settings: Settings) -> tuple[dict, dict | None]:
    """Check a POST /v1/documents body with the one parser of a build request; the render
    job and the FHIR references."""
    unknown = [k for k in data if k not in DOCUMENT_FIELDS]
    if unknown:
        raise ApiError(422, "bad_input", f"unknown field '{_shown(unknown[0])}'; the fields "
                       f"are: {', '.join(DOCUMENT_FIELDS)}", field=_shown(unknown[0]))
    data = dict(data)
    personal = data.pop("personal", None)
    fhir = data.pop("fhir", None)
    if personal is not None:
        data.update(_checked_personal(personal))
    try:
        request = BuildRequest.from_mapping(data, limits=limits_of(settings))
    except RequestError as exc:
        raise request_error(exc) from None
    if fhir is not None:
        _check_fhir(fhir)
    return request.as_mapping(), fhir


def _checked_personal(personal) -> dict:
    return _object_of(personal, "personal", PERSONAL_FIELDS)


def _check_fhir(fhir) -> None:
    for name, value in _object_of(fhir, "fhir", FHIR_FIELDS, "text fields: ").items():
        if not isinstance(value, str) or len(value) > 500 or UNSAFE_RE.search(value):
            raise ApiError(422, "bad_input", f"fhir '{name}' must be text of at most "
                           "500 characters", field="fhir")


def _object_of(value, name: str, fields: tuple[str, ...], kind: str = "") -> dict:
    """A body's nested object (`personal`, `fhir`) holding only the fields it may."""
    if not isinstance(value, dict):
        raise ApiError(422, "bad_input", f"'{name}' must be an object with {kind}"
                       f"{', '.join(fields)}", field=name)
    bad = [k for k in value if k not in fields]
    if bad:
        raise ApiError(422, "bad_input", f"unknown {name} field '{_shown(bad[0])}'; "
                       f"they are: {', '.join(fields)}", field=name)
    return value


# The fields of POST /v1/documents: a build request, its personal details as one object.
DOCUMENT_FIELDS = (*(f for f in FIELDS if f not in PERSONAL_FIELDS), "personal", "fhir")


def limits_of(settings: Settings) -> Limits:
    return Limits(specs=settings.max_specs, field=settings.max_field, note=settings.max_note)


def download_name(manifest: dict, fmt: str, today: dt.date | None = None) -> str:
    """From the topics and the date it was made, never from a patient (the visit date is
    a patient's detail too): `generalized-anxiety_insomnia.es_2026-12-07.pdf`; past three
    topics, `a_b_c_and-2-more_2026-12-07.pdf`."""
    topics = manifest["topics"]
    ids = [t["id"] for t in topics[:3]]
    if len(topics) > 3:
        ids.append(f"and-{len(topics) - 3}-more")
    lang = topics[0]["lang"]
    name = "_".join(ids) + ("" if lang == "en" else f".{lang}")
    return f"{name}_{(today or dt.date.today()).isoformat()}.{fmt}"


def query(request: Request, name: str, pattern: str | None = None) -> str | None:
    """A query parameter, checked: given empty, too long, unsafe or not of its pattern is a
    422 naming it; absent is None."""
    if name not in request.query_params:
        return None
    value = request.query_params[name]
    if not value or len(value) > 64 or UNSAFE_RE.search(value) or (
            pattern and not re.match(pattern, value)):
        raise ApiError(422, "bad_input", f"'{name}' is not a valid value: '{_shown(value)}'",
                       field=name)
    return value


# The query parameters each route takes; any other is refused, naming it.
PARAMS = {
    "/healthz": (), "/readyz": (), "/metrics": (), "/v1/openapi.json": (),
    "/v1/topics": ("lang", "code", "q"), "/v1/topics/{id}": ("lang",),
    "/v1/topics/{id}.pdf": ("lang", "layout", "paper", "brand", "expires", "sig"),
    "/v1/topics/{id}.html": ("lang", "layout", "paper", "brand", "expires", "sig"),
    "/v1/documents": (),
}


def check_params(request: Request, route: str, status: int = 422,
                 allowed: tuple[str, ...] | None = None) -> None:
    """Refuse a query parameter the route does not take (PARAMS[route], or `allowed`)."""
    allowed = PARAMS[route] if allowed is None else allowed
    for name in request.query_params:
        if name not in allowed:
            shown = _shown(name)
            takes = ", ".join(allowed) or "none"
            raise ApiError(status, "bad_input" if status == 422 else "bad_request",
                           f"unknown query parameter '{shown}'; this route takes: {takes}",
                           field=shown)


def path_id(request: Request) -> str:
    """A topic id from the path: anything but an id is an unknown topic."""
    topic_id = request.path_params["id"]
    if len(topic_id) > 100 or not re.match(NAME_PATTERN, topic_id):
        raise ApiError(404, "unknown_topic", f"unknown topic '{_shown(topic_id)}'; see "
                       "GET /v1/topics")
    return topic_id


# -- routes ------------------------------------------------------------------------------

def service_of(request: Request) -> Service:
    return request.app.state.service


async def healthz(request: Request) -> Response:
    check_params(request, "/healthz")
    return JSONResponse({"status": "ok", "version": __version__})


async def readyz(request: Request) -> Response:
    check_params(request, "/readyz")
    """200 once every worker is warm; 503 while starting or stopping. `broken` names the
    topic files that do not parse (left out of listings; requests needing them get 422)."""
    service = service_of(request)
    pool = service.pool
    try:
        broken = sorted(service.health.broken(service.library()))
    except HandoutsError as exc:
        broken = [str(exc)]
    body = {"status": "ready", "workers": pool.size}
    if broken:
        body["broken"] = broken
    if service.draining:
        return JSONResponse(dict(body, status="stopping"), status_code=503,
                            headers={"Retry-After": "5"})
    if pool.ready:
        return JSONResponse(body)
    return JSONResponse(dict(body, status="starting"), status_code=503,
                        headers={"Retry-After": "5"})


async def metrics(request: Request) -> Response:
    check_params(request, "/metrics")
    service = service_of(request)
    service.require_key(request)
    return service.metrics.response(service.pool)


async def list_topics(request: Request) -> Response:
    check_params(request, "/v1/topics")
    service = service_of(request)
    service.require_key(request)
    lang, code = query(request, "lang", LANG_PATTERN), query(request, "code")
    words = query(request, "q")
    try:
        library = service.usable_library()
        if words:
            from ..content.search import search

            rows = [dict(topic_summary(library, hit.topic_id, lang), score=hit.score,
                         matched_in=list(hit.fields)) for hit in search(library, words,
                                                                        lang or "en")]
        elif code:
            from ..content.codes import find

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
    check_params(request, "/v1/topics/{id}")
    service = service_of(request)
    service.require_key(request)
    topic_id = path_id(request)
    lang = query(request, "lang", LANG_PATTERN) or "en"
    try:
        library = service.library()
        if not library.has(topic_id):
            library.topic(topic_id, lang)  # raises: unknown topic, with close matches
        versions = {}
        for language in library.languages(topic_id):
            try:
                t = library.topic(topic_id, language)
            except HandoutsError:
                continue  # a broken file of another language: this one is answered
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
        "links": {"pdf": f"{service.link_base()}v1/topics/{topic.id}.pdf?lang={topic.lang}",
                  "html": f"{service.link_base()}v1/topics/{topic.id}.html?lang={topic.lang}"},
    })


async def topic_file(request: Request) -> Response:
    service = service_of(request)
    fmt = "pdf" if request.url.path.endswith(".pdf") else "html"
    if "sig" in request.query_params or "expires" in request.query_params:
        # A signed link opens this handout without a key; a changed or expired one opens
        # nothing, whatever else the request carries.
        try:
            service.links.check(f"/v1/topics/{request.path_params['id']}.{fmt}",
                                request.query_params.multi_items())
        except LinkRefused as exc:
            return link_refused(request, str(exc))
    else:
        service.require_key(request)
    check_params(request, f"/v1/topics/{{id}}.{fmt}")
    params = {name: request.query_params[name] for name in ("lang", "layout", "paper", "brand")
              if name in request.query_params}
    try:
        job = BuildRequest.from_mapping(dict(params, specs=[path_id(request)], format=fmt),
                                        limits=limits_of(service.settings))
    except RequestError as exc:
        raise request_error(exc) from None
    library = service.library()
    try:
        etag = topic_etag(library, job)
    except RequestError as exc:
        raise request_error(exc) from None
    except HandoutsError as exc:
        raise engine_error(exc) from None
    headers = {"ETag": etag, "Cache-Control": "private, max-age=0, must-revalidate"}
    if etag_matches(request, etag):
        return Response(status_code=304, headers=headers)
    reply = await service.render(job.as_mapping())
    headers[DIGEST_HEADER] = manifest_digest(reply["manifest"])
    headers["Content-Disposition"] = f'inline; filename="{download_name(reply["manifest"], fmt)}"'
    if fmt == "html":
        headers["Content-Security-Policy"] = PREVIEW_CSP
        return Response(reply["data"], media_type="text/html; charset=utf-8", headers=headers)
    return Response(reply["data"], media_type="application/pdf", headers=headers)


def link_refused(request: Request, message: str) -> Response:
    """403 for a signed link that is expired or changed: a short page for a browser (a
    clinician's click), the API's JSON error for anything else."""
    from markupsafe import escape

    accept = request.headers.get("accept", "")
    if "text/html" in accept:
        page = (f'<!doctype html><html lang="en"><meta charset="utf-8"><title>Link not valid'
                f'</title><meta name="viewport" content="width=device-width"><body><h1>This '
                f'link does not open</h1><p>{escape(message)}</p></body></html>')
        return Response(page, status_code=403, media_type="text/html; charset=utf-8",
                        headers={"Content-Security-Policy": PREVIEW_CSP,
                                 "Cache-Control": "no-store"})
    return error_response(request.state.request_id, 403, "link_refused", message,
                          {"Cache-Control": "no-store"})


# The self-contained HTML of a handout: its own styles, fonts and pictures, nothing else.
PREVIEW_CSP = ("default-src 'none'; style-src 'unsafe-inline'; font-src data:; "
               "img-src data:; frame-ancestors 'self'; base-uri 'none'; form-action 'none'")


async def create_document(request: Request) -> Response:
    check_params(request, "/v1/documents")
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
