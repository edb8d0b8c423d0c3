"""Drift: per UTC day and model version, each label's score histogram and each action's count.

Added to in the scoring transaction (one upsert per table at commit, like service/rollups.py),
so the report can show, day by day, whether scores or the mix of actions shifted, for example
after a promotion. Buckets are 0.1 wide: b0 = [0, 0.1) .. b9 = [0.9, 1].
"""

from __future__ import annotations

import datetime as dt
import functools
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from service.database import before_commit, dialect_insert
from service.tables import SCORE_BUCKETS, action_daily, score_daily

BUCKETS = tuple(f"b{i}" for i in range(SCORE_BUCKETS))
PENDING = "mizan.drift"  # connection.info key: this transaction's counts, not yet written


def bucket(score: float) -> int:
    return min(max(int(score * SCORE_BUCKETS), 0), SCORE_BUCKETS - 1)


@dataclass
class _Pending:
    scores: dict[tuple[dt.date, str, str], Counter[int]]
    actions: Counter[tuple[dt.date, str, str]]


def defer(
    connection: sa.Connection,
    day: dt.date,
    model_version: str,
    action: str,
    scores: Mapping[str, float],
) -> None:
    """Count one scored video, written at the end of the current write transaction."""
    # get, then make what is missing: setdefault would build a Counter per call and label
    # (five a video) only to throw it away
    pending: _Pending | None = connection.info.get(PENDING)
    if pending is None:
        pending = connection.info[PENDING] = _Pending({}, Counter())
    for label, score in scores.items():
        key = (day, model_version, label)
        counts = pending.scores.get(key)
        if counts is None:
            counts = pending.scores[key] = Counter()
        counts[bucket(score)] += 1
    pending.actions[(day, model_version, action)] += 1
    before_commit(connection, _flush)


def _flush(connection: sa.Connection) -> None:
    pending: _Pending | None = connection.info.pop(PENDING, None)
    if pending is None:
        return
    dialect = connection.dialect.name
    score_rows = [
        {"day": day, "model_version": version, "label": label}
        | {name: counts.get(i, 0) for i, name in enumerate(BUCKETS)}
        for (day, version, label), counts in sorted(pending.scores.items())
    ]
    action_rows = [
        {"day": day, "model_version": version, "action": action, "decisions": count}
        for (day, version, action), count in sorted(pending.actions.items())
    ]
    connection.execute(_score_upsert(dialect), score_rows)
    connection.execute(_action_upsert(dialect), action_rows)


@functools.cache
def _score_upsert(dialect: str) -> Any:
    insert = dialect_insert(dialect)(score_daily)
    return insert.on_conflict_do_update(
        index_elements=["day", "model_version", "label"],
        set_={name: score_daily.c[name] + insert.excluded[name] for name in BUCKETS},
    )


@functools.cache
def _action_upsert(dialect: str) -> Any:
    insert = dialect_insert(dialect)(action_daily)
    return insert.on_conflict_do_update(
        index_elements=["day", "model_version", "action"],
        set_={"decisions": action_daily.c.decisions + insert.excluded.decisions},
    )


@dataclass(frozen=True, slots=True)
class DayOfModel:
    """One day's scoring by one model version."""

    day: dt.date
    model_version: str
    actions: dict[str, int]
    histograms: dict[str, tuple[int, ...]]  # label -> counts per bucket

    @property
    def decisions(self) -> int:
        return sum(self.actions.values())

    def action_shares(self) -> dict[str, float]:
        total = self.decisions
        return {action: count / total for action, count in sorted(self.actions.items())}

    def mean_scores(self) -> dict[str, float]:
        """Each label's mean score, from the histogram (bucket midpoints)."""
        return {
            label: sum((i + 0.5) / SCORE_BUCKETS * n for i, n in enumerate(counts))
            / max(sum(counts), 1)
            for label, counts in sorted(self.histograms.items())
        }


def daily(engine: sa.Engine, start: dt.date, end: dt.date) -> list[DayOfModel]:
    """Every (day, model version) with scorings in [start, end), oldest first."""
    days: dict[tuple[dt.date, str], DayOfModel] = {}
    with engine.connect() as connection:
        for row in connection.execute(
            sa.select(action_daily).where(action_daily.c.day >= start, action_daily.c.day < end)
        ):
            key = (row.day, row.model_version)
            day = days.setdefault(key, DayOfModel(row.day, row.model_version, {}, {}))
            day.actions[row.action] = int(row.decisions)
        for row in connection.execute(
            sa.select(score_daily).where(score_daily.c.day >= start, score_daily.c.day < end)
        ):
            key = (row.day, row.model_version)
            day = days.setdefault(key, DayOfModel(row.day, row.model_version, {}, {}))
            counts = tuple(int(row._mapping[name]) for name in BUCKETS)
            day.histograms[row.label] = counts
    return [days[key] for key in sorted(days)]
