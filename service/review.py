"""The human-review use cases: claim, decide, release, lease sweep, queue stats, reconcile.

The decision log is written first and decides whether a decision stands; Redis (review_queue/)
orders the work and is brought in line afterwards. Time comes from an injected clock.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass

from classifier import Video
from review_queue import ReviewQueues
from service import metrics
from service.decision_log import DecisionLog
from service.dispatch import Dispatcher
from service.domain import Decision, ReviewItem, Verdict, VideoState
from service.errors import InvalidRequestError, NotFoundError
from service.leased_work import LeasedWork
from service.moderation import Clock
from service.outbox import Outbox
from service.review_log import Decided, ReviewLog

log = logging.getLogger(__name__)


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
    webhooks: int  # undelivered webhooks whose job was missing or out of retries: sent again


class Review(LeasedWork[ReviewItem, ItemView]):
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
        super().__init__(
            review_log,
            queues,
            clock=clock,
            languages=languages,
            lease_s=lease_s,
            view=self._item_view,
        )
        self._decisions = decision_log
        self._log = review_log
        self._outbox = outbox
        self._dispatcher = dispatcher
        self._labels = frozenset(labels)
        self._webhooks = webhooks

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
        self._finish(item_id, now)
        self._dispatcher.apply(decided.effects, now)
        metrics.count_review_decision(verdict.value)
        log.info(
            "review.decided",
            extra={"item_id": item_id, "verdict": verdict.value, "label": label, "holder": holder},
        )
        return decided

    def _item_view(self, item: ReviewItem) -> ItemView:
        video = self._decisions.current(item.video_id)
        if video is None:
            raise NotFoundError(f"no video {item.video_id}")
        decision = self._decisions.decision(video.decision_id)
        return ItemView(item, video, decision, self._log.content(item.video_id, item.revision))

    def reconcile(self) -> ReconcileReport:
        """Bring the review queues in line with the log, and enqueue every undelivered
        webhook again (their jobs may have been lost with Redis)."""
        open_items = self._log.open_items()
        restored, moved, finished = self.reconcile_queues(open_items)
        webhooks = 0
        if self._webhooks:
            webhooks = sum(
                self._dispatcher.deliver(event_id) for event_id in self._outbox.pending()
            )
        report = ReconcileReport(len(open_items), restored, moved, finished, webhooks)
        log.info("review.reconciled", extra=asdict(report))
        return report
