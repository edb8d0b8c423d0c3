"""The webhook outbox: a row per outcome the upload pipeline must enforce, written in the same
transaction as the event it announces, so no outcome is lost between the log and Redis.

Kinds: ``removed`` (by the model or a person), ``approved`` (a person kept a video up after
review), and later ``restored`` and ``appeal_upheld``. The payload is fixed when the event
happens; service/webhooks.py signs and sends it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from service.tables import outbox


@dataclass(frozen=True, slots=True)
class Delivery:
    event_id: str
    video_id: str
    kind: str
    payload: Mapping[str, object]
    created_at: dt.datetime
    delivered_at: dt.datetime | None
    attempts: int


def add_delivery(
    connection: sa.Connection,
    event: Mapping[str, Any],
    kind: str,
    details: Mapping[str, object],
) -> str:
    """Queue a webhook for ``event`` (an events row as written); returns its event id."""
    payload = {
        "event_id": event["event_id"],
        "type": kind,
        "video_id": event["video_id"],
        "revision": event["revision"],
        "region": event["region"],
        "label": event["label"],
        "actor": event["actor"],
        "occurred_at": event["occurred_at"].isoformat(),
        **details,
    }
    connection.execute(
        outbox.insert().values(
            event_id=event["event_id"],
            video_id=event["video_id"],
            kind=kind,
            payload=payload,
            created_at=event["occurred_at"],
        )
    )
    return str(event["event_id"])


class Outbox:
    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine

    def get(self, event_id: str) -> Delivery | None:
        with self._engine.connect() as connection:
            row = connection.execute(
                sa.select(outbox).where(outbox.c.event_id == event_id)
            ).one_or_none()
        return _delivery(row._mapping) if row else None

    def pending(self, limit: int = 10_000) -> list[str]:
        query = (
            sa.select(outbox.c.event_id)
            .where(outbox.c.delivered_at.is_(None))
            .order_by(outbox.c.created_at)
            .limit(limit)
        )
        with self._engine.connect() as connection:
            return [row.event_id for row in connection.execute(query)]

    def record_attempt(self, event_id: str, error: str | None, now: dt.datetime) -> None:
        """Count an attempt; with no error, mark the event delivered (once: the first
        success's time stays)."""
        values: dict[str, object] = {"attempts": outbox.c.attempts + 1}
        if error is None:
            values["delivered_at"] = sa.func.coalesce(outbox.c.delivered_at, now)
            values["last_error"] = None
        else:
            values["last_error"] = error[:500]
        with self._engine.begin() as connection:
            connection.execute(
                outbox.update().where(outbox.c.event_id == event_id).values(**values)
            )

    def all(self) -> list[Delivery]:
        with self._engine.connect() as connection:
            rows = connection.execute(sa.select(outbox).order_by(outbox.c.created_at))
            return [_delivery(row._mapping) for row in rows]


def _delivery(row: Mapping[Any, Any]) -> Delivery:
    return Delivery(
        event_id=row["event_id"],
        video_id=row["video_id"],
        kind=row["kind"],
        payload=row["payload"],
        created_at=row["created_at"],
        delivered_at=row["delivered_at"],
        attempts=int(row["attempts"]),
    )
