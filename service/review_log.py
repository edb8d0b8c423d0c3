"""The review items in the decision log: opened with a scoring or a report (in that write's
transaction), claimed, released and expired (service/leased_log.py), and decided with the
video's new state, its event and its webhook in one transaction.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from classifier import Video
from review_queue import queue_language
from service.database import write_transaction
from service.domain import (
    EventType,
    ItemState,
    ReviewItem,
    ReviewReason,
    Status,
    Verdict,
    VideoState,
    Visibility,
    content_from_canonical,
)
from service.effects import Effects, QueueChange
from service.errors import NotFoundError
from service.leased_log import LeasedLog
from service.log_rows import (
    append_events,
    event_row,
    locked_video,
    review_item,
    video_state,
)
from service.outbox import add_delivery
from service.rollups import removal_facts
from service.tables import contents, review_items, videos


def open_item(
    connection: sa.Connection,
    video: Mapping[str, Any],
    revision: int,
    reason: ReviewReason,
    label: str | None,
    score: float,
    languages: Sequence[str],
    now: dt.datetime,
) -> ReviewItem | None:
    """Open the review item of this revision; None if the revision already has one."""
    existing = connection.execute(
        sa.select(review_items.c.item_id).where(
            review_items.c.video_id == video["video_id"], review_items.c.revision == revision
        )
    ).first()
    if existing is not None:
        return None
    row = {
        "item_id": f"r{uuid.uuid4().hex}",
        "video_id": video["video_id"],
        "revision": revision,
        "reason": reason.value,
        "language": queue_language(video["language"], languages),
        "region": video["region"],
        "label": label,
        "score": score,
        "state": ItemState.OPEN.value,
        "created_at": now,
        "claims": 0,
    }
    connection.execute(_INSERT_ITEM, row)
    return review_item({**row, **_UNSET})


def supersede_open_items(
    connection: sa.Connection, video: Mapping[str, Any], now: dt.datetime
) -> list[str]:
    """Close the video's open items (an edit replaced what they were about)."""
    ids = [
        row.item_id
        for row in connection.execute(
            sa.select(review_items.c.item_id).where(
                review_items.c.video_id == video["video_id"],
                review_items.c.state == ItemState.OPEN.value,
            )
        )
    ]
    if ids:
        connection.execute(
            review_items.update()
            .where(review_items.c.item_id.in_(ids))
            .values(state=ItemState.SUPERSEDED.value)
        )
        append_events(
            connection,
            [
                event_row(video, EventType.SUPERSEDED, "system", now, data={"item_id": item_id})
                for item_id in ids
            ],
        )
    return ids


def open_item_of(connection: sa.Connection, video_id: str, revision: int) -> ReviewItem | None:
    row = connection.execute(
        sa.select(review_items).where(
            review_items.c.video_id == video_id,
            review_items.c.revision == revision,
            review_items.c.state == ItemState.OPEN.value,
        )
    ).one_or_none()
    return review_item(row._mapping) if row else None


_INSERT_ITEM = review_items.insert()
_UNSET = {
    "claimed_by": None,
    "lease_expires_at": None,
    "decided_at": None,
    "decided_by": None,
    "verdict": None,
    "decided_label": None,
    "note": None,
}


@dataclass(frozen=True, slots=True)
class Decided:
    item: ReviewItem
    video: VideoState
    effects: Effects


class ReviewLog(LeasedLog[ReviewItem]):
    def __init__(self, engine: sa.Engine, *, webhooks: bool = False) -> None:
        super().__init__(engine, review_items, review_item, "review item", webhooks=webhooks)

    # reads ---------------------------------------------------------------------------------

    def items_of(self, video_id: str) -> list[ReviewItem]:
        query = (
            sa.select(review_items)
            .where(review_items.c.video_id == video_id)
            .order_by(review_items.c.created_at)
        )
        with self._engine.connect() as connection:
            return [review_item(row._mapping) for row in connection.execute(query)]

    def open_items(self) -> list[QueueChange]:
        """Every open item with its video's views and reports, oldest first (reconcile)."""
        query = (
            sa.select(review_items, videos.c.views, videos.c.reports)
            .join(videos, videos.c.video_id == review_items.c.video_id)
            .where(review_items.c.state == ItemState.OPEN.value)
            .order_by(review_items.c.created_at)
        )
        with self._engine.connect() as connection:
            return [
                QueueChange(review_item(row._mapping), int(row.views), int(row.reports))
                for row in connection.execute(query)
            ]

    def content(self, video_id: str, revision: int) -> Video | None:
        with self._engine.connect() as connection:
            text = connection.scalar(
                sa.select(contents.c.content).where(
                    contents.c.video_id == video_id, contents.c.revision == revision
                )
            )
        return content_from_canonical(text) if text is not None else None

    # writes --------------------------------------------------------------------------------

    def decide(
        self,
        item_id: str,
        holder: str,
        verdict: Verdict,
        label: str | None,
        note: str | None,
        now: dt.datetime,
    ) -> Decided:
        """A moderator's decision: the video is removed by a person, or live again."""
        with self._engine.connect() as connection:
            peek = self._select(connection, item_id, lock=False)
        if peek is None:
            raise NotFoundError(f"no review item {item_id}")
        with write_transaction(self._engine) as connection:
            # the video's row first, then the item's: the order scoring locks them in
            video = locked_video(connection, peek["video_id"])
            row = self._held(connection, item_id, holder, now)
            assert video is not None  # an item is only opened for a logged video
            if verdict is Verdict.REMOVE:
                status, visibility, kind = Status.REMOVED, Visibility.REMOVED, "removed"
                event_type = EventType.HUMAN_REMOVED
                changes: dict[str, object] = {
                    "removed_at": now,
                    "views_at_removal": video["views"],
                    "label": label,
                }
            else:
                status, visibility, kind = Status.LIVE, Visibility.PUBLIC, "approved"
                event_type = EventType.HUMAN_APPROVED
                changes = {}
            connection.execute(
                videos.update()
                .where(videos.c.video_id == row["video_id"])
                .values(status=status.value, visibility=visibility.value, updated_at=now, **changes)
            )
            connection.execute(
                review_items.update()
                .where(review_items.c.item_id == item_id)
                .values(
                    state=ItemState.DECIDED.value,
                    decided_at=now,
                    decided_by=holder,
                    verdict=verdict.value,
                    decided_label=label,
                    note=note,
                )
            )
            event = event_row(
                video,
                event_type,
                holder,
                now,
                label=label if verdict is Verdict.REMOVE else row["label"],
                revision=row["revision"],
                data={
                    "item_id": item_id,
                    "reason": row["reason"],
                    "note": note,
                    "policy_version": video["policy_version"],
                    **(
                        removal_facts(video["views"], video["uploaded_at"], video["reports"])
                        if verdict is Verdict.REMOVE
                        else {}
                    ),
                },
            )
            append_events(connection, [event])
            effects = Effects()
            if self._webhooks:
                details = {
                    "status": status.value,
                    "visibility": visibility.value,
                    "decided_by": "human",
                }
                effects.deliveries.append(add_delivery(connection, event, kind, details))
            decided = self._select(connection, item_id, lock=False)
            state = locked_video(connection, row["video_id"])
            assert decided is not None
            assert state is not None
            return Decided(review_item(decided), video_state(state), effects)
