"""/v1/appeals: the appeals reviewers' API (claim, decide, release, queue stats); creators'
appeals come in through POST /v1/videos/{video_id}/appeals (service/routes/videos.py)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Path, Request, Response

from service.appeals import Appeals, AppealView
from service.auth import AppealsReviewer
from service.domain import AppealVerdict
from service.limits import check_text
from service.openapi import conflict
from service.routes.convert import (
    to_appeal_out,
    to_content_out,
    to_decision_out,
    to_review_video_out,
)
from service.routes.review import queues_out
from service.schemas import (
    AppealClaimOut,
    AppealDecisionIn,
    AppealDecisionOut,
    AppealOut,
    QueuesOut,
    RemovalOut,
)
from service.settings import Settings

router = APIRouter(prefix="/v1/appeals", tags=["appeals"])
AppealId = Annotated[str, Path(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9_-]+$")]


def _appeals(request: Request) -> Appeals:
    appeals: Appeals = request.app.state.appeals
    return appeals


def to_appeal_claim_out(view: AppealView, now: dt.datetime) -> AppealClaimOut:
    removal = view.removal
    return AppealClaimOut(
        appeal=to_appeal_out(view.appeal, now),
        video=to_review_video_out(view.video),
        removal=RemovalOut(
            event_id=removal.event_id,
            type=removal.type.value,
            actor=removal.actor,
            label=removal.label,
            occurred_at=removal.occurred_at,
        ),
        decision=to_decision_out(view.decision),
        content=to_content_out(view.content),
    )


@router.get("/queues", response_model=QueuesOut, summary="Depth and age of each appeals queue")
def queues(request: Request, key: AppealsReviewer) -> QueuesOut:
    settings: Settings = request.app.state.settings
    return queues_out(_appeals(request).stats(settings.review_target_s), settings.review_target_s)


@router.post(
    "/claim",
    response_model=AppealClaimOut,
    summary="Lease the next appeal (204 when there is none)",
    responses={204: {"description": "no appeal waiting that you may decide"}},
)
def claim(request: Request, key: AppealsReviewer) -> AppealClaimOut | Response:
    """The oldest appeal of the queues your languages allow, leased like a review item.
    Appeals of removals you made yourself are passed over: someone else decides them."""
    view = _appeals(request).claim(key.actor, key.languages)
    if view is None:
        return Response(status_code=204)
    return to_appeal_claim_out(view, dt.datetime.now(dt.UTC))


@router.post(
    "/{appeal_id}/decision",
    response_model=AppealDecisionOut,
    summary="Restore the video or uphold its removal",
    responses=conflict("you hold no live lease on it, it was decided, or you removed it"),
)
def decide(
    appeal_id: AppealId, body: AppealDecisionIn, request: Request, key: AppealsReviewer
) -> AppealDecisionOut:
    """`restore`: the video is live and public again (status restored); `uphold`: it stays
    removed. 409 unless you hold a live lease, or if you removed the video yourself."""
    if body.note is not None:
        settings: Settings = request.app.state.settings
        check_text(body.note, "note", settings.max_note_chars)
    decided = _appeals(request).decide(appeal_id, key.actor, AppealVerdict(body.verdict), body.note)
    return AppealDecisionOut(
        appeal=to_appeal_out(decided.appeal, dt.datetime.now(dt.UTC)),
        video=to_review_video_out(decided.video),
    )


@router.post(
    "/{appeal_id}/release",
    response_model=AppealOut,
    summary="Give an appeal back",
    responses=conflict("you hold no live lease on it"),
)
def release(appeal_id: AppealId, request: Request, key: AppealsReviewer) -> AppealOut:
    appeal = _appeals(request).release(appeal_id, key.actor)
    return to_appeal_out(appeal, dt.datetime.now(dt.UTC))
