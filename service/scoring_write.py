"""Writing a batch of scorings: each video's decision, state, content and events, in one
transaction.

Decided one by one, a scoring took a locking SELECT and four INSERTs of one row each; the
scoring thread decides up to 16 waiting requests together (service/coalescer.py), and
statement by statement their write cost more CPU than the model run for a title, and a round
trip each on PostgreSQL. Here a batch takes one SELECT of its videos' rows and one statement
per table (an executemany: one round trip, psycopg pipelines it), whatever its size. What
needs its own statement stays per video: a review item, an audit or the superseding of open
items (their ids go into the video's events), and what follows a removal (notice, strike,
account actions, the "removed" webhook), which runs after the rows are written, since a
notice quotes the decision.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import sqlalchemy as sa

from classifier import Evidence
from service import drift
from service.audit_log import AUDIT_PRIORITY, AUDITED, open_audit, sampled_event
from service.bulk_insert import insert_rows
from service.creators import Enforcement
from service.domain import (
    OUTCOME,
    Action,
    Decision,
    EventType,
    ReviewReason,
    Status,
    Upload,
    Visibility,
)
from service.effects import Effects, QueueChange
from service.errors import ConflictError
from service.ids import new_uuid
from service.log_rows import append_events, decision_by_id, event_row
from service.outbox import add_delivery
from service.review_log import open_item, supersede_open_items
from service.rollups import removal_facts
from service.tables import contents, decisions, shadow_scores, videos

# A video in these states is not re-scored on edit: its removal stands until an appeal.
FROZEN = {Status.REMOVED, Status.APPEALED}
Row = dict[str, object]


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


@dataclass(frozen=True, slots=True)
class ScoringOptions:
    """How the log writes a scoring: the review queues' languages, what it announces and
    audits, and the creator's consequences of a removal."""

    languages: tuple[str, ...] = ("en", "ur", "ur-Latn")
    webhooks: bool = False  # write an outbox row for each outcome to announce
    audit_share: float = 0.0  # of automated removals and allows, sent to audit
    rng: random.Random = field(default_factory=random.Random)
    enforcement: Enforcement | None = None  # notices, strikes, account actions (creators.py)

    def sampled_for_audit(self) -> bool:
        return self.audit_share > 0 and self.rng.random() < self.audit_share


class ScoringWrite:
    """One transaction's scorings: `decide` each (in video_id order), then `finish`."""

    def __init__(
        self, connection: sa.Connection, now: dt.datetime, options: ScoringOptions
    ) -> None:
        self._connection = connection
        self._now = now
        self._options = options
        self._rows = ScoringRows()
        self._removals: list[_Removal] = []
        self.effects = Effects()

    def decide(self, record: ScoringRecord, row: Mapping[Any, Any] | None) -> tuple[Decision, bool]:
        """The record's decision, its rows added to the write; (first, False) for a replay.
        ``row``: the video's locked row, None for a new video."""
        now = self._now
        upload = record.upload
        if row is not None and row["content_hash"] == record.content_hash:
            # the first decision, with what the video is now (a restored video is public)
            first = decision_by_id(self._connection, row["decision_id"])
            now_status = (Status(row["status"]), Visibility(row["visibility"]))
            return replace(first, status=now_status[0], visibility=now_status[1]), False
        if row is not None and Status(row["status"]) in FROZEN:
            raise ConflictError(
                f"video {upload.video_id} is {row['status']}; an edit does not re-score a "
                "removed video (appeal the removal instead)"
            )
        status, visibility = OUTCOME[record.action]
        decision = Decision(
            decision_id=new_uuid(),
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
        outcome = self._gather(record, decision, row)
        if decision.action is Action.REMOVE:
            self._removals.append(_Removal(decision, outcome, upload.creator_id))
        return decision, True

    def finish(self) -> None:
        """Write the gathered rows, then what follows each removal."""
        self._rows.write(self._connection)
        for removal in self._removals:
            self._enforce(removal)

    def _gather(
        self, record: ScoringRecord, decision: Decision, previous: Mapping[Any, Any] | None
    ) -> dict[str, object]:
        """Add a new decision's rows to the batch; the review item, audit and superseding it
        brings are written at once (their ids go into its events). Returns its outcome event
        (auto_removed for a removal)."""
        connection, now, effects, rows = self._connection, self._now, self.effects, self._rows
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
                self._options.languages,
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
        if decision.action in AUDITED and self._options.sampled_for_audit():
            audit = open_audit(
                connection,
                video,
                {**asdict(decision), "action": decision.action.value},
                self._options.languages,
                now,
            )
            events.append(sampled_event(video, audit, now))
            effects.queue.append(QueueChange(audit, 0, 0, AUDIT_PRIORITY))
        rows.events += events
        return outcome

    def _enforce(self, removal: _Removal) -> None:
        """A removal's notice, strike and account actions, and its "removed" webhook (first:
        the announcement goes out before what follows from it)."""
        connection, now, options = self._connection, self._now, self._options
        decision, outcome = removal.decision, removal.outcome
        notice = None
        deliveries: list[str] = []
        if options.enforcement is not None:
            enforced = options.enforcement.after(connection, outcome, removal.creator_id, now)
            notice = enforced.notice
            deliveries += enforced.deliveries
        if options.webhooks:
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
        self.effects.deliveries += deliveries


@dataclass(frozen=True, slots=True)
class _Removal:
    """A removal decided in this batch, whose consequences follow its rows' write."""

    decision: Decision
    outcome: Mapping[str, object]  # its auto_removed event row
    creator_id: str


@dataclass(slots=True)
class ScoringRows:
    """What a batch of new decisions writes, by table, in the order they were decided."""

    decisions: list[Row] = field(default_factory=list)
    shadows: list[Row] = field(default_factory=list)
    contents: list[Row] = field(default_factory=list)
    new_videos: list[Row] = field(default_factory=list)
    changed_videos: list[Row] = field(default_factory=list)
    events: list[Row] = field(default_factory=list)

    def add_decision(self, decision: Decision) -> None:
        self.decisions.append(
            {
                "decision_id": decision.decision_id,
                "video_id": decision.video_id,
                "revision": decision.revision,
                "content_hash": decision.content_hash,
                "action": decision.action.value,
                "status": decision.status.value,
                "visibility": decision.visibility.value,
                "label": decision.label,
                "scores": dict(decision.scores),
                "evidence": [asdict(item) for item in decision.evidence],
                "thresholds": dict(decision.thresholds),
                "model_version": decision.model_version,
                "policy_version": decision.policy_version,
                "decided_at": decision.decided_at,
            }
        )

    def write(self, connection: sa.Connection) -> None:
        """One statement per table that has rows; events last (their rollups follow them)."""
        for table, rows in (
            (decisions, self.decisions),
            (shadow_scores, self.shadows),
            (contents, self.contents),
            (videos, self.new_videos),
        ):
            insert_rows(connection, table, rows)
        if self.changed_videos:
            connection.execute(_UPDATE_VIDEO, self.changed_videos)
        if self.events:
            append_events(connection, self.events)


_FOLLOW_UP = {Action.REMOVE: EventType.AUTO_REMOVED, Action.REVIEW: EventType.QUEUED_FOR_REVIEW}

# Built once: compiling .values(...) anew for every write cost more than the write.
# every changed row carries its key as key_video_id (an UPDATE's SET and WHERE bind apart)
_UPDATE_VIDEO = videos.update().where(videos.c.video_id == sa.bindparam("key_video_id"))
