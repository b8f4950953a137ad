"""The HTTP service: a Starlette application rendering on warm workers.

Routes (see /v1/openapi.json): /healthz, /readyz, /metrics, /v1/topics, /v1/topics/{id},
/v1/topics/{id}.pdf and .html, POST /v1/documents, /infobutton, and the staff page at /.

Everything except /healthz, /readyz, the staff page's sign-in and its static files, and a
topic document opened by a signed link (links.py), needs `Authorization: Bearer KEY` (or
the staff page's session cookie), unless the service runs on localhost with no keys. Keys
and sessions can be taken back (access.py); every body is bounded before it is read
(middleware.Guard); SIGTERM drains (run). Errors are JSON
`{"error", "detail", "request_id"}` carrying the command line's messages. Patient details
travel only in request bodies and rendered documents: never in logs, metrics, error
messages or the cache.

The modules import one way: app -> staff, infobutton, openapi -> api -> service, and
app -> middleware -> service; views find the Service at `request.app.state.service`, and
nothing imports this module back.
"""

from __future__ import annotations

import contextlib
import logging
import signal

import uvicorn
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.routing import Route

from ..errors import HandoutsError
from . import api, infobutton, openapi, staff
from .middleware import Guard, Observe, handle_api_error, handle_http
from .service import ApiError, Service, Settings
from .slow import GuardedH11

LOOPBACK = {"127.0.0.1", "::1", "localhost"}


def create_app(settings: Settings, pool=None) -> Starlette:
    """The application; `pool` replaces the warm workers (tests)."""
    service = Service(settings, pool)

    @contextlib.asynccontextmanager
    async def lifespan(app):
        service.pool.start()
        try:
            yield
        finally:
            service.pool.close()

    routes = [
        Route("/healthz", api.healthz),
        Route("/readyz", api.readyz),
        Route("/metrics", api.metrics),
        Route("/v1/openapi.json", openapi.view),
        Route("/v1/topics", api.list_topics),
        Route("/v1/topics/{id}.pdf", api.topic_file),
        Route("/v1/topics/{id}.html", api.topic_file),
        Route("/v1/topics/{id}", api.show_topic),
        Route("/v1/documents", api.create_document, methods=["POST"]),
        Route("/infobutton", infobutton.view),
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
        raise HandoutsError(
            f"refusing to listen on {settings.host} without API keys: give --api-keys FILE "
            "(or HANDOUTS_API_KEYS), one key a line, or listen on 127.0.0.1")


def run(settings: Settings) -> None:
    """Serve until SIGTERM or Ctrl-C: then no new work is taken (503), renders in flight
    finish within --timeout, the workers stop and their folders go; a second signal
    stops at once. SIGHUP reads the keys file again."""
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
