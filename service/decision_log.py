"""The decision log: append-only events plus each video's current state, in one transaction.

The source of truth (DESIGN.md section 6). Every write here appends its events and updates the
``videos`` row together, or not at all. Rows are mapped by hand into service.domain types.

Concurrency: on SQLite write transactions are serialised (BEGIN IMMEDIATE); on PostgreSQL the
videos' rows are locked (SELECT ... FOR UPDATE; a batch's in the database's video_id order, the
same for every writer), and two first-time writers of one video meet at a unique constraint
(its decision's, or its review item's): the loser retries and finds the winner's row.

Scorings are written by service/scoring_write.py, a batch a table at a time.

A write that needs Redis (a review item to queue, a webhook to send) returns Effects, applied
after commit (service/dispatch.py); `mizan reconcile` redoes any that were lost.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from service.creators import Enforcement
from service.database import dialect_insert, write_transaction
from service.domain import Decision, Event, EventType, ReviewReason, Status, VideoState
from service.effects import Effects, QueueChange
from service.errors import NotFoundError
from service.log_rows import (
    append_events,
    decision_by_id,
    event,
    event_row,
    locked_video,
    locked_videos,
    video_state,
)
from service.review_log import open_item, open_item_of
from service.scoring_write import ScoringOptions, ScoringRecord, ScoringWrite
from service.tables import contents, decisions, events, reports, videos

WRITE_ATTEMPTS = 3
# Live videos: a user report sends them to review. (Restored videos behave as live.)
REPORTABLE = {Status.LIVE, Status.RESTORED}


class DecisionLog:
    def __init__(
        self,
        engine: sa.Engine,
        *,
        review_languages: Sequence[str] = ("en", "ur", "ur-Latn"),
        webhooks: bool = False,
        audit_share: float = 0.0,
        rng: random.Random | None = None,
        enforcement: Enforcement | None = None,
    ) -> None:
        self._engine = engine
        self._options = ScoringOptions(
            tuple(review_languages), webhooks, audit_share, rng or random.Random(), enforcement
        )

    # reads ---------------------------------------------------------------------------------

    def current(self, video_id: str) -> VideoState | None:
        with self._engine.connect() as connection:
            row = connection.execute(
                sa.select(videos).where(videos.c.video_id == video_id)
            ).one_or_none()
        return video_state(row._mapping) if row else None

    def decision(self, decision_id: str) -> Decision:
        with self._engine.connect() as connection:
            return decision_by_id(connection, decision_id)

    def history(self, video_id: str) -> list[Event]:
        query = sa.select(events).where(events.c.video_id == video_id).order_by(events.c.sequence)
        with self._engine.connect() as connection:
            return [event(row._mapping) for row in connection.execute(query)]

    def event(self, event_id: str) -> Event:
        with self._engine.connect() as connection:
            row = connection.execute(
                sa.select(events).where(events.c.event_id == event_id)
            ).one_or_none()
        if row is None:
            raise NotFoundError(f"no event {event_id}")
        return event(row._mapping)

    def count_rows(self) -> dict[str, int]:
        """Row counts per table (tests and operators: 'did that write anything?')."""
        with self._engine.connect() as connection:
            return {
                table.name: int(
                    connection.scalar(sa.select(sa.func.count()).select_from(table)) or 0
                )
                for table in (events, decisions, videos, reports, contents)
            }

    # writes --------------------------------------------------------------------------------

    def record_scorings(
        self, records: Sequence[ScoringRecord], now: dt.datetime
    ) -> tuple[list[tuple[Decision, bool]], Effects]:
        """Append a decision per record, all or none; (decision, False) where the video's
        current revision already has this content (the first decision, nothing written).

        Raises ConflictError, writing nothing, if any video is removed and its content changed;
        ValueError if a video comes twice (callers keep them apart: a batch refuses it, the
        scoring thread decides the second in a later round).
        """
        order = sorted(range(len(records)), key=lambda i: records[i].upload.video_id)
        video_ids = [records[i].upload.video_id for i in order]
        if len(set(video_ids)) < len(video_ids):
            raise ValueError("the same video twice in one write")
        for attempt in range(WRITE_ATTEMPTS):
            try:
                results: dict[int, tuple[Decision, bool]] = {}
                with write_transaction(self._engine) as connection:
                    current = locked_videos(connection, video_ids)
                    write = ScoringWrite(connection, now, self._options)
                    for i, video_id in zip(order, video_ids, strict=True):
                        results[i] = write.decide(records[i], current.get(video_id))
                    write.finish()
                return [results[i] for i in range(len(records))], write.effects
            except IntegrityError:
                # a concurrent first write of a new video (or of its review item) won
                if attempt == WRITE_ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable")

    def record_views(
        self, video_id: str, views: int, actor: str, now: dt.datetime
    ) -> tuple[VideoState, Effects]:
        """Store a newer view count (counts only grow: an older, smaller one changes nothing).
        An open review item's priority follows its views."""
        effects = Effects()
        with write_transaction(self._engine) as connection:
            row = locked_video(connection, video_id)
            if row is None:
                raise NotFoundError(f"no video {video_id}")
            if views > row["views"]:
                connection.execute(
                    videos.update()
                    .where(videos.c.video_id == video_id)
                    .values(views=views, updated_at=now)
                )
                append_events(
                    connection,
                    [
                        event_row(
                            row,
                            EventType.VIEWS_UPDATED,
                            actor,
                            now,
                            data={"views": views, "previous": row["views"]},
                        )
                    ],
                )
                if row["status"] == Status.PENDING_REVIEW.value:
                    item = open_item_of(connection, video_id, row["revision"])
                    if item is not None:
                        effects.queue.append(QueueChange(item, views, row["reports"]))
            state = locked_video(connection, video_id)
            assert state is not None
            return video_state(state), effects

    def record_report(
        self, video_id: str, reporter_id: str, reason: str, actor: str, now: dt.datetime
    ) -> tuple[VideoState, bool, Effects]:
        """Count a user report once per reporter; (state, False, _) for a repeated report.

        A report on a live video opens a review item (once per revision: later reports raise
        its priority); the video stays public while it waits, so reports alone cannot hide it.
        """
        effects = Effects()
        with write_transaction(self._engine) as connection:
            row = locked_video(connection, video_id)
            if row is None:
                raise NotFoundError(f"no video {video_id}")
            insert = dialect_insert(connection.dialect.name)(reports).values(
                video_id=video_id, reporter_id=reporter_id, reason=reason, reported_at=now
            )
            # RETURNING, not rowcount: psycopg reports -1 for an INSERT .. ON CONFLICT here
            inserted = connection.execute(
                insert.on_conflict_do_nothing().returning(reports.c.reporter_id)
            ).first()
            is_new = inserted is not None
            if is_new:
                connection.execute(
                    videos.update()
                    .where(videos.c.video_id == video_id)
                    .values(
                        reports=videos.c.reports + 1,
                        first_reported_at=sa.func.coalesce(videos.c.first_reported_at, now),
                        updated_at=now,
                    )
                )
                append_events(
                    connection,
                    [
                        event_row(
                            row,
                            EventType.USER_REPORTED,
                            actor,
                            now,
                            data={"reporter_id": reporter_id, "reason": reason},
                        )
                    ],
                )
                self._route_report(connection, row, now, effects)
            state = locked_video(connection, video_id)
            assert state is not None
            return video_state(state), is_new, effects

    def _route_report(
        self,
        connection: sa.Connection,
        row: Mapping[Any, Any],
        now: dt.datetime,
        effects: Effects,
    ) -> None:
        reports_now = int(row["reports"]) + 1
        status = Status(row["status"])
        if status is Status.PENDING_REVIEW:
            item = open_item_of(connection, row["video_id"], row["revision"])
            if item is not None:
                effects.queue.append(QueueChange(item, int(row["views"]), reports_now))
            return
        if status not in REPORTABLE:
            return  # removed or under appeal: counted, nothing to review
        scores: Mapping[str, float] = decision_by_id(connection, row["decision_id"]).scores
        label = max(scores, key=lambda name: scores[name]) if scores else None
        item = open_item(
            connection,
            row,
            row["revision"],
            ReviewReason.REPORT,
            label,
            scores[label] if label else 0.0,
            self._options.languages,
            now,
        )
        if item is None:
            return  # this revision was reviewed already: a person's decision stands
        connection.execute(
            videos.update()
            .where(videos.c.video_id == row["video_id"])
            .values(status=Status.PENDING_REVIEW.value)
        )
        append_events(
            connection,
            [
                event_row(
                    row,
                    EventType.QUEUED_FOR_REVIEW,
                    "reports",
                    now,
                    label=label,
                    data={"item_id": item.item_id, "reason": ReviewReason.REPORT.value},
                )
            ],
        )
        effects.queue.append(QueueChange(item, int(row["views"]), reports_now))
