"""The quarter's enforcement report from the rollups, against a plain SQL scan of the events.

    .venv/bin/python bench/report_speed.py [--uploads 10000000] [--postgres URL]

1. Fills a fresh decision log (SQLite file, and the PostgreSQL URL if given) with --uploads
   uploads spread over 2022Q4 and 2023Q1, 0.6% of them removed (58% by the model), 7% of the
   removals restored, in three regions and four labels: the event rows the use cases write
   (a `scored` event per upload, a removal event with its facts, a `restored` event), and the
   rollups computed from them by the same function the log uses (service.rollups.increments).
   Filling goes around the use cases (the simulator drives about 120 uploads a second, which
   would take a day for 10 million); what is timed is only the reading.
2. Times the 2023Q1 report from the rollups (service.report.enforcement_report, median of 5)
   and the same totals by one SQL scan of the events (GROUP BY over the quarter's rows, the
   removal facts read from the JSON), and checks the two agree.

Prints Markdown for BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import json
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from service import rollups
from service.database import create_engine, migrate
from service.report import enforcement_report, parse_period
from service.tables import events

REGIONS = (("PK", 0.8), ("AE", 0.1), ("GB", 0.1))
LABELS = (("spam", 0.45), ("harassment", 0.35), ("hate_speech", 0.08), ("misinformation", 0.12))
BATCH = 100_000
START = dt.datetime(2022, 10, 1, tzinfo=dt.UTC)
SPAN_S = (dt.datetime(2023, 4, 1, tzinfo=dt.UTC) - START).total_seconds()


def events_for(n: int, rng: random.Random) -> list[dict[str, object]]:
    """The events of upload number n: scored, and maybe removed (and maybe restored)."""
    uploaded = START + dt.timedelta(seconds=rng.uniform(0, SPAN_S))
    region = rng.choices([r for r, _ in REGIONS], weights=[w for _, w in REGIONS])[0]
    video = f"b{n}"
    base = {"video_id": video, "region": region, "language": "ur-Latn", "revision": 1}
    rows = [
        {
            **base,
            "type": "scored",
            "label": None,
            "actor": "model:1.0.2",
            "occurred_at": uploaded,
            "data": {"action": "allow"},
        }
    ]
    if rng.random() < 0.006:
        label = rng.choices([k for k, _ in LABELS], weights=[w for _, w in LABELS])[0]
        automated = rng.random() < 0.58
        delay = dt.timedelta(0) if automated else dt.timedelta(hours=rng.expovariate(1 / 10))
        views = 0 if automated or rng.random() < 0.6 else rng.randint(1, 5000)
        reports = 0 if rng.random() < 0.98 else 1
        removed_at = uploaded + delay
        rows.append(
            {
                **base,
                "type": "auto_removed" if automated else "human_removed",
                "label": label,
                "actor": "model:1.0.2" if automated else "moderator#bench",
                "occurred_at": removed_at,
                "data": rollups.removal_facts(views, uploaded, reports),
            }
        )
        if rng.random() < 0.07:
            rows.append(
                {
                    **base,
                    "type": "restored",
                    "label": label,
                    "actor": "senior#bench",
                    "occurred_at": removed_at + dt.timedelta(days=rng.uniform(1, 20)),
                    "data": {},
                }
            )
    return rows


COLUMNS = (
    "event_id",
    "video_id",
    "revision",
    "type",
    "region",
    "language",
    "label",
    "actor",
    "occurred_at",
    "data",
)


def fill(engine: sa.Engine, uploads: int) -> float:
    rng = random.Random(20230401)
    started = time.perf_counter()
    postgres = engine.dialect.name == "postgresql"
    raw = engine.raw_connection()
    try:
        for first in range(0, uploads, BATCH):
            rows = [
                row for n in range(first, min(uploads, first + BATCH)) for row in events_for(n, rng)
            ]
            cursor = raw.cursor()
            if postgres:
                buffer = io.StringIO()
                for row in rows:
                    values = [
                        str(uuid.uuid4()),
                        row["video_id"],
                        str(row["revision"]),
                        row["type"],
                        row["region"],
                        row["language"],
                        row["label"] or "\\N",
                        row["actor"],
                        row["occurred_at"].isoformat(),  # type: ignore[attr-defined]
                        json.dumps(row["data"]).replace("\\", "\\\\"),
                    ]
                    buffer.write("\t".join(str(v) for v in values) + "\n")
                with cursor.copy(  # type: ignore[attr-defined]
                    f"COPY events ({', '.join(COLUMNS)}) FROM STDIN"
                ) as copy:
                    copy.write(buffer.getvalue())
            else:
                cursor.executemany(
                    f"INSERT INTO events ({', '.join(COLUMNS)}) VALUES "
                    f"({', '.join('?' for _ in COLUMNS)})",
                    [
                        (
                            str(uuid.uuid4()),
                            row["video_id"],
                            row["revision"],
                            row["type"],
                            row["region"],
                            row["language"],
                            row["label"],
                            row["actor"],
                            row["occurred_at"]  # type: ignore[attr-defined]
                            .replace(tzinfo=None)
                            .isoformat(sep=" "),
                            json.dumps(row["data"]),
                        )
                        for row in rows
                    ],
                )
            raw.commit()
            with engine.begin() as connection:
                rollups.apply(connection, rows)
            done = min(uploads, first + BATCH)
            print(f"  filled {done:,} uploads", file=sys.stderr, end="\r")
    finally:
        raw.close()
    print(file=sys.stderr)
    return time.perf_counter() - started


def scan(engine: sa.Engine, start: dt.datetime, end: dt.datetime) -> Counter[str]:
    """The quarter's totals straight from the events (no rollups)."""
    postgres = engine.dialect.name == "postgresql"
    if postgres:
        views = "(data->>'views')::bigint"
        reports = "(data->>'reports')::bigint"
        within = "occurred_at - (data->>'uploaded_at')::timestamptz <= interval '24 hours'"
        bounds = {"start": start, "end": end}
    else:
        views = "json_extract(data, '$.views')"
        reports = "json_extract(data, '$.reports')"
        within = (
            "(julianday(occurred_at) - julianday(replace(substr("
            "json_extract(data, '$.uploaded_at'), 1, 19), 'T', ' '))) <= 1.0"
        )
        bounds = {
            "start": start.replace(tzinfo=None).isoformat(sep=" "),
            "end": end.replace(tzinfo=None).isoformat(sep=" "),
        }
    removal = "type IN ('auto_removed', 'human_removed')"
    query = f"""
        SELECT
          SUM(CASE WHEN type = 'scored' AND revision = 1 THEN 1 ELSE 0 END),
          SUM(CASE WHEN {removal} THEN 1 ELSE 0 END),
          SUM(CASE WHEN type = 'auto_removed' THEN 1 ELSE 0 END),
          SUM(CASE WHEN {removal} AND {views} = 0 THEN 1 ELSE 0 END),
          SUM(CASE WHEN {removal} AND {within} THEN 1 ELSE 0 END),
          SUM(CASE WHEN {removal} AND {reports} = 0 THEN 1 ELSE 0 END),
          SUM(CASE WHEN type = 'restored' THEN 1 ELSE 0 END)
        FROM events WHERE occurred_at >= :start AND occurred_at < :end
    """
    with engine.connect() as connection:
        row = connection.execute(sa.text(query), bounds).one()
    return Counter(dict(zip(rollups.COUNTERS, (int(v or 0) for v in row), strict=True)))


