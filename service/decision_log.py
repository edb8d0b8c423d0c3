"""The decision log: append-only events plus each video's current state, in one transaction.

The source of truth (DESIGN.md section 6). Every write here appends its events and updates the
``videos`` row together, or not at all. Rows are mapped by hand into service.domain types.

Concurrency: on SQLite write transactions are serialised (BEGIN IMMEDIATE); on PostgreSQL the
video's row is locked (SELECT ... FOR UPDATE), and two first-time writers for one video meet at
the unique (video_id, revision) constraint: the loser retries and finds the winner's row.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from classifier import Evidence
from service.database import is_postgresql, write_transaction
from service.domain import (
    OUTCOME,
    Action,
    Decision,
    Event,
    EventType,
    Status,
    Upload,
    VideoState,
    Visibility,
)
from service.errors import ConflictError, NotFoundError
from service.tables import decisions, events, reports, videos

WRITE_ATTEMPTS = 3
# A video in these states is not re-scored on edit: its removal stands until an appeal.
FROZEN = {Status.REMOVED, Status.APPEALED}


@dataclass(frozen=True, slots=True)
class ScoringRecord:
    """What scoring decided for one upload, ready to be logged."""

    upload: Upload
    content_hash: str
    action: Action
    label: str | None
    scores: Mapping[str, float]
    evidence: Sequence[Evidence]
    thresholds: Mapping[str, Mapping[str, float | None]]
    model_version: str
    policy_version: str


class DecisionLog:
    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine

    # reads ---------------------------------------------------------------------------------

    def current(self, video_id: str) -> VideoState | None:
        with self._engine.connect() as connection:
            row = connection.execute(
                sa.select(videos).where(videos.c.video_id == video_id)
            ).one_or_none()
        return _video_state(row._mapping) if row else None

    def decision(self, decision_id: str) -> Decision:
        with self._engine.connect() as connection:
            return self._decision_in(connection, decision_id)

    def history(self, video_id: str) -> list[Event]:
        query = sa.select(events).where(events.c.video_id == video_id).order_by(events.c.sequence)
        with self._engine.connect() as connection:
            return [_event(row._mapping) for row in connection.execute(query)]

    def count_rows(self) -> dict[str, int]:
        """Row counts per table (tests and operators: 'did that write anything?')."""
        with self._engine.connect() as connection:
            return {
                table.name: int(
                    connection.scalar(sa.select(sa.func.count()).select_from(table)) or 0
                )
                for table in (events, decisions, videos, reports)
            }

    # writes --------------------------------------------------------------------------------

    def record_scorings(
        self, records: Sequence[ScoringRecord], now: dt.datetime
    ) -> list[tuple[Decision, bool]]:
        """Append a decision per record, all or none; (decision, False) where the video's
        current revision already has this content (the first decision, nothing written).

        Raises ConflictError, writing nothing, if any video is removed and its content changed.
        """
        # Rows are locked in video_id order, so two batches cannot deadlock on PostgreSQL.
        order = sorted(range(len(records)), key=lambda i: records[i].upload.video_id)
        for attempt in range(WRITE_ATTEMPTS):
            try:
                results: dict[int, tuple[Decision, bool]] = {}
                with write_transaction(self._engine) as connection:
                    for i in order:
                        results[i] = self._record_one(connection, records[i], now)
                return [results[i] for i in range(len(records))]
            except IntegrityError:
                # a concurrent first write of the same video won the unique constraint
                if attempt == WRITE_ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable")

    def _record_one(
        self, connection: sa.Connection, record: ScoringRecord, now: dt.datetime
    ) -> tuple[Decision, bool]:
        upload = record.upload
        row = self._locked_video(connection, upload.video_id)
        if row is not None and row["content_hash"] == record.content_hash:
            return self._decision_in(connection, row["decision_id"]), False
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
        self._write_decision(connection, upload, decision, row, now)
        return decision, True

    def record_views(self, video_id: str, views: int, actor: str, now: dt.datetime) -> VideoState:
        """Store a newer view count (counts only grow: an older, smaller one changes nothing)."""
        with write_transaction(self._engine) as connection:
            row = self._locked_video(connection, video_id)
            if row is None:
                raise NotFoundError(f"no video {video_id}")
            if views > row["views"]:
                connection.execute(
                    videos.update()
                    .where(videos.c.video_id == video_id)
                    .values(views=views, updated_at=now)
                )
                self._append(
                    connection,
                    row,
                    EventType.VIEWS_UPDATED,
                    actor,
                    now,
                    data={"views": views, "previous": row["views"]},
                )
            state = self._locked_video(connection, video_id)
            assert state is not None
            return _video_state(state)

    def record_report(
        self, video_id: str, reporter_id: str, reason: str, actor: str, now: dt.datetime
    ) -> tuple[VideoState, bool]:
        """Count a user report once per reporter; (state, False) for a repeated report."""
        with write_transaction(self._engine) as connection:
            row = self._locked_video(connection, video_id)
            if row is None:
                raise NotFoundError(f"no video {video_id}")
            insert = _upsert(self._engine)(reports).values(
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
                self._append(
                    connection,
                    row,
                    EventType.USER_REPORTED,
                    actor,
                    now,
                    data={"reporter_id": reporter_id, "reason": reason},
                )
            state = self._locked_video(connection, video_id)
            assert state is not None
            return _video_state(state), is_new

    # helpers -------------------------------------------------------------------------------

    def _locked_video(self, connection: sa.Connection, video_id: str) -> Mapping[Any, Any] | None:
        query = sa.select(videos).where(videos.c.video_id == video_id)
        if is_postgresql(self._engine):
            query = query.with_for_update()
        row = connection.execute(query).one_or_none()
        return row._mapping if row else None

    def _decision_in(self, connection: sa.Connection, decision_id: str) -> Decision:
        row = connection.execute(
            sa.select(decisions).where(decisions.c.decision_id == decision_id)
        ).one_or_none()
        if row is None:
            raise NotFoundError(f"no decision {decision_id}")
        return _decision(row._mapping)

    def _write_decision(
        self,
        connection: sa.Connection,
        upload: Upload,
        decision: Decision,
        previous: Mapping[Any, Any] | None,
        now: dt.datetime,
    ) -> None:
        connection.execute(
            _INSERT_DECISION,
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
            },
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
            connection.execute(
                _INSERT_VIDEO,
                {
                    **state,
                    "uploaded_at": upload.uploaded_at,
                    "first_scored_at": now,
                    "views": 0,
                    "reports": 0,
                },
            )
        else:
            connection.execute(_UPDATE_VIDEO, {**state, "key_video_id": upload.video_id})
        video = {"video_id": upload.video_id, "region": upload.region, "language": language}
        actor = f"model:{decision.model_version}"
        data = {
            "decision_id": decision.decision_id,
            "action": decision.action.value,
            "policy_version": decision.policy_version,
        }
        kinds = [EventType.SCORED]
        if decision.action in _FOLLOW_UP:
            kinds.append(_FOLLOW_UP[decision.action])
        connection.execute(
            _INSERT_EVENT,
            [
                _event_row(video, kind, actor, now, decision.label, decision.revision, data)
                for kind in kinds
            ],
        )

    def _append(
        self,
        connection: sa.Connection,
        video: Mapping[Any, Any],
        kind: EventType,
        actor: str,
        now: dt.datetime,
        label: str | None = None,
        revision: int | None = None,
        data: Mapping[str, object] | None = None,
    ) -> None:
        connection.execute(
            _INSERT_EVENT, _event_row(video, kind, actor, now, label, revision, data)
        )


# Statements built once: compiling .values(...) anew for every write cost more than the write.
_INSERT_DECISION = decisions.insert()
_INSERT_VIDEO = videos.insert()
_UPDATE_VIDEO = videos.update().where(videos.c.video_id == sa.bindparam("key_video_id"))
_INSERT_EVENT = events.insert()
_FOLLOW_UP = {Action.REMOVE: EventType.AUTO_REMOVED, Action.REVIEW: EventType.QUEUED_FOR_REVIEW}


def _event_row(
    video: Mapping[Any, Any],
    kind: EventType,
    actor: str,
    now: dt.datetime,
    label: str | None = None,
    revision: int | None = None,
    data: Mapping[str, object] | None = None,
) -> dict[str, object]:
    return {
        "event_id": str(uuid.uuid4()),
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


def _upsert(engine: sa.Engine) -> Any:
    return postgresql.insert if is_postgresql(engine) else sqlite.insert


def _video_state(row: Mapping[Any, Any]) -> VideoState:
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


def _decision(row: Mapping[Any, Any]) -> Decision:
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


def _event(row: Mapping[Any, Any]) -> Event:
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
