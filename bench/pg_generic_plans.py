"""The scoring write on PostgreSQL over one long-lived connection, as a worker holds it, from an
empty schema: does it slow as the videos table grows?

    .venv/bin/python bench/pg_generic_plans.py postgresql+psycopg://postgres@127.0.0.1:5432/test
        [--segments 4] [--rounds 500]

Rounds of 8 new allowed videos through DecisionLog.record_scorings (the scoring thread's
write), timed per statement with SQLAlchemy's cursor events, in segments of --rounds. Three
ways, each in a new schema: as the service connects (psycopg prepares a statement on its
fifth use, and the server may then keep one generic plan for it), without server-side
prepared statements, and after ANALYZE of the schema's tables between segments (what
autovacuum does on its own; the server here runs with autovacuum off). Prints a Markdown
table of the locking SELECT's and the whole write's time per round.
"""

from __future__ import annotations

import argparse
import datetime as dt
import time
import uuid
from typing import Any

import sqlalchemy as sa

from classifier import Video
from service.database import create_engine, migrate
from service.decision_log import DecisionLog
from service.domain import Action, Upload
from service.scoring_write import ScoringRecord

NOW = dt.datetime(2023, 3, 1, 12, 0, tzinfo=dt.UTC)
LOCKING_SELECT = "SELECT videos.video_id"


def scoring_record(video_id: str) -> ScoringRecord:
    upload = Upload(video_id, "creator", "PK", "en", NOW, Video(title="hello"))
    return ScoringRecord(
        upload=upload,
        content=upload.canonical_content(),
        content_hash=upload.content_hash(),
        action=Action.ALLOW,
        label=None,
        scores={"spam": 0.1},
        evidence=[],
        thresholds={"spam": {"remove": 0.8, "review": 0.5}},
        model_version="1.0.2",
        policy_version="2023-04-21",
    )


def in_schema(url: str, schema: str) -> str:
    with sa.create_engine(url).begin() as connection:
        connection.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    return f"{url}{'&' if '?' in url else '?'}options=-csearch_path%3D{schema}"


def measure(
    engine: sa.Engine, segments: int, rounds: int, analyze: bool
) -> list[tuple[float, float]]:
    """(locking SELECT, whole write) in us per round, for each segment."""
    migrate(engine)
    log = DecisionLog(engine)
    select_s = 0.0

    @sa.event.listens_for(engine, "before_cursor_execute")
    def started(conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        conn.info["started"] = time.perf_counter()

    @sa.event.listens_for(engine, "after_cursor_execute")
    def ended(conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        nonlocal select_s
        if statement.lstrip().startswith(LOCKING_SELECT):
            select_s += time.perf_counter() - conn.info["started"]

    results = []
    for _ in range(segments):
        select_s = 0.0
        started_at = time.perf_counter()
        for _ in range(rounds):
            log.record_scorings([scoring_record(uuid.uuid4().hex) for _ in range(8)], NOW)
        whole = time.perf_counter() - started_at
        results.append((1e6 * select_s / rounds, 1e6 * whole / rounds))
        if analyze:
            with engine.begin() as connection:
                connection.execute(sa.text("ANALYZE"))
    engine.dispose()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url")
    parser.add_argument("--segments", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=500)
    args = parser.parse_args()
    ways = {
        "as the service connects": ({}, False),
        "no server-side prepared statements": ({"prepare_threshold": None}, False),
        "ANALYZE after each segment": ({}, True),
    }
    print(f"rounds of 8 videos, {args.rounds} rounds a segment; {dt.date.today()}")
    print()
    header = " | ".join(f"segment {n + 1}" for n in range(args.segments))
    print(f"| way | {header} |")
    print("|---|" + "---:|" * args.segments)
    for name, (connect_args, analyze) in ways.items():
        schema = f"bench_plans_{int(time.time())}"
        url = in_schema(args.url, schema)
        if connect_args:
            engine = sa.create_engine(url, pool_pre_ping=True, connect_args=connect_args)
        else:
            engine = create_engine(url)  # the service's own
        cells = measure(engine, args.segments, args.rounds, analyze)
        with sa.create_engine(args.url).begin() as connection:  # leave nothing behind
            connection.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        row = " | ".join(f"{select:,.0f} / {whole:,.0f}" for select, whole in cells)
        print(f"| {name} | {row} |", flush=True)


if __name__ == "__main__":
    main()
