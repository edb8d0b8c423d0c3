"""Small costs of a scored video's log write and metrics, the way the service does them and
the way it did them before (2026-12-03), each timed in a loop on one core.

Too small to tell apart in an end-to-end run (bench/service_throughput.py varies by more
than they add up to from one run to the next), so each is timed on its own:

- the four JSON values a scored video writes (scores, thresholds, evidence, an event's data):
  service.database.json_text (orjson) against json.dumps;
- the five datetimes it binds on SQLite: UTCDateTime's one-step text against SQLAlchemy's
  DATETIME formatting behind the same conversion;
- its metrics with seven labels: metrics.count_decision (series kept) against labels() on
  every call.

    .venv/bin/python bench/scoring_parts.py [--cpu 1]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import timeit
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa

from service import metrics
from service.database import json_text
from service.tables import UTCDateTime

LABELS = [f"label_{n}" for n in range(7)]
SCORES = {label: 0.123456789 * n for n, label in enumerate(LABELS)}
JSON_VALUES = (
    SCORES,
    {label: {"remove": 0.9, "review": 0.5} for label in LABELS},
    [{"label": "spam", "field": "title", "start_s": None, "end_s": None, "score": 0.31}],
    {"decision_id": "4f1c2b9e-3a1d-4c55-9a0e-1b2c3d4e5f60", "action": "allow"},
)
DATETIMES_A_VIDEO = 5


class _SQLAlchemysDatetime(sa.TypeDecorator[dt.datetime]):
    """UTCDateTime as it was: the conversion, then SQLite DATETIME's own formatting."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        return None if value is None else value.astimezone(dt.UTC).replace(tzinfo=None)


def _labels_every_call() -> None:
    metrics.DECISIONS.labels("allow", "none", "bench").inc()
    for name, score in SCORES.items():
        metrics.SCORES.labels(name, "bench").observe(score)


def per_call_us(work: Callable[[], object], number: int, repeats: int) -> float:
    """The median over ``repeats`` of the mean time of a call, in microseconds."""
    return statistics.median(
        timeit.timeit(work, number=number) / number * 1e6 for _ in range(repeats)
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cpu", type=int, default=None, help="run on this CPU only")
    parser.add_argument("--number", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    if args.cpu is not None:
        os.sched_setaffinity(0, {args.cpu})
    sqlite = sa.create_engine("sqlite://").dialect
    now_bind = UTCDateTime().dialect_impl(sqlite).bind_processor(sqlite)
    before_bind = _SQLAlchemysDatetime().dialect_impl(sqlite).bind_processor(sqlite)
    assert now_bind is not None
    assert before_bind is not None
    moment = dt.datetime.now(dt.UTC)
    assert now_bind(moment) == before_bind(moment)  # the same text, or the comparison is moot
    parts = {
        "four JSON values": (
            lambda: [json_text(value) for value in JSON_VALUES],
            lambda: [json.dumps(value) for value in JSON_VALUES],
        ),
        "five datetimes bound (SQLite)": (
            lambda: [now_bind(moment) for _ in range(DATETIMES_A_VIDEO)],
            lambda: [before_bind(moment) for _ in range(DATETIMES_A_VIDEO)],
        ),
        "decision metrics, seven labels": (
            lambda: metrics.count_decision("allow", None, "bench", SCORES),
            _labels_every_call,
        ),
    }
    print("| part of a scored video | now, us | before, us |")
    print("|---|---:|---:|")
    for name, (now, before) in parts.items():
        now_us = per_call_us(now, args.number, args.repeats)
        before_us = per_call_us(before, args.number, args.repeats)
        print(f"| {name} | {now_us:.1f} | {before_us:.1f} |")


if __name__ == "__main__":
    main()
