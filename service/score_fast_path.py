"""POST /v1/videos/score's usual request, answered without FastAPI's routing and dependencies.

Every new upload comes through this one endpoint, and for a title-only video the framework's
share of a request (matching the path against some eighty routes, solving the dependencies,
the exception and telemetry layers) cost more CPU than the model (BENCHMARKS.md, "Scoring
fast path"). This middleware takes the request the pipeline sends almost always: a JSON
body, a valid uploader key, a video within the limits. It then does what the route does, with
the same functions (`require`'s checks, `VideoIn`, `check_videos`, the coalescer,
`to_decision_out`) and answers with the same bytes.

Anything else (another content type, no or a wrong key, a body that does not parse or
validate, a limit exceeded) is handed to the FastAPI route unchanged, body included, so every
error answer comes from one place, the route, and is the one the tests check. An error
while scoring (an edit of a removed video: 409; the database down: 503) is answered by the
app's own exception handlers.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service import metrics
from service.coalescer import ScoringCoalescer
from service.domain import Role
from service.keys import KeyStore
from service.limits import check_videos
from service.routes import videos
from service.routes.convert import to_decision_out
from service.routes.videos import REPLAYED, to_upload
from service.schemas import VideoIn
from service.settings import Settings

PATH = "/v1/videos/score"
JSON = b"application/json"
Handler = Callable[[Request, Exception], Awaitable[Response]]
Tail = HTTPException | Message | None  # how reading a body ended early, if it did


class ScoreFastPath:
    """Answers a well-formed, authorised POST /v1/videos/score; hands anything else on."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        # the route's object in the scope, as routing leaves it: the latency metric's label
        self._route = next(
            r for r in videos.router.routes if getattr(r, "endpoint", None) is videos.score
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != PATH or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        body, tail = await _read_body(receive)
        video = None if tail is not None else _usual_video(scope, body)
        metrics.count_score_fast_path(answered=video is not None)
        if video is None:
            await self.app(scope, _replay(body, tail, receive), send)
            return
        state = scope["app"].state
        coalescer: ScoringCoalescer = state.coalescer
        try:
            (result,) = await coalescer.score([to_upload(video)], all_or_none=False)
        except Exception as exc:
            response = await _handler_for(scope, exc)(Request(scope), exc)
        else:
            headers = {} if result.is_new else {REPLAYED: "true"}
            content = to_decision_out(result.decision).model_dump_json()
            response = Response(content, media_type="application/json", headers=headers)
        scope["route"] = self._route
        await response(scope, receive, send)


def _usual_video(scope: Scope, body: bytes) -> VideoIn | None:
    """The video, if the request is one the route would accept; None for the route to answer."""
    content_type = authorization = b""
    for name, value in scope["headers"]:
        if name == b"content-type":
            content_type = value
        elif name == b"authorization":
            authorization = value
    scheme, _, token = authorization.partition(b" ")
    if content_type != JSON or scheme.lower() != b"bearer" or not token.strip():
        return None
    state = scope["app"].state
    keys: KeyStore = state.keys
    settings: Settings = state.settings
    try:
        key = keys.authenticate(token.strip().decode("latin-1"))
        if Role.UPLOADER not in key.roles:
            return None
        # as FastAPI reads a body: json.loads, then validated as Python objects
        video = VideoIn.model_validate(json.loads(body))
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


def _handler_for(scope: Scope, exc: Exception) -> Handler:
    """The app's exception handler for ``exc``, as the route's error would be answered."""
    handlers = scope["app"].exception_handlers
    for cls in type(exc).__mro__:
        if cls in handlers:
            handler: Handler = handlers[cls]
            return handler
    return handlers[Exception]  # type: ignore[no-any-return]
