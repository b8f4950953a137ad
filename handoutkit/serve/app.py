"""The HTTP service: a Starlette application rendering on warm workers.

Routes (see /v1/openapi.json): /healthz, /readyz, /metrics, /v1/topics, /v1/topics/{id},
/v1/topics/{id}.pdf and .html, POST /v1/documents, /infobutton, and the staff page at /.

Everything except /healthz, /readyz, the staff page's sign-in and its static files needs
`Authorization: Bearer KEY` (or the staff page's session cookie), unless the service runs
on localhost with no keys. Errors are JSON `{"error", "detail", "request_id"}` carrying the
command line's messages. Patient details travel only in request bodies and rendered
documents: never in logs, metrics, error messages or the cache.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import logging
import secrets
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .. import __version__
from ..errors import HandoutsError
from .jobs import WorkerConfig
from .pool import Pool, QueueFull, WorkerLost

log = logging.getLogger("handouts.serve")
access_log = logging.getLogger("handouts.access")

from ..options import FORMATS, PAPERS
PERSONAL_FIELDS = ("patient", "visit_date", "clinician", "note")
FHIR_FIELDS = ("patient_ref", "encounter_ref", "author_ref", "url")
FHIR_JSON = "application/fhir+json"
DIGEST_HEADER = "X-Handouts-Manifest-Digest"
LOOPBACK = {"127.0.0.1", "::1", "localhost"}

# Engine errors -> HTTP status and a short error code; the detail is the CLI's message.
STATUS = {
    "TopicNotFound": (404, "unknown_topic"),
    "SectionNotFound": (422, "unknown_section"),
    "SpecError": (422, "bad_spec"),
    "CodeError": (422, "bad_code"),
    "LibraryError": (422, "bad_input"),
    "InfobuttonError": (400, "bad_request"),
    "RenderError": (500, "render_failed"),
    "SandboxError": (500, "render_failed"),
}


@dataclass
class Settings:
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 2
    library_dir: str | None = None
    keys: list[str] = field(default_factory=list)
    queue: int = 16
    timeout: float = 30.0
    max_body: int = 64 * 1024
    max_specs: int = 20
    max_field: int = 200
    max_note: int = 1000
    cache: bool = True
    session_secret: str = field(default_factory=lambda: secrets.token_hex(32))
    secure_cookie: bool = True


class ApiError(Exception):
    def __init__(self, status: int, error: str, detail: str, headers: dict | None = None):
        super().__init__(detail)
        self.status, self.error, self.detail, self.headers = status, error, detail, headers


def read_keys(path: str | Path) -> list[str]:
    """One key a line; blank lines and lines starting with # are skipped."""
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def key_matches(given: str, keys: list[str]) -> str | None:
    """The key equal to `given`, compared in constant time against every key."""
    found = None
    for key in keys:
        if hmac.compare_digest(given.encode(), key.encode()):
            found = key
    return found


def key_id(key: str) -> str:
    """What a session remembers of a key: a digest, so removing the key ends it."""
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def manifest_digest(manifest: dict) -> str:
    from ..manifest import dumps

    return "sha256:" + hashlib.sha256(dumps(manifest)).hexdigest()


class Service:
    """The state shared by the routes: settings, workers, metrics."""

    def __init__(self, settings: Settings):
        from .metrics import Metrics

        self.settings = settings
        self.metrics = Metrics()
        self.pool = Pool(WorkerConfig(settings.library_dir, settings.cache), settings.workers,
                         settings.queue, settings.timeout,
                         on_restart=self.metrics.worker_restarts.inc)

    @property
    def open(self) -> bool:
        """No keys: only allowed on localhost (`serve` refuses otherwise)."""
        return not self.settings.keys

    def library(self):
        from ..cache import Cache
        from ..library import Library

        return Library(self.settings.library_dir, cache=Cache(enabled=self.settings.cache))

    # -- authentication ---------------------------------------------------------------

    def authorized(self, request: Request, form_checked: bool = False) -> bool:
        """A key in the Authorization header; or the staff page's session, for reading
        (GET) and for the staff page's own forms, which check their CSRF token."""
        if self.open:
            return True
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            return key_matches(token.strip(), self.settings.keys) is not None
        if request.method not in ("GET", "HEAD") and not form_checked:
            return False
        return self.session_ok(request)

    def session_ok(self, request: Request) -> bool:
        kid = request.session.get("key") if "session" in request.scope else None
        return bool(kid) and any(hmac.compare_digest(kid, key_id(k))
                                 for k in self.settings.keys)

    def require_key(self, request: Request) -> None:
        if not self.authorized(request):
            raise ApiError(401, "unauthorized",
                           "this request needs 'Authorization: Bearer KEY' with a key of "
                           "the service", {"WWW-Authenticate": 'Bearer realm="handouts"'})

    # -- rendering ----------------------------------------------------------------------

    async def render(self, job: dict) -> dict:
        try:
            reply = await self.pool.run(job)
        except QueueFull:
            raise ApiError(503, "busy", "every render worker is busy and the queue is full; "
                           "try again shortly", {"Retry-After": "1"}) from None
        except WorkerLost as exc:
            raise ApiError(500, "worker_failed", f"{exc}; the worker was replaced") from None
        self.metrics.cache_hits.inc(reply.get("hits", 0))
        self.metrics.cache_misses.inc(reply.get("misses", 0))
        if not reply["ok"]:
            status, error = STATUS.get(reply["error"], (422, "bad_input"))
            if reply.get("exit_code") == 3:
                status, error = 500, "render_failed"
            raise ApiError(status, error, reply["detail"])
        return reply


