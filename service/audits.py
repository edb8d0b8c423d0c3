"""Audits of automation: a share of the model's removals and allows (``audit_share``, 1% by
default) is sampled at scoring time into the ``audit`` queues; a moderator claims one under a
lease and confirms the model or overturns it. The verdicts measure how often automation is
right (service/audit_report.py), which the enforcement report and the console show."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from classifier import Video
from review_queue import ReviewQueues
from service.audit_log import AuditDecided, AuditLog
from service.decision_log import DecisionLog
from service.dispatch import Dispatcher
from service.domain import Action, AuditItem, AuditVerdict, Decision, VideoState
from service.errors import InvalidRequestError, NotFoundError
from service.leased_work import LeasedWork
from service.moderation import Clock
from service.review_log import ReviewLog

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class AuditView:
    """What an auditor sees: the audit, the video now, the model's decision audited (scores,
    evidence, thresholds) and the texts it was made on."""

    item: AuditItem
    video: VideoState
    decision: Decision
    content: Video | None


@dataclass(frozen=True, slots=True)
class AuditsReconciled:
    open_items: int
    restored: int
    moved: int
    finished: int


class Audits(LeasedWork[AuditItem, AuditView]):
    def __init__(
        self,
        decision_log: DecisionLog,
        audit_log: AuditLog,
        review_log: ReviewLog,
        queues: ReviewQueues,
        dispatcher: Dispatcher,
        *,
        clock: Clock,
        labels: Sequence[str],
        languages: Sequence[str],
        lease_s: float,
    ) -> None:
        super().__init__(
            audit_log, queues, clock=clock, languages=languages, lease_s=lease_s, view=self._view_of
        )
        self._decisions = decision_log
        self._log = audit_log
        self._reviews = review_log
        self._dispatcher = dispatcher
        self._labels = frozenset(labels)

    def decide(
        self,
        item_id: str,
        holder: str,
        verdict: AuditVerdict,
        label: str | None,
        note: str | None,
    ) -> AuditDecided:
        """Confirm the model, or overturn it; overturning an allow names the label broken."""
        item = self._log.item(item_id)
        needs_label = verdict is AuditVerdict.OVERTURN and item.action is Action.ALLOW
        if needs_label and label not in self._labels:
            allowed = ", ".join(sorted(self._labels))
            raise InvalidRequestError(
                f"overturning an allowed video needs the policy label it breaks: {allowed}"
            )
        if not needs_label and label is not None:
            raise InvalidRequestError(
                "only overturning an allowed video takes a label (a removal's label is the "
                "model's; confirm or overturn it as it stands)"
            )
        now = self._clock()
        decided = self._log.decide(item_id, holder, verdict, label, note, now)
        self._finish(item_id, now)
        self._dispatcher.apply(decided.effects, now)
        log.info(
            "audit.decided",
            extra={
                "item_id": item_id,
                "verdict": verdict.value,
                "audited_action": item.action.value,
                "applied": decided.item.applied,
                "holder": holder,
            },
        )
        return decided

    def _view_of(self, item: AuditItem) -> AuditView:
        video = self._decisions.current(item.video_id)
        if video is None:
            raise NotFoundError(f"no video {item.video_id}")
        decision = self._decisions.decision(item.decision_id)
        return AuditView(item, video, decision, self._reviews.content(item.video_id, item.revision))

    def reconcile(self) -> AuditsReconciled:
        open_items = self._log.open_items()
        restored, moved, finished = self.reconcile_queues(open_items)
        return AuditsReconciled(len(open_items), restored, moved, finished)
