"""/console/creators/{creator_id}: a creator's strikes, account actions and the notices they
were sent, each laid out in its own language's direction (Urdu right to left)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from service.creators import Creators
from service.domain import Role
from service.routes.console import ConsoleError, current_user, error_page, page

router = APIRouter(prefix="/console/creators", include_in_schema=False)


@router.get("/{creator_id}")
def creator_page(request: Request, creator_id: str) -> Response:
    try:
        current_user(request, Role.MODERATOR, Role.APPEALS_REVIEWER)
    except ConsoleError as exc:
        return error_page(request, exc)
    creators: Creators = request.app.state.parts.creators
    record = creators.record(creator_id)
    return page(
        request,
        "creator.html",
        title=f"Creator {creator_id}",
        creator_id=creator_id,
        active=len(record.active_strikes),
        window=creators.strike_policy.window.days,
        banned=record.banned,
        restricted_until=record.upload_restricted_until,
        actions=record.actions,
        notices=record.notices,
    )
