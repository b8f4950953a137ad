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

import hashlib
import hmac
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

from ..errors import HandoutsError
from .jobs import WorkerConfig
from .pool import Pool, QueueFull, WorkerLost

log = logging.getLogger("handouts.serve")
access_log = logging.getLogger("handouts.access")

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

    from .api import (create_document, healthz, infobutton, list_topics, metrics, openapi,
                      readyz, show_topic, topic_file)

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
