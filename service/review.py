"""The human-review use cases: claim, decide, release, lease sweep, queue stats, reconcile.

The decision log is written first and decides whether a decision stands; Redis (review_queue/)
orders the work and is brought in line afterwards. Time comes from an injected clock.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass

from redis.exceptions import RedisError

from classifier import Video
from review_queue import QueueStats, ReviewQueues, claimable_languages, priority_for
from service import metrics
from service.decision_log import DecisionLog
from service.dispatch import Dispatcher, queued_item
from service.domain import Decision, ItemState, ReviewItem, Verdict, VideoState
from service.errors import InvalidRequestError, NotFoundError
from service.moderation import Clock
from service.outbox import Outbox
from service.review_log import Decided, ReviewLog

log = logging.getLogger(__name__)

CLAIM_ATTEMPTS = 20  # stale items (decided while Redis was away) skipped per claim, at most


@dataclass(frozen=True, slots=True)
class ItemView:
    """What a moderator sees: the item, the video now, the model's decision, the texts."""

    item: ReviewItem
    video: VideoState
    decision: Decision
    content: Video | None


@dataclass(frozen=True, slots=True)
class ReconcileReport:
    open_items: int
    restored: int  # open in the log, missing from Redis: put back
    moved: int  # in Redis under the wrong priority
    finished: int  # in Redis but decided or superseded in the log: taken out
    webhooks: int  # undelivered webhooks whose job was missing: enqueued again


class Review:
    def __init__(
        self,
        decision_log: DecisionLog,
        review_log: ReviewLog,
        outbox: Outbox,
        queues: ReviewQueues,
        dispatcher: Dispatcher,
        *,
        clock: Clock,
        labels: Sequence[str],
        languages: Sequence[str],
        lease_s: float,
        webhooks: bool,
    ) -> None:
        self._decisions = decision_log
        self._log = review_log
        self._outbox = outbox
        self._queues = queues
        self._dispatcher = dispatcher
        self._clock = clock
        self._labels = frozenset(labels)
        self._languages = tuple(languages)
        self._lease_s = lease_s
        self._webhooks = webhooks

    def claim(self, holder: str, language_ranges: Sequence[str]) -> ItemView | None:
        """Lease the next item for ``holder`` (the one they hold already, if any)."""
        self.sweep()
        languages = claimable_languages(language_ranges, self._languages)
        for _ in range(CLAIM_ATTEMPTS):
            now = self._clock()
            lease = self._queues.claim(holder, languages, now.timestamp(), self._lease_s)
            if lease is None:
                return None
            if lease.is_new:
                expires = dt.datetime.fromtimestamp(lease.expires_at, dt.UTC)
                item = self._log.claim(lease.item_id, holder, expires, now)
            else:
                item = self._log.item(lease.item_id)
            if item is None or item.state is not ItemState.OPEN:
                # decided or superseded while Redis still had it: take it out, try the next
                self._queues.finish(lease.item_id, now.timestamp(), canceled=True)
                continue
            log.info("review.claimed", extra={"item_id": item.item_id, "holder": holder})
            return self.view(item.item_id, item)
        return None

    def decide(
        self, item_id: str, holder: str, verdict: Verdict, label: str | None, note: str | None
    ) -> Decided:
        if verdict is Verdict.REMOVE and label not in self._labels:
            allowed = ", ".join(sorted(self._labels))
            raise InvalidRequestError(f"a removal needs the policy label it breaks: {allowed}")
        if verdict is Verdict.APPROVE and label is not None:
            raise InvalidRequestError("an approval takes no label")
        now = self._clock()
        decided = self._log.decide(item_id, holder, verdict, label, note, now)
        self._queues_finish(item_id, now)
        self._dispatcher.apply(decided.effects, now)
        metrics.count_review_decision(verdict.value)
        log.info(
            "review.decided",
            extra={"item_id": item_id, "verdict": verdict.value, "label": label, "holder": holder},
        )
        return decided

    def _queues_finish(self, item_id: str, now: dt.datetime) -> None:
        try:
            self._queues.finish(item_id, now.timestamp())
        except RedisError as exc:  # reconcile takes it out later; the decision stands
            metrics.count_deferred_effect()
            log.warning("review.finish_deferred", extra={"item_id": item_id, "error": str(exc)})

    def release(self, item_id: str, holder: str) -> ReviewItem:
        now = self._clock()
        item = self._log.release(item_id, holder, now)
        self._queues.release(item_id, holder, now.timestamp())
        return item

    def sweep(self) -> int:
        """Return expired leases to the front of their queues; returns how many."""
        now = self._clock()
        expired = self._queues.expire(now.timestamp())
        if expired:
            self._log.expire([(lease.item_id, lease.holder) for lease in expired], now)
            log.info("review.leases_expired", extra={"items": [e.item_id for e in expired]})
        return len(expired)

    def view(self, item_id: str, item: ReviewItem | None = None) -> ItemView:
        item = item or self._log.item(item_id)
        video = self._decisions.current(item.video_id)
        if video is None:
            raise NotFoundError(f"no video {item.video_id}")
        decision = self._decisions.decision(video.decision_id)
        return ItemView(item, video, decision, self._log.content(item.video_id, item.revision))

    def stats(self, target_s: float) -> list[QueueStats]:
        return self._queues.stats(self._clock().timestamp(), target_s)

    def reconcile(self) -> ReconcileReport:
        """Bring Redis in line with the log: every open item queued (or leased, if its claim
        is live), nothing else; every undelivered webhook enqueued."""
        now = self._clock()
        open_items = self._log.open_items()
        placements = self._queues.placements()
        wanted = {change.item.item_id for change in open_items}
        finished = 0
        for item_id in sorted(set(placements) - wanted):
            try:
                decided = self._log.item(item_id).state is ItemState.DECIDED
            except NotFoundError:
                decided = False
            finished += self._queues.finish(item_id, now.timestamp(), canceled=not decided)
        missing = []
        leases: dict[str, tuple[str, float]] = {}
        moved = 0
        for change in open_items:
            item = change.item
            placement = placements.get(item.item_id)
            if placement is not None:
                priority = priority_for(item.score, change.views, change.reports)
                if placement.queue != self._queues.queue_for(item.language, priority):
                    moved += self._queues.move(item.item_id, item.language, priority)
                continue
            if item.claimed_by and item.lease_expires_at and item.lease_expires_at > now:
                leases[item.item_id] = (item.claimed_by, item.lease_expires_at.timestamp())
            missing.append(queued_item(change))
        restored = sum(self._queues.enqueue(missing, leases=leases, now=now.timestamp()))
        webhooks = 0
        if self._webhooks:
            webhooks = sum(
                self._dispatcher.deliver(event_id) for event_id in self._outbox.pending()
            )
        report = ReconcileReport(len(open_items), restored, moved, finished, webhooks)
        log.info("review.reconciled", extra=asdict(report))
        return report
