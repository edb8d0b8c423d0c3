"""The decision log: append-only events plus each video's current state, in one transaction.

The source of truth (DESIGN.md section 6). Every write here appends its events and updates the
``videos`` row together, or not at all. Rows are mapped by hand into service.domain types.

Concurrency: on SQLite write transactions are serialised (BEGIN IMMEDIATE); on PostgreSQL the
video's row is locked (SELECT ... FOR UPDATE), and two first-time writers for one video meet at
the unique (video_id, revision) constraint: the loser retries and finds the winner's row.

A write that needs Redis (a review item to queue, a webhook to send) returns Effects, applied
after commit (service/dispatch.py); `mizan reconcile` redoes any that were lost.
"""

from __future__ import annotations

import datetime as dt
import random
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from classifier import Evidence
from service import drift
from service.audit_log import AUDIT_PRIORITY, AUDITED, open_audit, sampled_event
from service.creators import Enforcement
from service.database import dialect_insert, write_transaction
from service.domain import (
    OUTCOME,
    Action,
    Decision,
    Event,
    EventType,
    ReviewReason,
    Status,
    Upload,
    VideoState,
    Visibility,
)
from service.effects import Effects, QueueChange
from service.errors import ConflictError, NotFoundError
from service.log_rows import (
    append_events,
    decision,
    event,
    event_row,
    locked_video,
    video_state,
)
from service.outbox import add_delivery
from service.review_log import (
    open_item,
    open_item_of,
    supersede_open_items,
)
from service.rollups import removal_facts
from service.scoring_rows import ScoringRows, locked_videos
from service.tables import contents, decisions, events, reports, videos

WRITE_ATTEMPTS = 3
# Live videos: a user report sends them to review. (Restored videos behave as live.)
REPORTABLE = {Status.LIVE, Status.RESTORED}
# A video in these states is not re-scored on edit: its removal stands until an appeal.
FROZEN = {Status.REMOVED, Status.APPEALED}


@dataclass(frozen=True, slots=True)
class ScoringRecord:
    """What scoring decided for one upload, ready to be logged."""

    upload: Upload
    content: str  # Upload.canonical_content(): stored for reviewers
    content_hash: str
    action: Action
    label: str | None
    scores: Mapping[str, float]
    evidence: Sequence[Evidence]
    thresholds: Mapping[str, Mapping[str, float | None]]
    model_version: str
    policy_version: str
    shadow: ShadowRecord | None = None  # what a challenger in shadow would have done


