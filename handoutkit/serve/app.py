"""The HTTP service: a Starlette application rendering on warm workers.

Routes (see /v1/openapi.json): /healthz, /readyz, /metrics, /v1/topics, /v1/topics/{id},
/v1/topics/{id}.pdf and .html, POST /v1/documents, /infobutton, and the staff page at /.

Everything except /healthz, /readyz, the staff page's sign-in and its static files, and a
topic document opened by a signed link (links.py), needs `Authorization: Bearer KEY` (or the staff page's session cookie), unless the service runs
on localhost with no keys. Keys and sessions can be taken back (access.py); every body is
bounded before it is read (Guard); SIGTERM drains (run). Errors are JSON `{"error", "detail", "request_id"}` carrying the
command line's messages. Patient details travel only in request bodies and rendered
documents: never in logs, metrics, error messages or the cache.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import secrets
import time
import uuid
from dataclasses import dataclass, field

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ..errors import HandoutsError
from .access import KeyRing, Limiter, Sessions
from .jobs import WorkerConfig
from .links import LinkSigner, link_secret
from .pool import Pool, QueueFull, WorkerLost

log = logging.getLogger("handouts.serve")
access_log = logging.getLogger("handouts.access")

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
    timeout: float = 120.0  # the slowest bundled packet: 71 s cold on 2 loaded cores
    max_body: int = 64 * 1024
    max_specs: int = 20
    max_field: int = 200
    max_note: int = 1000
    cache: bool = True
    session_secret: str = field(default_factory=lambda: secrets.token_hex(32))
    secure_cookie: bool = True
    keys_file: str | None = None  # re-read when it changes, or on SIGHUP
    public_url: str | None = None  # links are made from it (relative links without it)
    read_timeout: float = 10.0  # seconds for a request's headers, and for its body
    max_form: int = 4 * 1024  # the sign-in and sign-out forms
    forwarded_allow_ips: str | None = None  # proxies trusted to set the client address
    link_lifetime: int = 24 * 3600  # seconds an Infobutton answer's signed links open
    link_secret: bytes | None = None  # signs those links; None: made from session_secret


class ApiError(Exception):
    """An answer other than success: status, error code, one-line detail, and the field
    of the request it is about (client mistakes)."""

    def __init__(self, status: int, error: str, detail: str, headers: dict | None = None,
                 field: str | None = None):
        super().__init__(detail)
        self.status, self.error, self.detail, self.headers = status, error, detail, headers
        self.field = field


def manifest_digest(manifest: dict) -> str:
    from ..document.manifest import dumps

    return "sha256:" + hashlib.sha256(dumps(manifest)).hexdigest()


class Service:
    """The state shared by the routes: settings, keys, sessions, workers, metrics."""

    def __init__(self, settings: Settings, pool=None):
        from .metrics import Metrics

        self.settings = settings
        self.metrics = Metrics()
        self.pool = pool or Pool(WorkerConfig(settings.library_dir, settings.cache),
                                 settings.workers, settings.queue, settings.timeout,
                                 on_restart=self.metrics.worker_restarts.inc)
        self.keyring = KeyRing(settings.keys, settings.keys_file)
        self.sessions = Sessions()
        self.keyring.on_change = self.sessions.keep_only
        self.limiter = Limiter()
        self.links = LinkSigner(link_secret(settings.link_secret, settings.session_secret),
                                settings.link_lifetime)
        self.draining = False  # SIGTERM: no new work, in-flight renders finish
        self.health = LibraryHealth()
        # No keys: only allowed on localhost (`serve` refuses otherwise). A keys file that
        # empties later leaves no key working; it never opens the service.
        self.open = not settings.keys and not settings.keys_file

    def library(self):
        from ..cache import Cache
        from ..content.library import Library

        return Library(self.settings.library_dir, cache=Cache(enabled=self.settings.cache))

    def usable_library(self):
        """The library less its topic files that do not parse (listings, search)."""
        library = self.library()
        return self.health.without_broken(library)

    # -- authentication ---------------------------------------------------------------

    def client_address(self, request: Request) -> str:
        return request.client.host if request.client else "unknown"

    def check_attempts(self, request: Request) -> None:
        """429 while this client address has failed too often."""
        wait = self.limiter.wait(self.client_address(request))
        if wait:
            self.metrics.refused_attempts.inc()
            raise ApiError(429, "too_many_attempts", "too many failed attempts from this "
                           "address; try again later", {"Retry-After": str(wait)})

    def authorized(self, request: Request, form_checked: bool = False) -> bool:
        """A key in the Authorization header; or the staff page's session, for reading
        (GET) and for the staff page's own forms, which check their CSRF token."""
        if self.open:
            return True
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            self.check_attempts(request)
            if self.keyring.match(token.strip()) is not None:
                return True
            self.limiter.failed(self.client_address(request))
            return False
        if request.method not in ("GET", "HEAD") and not form_checked:
            return False
        return self.session_ok(request)

    def session_ok(self, request: Request) -> bool:
        if "session" not in request.scope:
            return False
        kid = self.sessions.key_of(request.session.get("sid"))
        return bool(kid) and self.keyring.valid_id(kid)

    def require_key(self, request: Request) -> None:
        if not self.authorized(request):
            raise ApiError(401, "unauthorized",
                           "this request needs 'Authorization: Bearer KEY' with a key of "
                           "the service", {"WWW-Authenticate": 'Bearer realm="handouts"'})

    def link_base(self) -> str:
        """Where links point: --public-url, else relative to the service's root. Never
        the request's Host header."""
        url = self.settings.public_url
        return url.rstrip("/") + "/" if url else "/"

    # -- rendering ----------------------------------------------------------------------

    async def render(self, job: dict) -> dict:
        if self.draining:
            raise ApiError(503, "stopping", "the service is stopping; try again shortly",
                           {"Retry-After": "5"})
        if not self.pool.ready:
            raise ApiError(503, "starting", "the render workers are still starting; try "
                           "again shortly", {"Retry-After": "5"})
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
            if reply.get("exit_code") == 3 or reply["error"] == "internal":
                status, error = 500, "render_failed"
            raise ApiError(status, error, reply["detail"])
        return reply


