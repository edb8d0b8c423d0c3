"""Prometheus metrics: request latency, decisions by action, label and model version, score
histograms per label (drift), moderator verdicts, Redis work deferred to reconcile, the model
versions serving.

With several uvicorn workers, `mizan serve` sets PROMETHEUS_MULTIPROC_DIR before they start, and
/metrics aggregates every worker's files (prometheus_client's multiprocess mode).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Generic, TypeVar

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

if TYPE_CHECKING:
    from service.model_registry import Versions

REQUEST_SECONDS = Histogram(
    "mizan_http_request_duration_seconds",
    "HTTP request latency",
    ["method", "route", "status"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
DECISIONS = Counter(
    "mizan_decisions_total",
    "Decisions by action, deciding label and model version",
    ["action", "label", "model_version"],
)
# Drift: each label's score for every video scored, per model version (a shift after a
# promotion shows as a change of shape here and in the report's daily histograms).
SCORES = Histogram(
    "mizan_model_score",
    "Scores per label and model version, one per video scored",
    ["label", "model_version"],
    buckets=(0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0),
)
SCORING_BATCH = Histogram(
    "mizan_scoring_batch_videos",
    "Videos decided together in one model run and transaction (service/coalescer.py)",
    buckets=(1, 2, 4, 8, 16, 32, 64, 128),
)
SCORE_FAST_PATH = Counter(
    "mizan_score_fast_path_total",
    "POST /v1/videos/score requests by who answered: the fast path (answered: a decision, or "
    "the error of a key that does not authenticate or of the scoring) or the route (handed_on: "
    "a content type other than exactly application/json, a key without the uploader role, an "
    "invalid video, a body past the limit or cut short)",
    ["outcome"],
)
SCORING_WAIT = Histogram(
    "mizan_scoring_wait_seconds",
    "How long a scoring request waited for its worker's scoring thread to take it up (the "
    "queueing part of the request's latency: high while the worker is saturated)",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
SCORING_WAITING = Gauge(
    "mizan_scoring_waiting_videos",
    "Videos waiting for a worker's scoring thread, in the worker with the longest line",
    multiprocess_mode="livemax",
)
DEFERRED_EFFECTS = Counter(
    "mizan_deferred_effects_total",
    "Writes whose Redis side (queue, webhook) failed and waits for reconcile",
)
HUMAN_DECISIONS = Counter(
    "mizan_review_decisions_total", "Moderator decisions by verdict", ["verdict"]
)
MODEL_INFO = Gauge(
    "mizan_model_info",
    "The model versions serving (1), as champion (acts) or shadow (scored, never acts)",
    ["version", "policy_version", "role"],
    multiprocess_mode="liveall",
)


Metric = TypeVar("Metric", Counter, Histogram)


class _Series(Generic[Metric]):
    """A labelled metric's series, each looked up once: prometheus_client's labels() checks
    and locks on every call, and the scoring path calls it for every request and for every
    label's score of every video (with seven labels, about 6 of count_decision's 17 us)."""

    def __init__(self, metric: Metric) -> None:
        self._metric: Metric = metric
        self._children: dict[tuple[str, ...], Metric] = {}

    def __call__(self, *values: str) -> Metric:
        child = self._children.get(values)
        if child is None:  # two threads may both create it: labels() returns the same child
            child = self._children[values] = self._metric.labels(*values)
        return child


_request_seconds = _Series(REQUEST_SECONDS)
_decisions = _Series(DECISIONS)
_scores = _Series(SCORES)
_score_fast_path = _Series(SCORE_FAST_PATH)


def observe_request(method: str, route: str, status: int, seconds: float) -> None:
    _request_seconds(method, route, str(status)).observe(seconds)


def count_score_fast_path(answered: bool) -> None:
    _score_fast_path("answered" if answered else "handed_on").inc()


def observe_scoring_batch(videos: int) -> None:
    SCORING_BATCH.observe(videos)


def observe_scoring_wait(seconds: float) -> None:
    SCORING_WAIT.observe(seconds)


def count_scoring_waiting(videos: int) -> None:
    """``videos`` more (or, negative, fewer) waiting for this worker's scoring thread."""
    SCORING_WAITING.inc(videos)


def count_decision(
    action: str, label: str | None, model_version: str, scores: Mapping[str, float]
) -> None:
    _decisions(action, label or "none", model_version).inc()
    for name, score in scores.items():
        _scores(name, model_version).observe(score)


def count_deferred_effect() -> None:
    DEFERRED_EFFECTS.inc()


def count_review_decision(verdict: str) -> None:
    HUMAN_DECISIONS.labels(verdict).inc()


def set_models(
    champion: str, shadow: str | None, policy_version: str, *, previous: Versions | None
) -> None:
    if previous is not None:
        MODEL_INFO.labels(previous.champion, policy_version, "champion").set(0)
        if previous.shadow:
            MODEL_INFO.labels(previous.shadow, policy_version, "shadow").set(0)
    MODEL_INFO.labels(champion, policy_version, "champion").set(1)
    if shadow:
        MODEL_INFO.labels(shadow, policy_version, "shadow").set(1)


def exposition() -> tuple[bytes, str]:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(), CONTENT_TYPE_LATEST
