"""Applies a committed write's Effects to Redis: review items into their queues (or moved to
the queue their new priority asks for), closed items out, webhook deliveries enqueued.

Never raises on a Redis failure: the decision is already in the log, which is what the caller
was promised, and `mizan reconcile` (run periodically by the worker) redoes what failed here.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping, Sequence

from redis import Redis
from redis.exceptions import RedisError

from review_queue import QueuedItem, ReviewQueues, priority_for
from service import metrics
from service.domain import Appeal, AuditItem
from service.effects import Effects, QueueChange
from service.webhooks import enqueue_delivery

log = logging.getLogger(__name__)

REVIEW = "review"
APPEALS = "appeals"
AUDIT = "audit"


def queued_item(change: QueueChange) -> QueuedItem:
    item = change.item
    # the moderator who removed a video never reviews its appeal (DESIGN.md section 7)
    excluded = item.removed_by if isinstance(item, Appeal) and not item.automated else None
    return QueuedItem(
        item_id=item.item_id,
        video_id=item.video_id,
        revision=item.revision,
        language=item.language,
        priority=change.priority or priority_for(item.score, change.views, change.reports),
        since=item.created_at.timestamp(),
        excluded=excluded,
    )


def queue_kind(change: QueueChange) -> str:
    if isinstance(change.item, Appeal):
        return APPEALS
    return AUDIT if isinstance(change.item, AuditItem) else REVIEW


class Dispatcher:
    def __init__(
        self,
        redis: Redis,
        queues: Mapping[str, ReviewQueues],
        *,
        retry_intervals_s: Sequence[int] = (),
        webhook_timeout_s: float = 10.0,
    ) -> None:
        self._redis = redis
        self._queues = queues
        self._retry_intervals_s = tuple(retry_intervals_s)
        self._webhook_timeout_s = webhook_timeout_s

    def apply(self, effects: Effects, now: dt.datetime) -> None:
        try:
            for kind, queues in self._queues.items():
                queued = [queued_item(c) for c in effects.queue if queue_kind(c) == kind]
                if not queued:
                    continue
                for item, added in zip(queued, queues.enqueue(queued), strict=True):
                    if not added:  # in Redis already: its priority may have changed
                        queues.move(item.item_id, item.language, item.priority)
            for item_id in effects.closed:
                self._queues[REVIEW].finish(item_id, now.timestamp(), canceled=True)
            for event_id in effects.deliveries:
                self.deliver(event_id)
        except RedisError as exc:
            metrics.count_deferred_effect()
            log.warning(
                "effects.deferred",
                extra={
                    "error": str(exc),
                    "items": [change.item.item_id for change in effects.queue],
                    "deliveries": effects.deliveries,
                },
            )

    def deliver(self, event_id: str) -> bool:
        return enqueue_delivery(
            self._redis, event_id, self._retry_intervals_s, self._webhook_timeout_s
        )
