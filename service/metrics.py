"""Prometheus metrics: request latency, decisions by action and label, moderator verdicts,
Redis work deferred to reconcile, the model version.

With several uvicorn workers, `mizan serve` sets PROMETHEUS_MULTIPROC_DIR before they start, and
/metrics aggregates every worker's files (prometheus_client's multiprocess mode).
"""

from __future__ import annotations

import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

REQUEST_SECONDS = Histogram(
    "mizan_http_request_duration_seconds",
    "HTTP request latency",
    ["method", "route", "status"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
DECISIONS = Counter("mizan_decisions_total", "Decisions by action and label", ["action", "label"])
DEFERRED_EFFECTS = Counter(
    "mizan_deferred_effects_total",
    "Writes whose Redis side (queue, webhook) failed and waits for reconcile",
)
HUMAN_DECISIONS = Counter(
    "mizan_review_decisions_total", "Moderator decisions by verdict", ["verdict"]
)
MODEL_INFO = Gauge(
    "mizan_model_info",
    "The model version serving (1)",
    ["version", "policy_version"],
    multiprocess_mode="liveall",
)


def observe_request(method: str, route: str, status: int, seconds: float) -> None:
    REQUEST_SECONDS.labels(method, route, str(status)).observe(seconds)


def count_decision(action: str, label: str | None) -> None:
    DECISIONS.labels(action, label or "none").inc()


def count_deferred_effect() -> None:
    DEFERRED_EFFECTS.inc()


def count_review_decision(verdict: str) -> None:
    HUMAN_DECISIONS.labels(verdict).inc()


def set_model(version: str, policy_version: str) -> None:
    MODEL_INFO.labels(version, policy_version).set(1)


def exposition() -> tuple[bytes, str]:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(), CONTENT_TYPE_LATEST
