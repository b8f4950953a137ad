"""What the routes share: the settings, the Service (keys, sessions, workers, metrics,
library health), the API's errors (ApiError, engine errors mapped to HTTP statuses) and
their JSON body. Views reach it as `request.app.state.service`; it imports no view.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from dataclasses import dataclass, field

from starlette.requests import Request
from starlette.responses import JSONResponse

from ..errors import HandoutsError
from .access import KeyRing, Limiter, Sessions
from .jobs import WorkerConfig
from .links import LinkSigner, link_secret
from .metrics import Metrics
from .pool import Pool, QueueFull, WorkerLost

log = logging.getLogger("handouts.serve")

FHIR_FIELDS = ("patient_ref", "encounter_ref", "author_ref", "url")
FHIR_JSON = "application/fhir+json"
DIGEST_HEADER = "X-Handouts-Manifest-Digest"

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