def measure(name: str, url: str, uploads: int) -> str:
    engine = create_engine(url)
    migrate(engine)
    filled = fill(engine, uploads)
    with engine.connect() as connection:
        logged = connection.scalar(sa.select(sa.func.count()).select_from(events))
    quarter = parse_period("2023Q1")
    timings = []
    report = None
    for _ in range(5):
        started = time.perf_counter()
        report = enforcement_report(engine, quarter)
        timings.append(time.perf_counter() - started)
    assert report is not None
    start = dt.datetime(2023, 1, 1, tzinfo=dt.UTC)
    end = dt.datetime(2023, 4, 1, tzinfo=dt.UTC)
    started = time.perf_counter()
    scanned = scan(engine, start, end)
    scan_s = time.perf_counter() - started
    ours = Counter(report.total[0].counts)
    if +ours != +scanned:
        sys.exit(f"{name}: the rollups and the scan disagree: {ours} != {scanned}")
    engine.dispose()
    return (
        f"| {name} | {uploads:,} | {logged:,} | {filled:.0f} s | "
        f"{1000 * statistics.median(timings):.1f} ms | {scan_s:.2f} s | "
        f"{ours['uploads']:,} uploads, {ours['removals']:,} removals, equal |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--uploads", type=int, default=10_000_000)
    parser.add_argument("--postgres", help="also run against this PostgreSQL URL")
    args = parser.parse_args()
    rows = []
    folder = Path(tempfile.mkdtemp(prefix="mizan-report-bench-"))
    rows.append(measure("SQLite", f"sqlite:///{folder / 'log.db'}", args.uploads))
    if args.postgres:
        schema = f"bench_report_{int(time.time())}"
        with sa.create_engine(args.postgres).begin() as connection:
            connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
        url = f"{args.postgres}{'&' if '?' in args.postgres else '?'}"
        rows.append(measure("PostgreSQL", f"{url}options=-csearch_path%3D{schema}", args.uploads))
        with sa.create_engine(args.postgres).begin() as connection:
            connection.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
    print(f"# quarter report speed, {dt.date.today()}, {os.cpu_count()} cores\n")
    print(
        "| database | uploads | events | fill | 2023Q1 report from rollups (median of 5) "
        "| plain SQL scan | check |"
    )
    print("|---|---:|---:|---:|---:|---:|---|")
    for row in rows:
        print(row)


if __name__ == "__main__":
    main()
