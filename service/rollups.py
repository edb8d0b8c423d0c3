"""Daily rollups of the enforcement report's counts, kept with every event.

Each event that counts (a first scoring, a removal, a restoration) adds to one row keyed by
(UTC day, region, policy label), in the transaction that appends it (service/log_rows.py), so a
quarter's report sums about 90 x regions x labels rows instead of scanning the events. Every
count is a function of the event row alone (a removal's event carries the views, upload time
and reports it needs), which is what lets `mizan rollups rebuild` recompute them from the log
and a test prove both ways agree.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

import sqlalchemy as sa

from service.database import before_commit, dialect_insert
from service.tables import events, rollups

COUNTERS = (
    "uploads",  # videos scored for the first time
    "removals",  # removals, by the model or a person
    "removals_automated",  # removals the model decided alone
    "removals_zero_views",  # removals with no view at removal time
    "removals_within_24h",  # removals within 24 hours of upload
    "removals_proactive",  # removals before any user report
    "restorations",  # removed videos restored after appeal
    "accounts_warned",  # account actions taken (service/creators.py), by the strike's label
    "accounts_restricted",
    "accounts_banned",
)
ACCOUNT_COUNTERS = {
    "warning": "accounts_warned",
    "upload_restriction": "accounts_restricted",
    "ban": "accounts_banned",
}
REMOVALS = {"auto_removed", "human_removed"}
DAY = dt.timedelta(hours=24)

Key = tuple[dt.date, str, str]  # (day, region, label or "")


def removal_facts(views: int, uploaded_at: dt.datetime, reports: int) -> dict[str, object]:
    """What a removal event records so that its rollup counts need nothing else."""
    return {"views": views, "uploaded_at": uploaded_at.isoformat(), "reports": reports}


def increments(rows: Iterable[Mapping[str, Any]]) -> dict[Key, Counter[str]]:
    """The rollup counts that these event rows add."""
    out: dict[Key, Counter[str]] = {}

    def add(row: Mapping[str, Any], label: str, counts: Mapping[str, int]) -> None:
        occurred: dt.datetime = row["occurred_at"]
        key = (occurred.astimezone(dt.UTC).date(), row["region"], label)
        out.setdefault(key, Counter()).update(counts)

    for row in rows:
        kind = row["type"]
        if kind == "scored" and row["revision"] == 1:
            add(row, "", {"uploads": 1})
        elif kind in REMOVALS:
            data = row["data"] or {}
            counts = {"removals": 1, "removals_automated": int(kind == "auto_removed")}
            if "uploaded_at" in data:  # removals logged before the rollups existed lack them
                uploaded = dt.datetime.fromisoformat(str(data["uploaded_at"]))
                counts["removals_zero_views"] = int(int(data["views"]) == 0)
                counts["removals_within_24h"] = int(row["occurred_at"] - uploaded <= DAY)
                counts["removals_proactive"] = int(int(data["reports"]) == 0)
            add(row, row["label"] or "", counts)
        elif kind == "restored":
            add(row, row["label"] or "", {"restorations": 1})
        elif kind == "account_actioned":
            action = str((row["data"] or {}).get("action"))
            if action in ACCOUNT_COUNTERS:
                add(row, row["label"] or "", {ACCOUNT_COUNTERS[action]: 1})
    return out


PENDING = "mizan.rollups"  # connection.info key: this transaction's increments, not yet written


def defer(connection: sa.Connection, rows: Iterable[Mapping[str, Any]]) -> None:
    """Add these event rows' counts at the end of the current write transaction, all at once
    and in key order: rollup rows are shared by every writer of a day and region, so they are
    locked last and briefly, always in the same order."""
    pending: dict[Key, Counter[str]] = connection.info.setdefault(PENDING, {})
    for key, counts in increments(rows).items():
        pending.setdefault(key, Counter()).update(counts)
    before_commit(connection, _flush)


def _flush(connection: sa.Connection) -> None:
    pending: dict[Key, Counter[str]] = connection.info.pop(PENDING, {})
    _upsert(connection, sorted(pending.items()))


def apply(connection: sa.Connection, rows: Iterable[Mapping[str, Any]]) -> None:
    """Add the counts of these event rows to the rollups now (rebuilds and bulk loads)."""
    _upsert(connection, sorted(increments(rows).items()))


def _upsert(connection: sa.Connection, items: Iterable[tuple[Key, Counter[str]]]) -> None:
    params = [
        {"day": day, "region": region, "label": label}
        | {name: int(counts.get(name, 0)) for name in COUNTERS}
        for (day, region, label), counts in items
    ]
    if params:  # one prebuilt statement, executed for every key at once
        connection.execute(_upsert_statement(connection.dialect.name), params)


@functools.cache
def _upsert_statement(dialect: str) -> Any:
    """INSERT .. ON CONFLICT DO UPDATE adding to each count, built once per dialect: building
    it anew for every write cost more than running it."""
    insert = dialect_insert(dialect)(rollups)
    return insert.on_conflict_do_update(
        index_elements=["day", "region", "label"],
        set_={name: rollups.c[name] + insert.excluded[name] for name in COUNTERS},
    )


def rebuild(engine: sa.Engine, batch: int = 50_000) -> int:
    """Recompute every rollup from the events (in one transaction); returns events read."""
    read = 0
    with engine.begin() as connection:
        connection.execute(rollups.delete())
        after = 0
        while True:
            chunk: list[Mapping[str, Any]] = [
                dict(row._mapping)
                for row in connection.execute(
                    sa.select(events)
                    .where(events.c.sequence > after)
                    .order_by(events.c.sequence)
                    .limit(batch)
                )
            ]
            if not chunk:
                return read
            apply(connection, chunk)
            read += len(chunk)
            after = chunk[-1]["sequence"]


def snapshot(engine: sa.Engine) -> dict[Key, dict[str, int]]:
    """Every rollup row (tests and operators compare incremental with rebuilt)."""
    with engine.connect() as connection:
        return {
            (row.day, row.region, row.label): {name: int(row._mapping[name]) for name in COUNTERS}
            for row in connection.execute(sa.select(rollups))
        }