@dataclass(frozen=True, slots=True)
class ShadowRecord:
    """A challenger's scores and would-be action for the same upload; never acted on."""

    model_version: str
    action: Action
    label: str | None
    scores: Mapping[str, float]
    thresholds: Mapping[str, Mapping[str, float | None]]


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
        self._languages = tuple(review_languages)
        self._webhooks = webhooks  # write an outbox row for each outcome to announce
        self._audit_share = audit_share  # of automated removals and allows, sent to audit
        self._rng = rng or random.Random()
        self._enforcement = enforcement  # notices, strikes, account actions (creators.py)

    # reads ---------------------------------------------------------------------------------

    def current(self, video_id: str) -> VideoState | None:
        with self._engine.connect() as connection:
            row = connection.execute(
                sa.select(videos).where(videos.c.video_id == video_id)
            ).one_or_none()
        return video_state(row._mapping) if row else None

    def decision(self, decision_id: str) -> Decision:
        with self._engine.connect() as connection:
            return self._decision_in(connection, decision_id)

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
        # Rows are locked in video_id order, so two batches cannot deadlock on PostgreSQL.
        order = sorted(range(len(records)), key=lambda i: records[i].upload.video_id)
        video_ids = [records[i].upload.video_id for i in order]
        if len(set(video_ids)) < len(video_ids):
            raise ValueError("the same video twice in one write")
        for attempt in range(WRITE_ATTEMPTS):
            try:
                results: dict[int, tuple[Decision, bool]] = {}
                effects = Effects()
                with write_transaction(self._engine) as connection:
                    current = locked_videos(connection, video_ids)
                    rows = ScoringRows()
                    removals: list[_Removal] = []
                    for i in order:
                        row = current.get(records[i].upload.video_id)
                        results[i] = self._decide_one(
                            connection, records[i], row, now, effects, rows, removals
                        )
                    rows.write(connection)
                    for removal in removals:  # after the writes: a notice quotes the decision
                        self._enforce(connection, removal, now, effects)
                return [results[i] for i in range(len(records))], effects
            except IntegrityError:
                # a concurrent first write of the same video won the unique constraint
                if attempt == WRITE_ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable")

    def _decide_one(
        self,
        connection: sa.Connection,
        record: ScoringRecord,
        row: Mapping[Any, Any] | None,
        now: dt.datetime,
        effects: Effects,
        rows: ScoringRows,
        removals: list[_Removal],
    ) -> tuple[Decision, bool]:
        upload = record.upload
        if row is not None and row["content_hash"] == record.content_hash:
            # the first decision, with what the video is now (a restored video is public)
            first = self._decision_in(connection, row["decision_id"])
            now_status = (Status(row["status"]), Visibility(row["visibility"]))
            return replace(first, status=now_status[0], visibility=now_status[1]), False
        if row is not None and Status(row["status"]) in FROZEN:
            raise ConflictError(
                f"video {upload.video_id} is {row['status']}; an edit does not re-score a "
                "removed video (appeal the removal instead)"
            )
        status, visibility = OUTCOME[record.action]
        decision = Decision(
            decision_id=str(uuid.uuid4()),
            video_id=upload.video_id,
            revision=(row["revision"] + 1) if row is not None else 1,
            action=record.action,
            status=status,
            visibility=visibility,
            label=record.label,
            scores=dict(record.scores),
            evidence=list(record.evidence),
            thresholds={k: dict(v) for k, v in record.thresholds.items()},
            model_version=record.model_version,
            policy_version=record.policy_version,
            decided_at=now,
            content_hash=record.content_hash,
        )
        outcome = self._gather_decision(connection, record, decision, row, now, effects, rows)
        if decision.action is Action.REMOVE:
            removals.append(_Removal(decision, outcome, upload.creator_id))
        return decision, True

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
        scores: Mapping[str, float] = self._decision_in(connection, row["decision_id"]).scores
        label = max(scores, key=lambda name: scores[name]) if scores else None
        item = open_item(
            connection,
            row,
            row["revision"],
            ReviewReason.REPORT,
            label,
            scores[label] if label else 0.0,
            self._languages,
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

    # helpers -------------------------------------------------------------------------------

    def _decision_in(self, connection: sa.Connection, decision_id: str) -> Decision:
        row = connection.execute(
            sa.select(decisions).where(decisions.c.decision_id == decision_id)
        ).one_or_none()
        if row is None:
            raise NotFoundError(f"no decision {decision_id}")
        return decision(row._mapping)

    def _gather_decision(
        self,
        connection: sa.Connection,
        record: ScoringRecord,
        decision: Decision,
        previous: Mapping[Any, Any] | None,
        now: dt.datetime,
        effects: Effects,
        rows: ScoringRows,
    ) -> dict[str, object]:
        """Add a new decision's rows to the batch; the review item, audit and superseding it
        brings are written at once (their ids go into its events). Its outcome event."""
        upload = record.upload
        rows.add_decision(decision)
        if record.shadow is not None:
            shadow = record.shadow
            rows.shadows.append(
                {
                    "decision_id": decision.decision_id,
                    "model_version": shadow.model_version,
                    "video_id": decision.video_id,
                    "revision": decision.revision,
                    "action": shadow.action.value,
                    "label": shadow.label,
                    "scores": dict(shadow.scores),
                    "thresholds": {k: dict(v) for k, v in shadow.thresholds.items()},
                    "scored_at": now,
                }
            )
        drift.defer(
            connection,
            now.astimezone(dt.UTC).date(),
            decision.model_version,
            decision.action.value,
            decision.scores,
        )
        rows.contents.append(
            {
                "video_id": decision.video_id,
                "revision": decision.revision,
                "content": record.content,
            }
        )
        language = upload.language or "und"
        removed = decision.action is Action.REMOVE
        state = {
            "video_id": upload.video_id,
            "creator_id": upload.creator_id,
            "region": upload.region,
            "language": language,
            "status": decision.status.value,
            "visibility": decision.visibility.value,
            "revision": decision.revision,
            "content_hash": decision.content_hash,
            "decision_id": decision.decision_id,
            "action": decision.action.value,
            "label": decision.label,
            "model_version": decision.model_version,
            "policy_version": decision.policy_version,
            "updated_at": now,
            "removed_at": now if removed else (previous["removed_at"] if previous else None),
            "views_at_removal": (previous["views"] if previous else 0)
            if removed
            else (previous["views_at_removal"] if previous else None),
        }
        if previous is None:
            rows.new_videos.append(
                {
                    **state,
                    "uploaded_at": upload.uploaded_at,
                    "first_scored_at": now,
                    "views": 0,
                    "reports": 0,
                }
            )
        else:
            rows.changed_videos.append({**state, "key_video_id": upload.video_id})
        video = {"video_id": upload.video_id, "region": upload.region, "language": language}
        if previous is not None and previous["status"] == Status.PENDING_REVIEW.value:
            effects.closed += supersede_open_items(connection, video, now)
        actor = f"model:{decision.model_version}"
        data: dict[str, object] = {
            "decision_id": decision.decision_id,
            "action": decision.action.value,
            "policy_version": decision.policy_version,
        }
        events = [
            event_row(video, EventType.SCORED, actor, now, decision.label, decision.revision, data)
        ]
        if decision.action is Action.REVIEW:
            label = decision.label
            item = open_item(
                connection,
                video,
                decision.revision,
                ReviewReason.MODEL,
                label,
                decision.scores[label] if label else 0.0,
                self._languages,
                now,
            )
            if item is not None:
                data = {**data, "item_id": item.item_id}
                views = int(previous["views"]) if previous else 0
                reports_so_far = int(previous["reports"]) if previous else 0
                effects.queue.append(QueueChange(item, views, reports_so_far))
        if decision.action in _FOLLOW_UP:
            if removed:  # what the report counts about a removal, as it stands now
                data = {
                    **data,
                    **removal_facts(
                        int(previous["views"]) if previous else 0,
                        previous["uploaded_at"] if previous else upload.uploaded_at,
                        int(previous["reports"]) if previous else 0,
                    ),
                }
            events.append(
                event_row(
                    video,
                    _FOLLOW_UP[decision.action],
                    actor,
                    now,
                    decision.label,
                    decision.revision,
                    data,
                )
            )
        outcome = events[-1]  # auto_removed (what the "removed" webhook announces) or the like
        if decision.action in AUDITED and self._sampled_for_audit():
            audit = open_audit(
                connection,
                video,
                {**asdict(decision), "action": decision.action.value},
                self._languages,
                now,
            )
            events.append(sampled_event(video, audit, now))
            effects.queue.append(QueueChange(audit, 0, 0, AUDIT_PRIORITY))
        rows.events += events
        return outcome

    def _enforce(
        self, connection: sa.Connection, removal: _Removal, now: dt.datetime, effects: Effects
    ) -> None:
        """A removal's notice, strike and account actions, and its "removed" webhook (first:
        the announcement goes out before what follows from it)."""
        decision, outcome = removal.decision, removal.outcome
        notice = None
        deliveries: list[str] = []
        if self._enforcement is not None:
            enforced = self._enforcement.after(connection, outcome, removal.creator_id, now)
            notice = enforced.notice
            deliveries += enforced.deliveries
        if self._webhooks:
            details: dict[str, object] = {
                "status": decision.status.value,
                "visibility": decision.visibility.value,
                "decided_by": "model",
                "model_version": decision.model_version,
                "policy_version": decision.policy_version,
            }
            if notice is not None:
                details["notice"] = notice
            deliveries.insert(0, add_delivery(connection, outcome, "removed", details))
        effects.deliveries += deliveries

    def _sampled_for_audit(self) -> bool:
        return self._audit_share > 0 and self._rng.random() < self._audit_share


@dataclass(frozen=True, slots=True)
class _Removal:
    """A removal decided in this batch, whose consequences follow its rows' write."""

    decision: Decision
    outcome: Mapping[str, object]  # its auto_removed event row
    creator_id: str


_FOLLOW_UP = {Action.REMOVE: EventType.AUTO_REMOVED, Action.REVIEW: EventType.QUEUED_FOR_REVIEW}
