"""Domain objects to response bodies: one place, so every route shows them the same way."""

from __future__ import annotations

import datetime as dt

from classifier import Video
from service.domain import Appeal, AuditItem, Decision, Event, ReviewItem, VideoState
from service.schemas import (
    AppealOut,
    ContentOut,
    DecisionOut,
    EventOut,
    EvidenceOut,
    ReviewItemOut,
    ReviewVideoOut,
    SegmentIn,
)
from service.schemas_lifecycle import AuditOut


def to_decision_out(decision: Decision) -> DecisionOut:
    return DecisionOut(
        decision_id=decision.decision_id,
        video_id=decision.video_id,
        revision=decision.revision,
        action=decision.action.value,
        status=decision.status.value,
        visibility=decision.visibility.value,
        label=decision.label,
        scores=dict(decision.scores),
        evidence=[
            EvidenceOut(
                label=e.label,
                field=e.field,
                start_s=e.start_s,
                end_s=e.end_s,
                text=e.text,
                score=e.score,
            )
            for e in decision.evidence
        ],
        thresholds={k: dict(v) for k, v in decision.thresholds.items()},
        model_version=decision.model_version,
        policy_version=decision.policy_version,
        decided_at=decision.decided_at,
    )


def to_event_out(event: Event) -> EventOut:
    return EventOut(
        event_id=event.event_id,
        sequence=event.sequence,
        type=event.type.value,
        revision=event.revision,
        label=event.label,
        actor=event.actor,
        occurred_at=event.occurred_at,
        data=dict(event.data),
    )


def to_item_out(item: ReviewItem, now: dt.datetime) -> ReviewItemOut:
    expires = item.lease_expires_at
    return ReviewItemOut(
        item_id=item.item_id,
        video_id=item.video_id,
        revision=item.revision,
        reason=item.reason.value,
        queue_language=item.language,
        region=item.region,
        label=item.label,
        score=item.score,
        state=item.state.value,
        created_at=item.created_at,
        claimed_by=item.claimed_by,
        lease_expires_at=expires,
        lease_remaining_s=_remaining_s(expires, now),
        claims=item.claims,
        decided_at=item.decided_at,
        decided_by=item.decided_by,
        verdict=item.verdict.value if item.verdict else None,
        decided_label=item.decided_label,
        note=item.note,
    )


def to_review_video_out(video: VideoState) -> ReviewVideoOut:
    return ReviewVideoOut(
        video_id=video.video_id,
        creator_id=video.creator_id,
        region=video.region,
        language=video.language,
        status=video.status.value,
        visibility=video.visibility.value,
        revision=video.revision,
        uploaded_at=video.uploaded_at,
        views=video.views,
        reports=video.reports,
    )


def to_content_out(video: Video | None) -> ContentOut | None:
    if video is None:
        return None
    transcript = video.transcript
    return ContentOut(
        title=video.title,
        description=video.description,
        hashtags=list(video.hashtags),
        transcript=transcript
        if isinstance(transcript, str)
        else [SegmentIn(start_s=s.start_s, end_s=s.end_s, text=s.text) for s in transcript],
    )


def to_appeal_out(appeal: Appeal, now: dt.datetime) -> AppealOut:
    expires = appeal.lease_expires_at
    return AppealOut(
        appeal_id=appeal.item_id,
        video_id=appeal.video_id,
        revision=appeal.revision,
        removal_event_id=appeal.removal_event_id,
        removed_by=appeal.removed_by,
        automated=appeal.automated,
        label=appeal.label,
        score=appeal.score,
        queue_language=appeal.language,
        region=appeal.region,
        statement=appeal.statement,
        state="decided" if appeal.verdict else "open",
        created_at=appeal.created_at,
        claimed_by=appeal.claimed_by,
        lease_expires_at=expires,
        lease_remaining_s=_remaining_s(expires, now),
        decided_at=appeal.decided_at,
        decided_by=appeal.decided_by,
        verdict=appeal.verdict.value if appeal.verdict else None,
        note=appeal.note,
    )


def to_audit_out(item: AuditItem, now: dt.datetime) -> AuditOut:
    expires = item.lease_expires_at
    return AuditOut(
        audit_id=item.item_id,
        video_id=item.video_id,
        revision=item.revision,
        decision_id=item.decision_id,
        audited_action=item.action.value,  # type: ignore[arg-type]
        label=item.label,
        score=item.score,
        model_version=item.model_version,
        queue_language=item.language,
        region=item.region,
        state="decided" if item.verdict else "open",
        created_at=item.created_at,
        claimed_by=item.claimed_by,
        lease_expires_at=expires,
        lease_remaining_s=_remaining_s(expires, now),
        decided_at=item.decided_at,
        decided_by=item.decided_by,
        verdict=item.verdict.value if item.verdict else None,
        decided_label=item.decided_label,
        note=item.note,
        applied=item.applied,
    )


def _remaining_s(expires: dt.datetime | None, now: dt.datetime) -> float | None:
    """Seconds left on a lease (0 once it has run out); None when nobody holds the item."""
    return max(0.0, (expires - now).total_seconds()) if expires else None