class LibraryHealth:
    """Which topic files of the library do not parse, looked at again only when a file
    changes. A broken file is left out of listings and search, named in /readyz and the
    log; the requests that need it get its error (422 naming the file)."""

    def __init__(self):
        self._known: dict[str, tuple[tuple, str | None]] = {}

    def broken(self, library) -> dict[str, str]:
        """{file: its error} for every topic file that does not parse."""
        found: dict[str, str] = {}
        seen = set()
        for entry in library.files():
            path = str(entry.path)
            seen.add(path)
            try:
                st = entry.path.stat()
                stamp = (st.st_mtime_ns, st.st_size, st.st_ino)
            except OSError:
                stamp = ()
            known = self._known.get(path)
            if known is None or known[0] != stamp:
                try:
                    library.topic(entry.id, entry.lang)
                    problem = None
                except HandoutsError as exc:
                    problem = str(exc)
                    log.warning("topic file left out, it does not parse: %s", problem)
                known = self._known[path] = (stamp, problem)
            if known[1]:
                found[path] = known[1]
        for path in set(self._known) - seen:
            del self._known[path]
        return found

    def without_broken(self, library):
        broken = self.broken(library)
        if broken:
            library._files = {key: entry for key, entry in library._files.items()
                              if str(entry.path) not in broken}
        return library


def engine_error(exc: HandoutsError) -> ApiError:
    status, error = STATUS.get(type(exc).__name__, (422, "bad_input"))
    return ApiError(status, error, str(exc))


def error_response(request_id: str, status: int, error: str, detail: str,
                   headers: dict | None = None, field: str | None = None) -> JSONResponse:
    body = {"error": error, "detail": detail, "request_id": request_id}
    if field:
        body["field"] = field
    return JSONResponse(body, status_code=status, headers=headers)


# -- middleware --------------------------------------------------------------------------

SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"SAMEORIGIN"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
]


HSTS = b"max-age=31536000; includeSubDomains"
OPEN_PATHS = ("/healthz", "/readyz")


