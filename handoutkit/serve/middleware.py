"""Between the network and the routes: bounds on what a request may send (Guard), the
request id, access log, metrics and security headers (Observe), and the JSON answers for
errors (handle_api_error, handle_http). See slow.py for the deadline on request headers.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from .metrics import method_label
from .service import ApiError, Service, error_response

log = logging.getLogger("handouts.serve")
access_log = logging.getLogger("handouts.access")

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
