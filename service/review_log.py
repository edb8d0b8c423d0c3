"""The review items in the decision log: opened with a scoring or a report (in that write's
transaction), claimed, released and expired (service/leased_log.py), and decided with the
video's new state, its event and its webhook in one transaction.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from classifier import Video
from review_queue import queue_language
from service.creators import Enforcement
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
from service.ids import new_hex
from service.leased_log import LeasedLog, Outcome
from service.log_rows import (
    append_events,
    event_row,
    review_item,
    video_state,
)
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
        "item_id": f"r{new_hex()}",
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
    def __init__(
        self, engine: sa.Engine, *, webhooks: bool = False, enforcement: Enforcement | None = None
    ) -> None:
        super().__init__(
            engine,
            review_items,
            review_item,
            "review item",
            webhooks=webhooks,
            enforcement=enforcement,
        )

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
        with self._deciding(item_id, holder, now) as (connection, video, row):
            data: dict[str, object] = {
                "reason": row["reason"],
                "note": note,
                "policy_version": video["policy_version"],
            }
            if verdict is Verdict.REMOVE:
                outcome = Outcome(
                    Status.REMOVED,
                    Visibility.REMOVED,
                    EventType.HUMAN_REMOVED,
                    "removed",
                    {"removed_at": now, "views_at_removal": video["views"], "label": label},
                )
                data |= removal_facts(video["views"], video["uploaded_at"], video["reports"])
            else:
                outcome = Outcome(
                    Status.LIVE, Visibility.PUBLIC, EventType.HUMAN_APPROVED, "approved"
                )
            decided, state, effects = self._conclude(
                connection,
                video,
                row,
                outcome,
                holder=holder,
                now=now,
                item_values={"verdict": verdict.value, "decided_label": label, "note": note},
                label=label if verdict is Verdict.REMOVE else row["label"],
                data=data,
                details={},
            )
            return Decided(review_item(decided), video_state(state), effects)
