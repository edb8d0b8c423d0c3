"""POST /v1/videos/score's usual request, answered without FastAPI's routing and dependencies.

Every new upload comes through this one endpoint, and for a title-only video the framework's
share of a request (matching the path against some eighty routes, solving the dependencies,
the exception and telemetry layers) cost more CPU than the model (BENCHMARKS.md, "Scoring
fast path"). This middleware takes the request the pipeline sends almost always: a JSON
body, a valid uploader key, a video within the limits. It then does what the route does, with
the same functions (`require`'s checks, `VideoIn`, `check_videos`, the coalescer,
`to_decision_out`) and answers with the same bytes.

Anything else (a content type other than exactly application/json, a missing header or a
key without the uploader role, a body that does not parse or validate, a limit exceeded, a
body cut short) is handed to the FastAPI route unchanged, body included, so those answers
come from one place, the route. A key that does not authenticate, and an error while scoring
(an edit of a removed video: 409; the database down: 503), are answered here by the app's
own exception handlers, as the route's would be; tests/service/test_score_fast_path.py
compares both paths byte for byte.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable, Mapping
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service import metrics
from service.auth import bearer_token
from service.coalescer import ScoringCoalescer
from service.domain import Role
from service.errors import AuthenticationError
from service.keys import KeyStore
from service.limits import check_videos
from service.routes import videos
from service.routes.convert import to_decision_out
from service.routes.videos import REPLAYED, to_upload
from service.schemas import VideoIn
from service.settings import Settings

JSON = b"application/json"
Handler = Callable[[Request, Exception], Any]  # async, or a plain function (Starlette allows both)
Tail = HTTPException | Message | None  # how reading a body ended early, if it did


class ScoreFastPath:
    """Answers a well-formed, authorised POST /v1/videos/score; hands anything else on."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        # the route's object in the scope, as routing leaves it: the latency metric's label
        self._route = next(
            r for r in videos.router.routes if getattr(r, "endpoint", None) is videos.score
        )
        self._path: str = getattr(self._route, "path")  # noqa: B009  # BaseRoute declares none

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != self._path or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        body, tail = await _read_body(receive)
        checked = None if tail is not None else _usual_video(scope, body)
        metrics.count_score_fast_path(answered=checked is not None)
        if checked is None:
            await self.app(scope, _replay(body, tail, receive), send)
            return
        scope["route"] = self._route  # before anything can fail, as routing would have set it
        if isinstance(checked, Exception):
            await _answer_error(scope, receive, send, checked)
            return
        coalescer: ScoringCoalescer = scope["app"].state.coalescer
        try:
            (result,) = await coalescer.score([to_upload(checked)], all_or_none=False)
            content = to_decision_out(result.decision).model_dump_json()
        except Exception as exc:
            await _answer_error(scope, receive, send, exc)
            return
        response = Response(content, media_type="application/json")
        if not result.is_new:
            response.headers[REPLAYED] = "true"  # after the others, where the route puts it
        await response(scope, receive, send)


def _usual_video(scope: Scope, body: bytes) -> VideoIn | Exception | None:
    """The video, if the route would accept the request; the error the route would answer if
    the key does not authenticate; None for anything else, which the route answers itself.

    In the route's order: the body parsed as JSON first (FastAPI answers a body that does not
    parse before it looks at the key), then the key, then the video's validation."""
    content_type = authorization = None
    for name, value in scope["headers"]:  # the first of a repeated header, as Starlette reads
        if name == b"content-type" and content_type is None:
            content_type = value
        elif name == b"authorization" and authorization is None:
            authorization = value
    if content_type != JSON:
        return None
    try:
        token = bearer_token((authorization or b"").decode("latin-1"))  # as Starlette decodes
    except AuthenticationError:
        return None
    try:
        parsed = json.loads(body)  # as FastAPI reads a body: json.loads, then validation
    except Exception:
        return None
    state = scope["app"].state
    keys: KeyStore = state.keys
    try:
        key = keys.authenticate(token)
    except Exception as exc:  # an unknown or revoked key, the database not answering:
        return exc  # answered here, not handed on to be looked up a second time
    if Role.UPLOADER not in key.roles:
        return None
    settings: Settings = state.settings
    try:
        video = VideoIn.model_validate(parsed)
        check_videos([video], settings, batch=False)
    except Exception:  # the route finds the same fault and answers it with its problem
        return None
    return video


async def _read_body(receive: Receive) -> tuple[bytes, Tail]:
    """The body as far as it came, and what ended it early: None if it is whole, BodyLimit's
    413 past the limit, or the client's disconnect message."""
    chunks: list[bytes] = []
    try:
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return b"".join(chunks), message
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                return b"".join(chunks), None
    except HTTPException as exc:
        return b"".join(chunks), exc


def _replay(body: bytes, tail: Tail, receive: Receive) -> Receive:
    """A receive that gives the route the body already read, then how it ended (so the route
    meets the same 413 or disconnect), then whatever the client sends next."""
    sent = replayed_tail = False

    async def replayed() -> Message:
        nonlocal sent, replayed_tail
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": tail is not None}
        if tail is not None and not replayed_tail:
            replayed_tail = True
            if isinstance(tail, HTTPException):
                raise tail
            return tail
        return await receive()

    return replayed


async def _answer_error(scope: Scope, receive: Receive, send: Send, exc: Exception) -> None:
    """Answer ``exc`` as it would be answered raised in the route: by the handler Starlette's
    ExceptionMiddleware would pick; one it has none for is raised on, to ServerErrorMiddleware
    (a 500, then raised again for the server's log), as a route's unexpected error is."""
    handler = _handler_for(scope["app"].exception_handlers, exc)
    if handler is None:
        raise exc
    request = Request(scope, receive)
    if inspect.iscoroutinefunction(handler):
        response: Response = await handler(request, exc)
    else:  # a plain function runs off the event loop, as Starlette runs it
        response = await run_in_threadpool(handler, request, exc)
    await response(scope, receive, send)


def _handler_for(handlers: Mapping[Any, Handler], exc: Exception) -> Handler | None:
    """The handler registered for the nearest class of ``exc``; none for Exception itself,
    which Starlette gives to ServerErrorMiddleware. (Handlers by status code are for
    HTTPException, which neither authentication nor scoring raises.)"""
    for cls in type(exc).__mro__:
        if cls is Exception:
            return None
        if cls in handlers:
            return handlers[cls]
    return None
