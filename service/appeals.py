"""The appeals use cases: a creator appeals a removal, an appeals reviewer (never the moderator
who removed it) claims it under a lease and restores the video or upholds the removal."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from classifier import Video
from review_queue import ReviewQueues
from service.appeal_log import AppealDecided, AppealLog
from service.decision_log import DecisionLog
from service.dispatch import Dispatcher
from service.domain import Appeal, AppealVerdict, Decision, Event, VideoState
from service.errors import NotFoundError
from service.leased_work import LeasedWork
from service.moderation import Clock
from service.review_log import ReviewLog

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class AppealView:
    """What an appeals reviewer sees: the appeal and the creator's statement, the removal
    (who or which model, when, for which label), the model's decision with its scores and
    evidence, and the texts."""

    appeal: Appeal
    video: VideoState
    removal: Event
    decision: Decision
    content: Video | None


@dataclass(frozen=True, slots=True)
class AppealsReconciled:
    open_items: int
    restored: int
    moved: int
    finished: int


class Appeals(LeasedWork[Appeal, AppealView]):
    def __init__(
        self,
        decision_log: DecisionLog,
        appeal_log: AppealLog,
        review_log: ReviewLog,
        queues: ReviewQueues,
        dispatcher: Dispatcher,
        *,
        clock: Clock,
        languages: Sequence[str],
        lease_s: float,
    ) -> None:
        super().__init__(
            appeal_log,
            queues,
            clock=clock,
            languages=languages,
            lease_s=lease_s,
            view=self._appeal_view,
        )
        self._decisions = decision_log
        self._log = appeal_log
        self._reviews = review_log
        self._dispatcher = dispatcher

    def submit(self, video_id: str, statement: str, actor: str) -> Appeal:
        now = self._clock()
        appeal, effects = self._log.submit(video_id, statement, actor, now)
        self._dispatcher.apply(effects, now)
        log.info("appeal.submitted", extra={"video_id": video_id, "item_id": appeal.item_id})
        return appeal

    def decide(
        self, item_id: str, holder: str, verdict: AppealVerdict, note: str | None
    ) -> AppealDecided:
        now = self._clock()
        decided = self._log.decide(item_id, holder, verdict, note, now)
        self._finish(item_id, now)
        self._dispatcher.apply(decided.effects, now)
        log.info(
            "appeal.decided",
            extra={"item_id": item_id, "verdict": verdict.value, "holder": holder},
        )
        return decided

    def appeals_of(self, video_id: str) -> list[Appeal]:
        return self._log.appeals_of(video_id)

    def _appeal_view(self, appeal: Appeal) -> AppealView:
        video = self._decisions.current(appeal.video_id)
        if video is None:
            raise NotFoundError(f"no video {appeal.video_id}")
        removal = self._decisions.event(appeal.removal_event_id)
        decision = self._decisions.decision(video.decision_id)
        content = self._reviews.content(appeal.video_id, appeal.revision)
        return AppealView(appeal, video, removal, decision, content)

    def reconcile(self) -> AppealsReconciled:
        open_items = self._log.open_items()
        restored, moved, finished = self.reconcile_queues(open_items)
        return AppealsReconciled(len(open_items), restored, moved, finished)
