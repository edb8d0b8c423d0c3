"""/console/review: the review workbench (service/routes/console.py has the rest)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from service.domain import Role, Verdict
from service.errors import ServiceError
from service.review import ItemView, Review
from service.routes.console import (
    ConsoleError,
    Csrf,
    check_csrf,
    current_user,
    error_page,
    page,
)
from service.routes.workbench import Workbench

router = APIRouter(prefix="/console/review", include_in_schema=False)


def _review(request: Request) -> Review:
    review: Review = request.app.state.review
    return review


@router.get("")
def review_home(request: Request, state: str = "") -> Response:
    try:
        current_user(request, Role.MODERATOR)
    except ConsoleError as exc:
        return error_page(request, exc)
    message = STATES.get(
        state, "Take the next item of your queues (highest priority, oldest first)."
    )
    return page(
        request,
        "message.html",
        title="Review",
        message=message,
        action="/console/review/next",
        action_label="Next item",
    )


STATES = {
    "empty": "Nothing waits for you.",
    "unavailable": "The queue is not answering just now; your last decision was saved.",
}


@router.get("/{item_id}")
def review_item(request: Request, item_id: str) -> Response:
    try:
        user = current_user(request, Role.MODERATOR)
        view = _review(request).view(item_id)
    except ConsoleError as exc:
        return error_page(request, exc)
    except ServiceError:
        return page(request, "message.html", 404, title="Review", message="No such item.")
    if view.item.claimed_by != user.actor:
        return page(
            request, "message.html", 409, title="Review", message="You do not hold this item."
        )
    return page(request, "item.html", title="Review", **_item_context(view))


def _item_context(view: ItemView) -> dict[str, Any]:
    content = view.content
    evidence = {e.text: e.label for e in view.decision.evidence}
    segments: list[dict[str, Any]] = []
    if content is not None:
        transcript = content.transcript
        parts = (
            [(None, transcript)]
            if isinstance(transcript, str)
            else [(s.start_s, s.text) for s in transcript]
        )
        for start, text in parts:
            flagged = next((label for said, label in evidence.items() if text in said), None)
            when = f"{int(start) // 60}:{int(start) % 60:02d}" if start is not None else ""
            segments.append({"when": when, "text": text, "flagged": flagged})
    thresholds = view.decision.thresholds
    scores = [
        {
            "label": label,
            "score": score,
            "review": thresholds.get(label, {}).get("review"),
            "remove": thresholds.get(label, {}).get("remove"),
        }
        for label, score in view.decision.scores.items()
    ]
    expires = view.item.lease_expires_at or dt.datetime.now(dt.UTC)
    left = max(0, int((expires - dt.datetime.now(dt.UTC)).total_seconds()))
    return {
        "item": view.item,
        "video": view.video,
        "decision": view.decision,
        "content": content or {"title": "", "description": "", "hashtags": []},
        "segments": segments,
        "scores": scores,
        "lease_expires": expires.isoformat(),
        "lease_left": f"{left // 60} min {left % 60:02d} s",
    }


@router.post("/{item_id}/decide")
def review_decide(
    request: Request,
    item_id: str,
    csrf: Csrf,
    verdict: Annotated[str, Form()],
    label: Annotated[str | None, Form()] = None,
    note: Annotated[str | None, Form()] = None,
) -> Response:
    try:
        check_csrf(request, csrf)
        user = current_user(request, Role.MODERATOR)
    except ConsoleError as exc:
        return error_page(request, exc)
    try:
        chosen = Verdict(verdict)
        _review(request).decide(
            item_id,
            user.actor,
            chosen,
            label if chosen is Verdict.REMOVE else None,
            (note or "").strip()[:2000] or None,
        )
    except (ValueError, ServiceError) as exc:
        return page(request, "message.html", 409, title="Not decided", message=str(exc))
    return WORKBENCH.claim_next(request, user)  # the next item opens


WORKBENCH = Workbench("/console/review", Role.MODERATOR, _review, lambda view: view.item.item_id)
WORKBENCH.add_routes(router)
