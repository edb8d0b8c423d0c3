"""The rows a batch of scorings writes, gathered first and then written a table at a time.

Decided one by one, a scoring took a locking SELECT and four INSERTs of one row each; the
scoring thread decides up to 16 waiting requests together (service/coalescer.py), and
statement by statement their write cost more CPU than the model run for a title, and one
round trip each on PostgreSQL. Gathered, the batch takes one SELECT and one statement per
table (SQLAlchemy sends a list of rows as one multi-row INSERT on PostgreSQL, one
executemany on SQLite), whatever its size.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import sqlalchemy as sa

from service.domain import Decision
from service.log_rows import append_events
from service.tables import contents, decisions, shadow_scores, videos

Row = dict[str, object]


def locked_videos(
    connection: sa.Connection, video_ids: Sequence[str]
) -> dict[str, Mapping[Any, Any]]:
    """The rows of those videos that exist, locked until the transaction ends. PostgreSQL locks
    them in video_id order, so two batches sharing videos cannot deadlock (SQLite: the write
    lock is held already)."""
    query = _LOCK_VIDEOS if connection.dialect.name == "postgresql" else _SELECT_VIDEOS
    return {
        row.video_id: row._mapping
        for row in connection.execute(query, {"video_ids": list(video_ids)})
    }


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
        for statement, rows in (
            (_INSERT_DECISION, self.decisions),
            (_INSERT_SHADOW, self.shadows),
            (_INSERT_CONTENT, self.contents),
            (_INSERT_VIDEO, self.new_videos),
            (_UPDATE_VIDEO, self.changed_videos),
        ):
            if rows:
                connection.execute(statement, rows)
        if self.events:
            append_events(connection, self.events)


# Statements built once: compiling .values(...) anew for every write cost more than the write.
_SELECT_VIDEOS = (
    sa.select(videos)
    .where(videos.c.video_id.in_(sa.bindparam("video_ids", expanding=True)))
    .order_by(videos.c.video_id)
)
_LOCK_VIDEOS = _SELECT_VIDEOS.with_for_update()
_INSERT_DECISION = decisions.insert()
_INSERT_VIDEO = videos.insert()
_INSERT_CONTENT = contents.insert()
_INSERT_SHADOW = shadow_scores.insert()
# every changed row carries its key as key_video_id (an UPDATE's SET and WHERE bind apart)
_UPDATE_VIDEO = videos.update().where(videos.c.video_id == sa.bindparam("key_video_id"))
