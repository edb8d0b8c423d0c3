"""Row helpers shared by the decision log and the review log: locking a video's row,
appending events, and mapping rows into domain objects.

Both logs write in the same transactions (a scoring that opens a review item, a human decision
that changes a video), so the pieces they share live here rather than in either.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa

from classifier import Evidence
from service import rollups
from service.bulk_insert import insert_rows
from service.domain import (
    Action,
    Appeal,
    AppealVerdict,
    AuditItem,
    AuditVerdict,
    Decision,
    Event,
    EventType,
    ItemState,
    ReviewItem,
    ReviewReason,
    Status,
    Verdict,
    VideoState,
    Visibility,
)
from service.errors import NotFoundError
from service.ids import new_uuid
from service.tables import decisions, events, videos

# Statements built once: compiling .values(...) anew for every write cost more than the write.
_SELECT_VIDEOS = (
    sa.select(videos)
    .where(videos.c.video_id.in_(sa.bindparam("video_ids", expanding=True)))
    .order_by(videos.c.video_id)
)
_LOCK_VIDEOS = _SELECT_VIDEOS.with_for_update()


def locked_video(connection: sa.Connection, video_id: str) -> Mapping[Any, Any] | None:
    """The video's row, locked until the transaction ends (SQLite: the write lock is held)."""
    return locked_videos(connection, [video_id]).get(video_id)


def locked_videos(
    connection: sa.Connection, video_ids: Sequence[str]
) -> dict[str, Mapping[Any, Any]]:
    """The rows of those videos that exist, by video_id, locked until the transaction ends.
    PostgreSQL locks them in its order of video_id, the same for every batch, so two batches
    sharing videos cannot deadlock (SQLite: the write lock is held already)."""
    query = _LOCK_VIDEOS if connection.dialect.name == "postgresql" else _SELECT_VIDEOS
    found = connection.execute(query, {"video_ids": list(video_ids)})
    return {row.video_id: row._mapping for row in found}


def decision_by_id(connection: sa.Connection, decision_id: str) -> Decision:
    row = connection.execute(
        sa.select(decisions).where(decisions.c.decision_id == decision_id)
    ).one_or_none()
    if row is None:
        raise NotFoundError(f"no decision {decision_id}")
    return decision(row._mapping)


def video_columns(connection: sa.Connection, video_id: str) -> Mapping[Any, Any]:
    """The columns an event copies from its video (its region and language)."""
    row = connection.execute(
        sa.select(videos.c.video_id, videos.c.region, videos.c.language).where(
            videos.c.video_id == video_id
        )
    ).one()
    return row._mapping


def append_events(connection: sa.Connection, rows: list[dict[str, object]]) -> None:
    """Append events; what they count goes to the report's rollups before the commit."""
    insert_rows(connection, events, rows)
    rollups.defer(connection, rows)


def event_row(
    video: Mapping[Any, Any],
    kind: EventType,
    actor: str,
    now: dt.datetime,
    label: str | None = None,
    revision: int | None = None,
    data: Mapping[str, object] | None = None,
) -> dict[str, object]:
    return {
        "event_id": new_uuid(),
        "video_id": video["video_id"],
        "revision": revision if revision is not None else video.get("revision"),
        "type": kind.value,
        "region": video["region"],
        "language": video["language"],
        "label": label if label is not None else video.get("label"),
        "actor": actor,
        "occurred_at": now,
        "data": dict(data or {}),
    }


def video_state(row: Mapping[Any, Any]) -> VideoState:
    return VideoState(
        video_id=row["video_id"],
        creator_id=row["creator_id"],
        region=row["region"],
        language=row["language"],
        status=Status(row["status"]),
        visibility=Visibility(row["visibility"]),
        revision=row["revision"],
        content_hash=row["content_hash"],
        decision_id=row["decision_id"],
        action=Action(row["action"]),
        label=row["label"],
        model_version=row["model_version"],
        policy_version=row["policy_version"],
        uploaded_at=row["uploaded_at"],
        first_scored_at=row["first_scored_at"],
        updated_at=row["updated_at"],
        views=int(row["views"]),
        reports=int(row["reports"]),
        removed_at=row["removed_at"],
        views_at_removal=row["views_at_removal"],
        first_reported_at=row["first_reported_at"],
    )


def decision(row: Mapping[Any, Any]) -> Decision:
    return Decision(
        decision_id=row["decision_id"],
        video_id=row["video_id"],
        revision=row["revision"],
        action=Action(row["action"]),
        status=Status(row["status"]),
        visibility=Visibility(row["visibility"]),
        label=row["label"],
        scores=row["scores"],
        evidence=[Evidence(**item) for item in row["evidence"]],
        thresholds=row["thresholds"],
        model_version=row["model_version"],
        policy_version=row["policy_version"],
        decided_at=row["decided_at"],
        content_hash=row["content_hash"],
    )


def event(row: Mapping[Any, Any]) -> Event:
    return Event(
        event_id=row["event_id"],
        sequence=row["sequence"],
        video_id=row["video_id"],
        type=EventType(row["type"]),
        region=row["region"],
        language=row["language"],
        label=row["label"],
        actor=row["actor"],
        occurred_at=row["occurred_at"],
        revision=row["revision"],
        data=row["data"],
    )


def review_item(row: Mapping[Any, Any]) -> ReviewItem:
    return ReviewItem(
        item_id=row["item_id"],
        video_id=row["video_id"],
        revision=row["revision"],
        reason=ReviewReason(row["reason"]),
        language=row["language"],
        region=row["region"],
        label=row["label"],
        score=float(row["score"]),
        state=ItemState(row["state"]),
        created_at=row["created_at"],
        claimed_by=row["claimed_by"],
        lease_expires_at=row["lease_expires_at"],
        claims=int(row["claims"]),
        decided_at=row["decided_at"],
        decided_by=row["decided_by"],
        verdict=Verdict(row["verdict"]) if row["verdict"] else None,
        decided_label=row["decided_label"],
        note=row["note"],
    )


def appeal(row: Mapping[Any, Any]) -> Appeal:
    return Appeal(
        item_id=row["item_id"],
        video_id=row["video_id"],
        revision=row["revision"],
        removal_event_id=row["removal_event_id"],
        removed_by=row["removed_by"],
        automated=bool(row["automated"]),
        label=row["label"],
        score=float(row["score"]),
        language=row["language"],
        region=row["region"],
        statement=row["statement"],
        state=ItemState(row["state"]),
        created_at=row["created_at"],
        claimed_by=row["claimed_by"],
        lease_expires_at=row["lease_expires_at"],
        claims=int(row["claims"]),
        decided_at=row["decided_at"],
        decided_by=row["decided_by"],
        verdict=AppealVerdict(row["verdict"]) if row["verdict"] else None,
        note=row["note"],
    )


def audit_item(row: Mapping[Any, Any]) -> AuditItem:
    return AuditItem(
        item_id=row["item_id"],
        video_id=row["video_id"],
        revision=row["revision"],
        decision_id=row["decision_id"],
        action=Action(row["action"]),
        label=row["label"],
        score=float(row["score"]),
        model_version=row["model_version"],
        language=row["language"],
        region=row["region"],
        state=ItemState(row["state"]),
        created_at=row["created_at"],
        claimed_by=row["claimed_by"],
        lease_expires_at=row["lease_expires_at"],
        claims=int(row["claims"]),
        decided_at=row["decided_at"],
        decided_by=row["decided_by"],
        verdict=AuditVerdict(row["verdict"]) if row["verdict"] else None,
        decided_label=row["decided_label"],
        note=row["note"],
        applied=row["applied"],
    )
