"""/console/appeals: the appeals workbench (service/routes/console.py has the rest)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from service.appeals import Appeals
from service.domain import AppealVerdict, Role
from service.errors import ServiceError
from service.routes.console import (
    ConsoleError,
    Csrf,
    check_csrf,
    current_user,
    error_page,
    page,
)
from service.routes.workbench import Workbench

router = APIRouter(prefix="/console/appeals", include_in_schema=False)


@router.get("")
def appeals_home(request: Request, state: str = "") -> Response:
    try:
        current_user(request, Role.APPEALS_REVIEWER)
    except ConsoleError as exc:
        return error_page(request, exc)
    messages = {
        "empty": "No appeal waits for you.",
        "unavailable": "The queue is not answering just now; your last decision was saved.",
    }
    return page(
        request,
        "message.html",
        title="Appeals",
        message=messages.get(state, "Take the oldest appeal you may decide."),
        action="/console/appeals/next",
        action_label="Next appeal",
    )


@router.get("/{item_id}")
def appeal_item(request: Request, item_id: str) -> Response:
    try:
        user = current_user(request, Role.APPEALS_REVIEWER)
        view = _appeals(request).view(item_id)
    except ConsoleError as exc:
        return error_page(request, exc)
    except ServiceError:
        return page(request, "message.html", 404, title="Appeals", message="No such appeal.")
    if view.appeal.claimed_by != user.actor:
        return page(
            request, "message.html", 409, title="Appeals", message="You do not hold this appeal."
        )
    content = view.content or {"title": "", "description": "", "hashtags": []}
    return page(
        request,
        "appeal.html",
        title="Appeal",
        appeal=view.appeal,
        removal=view.removal,
        decision=view.decision,
        content=content,
    )


@router.post("/{item_id}/decide")
def appeal_decide(
    request: Request,
    item_id: str,
    csrf: Csrf,
    verdict: Annotated[str, Form()],
    note: Annotated[str | None, Form()] = None,
) -> Response:
    try:
        check_csrf(request, csrf)
        user = current_user(request, Role.APPEALS_REVIEWER)
    except ConsoleError as exc:
        return error_page(request, exc)
    try:
        chosen = AppealVerdict(verdict)
        text = (note or "").strip()[:2000] or None
        _appeals(request).decide(item_id, user.actor, chosen, text)
    except (ValueError, ServiceError) as exc:
        return page(request, "message.html", 409, title="Not decided", message=str(exc))
    return WORKBENCH.claim_next(request, user)


def _appeals(request: Request) -> Appeals:
    appeals: Appeals = request.app.state.appeals
    return appeals


WORKBENCH = Workbench(
    "/console/appeals", Role.APPEALS_REVIEWER, _appeals, lambda view: view.appeal.item_id
)
WORKBENCH.add_routes(router)