def engine_error(exc: HandoutsError) -> ApiError:
    status, error = STATUS.get(type(exc).__name__, (422, "bad_input"))
    return ApiError(status, error, str(exc))


def error_response(request_id: str, status: int, error: str, detail: str,
                   headers: dict | None = None) -> JSONResponse:
    return JSONResponse({"error": error, "detail": detail, "request_id": request_id},
                        status_code=status, headers=headers)


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

    known = {"specs", "lang", "layout", "paper", "brand", "duplex", "archival", "personal",
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
    for name in ("lang", "layout", "brand"):
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


# -- middleware --------------------------------------------------------------------------

SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"SAMEORIGIN"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
]


class Observe:
    """Request id, access log (method, route, status, time, id: never the query or body),
    metrics, security headers, and JSON for errors no route handled."""

    def __init__(self, app, service: Service):
        self.app, self.service = app, service

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        request_id = uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        start = time.perf_counter()
        status = 500
        started = False

        async def send_wrapped(message):
            nonlocal status, started
            if message["type"] == "http.response.start":
                status, started = message["status"], True
                headers = list(message.get("headers", []))
                names = {name.lower() for name, _ in headers}
                headers += [(k, v) for k, v in SECURITY_HEADERS if k not in names]
                headers.append((b"x-request-id", request_id.encode()))
                message = dict(message, headers=headers)
            await send(message)

        try:
            await self.app(scope, receive, send_wrapped)
        except Exception:
            log.exception("unhandled error id=%s", request_id)
            if not started:
                response = error_response(request_id, 500, "internal",
                                          "an internal error; the log has this request id")
                await response(scope, receive, send_wrapped)
        finally:
            elapsed = time.perf_counter() - start
            route = scope.get("route")
            label = getattr(route, "path", None) or "(unmatched)"
            self.service.metrics.observe(scope["method"], label, status, elapsed)
            access_log.info("%s %s %d %.1fms id=%s", scope["method"], label, status,
                            elapsed * 1000, request_id)


async def handle_api_error(request: Request, exc: ApiError) -> Response:
    if exc.status >= 500:  # engine messages name topics and files, never patient details
        log.warning("%s id=%s: %s", exc.error, request.state.request_id, exc.detail)
    return error_response(request.state.request_id, exc.status, exc.error, exc.detail,
                          exc.headers)


async def handle_http(request: Request, exc: HTTPException) -> Response:
    names = {404: "not_found", 405: "method_not_allowed"}
    detail = "no such page" if exc.status_code == 404 else str(exc.detail)
    return error_response(request.state.request_id, exc.status_code,
                          names.get(exc.status_code, "http_error"), detail,
                          getattr(exc, "headers", None))


def create_app(settings: Settings) -> Starlette:
    import contextlib

    from starlette.middleware import Middleware
    from starlette.middleware.sessions import SessionMiddleware

    from . import staff

    service = Service(settings)

    @contextlib.asynccontextmanager
    async def lifespan(app):
        service.pool.start()
        try:
            yield
        finally:
            service.pool.close()

    routes = [
        Route("/healthz", healthz),
        Route("/readyz", readyz),
        Route("/metrics", metrics),
        Route("/v1/openapi.json", openapi),
        Route("/v1/topics", list_topics),
        Route("/v1/topics/{id}.pdf", topic_file),
        Route("/v1/topics/{id}.html", topic_file),
        Route("/v1/topics/{id}", show_topic),
        Route("/v1/documents", create_document, methods=["POST"]),
        Route("/infobutton", infobutton),
        *staff.routes(),
    ]
    app = Starlette(
        routes=routes, lifespan=lifespan,
        middleware=[
            Middleware(Observe, service=service),
            Middleware(SessionMiddleware, secret_key=settings.session_secret,
                       session_cookie="handouts_session", max_age=8 * 3600,
                       same_site="strict", https_only=settings.secure_cookie),
        ],
        exception_handlers={ApiError: handle_api_error, HTTPException: handle_http},
    )
    app.state.service = service
    return app


def check_exposure(settings: Settings) -> None:
    """Starting on a host other than localhost without keys is refused."""
    if settings.host not in LOOPBACK and not settings.keys:
        from ..errors import HandoutsError

        raise HandoutsError(
            f"refusing to listen on {settings.host} without API keys: give --api-keys FILE "
            "(or HANDOUTS_API_KEYS), one key a line, or listen on 127.0.0.1")


def run(settings: Settings) -> None:
    import uvicorn

    check_exposure(settings)
    logging.basicConfig(level=logging.INFO,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    app = create_app(settings)
    config = uvicorn.Config(app, host=settings.host, port=settings.port, access_log=False,
                            log_config=None, server_header=False, timeout_graceful_shutdown=10,
                            h11_max_incomplete_event_size=16 * 1024)
    uvicorn.Server(config).run()
