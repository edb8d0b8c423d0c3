"""ASGI middleware: request body limits, request latency for /metrics, console-only sessions.

Pure ASGI (no BaseHTTPMiddleware) so streaming and the threadpool are untouched.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service import metrics
from service.problems import problem


class BodyLimit:
    """413 for a body over the limit of its path, before or while it is read."""

    def __init__(self, app: ASGIApp, limit_for: Callable[[str], int]) -> None:
        self.app = app
        self.limit_for = limit_for

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["path"])
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            response = problem(
                413,
                "request-too-large",
                "Request too large",
                f"the body is {int(declared)} bytes; the limit here is {limit}",
                scope["path"],
            )
            await response(scope, receive, send)
            return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    # raised inside the app, so its exception handler answers with a problem
                    raise HTTPException(413, f"the body exceeds the limit of {limit} bytes here")
            return message

        await self.app(scope, counted, send)


class RequestMetrics:
    """Request latency histogram by method, route template and status."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def observed(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, observed)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", "unmatched")
            metrics.observe_request(
                scope["method"], template, status, time.perf_counter() - started
            )


class OnlyUnder:
    """A middleware for the paths under ``prefix`` only; other requests go straight on.

    The console's cookie session is of no use to the API (keys, not cookies), and every
    scoring request went through it: a dict, a cookie parse and a send wrapper each.
    (Matched on the raw path: the service is not run under a root_path.)"""

    def __init__(self, app: ASGIApp, prefix: str, wrap: Callable[[ASGIApp], ASGIApp]) -> None:
        self.app = app
        self.prefix = prefix.rstrip("/")
        self.below = self.prefix + "/"
        self.wrapped = wrap(app)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        if path == self.prefix or path.startswith(self.below):
            await self.wrapped(scope, receive, send)
        else:
            await self.app(scope, receive, send)
