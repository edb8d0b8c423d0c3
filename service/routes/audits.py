"""/v1/audits: moderators check a sample of the model's own removals and allows (claim,
decide, release, queue stats). What the verdicts measure is in the enforcement report."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Path, Request, Response

from service.audits import Audits, AuditView
from service.auth import Moderator
from service.domain import AuditVerdict
from service.limits import check_text
from service.openapi import conflict
from service.routes.convert import (
    to_audit_out,
    to_content_out,
    to_decision_out,
    to_review_video_out,
)
from service.routes.review import queues_out
from service.schemas import QueuesOut
from service.schemas_lifecycle import AuditClaimOut, AuditDecisionIn, AuditDecisionOut, AuditOut
from service.settings import Settings

router = APIRouter(prefix="/v1/audits", tags=["audits"])
AuditId = Annotated[str, Path(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9_-]+$")]


def _audits(request: Request) -> Audits:
    audits: Audits = request.app.state.audits
    return audits


def to_audit_claim_out(view: AuditView, now: dt.datetime) -> AuditClaimOut:
    return AuditClaimOut(
        audit=to_audit_out(view.item, now),
        video=to_review_video_out(view.video),
        decision=to_decision_out(view.decision),
        content=to_content_out(view.content),
    )


@router.get("/queues", response_model=QueuesOut, summary="Depth and age of each audit queue")
def queues(request: Request, key: Moderator) -> QueuesOut:
    settings: Settings = request.app.state.settings
    return queues_out(_audits(request).stats(settings.review_target_s), settings.review_target_s)


@router.post(
    "/claim",
    response_model=AuditClaimOut,
    summary="Lease the next audit (204 when there is none)",
    responses={204: {"description": "no audit waiting in your languages"}},
)
def claim(request: Request, key: Moderator) -> AuditClaimOut | Response:
    """The oldest sampled decision of the queues your languages allow, leased like a review
    item."""
    view = _audits(request).claim(key.actor, key.languages)
    if view is None:
        return Response(status_code=204)
    return to_audit_claim_out(view, dt.datetime.now(dt.UTC))


@router.post(
    "/{audit_id}/decision",
    response_model=AuditDecisionOut,
    summary="Confirm the model's decision, or overturn it",
    responses=conflict("you hold no live lease on it, or it was decided"),
)
def decide(
    audit_id: AuditId, body: AuditDecisionIn, request: Request, key: Moderator
) -> AuditDecisionOut:
    """`confirm`: the model was right, nothing changes. `overturn`: it was wrong; a removal
    still standing is restored, an allowed video still live is removed under `label` (which
    overturning an allow requires). A video that moved on since (edited, in review, appealed)
    is left to that process; the verdict counts either way."""
    if body.note is not None:
        settings: Settings = request.app.state.settings
        check_text(body.note, "note", settings.max_note_chars)
    decided = _audits(request).decide(
        audit_id, key.actor, AuditVerdict(body.verdict), body.label, body.note
    )
    return AuditDecisionOut(
        audit=to_audit_out(decided.item, dt.datetime.now(dt.UTC)),
        video=to_review_video_out(decided.video),
    )


@router.post(
    "/{audit_id}/release",
    response_model=AuditOut,
    summary="Give an audit back",
    responses=conflict("you hold no live lease on it"),
)
def release(audit_id: AuditId, request: Request, key: Moderator) -> AuditOut:
    item = _audits(request).release(audit_id, key.actor)
    return to_audit_out(item, dt.datetime.now(dt.UTC))
