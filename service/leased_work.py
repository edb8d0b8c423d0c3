"""What review and appeals share as use cases: claiming the next item under a lease, giving it
back, returning expired leases, queue stats, and bringing one kind of queue in line with the
log. service/review.py and service/appeals.py add what a decision means for each.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Sequence
from typing import Generic, Protocol, TypeVar

from redis.exceptions import RedisError

from review_queue import Placement, QueueStats, ReviewQueues, claimable_languages
from service import metrics
from service.dispatch import queued_item
from service.domain import ItemState
from service.effects import QueueChange
from service.errors import NotFoundError
from service.leased_log import LeasedLog
from service.moderation import Clock

log = logging.getLogger(__name__)

CLAIM_ATTEMPTS = 20  # stale items (decided while Redis was away) skipped per claim, at most


class LeasedItem(Protocol):
    @property
    def item_id(self) -> str: ...
    @property
    def state(self) -> ItemState: ...
    @property
    def claimed_by(self) -> str | None: ...
    @property
    def lease_expires_at(self) -> dt.datetime | None: ...


T = TypeVar("T", bound=LeasedItem)
V = TypeVar("V")


class LeasedWork(Generic[T, V]):
    def __init__(
        self,
        log_: LeasedLog[T],
        queues: ReviewQueues,
        *,
        clock: Clock,
        languages: Sequence[str],
        lease_s: float,
        view: Callable[[T], V],
    ) -> None:
        self._items = log_
        self._queues = queues
        self._clock = clock
        self._languages = tuple(languages)
        self._lease_s = lease_s
        self._view = view

    def claim(self, holder: str, language_ranges: Sequence[str]) -> V | None:
        """Lease the next item for ``holder`` (the one they hold already, if any)."""
        self.sweep()
        languages = claimable_languages(language_ranges, self._languages)
        for _ in range(CLAIM_ATTEMPTS):
            now = self._clock()
            lease = self._queues.claim(holder, languages, now.timestamp(), self._lease_s)
            if lease is None:
                return None
            item: T | None
            expires = dt.datetime.fromtimestamp(lease.expires_at, dt.UTC)
            if not lease.is_new:
                held = self._items.item(lease.item_id)
                if held.claimed_by == holder and held.state is ItemState.OPEN:
                    return self._view(held)  # the lease they hold, as the log has it
            try:  # a new lease, or one the log lost track of: record it
                item = self._items.claim(lease.item_id, holder, expires, now)
            except Exception:
                self._queues.release(lease.item_id, holder, now.timestamp())
                raise
            if item is None or item.state is not ItemState.OPEN:
                # decided or superseded while Redis still had it: take it out, try the next
                self._queues.finish(lease.item_id, now.timestamp(), canceled=True)
                continue
            log.info(
                "work.claimed",
                extra={"queue": self._queues.kind, "item_id": item.item_id, "holder": holder},
            )
            return self._view(item)
        return None

    def release(self, item_id: str, holder: str) -> T:
        now = self._clock()
        item = self._items.release(item_id, holder, now)
        self._queues.release(item_id, holder, now.timestamp())
        return item

    def sweep(self) -> int:
        """Return expired leases to the front of their queues; returns how many."""
        now = self._clock()
        expired = self._queues.expire(now.timestamp())
        if expired:
            self._items.expire([(lease.item_id, lease.holder) for lease in expired], now)
            log.info(
                "work.leases_expired",
                extra={"queue": self._queues.kind, "items": [e.item_id for e in expired]},
            )
        return len(expired)

    def stats(self, target_s: float) -> list[QueueStats]:
        return self._queues.stats(self._clock().timestamp(), target_s)

    def view(self, item_id: str) -> V:
        return self._view(self._items.item(item_id))

    def _finish(self, item_id: str, now: dt.datetime) -> None:
        """Finish a decided item's job in Redis; if Redis fails, reconcile does it later."""
        try:
            self._queues.finish(item_id, now.timestamp())
        except RedisError as exc:
            metrics.count_deferred_effect()
            log.warning("work.finish_deferred", extra={"item_id": item_id, "error": str(exc)})

    def reconcile_queues(self, open_items: Sequence[QueueChange]) -> tuple[int, int, int]:
        """Redis in line with the log for this kind of queue: every open item queued (or
        leased, if its claim is live), nothing else. Returns (restored, moved, finished)."""
        now = self._clock()
        placements: dict[str, Placement] = self._queues.placements()
        wanted = {change.item.item_id for change in open_items}
        finished = 0
        for item_id in sorted(set(placements) - wanted):
            try:
                state = self._items.item(item_id).state
            except NotFoundError:
                state = None
            if state is ItemState.OPEN:
                continue  # opened after the log was read above: it belongs where it is
            decided = state is ItemState.DECIDED
            finished += self._queues.finish(item_id, now.timestamp(), canceled=not decided)
        missing = []
        leases: dict[str, tuple[str, float]] = {}
        moved = 0
        for change in open_items:
            item = change.item
            queued = queued_item(change)
            placement = placements.get(item.item_id)
            if placement is not None:
                if placement.queue != self._queues.queue_for(queued.language, queued.priority):
                    moved += self._queues.move(item.item_id, queued.language, queued.priority)
                continue
            if item.claimed_by and item.lease_expires_at and item.lease_expires_at > now:
                leases[item.item_id] = (item.claimed_by, item.lease_expires_at.timestamp())
            missing.append(queued)
        restored = sum(self._queues.enqueue(missing, leases=leases, now=now.timestamp()))
        return restored, moved, finished
