"""POST /v1/videos/score's usual request, answered without FastAPI's routing and dependencies.

Every new upload comes through this one endpoint, and for a title-only video the framework's
share of a request (matching the path against some eighty routes, solving the dependencies,
the exception and telemetry layers) cost more CPU than the model (BENCHMARKS.md, "Scoring
fast path"). This middleware takes the request the pipeline sends almost always: a JSON
body, a valid uploader key, a video within the limits. It then does what the route does, with
the same functions (`require`'s checks, `VideoIn`, `check_videos`, the coalescer,
`to_decision_out`) and answers with the same bytes.

It is the outermost of the app's own middleware, so a request it answers skips the others
too: it applies BodyLimit's limit itself (a body past it is handed on, for BodyLimit to
answer) and observes the request's latency as RequestMetrics would (for the requests it
hands on, RequestMetrics does).

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
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson
from starlette.concurrency import run_in_threadpool
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


@dataclass(frozen=True, slots=True)
class _Body:
    """A request body as far as it was read."""

    data: bytes
    ended: bool  # the client said it ended (more_body false), within the limit or past it
    interruption: Message | None  # what came instead of the rest: the client's disconnect


class ScoreFastPath:
    """Answers a well-formed, authorised POST /v1/videos/score; hands anything else on."""

    def __init__(self, app: ASGIApp, limit_bytes: int) -> None:
        self.app = app
        self.limit_bytes = limit_bytes  # BodyLimit's for this path
        # the route's object in the scope, as routing leaves it: the latency metric's label
        self._route = next(
            r for r in videos.router.routes if getattr(r, "endpoint", None) is videos.score
        )
        self._path: str = getattr(self._route, "path")  # noqa: B009  # BaseRoute declares none

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != self._path or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        token = _usual_headers(scope["headers"], self.limit_bytes)
        if token is None:
            metrics.count_score_fast_path(answered=False)
            await self.app(scope, receive, send)  # nothing read: the route reads it all
            return
        body = await _read_body(receive, self.limit_bytes)
        whole = body.ended and len(body.data) <= self.limit_bytes
        checked = _usual_video(scope, body.data, token) if whole else None
        metrics.count_score_fast_path(answered=checked is not None)
        if checked is None:
            await self.app(scope, _replay(body, receive), send)
            return
        scope["route"] = self._route  # before anything can fail, as routing would have set it
        status = 500  # unless an answer goes out: raised on, ServerErrorMiddleware's 500
        try:
            status = await self._answer(scope, receive, send, checked)
        finally:
            metrics.observe_request("POST", self._path, status, time.perf_counter() - started)

    async def _answer(
        self, scope: Scope, receive: Receive, send: Send, checked: VideoIn | Exception
    ) -> int:
        """Score the video and send the answer; the status sent."""
        if isinstance(checked, Exception):
            return await _answer_error(scope, receive, send, checked)
        coalescer: ScoringCoalescer = scope["app"].state.coalescer
        try:
            (result,) = await coalescer.score([to_upload(checked)], all_or_none=False)
            content = to_decision_out(result.decision).model_dump_json()
        except Exception as exc:
            return await _answer_error(scope, receive, send, exc)
        response = Response(content, media_type="application/json")
        if not result.is_new:
            response.headers[REPLAYED] = "true"  # after the others, where the route puts it
        await response(scope, receive, send)
        return response.status_code


def _usual_headers(headers: list[tuple[bytes, bytes]], limit_bytes: int) -> str | None:
    """The bearer token, if the headers are those of a usual request: exactly JSON, a
    well-formed Authorization, no declared length past the limit (BodyLimit's 413)."""
    content_type = authorization = None
    declared = None
    for name, value in headers:  # the first of a repeated header, as Starlette reads
        if name == b"content-type" and content_type is None:
            content_type = value
        elif name == b"authorization" and authorization is None:
            authorization = value
        elif name == b"content-length":
            declared = value  # the last, as BodyLimit reads it (a dict of the headers)
    if content_type != JSON:
        return None
    if declared is not None and declared.isdigit() and int(declared) > limit_bytes:
        return None
    try:
        return bearer_token((authorization or b"").decode("latin-1"))  # as Starlette decodes
    except AuthenticationError:
        return None


def _usual_video(scope: Scope, body: bytes, token: str) -> VideoIn | Exception | None:
    """The video, if the route would accept the request; the error the route would answer if
    the key does not authenticate; None for anything else, which the route answers itself.

    In the route's order: the body parsed as JSON first (FastAPI answers a body that does not
    parse before it looks at the key), then the key, then the video's validation."""
    parsed = _parsed(body)
    if parsed is _UNPARSED:
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


_UNPARSED = object()


def _parsed(body: bytes) -> object:
    """The body as FastAPI reads it (json.loads), or _UNPARSED, the route's to answer.

    orjson first: it reads a title's body in a fraction of json.loads' time (json.loads was
    7% of the event loop's samples on titles; a title request 1,675,420 instructions against
    1,699,282, -1.4%, bench/app_cost.py --instructions). Where the two differ, orjson refuses
    (a lone surrogate, NaN, Infinity, 1e309, UTF-16, a BOM) and json.loads reads the body;
    an integer past 64 bits orjson reads as a float where json.loads keeps the int, and the
    video's only numbers are float fields, which make the same float of it. Nesting is the
    one difference left: json.loads gives up somewhere under 1,000 levels, by how deep the
    stack is, orjson at 1,024. A body that could nest that deep (more brackets than
    _SHALLOW, an upper bound of its depth) goes to the route, to be refused or read there.
    tests/service/test_score_fast_path.py holds these cases to the route's answers."""
    if body.count(b"[") + body.count(b"{") > _SHALLOW:
        return _UNPARSED
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        pass
    try:
        return json.loads(body)
    except Exception:
        return _UNPARSED


# far below json.loads' depth; a transcript of 500 segments or more takes the route
_SHALLOW = 500


async def _read_body(receive: Receive, limit_bytes: int) -> _Body:
    """The body, read until it ends, the client goes, or it is past the limit."""
    chunks: list[bytes] = []
    received = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return _Body(b"".join(chunks), ended=False, interruption=message)
        chunk = message.get("body", b"")
        chunks.append(chunk)
        received += len(chunk)
        more = message.get("more_body", False)
        if received > limit_bytes or not more:
            return _Body(b"".join(chunks), ended=not more, interruption=None)


def _replay(body: _Body, receive: Receive) -> Receive:
    """A receive that gives the route the body as it was read, then what interrupted it (so
    the route meets the same disconnect), then whatever the client sends next (the rest of
    a body past the limit: BodyLimit counts it as it comes)."""
    sent = replayed_interruption = False

    async def replayed() -> Message:
        nonlocal sent, replayed_interruption
        if not sent:
            sent = True
            return {"type": "http.request", "body": body.data, "more_body": not body.ended}
        if body.interruption is not None and not replayed_interruption:
            replayed_interruption = True
            return body.interruption
        return await receive()

    return replayed


async def _answer_error(scope: Scope, receive: Receive, send: Send, exc: Exception) -> int:
    """Answer ``exc`` as it would be answered raised in the route (the status sent): by the
    handler Starlette's ExceptionMiddleware would pick; one it has none for is raised on, to
    ServerErrorMiddleware (a 500, then raised again for the server's log), as a route's
    unexpected error is."""
    handler = _handler_for(scope["app"].exception_handlers, exc)
    if handler is None:
        raise exc
    request = Request(scope, receive)
    if inspect.iscoroutinefunction(handler):
        response: Response = await handler(request, exc)
    else:  # a plain function runs off the event loop, as Starlette runs it
        response = await run_in_threadpool(handler, request, exc)
    await response(scope, receive, send)
    return response.status_code


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
