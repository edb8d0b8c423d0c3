"""/v1/review: the moderators' API: queue stats, claim, decide, release (DESIGN.md section 7)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Annotated

from fastapi import APIRouter, Path, Request, Response

from review_queue import PRIORITY_ORDER, QueueStats
from service.auth import Moderator
from service.domain import Verdict
from service.limits import check_text
from service.openapi import conflict
from service.review import ItemView, Review
from service.routes.convert import (
    to_content_out,
    to_decision_out,
    to_item_out,
    to_review_video_out,
)
from service.schemas import (
    ClaimOut,
    QueueOut,
    QueuesOut,
    ReviewDecisionIn,
    ReviewDecisionOut,
    ReviewItemOut,
)
from service.settings import Settings

router = APIRouter(prefix="/v1/review", tags=["review"])
ItemId = Annotated[str, Path(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9_-]+$")]


def _review(request: Request) -> Review:
    review: Review = request.app.state.review
    return review


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def to_claim_out(view: ItemView, now: dt.datetime) -> ClaimOut:
    return ClaimOut(
        item=to_item_out(view.item, now),
        video=to_review_video_out(view.video),
        decision=to_decision_out(view.decision),
        content=to_content_out(view.content),
    )


def queues_out(stats: Sequence[QueueStats], target_s: float) -> QueuesOut:
    now = dt.datetime.now(dt.UTC).timestamp()
    rank = {priority: index for index, priority in enumerate(PRIORITY_ORDER)}
    out = [
        QueueOut(
            queue=s.queue,
            language=s.language,
            priority=s.priority.value,
            waiting=s.waiting,
            leased=s.leased,
            oldest_age_s=max(0.0, now - s.oldest_since) if s.oldest_since is not None else None,
            past_target=s.past_target,
        )
        for s in sorted(stats, key=lambda s: (rank[s.priority], s.language))
    ]
    return QueuesOut(
        target_s=target_s,
        waiting=sum(q.waiting for q in out),
        leased=sum(q.leased for q in out),
        past_target=sum(q.past_target for q in out),
        queues=out,
    )


@router.get("/queues", response_model=QueuesOut, summary="Depth and age of each review queue")
def queues(request: Request, key: Moderator) -> QueuesOut:
    """Per queue (language x priority): waiting and leased items, the oldest one's age, and
    how many are past the target age (default 24 hours)."""
    target_s = _settings(request).review_target_s
    now = dt.datetime.now(dt.UTC).timestamp()
    rank = {priority: index for index, priority in enumerate(PRIORITY_ORDER)}
    stats = sorted(_review(request).stats(target_s), key=lambda s: (rank[s.priority], s.language))
    out = [
        QueueOut(
            queue=s.queue,
            language=s.language,
            priority=s.priority.value,
            waiting=s.waiting,
            leased=s.leased,
            oldest_age_s=max(0.0, now - s.oldest_since) if s.oldest_since is not None else None,
            past_target=s.past_target,
        )
        for s in stats
    ]
    return QueuesOut(
        target_s=target_s,
        waiting=sum(q.waiting for q in out),
        leased=sum(q.leased for q in out),
        past_target=sum(q.past_target for q in out),
        queues=out,
    )


@router.post(
    "/claim",
    response_model=ClaimOut,
    summary="Lease the next item (204 when there is none)",
    responses={204: {"description": "nothing to review in your languages"}},
)
def claim(request: Request, key: Moderator) -> ClaimOut | Response:
    """The highest-priority, oldest item of the queues the key's languages allow, leased for
    the configured time (default 10 minutes). Holding a live lease already returns that item."""
    view = _review(request).claim(key.actor, key.languages)
    if view is None:
        return Response(status_code=204)
    return to_claim_out(view, dt.datetime.now(dt.UTC))


@router.post(
    "/items/{item_id}/decision",
    response_model=ReviewDecisionOut,
    summary="Remove or approve a leased item",
    responses=conflict("you hold no live lease on it, or it was decided or superseded"),
)
def decide(
    item_id: ItemId, body: ReviewDecisionIn, request: Request, key: Moderator
) -> ReviewDecisionOut:
    """`remove` (with the policy label) takes the video down; `approve` makes it live and
    public. Refused with 409 unless you hold a live lease on an undecided item."""
    if body.note is not None:
        check_text(body.note, "note", _settings(request).max_note_chars)
    decided = _review(request).decide(
        item_id, key.actor, Verdict(body.verdict), body.label, body.note
    )
    return ReviewDecisionOut(
        item=to_item_out(decided.item, dt.datetime.now(dt.UTC)),
        video=to_review_video_out(decided.video),
    )


@router.post(
    "/items/{item_id}/release",
    response_model=ReviewItemOut,
    summary="Give a leased item back",
    responses=conflict("you hold no live lease on it"),
)
def release(item_id: ItemId, request: Request, key: Moderator) -> ReviewItemOut:
    """The item goes back to the front of its queue. 409 unless you hold a live lease on it."""
    item = _review(request).release(item_id, key.actor)
    return to_item_out(item, dt.datetime.now(dt.UTC))
