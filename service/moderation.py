"""The moderation use cases: score (and act), record views, record user reports.

Each write's Redis side (a review item to queue, a webhook to send) is handed to ``dispatch``
after the log has committed it.

Independent of HTTP: routes call these, and so will the simulator and the CLI. Time comes from
an injected clock so a simulated quarter can run in seconds.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from classifier import Evidence, OnnxScorer, Video, VideoScores, detect_language
from service.decision_log import DecisionLog
from service.domain import Action, Decision, Upload, VideoState, content_hash
from service.effects import Effects
from service.model_registry import Lineup
from service.policy import Policy, decide
from service.scoring_write import ScoringRecord, ShadowRecord

log = logging.getLogger(__name__)

Clock = Callable[[], dt.datetime]


def system_clock() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True, slots=True)
class Scored:
    decision: Decision
    is_new: bool  # False: the same content was scored before; this is that first decision


class Moderation:
    def __init__(
        self,
        decision_log: DecisionLog,
        models: Callable[[], Lineup],
        policy: Policy,
        *,
        clock: Clock = system_clock,
        length_aware: bool = True,
        on_decision: Callable[[Decision], None] | None = None,
        dispatch: Callable[[Effects, dt.datetime], None] | None = None,
    ) -> None:
        self._log = decision_log
        self._models = models  # the champion (and a shadow) in force: service/model_registry
        self._policy = policy
        self._clock = clock
        self._length_aware = length_aware
        self._on_decision = on_decision
        self._dispatch = dispatch  # applies a write's Redis side (review queue, webhooks)

    def _apply(self, effects: Effects, now: dt.datetime) -> None:
        if self._dispatch is not None:
            self._dispatch(effects, now)

    def score(self, uploads: Sequence[Upload]) -> list[Scored]:
        """Decide each upload (one batched model run); all are logged together or none.

        A retry of content already scored is scored again here and then answered from the
        log, which writes nothing: retries are rare, and a separate read before every scoring
        cost more in total than the model run it would save on them.
        """
        return self.record(self.assess(uploads))

    def assess(self, uploads: Sequence[Upload]) -> list[ScoringRecord]:
        """The model's and the policy's part of `score`: what to log, nothing written."""
        lineup = self._models()
        scorer = lineup.champion
        contents = [upload.content for upload in uploads]
        results = scorer.score_videos(contents)
        shadows = self._shadow_records(lineup.shadow, uploads, contents)
        return [
            self._record(upload, upload.canonical_content(), result, scorer, shadow)
            for upload, result, shadow in zip(uploads, results, shadows, strict=True)
        ]

    def record(self, records: Sequence[ScoringRecord]) -> list[Scored]:
        """Log assessed uploads, all or none: if this raises, nothing was written. What follows
        the commit (queues, webhooks, metrics) cannot take an accepted decision back: a fault
        there is logged, and reconcile puts right what did not reach Redis."""
        now = self._clock()
        logged, effects = self._log.record_scorings(records, now)
        outcome = [Scored(decision, is_new) for decision, is_new in logged]
        try:
            self._apply(effects, now)
            self._announce(outcome)
        except Exception as exc:  # committed already: the answer must still be given
            log.error("scoring.after_commit_failed", extra={"error": type(exc).__name__})
        return outcome

    def _announce(self, outcome: Sequence[Scored]) -> None:
        # A line per decision at debug, not info: the decision log is the record of every
        # decision (GET /v1/videos/{id}, the events), and formatting a JSON line for each of
        # millions of uploads a day cost the scoring thread more than the policy did.
        verbose = log.isEnabledFor(logging.DEBUG)
        for scored in outcome:
            if scored.is_new:
                decision = scored.decision
                if verbose:
                    log.debug(
                        "video.scored",
                        extra={
                            "video_id": decision.video_id,
                            "action": decision.action.value,
                            "label": decision.label,
                            "model_version": decision.model_version,
                        },
                    )
                if self._on_decision:
                    self._on_decision(decision)

    def _shadow_records(
        self, shadow: OnnxScorer | None, uploads: Sequence[Upload], contents: Sequence[Video]
    ) -> list[ShadowRecord | None]:
        """What the challenger would do: scored and logged, never acted on, and never in the
        way: if it fails, the champion's decisions are logged without it."""
        if shadow is None:
            return [None] * len(uploads)
        try:
            results = shadow.score_videos(contents)
            records: list[ShadowRecord | None] = []
            for upload, result in zip(uploads, results, strict=True):
                choice = decide(
                    result.scores,
                    result.units,
                    upload.region,
                    self._policy,
                    shadow.card,
                    length_aware=self._length_aware,
                )
                records.append(
                    ShadowRecord(
                        shadow.version,
                        choice.action,
                        choice.label,
                        dict(result.scores),
                        choice.thresholds,
                    )
                )
            return records
        except Exception:  # a challenger's fault must not cost a decision
            log.exception("shadow.failed", extra={"model_version": shadow.version})
            return [None] * len(uploads)

    def _record(
        self,
        upload: Upload,
        content: str,
        result: VideoScores,
        scorer: OnnxScorer,
        shadow: ShadowRecord | None,
    ) -> ScoringRecord:
        if upload.language is None:
            video = upload.content
            transcript = video.transcript
            spoken = (
                transcript if isinstance(transcript, str) else " ".join(s.text for s in transcript)
            )
            upload = upload.with_language(
                detect_language(" ".join((video.title, video.description, spoken)))
            )
        choice = decide(
            result.scores,
            result.units,
            upload.region,
            self._policy,
            scorer.card,
            length_aware=self._length_aware,
        )
        return ScoringRecord(
            upload=upload,
            content=content,
            content_hash=content_hash(content),
            action=choice.action,
            label=choice.label,
            scores=dict(result.scores),  # unrounded: exactly what the thresholds were applied to
            evidence=_evidence(result, choice.label, choice.thresholds, choice.action),
            thresholds=choice.thresholds,
            model_version=scorer.version,
            policy_version=self._policy.version,
            shadow=shadow,
        )

    def record_views(self, video_id: str, views: int, actor: str) -> VideoState:
        now = self._clock()
        state, effects = self._log.record_views(video_id, views, actor, now)
        self._apply(effects, now)
        return state

    def record_report(
        self, video_id: str, reporter_id: str, reason: str, actor: str
    ) -> tuple[VideoState, bool]:
        now = self._clock()
        state, is_new, effects = self._log.record_report(
            video_id, reporter_id, reason, f"{actor}/user:{reporter_id}", now
        )
        self._apply(effects, now)
        if is_new:
            log.info("video.reported", extra={"video_id": video_id, "reports": state.reports})
        return state, is_new


def _evidence(
    result: VideoScores,
    deciding: str | None,
    thresholds: Mapping[str, Mapping[str, float | None]],
    action: Action,
) -> list[Evidence]:
    """The deciding label's best text first, then every other label past a threshold."""
    if action is Action.ALLOW or deciding is None:
        return []
    labels = [deciding]
    for label, used in thresholds.items():
        present = [value for value in used.values() if value is not None]
        if label != deciding and present and result.scores[label] >= min(present):
            labels.append(label)
    return [result.evidence[label] for label in labels]