class Guard:
    """Bounds on what a request may send before any route acts on it: 413 for a body over
    its route's limit (from Content-Length at once, or as it arrives: nothing over the
    limit is buffered), 408 for a body that does not arrive within the read timeout, and
    503 for new work once the service is stopping."""

    def __init__(self, app, service: Service):
        self.app, self.service = app, service
        settings = service.settings
        self.limits = {"/v1/documents": settings.max_body,
                       "/staff/document": settings.max_body,
                       "/signin": settings.max_form, "/signout": settings.max_form}

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        request_id = scope.get("state", {}).get("request_id", "")
        path = scope["path"]
        if self.service.draining and path not in OPEN_PATHS:
            response = error_response(request_id, 503, "stopping", "the service is "
                                      "stopping; try again shortly",
                                      {"Retry-After": "5", "Connection": "close"})
            return await response(scope, receive, send)
        limit = self.limits.get(path, SMALL_BODY)
        length = dict(scope["headers"]).get(b"content-length", b"")
        if length.isdigit() and int(length) > limit:
            response = error_response(request_id, 413, "too_large",
                                      f"the request body is over {limit} bytes",
                                      {"Connection": "close"})
            return await response(scope, receive, send)
        return await self.app(scope, self._bounded(receive, limit), send)

    def _bounded(self, receive, limit: int):
        timeout = self.service.settings.read_timeout
        state = {"read": 0, "deadline": None, "done": False}

        async def bounded():
            if state["done"]:
                return await receive()
            loop = asyncio.get_running_loop()
            if state["deadline"] is None:
                state["deadline"] = loop.time() + timeout
            try:
                message = await asyncio.wait_for(receive(), max(0.001, state["deadline"]
                                                                 - loop.time()))
            except TimeoutError:
                raise ApiError(408, "timeout", f"the request body did not arrive within "
                               f"{timeout:g} s", {"Connection": "close"}) from None
            if message["type"] == "http.request":
                state["read"] += len(message.get("body", b""))
                if state["read"] > limit:
                    raise ApiError(413, "too_large", f"the request body is over {limit} "
                                   "bytes", {"Connection": "close"})
                state["done"] = not message.get("more_body", False)
            return message

        return bounded


SMALL_BODY = 1024  # routes that take no body


class Observe:
    """Request id, access log (method, route, status, time, id: never the query or body),
    metrics, security headers, and JSON for errors no route handled."""

    def __init__(self, app, service: Service):
        self.app, self.service = app, service
        self.hsts = (service.settings.public_url or "").lower().startswith("https://")

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        from .metrics import method_label

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
                if self.hsts:
                    headers.append((b"strict-transport-security", HSTS))
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
            method = method_label(scope["method"])
            self.service.metrics.observe(method, label, status, elapsed)
            access_log.info("%s %s %d %.1fms id=%s", method, label, status,
                            elapsed * 1000, request_id)


async def handle_api_error(request: Request, exc: ApiError) -> Response:
    if exc.status >= 500:  # engine messages name topics and files, never patient details
        log.warning("%s id=%s: %s", exc.error, request.state.request_id, exc.detail)
    return error_response(request.state.request_id, exc.status, exc.error, exc.detail,
                          exc.headers, exc.field)


async def handle_http(request: Request, exc: HTTPException) -> Response:
    names = {404: "not_found", 405: "method_not_allowed"}
    detail = "no such page" if exc.status_code == 404 else str(exc.detail)
    return error_response(request.state.request_id, exc.status_code,
                          names.get(exc.status_code, "http_error"), detail,
                          getattr(exc, "headers", None))


def create_app(settings: Settings, pool=None) -> Starlette:
    """The application; `pool` replaces the warm workers (tests)."""
    import contextlib

    from starlette.middleware import Middleware
    from starlette.middleware.sessions import SessionMiddleware

    from . import staff

    service = Service(settings, pool)

    @contextlib.asynccontextmanager
    async def lifespan(app):
        service.pool.start()
        try:
            yield
        finally:
            service.pool.close()

    from .api import (
        create_document,
        healthz,
        infobutton,
        list_topics,
        metrics,
        openapi,
        readyz,
        show_topic,
        topic_file,
    )

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
            Middleware(Guard, service=service),
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
    """Serve until SIGTERM or Ctrl-C: then no new work is taken (503), renders in flight
    finish within --timeout, the workers stop and their folders go; a second signal
    stops at once. SIGHUP reads the keys file again."""
    import signal

    import uvicorn

    from .slow import GuardedH11

    check_exposure(settings)
    logging.basicConfig(level=logging.INFO,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    app = create_app(settings)
    service: Service = app.state.service
    GuardedH11.header_timeout = settings.read_timeout
    proxy = settings.forwarded_allow_ips
    config = uvicorn.Config(app, host=settings.host, port=settings.port, access_log=False,
                            log_config=None, server_header=False, http=GuardedH11,
                            timeout_graceful_shutdown=settings.timeout + 5,
                            timeout_keep_alive=5, proxy_headers=bool(proxy),
                            forwarded_allow_ips=proxy or None,
                            h11_max_incomplete_event_size=16 * 1024)

    class Server(uvicorn.Server):
        def handle_exit(self, sig, frame):
            service.draining = True
            if self.should_exit:
                self.force_exit = True  # a second signal: stop now
            self.should_exit = True  # not re-raised afterwards: the exit code is 0

    try:
        signal.signal(signal.SIGHUP, lambda *_: service.keyring.reload_soon())
    except (ValueError, AttributeError):
        pass
    server = Server(config)
    try:
        server.run()
    finally:
        service.pool.close()
