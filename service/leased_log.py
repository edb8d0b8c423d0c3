"""Items people work through under a lease (review items, appeals): claimed, released and
expired in the log, each with its event, and the check every decision passes first.

The log, not Redis, decides whether a decision stands: the item must be open and its latest
claim must be the decider's and unexpired. Redis only orders the work (review_queue/).
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import sqlalchemy as sa

from service.creators import Enforced, Enforcement
from service.database import write_transaction
from service.domain import EventType, ItemState, Status, Visibility
from service.effects import Effects
from service.errors import ConflictError, NotFoundError
from service.log_rows import append_events, event_row, locked_video, video_columns
from service.outbox import add_delivery
from service.tables import videos

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a decision does to the video, and how it is logged and announced."""

    status: Status
    visibility: Visibility
    event: EventType
    webhook: str  # the webhook's type: removed, approved, restored, appeal_upheld
    video_changes: Mapping[str, object] = field(default_factory=dict)
    announce: bool = True  # False: nothing changed for the pipeline (an audit confirmed)


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
        enforcement: Enforcement | None = None,
    ) -> None:
        self._engine = engine
        self._enforcement = enforcement  # notices, strikes, account actions (creators.py)
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

    @contextlib.contextmanager
    def _deciding(
        self, item_id: str, holder: str, now: dt.datetime
    ) -> Iterator[tuple[sa.Connection, Mapping[Any, Any], Mapping[Any, Any]]]:
        """A write transaction with the video's row and the held item's row, locked."""
        with self._engine.connect() as connection:
            peek = self._select(connection, item_id, lock=False)
        if peek is None:
            raise NotFoundError(f"no {self._noun} {item_id}")
        with write_transaction(self._engine) as connection:
            # the video's row first, then the item's: the order scoring locks them in
            video = locked_video(connection, peek["video_id"])
            assert video is not None  # an item is only opened for a logged video
            yield connection, video, self._held(connection, item_id, holder, now)

    def _conclude(
        self,
        connection: sa.Connection,
        video: Mapping[Any, Any],
        row: Mapping[Any, Any],
        outcome: Outcome,
        *,
        holder: str,
        now: dt.datetime,
        item_values: Mapping[str, object],
        label: str | None,
        data: Mapping[str, object],
        details: Mapping[str, object],
    ) -> tuple[Mapping[Any, Any], Mapping[Any, Any], Effects]:
        """Write a decision: the video's new state, the item decided, the event, the webhook.
        Returns the item's and the video's rows as they now are, and the Redis effects."""
        connection.execute(
            videos.update()
            .where(videos.c.video_id == row["video_id"])
            .values(
                status=outcome.status.value,
                visibility=outcome.visibility.value,
                updated_at=now,
                **outcome.video_changes,
            )
        )
        table = self._table
        connection.execute(
            table.update()
            .where(table.c.item_id == row["item_id"])
            .values(state=ItemState.DECIDED.value, decided_at=now, decided_by=holder, **item_values)
        )
        event = event_row(
            video,
            outcome.event,
            holder,
            now,
            label=label,
            revision=row["revision"],
            data={"item_id": row["item_id"], **data},
        )
        append_events(connection, [event])
        effects = Effects()
        enforced = (
            self._enforcement.after(connection, event, video["creator_id"], now)
            if self._enforcement is not None
            else Enforced()
        )
        if self._webhooks and outcome.announce:
            announced = {
                "status": outcome.status.value,
                "visibility": outcome.visibility.value,
                "decided_by": "human",
                **details,
            }
            if enforced.notice is not None:
                announced["notice"] = enforced.notice
            effects.deliveries.append(add_delivery(connection, event, outcome.webhook, announced))
        effects.deliveries += enforced.deliveries
        decided = self._select(connection, row["item_id"], lock=False)
        state = locked_video(connection, row["video_id"])
        assert decided is not None
        assert state is not None
        return decided, state, effects

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
