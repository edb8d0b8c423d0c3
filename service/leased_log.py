"""Items people work through under a lease (review items, appeals): claimed, released and
expired in the log, each with its event, and the check every decision passes first.

The log, not Redis, decides whether a decision stands: the item must be open and its latest
claim must be the decider's and unexpired. Redis only orders the work (review_queue/).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Generic, TypeVar

import sqlalchemy as sa

from service.database import write_transaction
from service.domain import EventType, ItemState
from service.errors import ConflictError, NotFoundError
from service.log_rows import append_events, event_row, video_columns

T = TypeVar("T")
NO_CLAIM: Mapping[str, object] = {"claimed_by": None, "lease_expires_at": None}


class LeasedLog(Generic[T]):
    def __init__(
        self,
        engine: sa.Engine,
        table: sa.Table,
        to_item: Callable[[Mapping[Any, Any]], T],
        noun: str,
        *,
        webhooks: bool = False,
    ) -> None:
        self._engine = engine
        self._table = table
        self._to_item = to_item
        self._noun = noun  # "review item", "appeal": for error messages
        self._webhooks = webhooks

    def _select(
        self, connection: sa.Connection, item_id: str, *, lock: bool
    ) -> Mapping[Any, Any] | None:
        query = sa.select(self._table).where(self._table.c.item_id == item_id)
        if lock and connection.dialect.name == "postgresql":
            query = query.with_for_update()
        row = connection.execute(query).one_or_none()
        return row._mapping if row else None

    def item(self, item_id: str) -> T:
        with self._engine.connect() as connection:
            row = self._select(connection, item_id, lock=False)
        if row is None:
            raise NotFoundError(f"no {self._noun} {item_id}")
        return self._to_item(row)

    def claim(
        self, item_id: str, holder: str, expires_at: dt.datetime, now: dt.datetime
    ) -> T | None:
        """Record a lease Redis granted; None if the item no longer needs a decision."""
        with write_transaction(self._engine) as connection:
            row = self._select(connection, item_id, lock=True)
            if row is None or row["state"] != ItemState.OPEN.value:
                return None
            claim = {"claimed_by": holder, "lease_expires_at": expires_at}
            self._set_claim(
                connection,
                row,
                claim,
                EventType.CLAIMED,
                holder,
                now,
                {"lease_expires_at": expires_at.isoformat()},
            )
            return self._to_item({**row, **claim, "claims": row["claims"] + 1})

    def release(self, item_id: str, holder: str, now: dt.datetime) -> T:
        with write_transaction(self._engine) as connection:
            row = self._held(connection, item_id, holder, now)
            self._set_claim(connection, row, NO_CLAIM, EventType.RELEASED, holder, now)
            return self._to_item({**row, **NO_CLAIM})

    def expire(self, leases: Sequence[tuple[str, str]], now: dt.datetime) -> int:
        """Log the end of leases Redis found expired ((item id, holder) pairs); returns how
        many were still the item's current claim."""
        ended = 0
        with write_transaction(self._engine) as connection:
            for item_id, holder in sorted(leases):  # one lock order for every writer
                row = self._select(connection, item_id, lock=True)
                if (
                    row is None
                    or row["state"] != ItemState.OPEN.value
                    or row["claimed_by"] != holder
                    or row["lease_expires_at"] is None
                    or row["lease_expires_at"] > now  # claimed again since Redis expired it
                ):
                    continue
                self._set_claim(
                    connection,
                    row,
                    NO_CLAIM,
                    EventType.LEASE_EXPIRED,
                    "system",
                    now,
                    {"holder": holder},
                )
                ended += 1
        return ended

    def _set_claim(
        self,
        connection: sa.Connection,
        row: Mapping[Any, Any],
        claim: Mapping[str, object],
        kind: EventType,
        actor: str,
        now: dt.datetime,
        data: Mapping[str, object] | None = None,
    ) -> None:
        """Record who holds the item now (claim) or that nobody does (release, expiry)."""
        table = self._table
        values = dict(claim)
        if kind is EventType.CLAIMED:
            values["claims"] = table.c.claims + 1
        connection.execute(table.update().where(table.c.item_id == row["item_id"]).values(values))
        event = event_row(
            video_columns(connection, row["video_id"]),
            kind,
            actor,
            now,
            label=row["label"],
            revision=row["revision"],
            data={"item_id": row["item_id"], "queue": self._noun, **(data or {})},
        )
        append_events(connection, [event])

    def _held(
        self, connection: sa.Connection, item_id: str, holder: str, now: dt.datetime
    ) -> Mapping[Any, Any]:
        """The item's row, locked, if ``holder`` holds a live lease on it; else 404 or 409."""
        row = self._select(connection, item_id, lock=True)
        if row is None:
            raise NotFoundError(f"no {self._noun} {item_id}")
        if row["state"] == ItemState.DECIDED.value:
            raise ConflictError(f"{self._noun} {item_id} was already decided")
        if row["state"] == ItemState.SUPERSEDED.value:
            raise ConflictError(f"{self._noun} {item_id} was superseded by an edit of the video")
        expires = row["lease_expires_at"]
        if row["claimed_by"] != holder or expires is None or expires <= now:
            raise ConflictError(f"you do not hold a live lease on {self._noun} {item_id}")
        return row
