"""The highest steady rate of POST /v1/videos/score (title + 300-word transcript) at which p99
stays under 100 ms, with SQLite and with PostgreSQL, beside the bare FastAPI ceiling.

    .venv/bin/python bench/capacity.py [--postgres URL] [--seconds 10] [--workers 2]

Needs wrk (Debian: apt-get install wrk). In one run:

1. bare: bench/bare_app.py (same body schema and server settings, no model, no database), wrk
   closed loop at 32 connections: the framework's ceiling on this machine;
2. per database: `mizan serve` (--workers, no RQ worker beside it), first closed loop (its
   saturation throughput), then open-loop probes at rates found by bisection between 10% and
   100% of that throughput; a rate passes when its p99 is under 100 ms and nothing failed.

Open loop (bench/open_loop.py): Poisson arrivals at the rate, whatever the answers do, over 32
keep-alive connections (more opened if all are busy), each latency counted from the request's
scheduled send, so a server falling behind shows it in the p99 instead of being offered less.

Every request is a new video, so each is scored, decided and logged. wrk runs on the same
cores as the server. Prints every probe, then a Markdown table for BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the sibling bench module, when run as a script
from bench.service_throughput import (  # noqa: E402
    CLI,
    TITLE,
    free_port,
    open_loop_at,
    process,
    run_wrk,
    transcript_words,
    uploader_key,
    wait_ready,
)

CASE = {"title": TITLE, "transcript": transcript_words(300)}
P99_TARGET_MS = 100.0
PROBES = 6


def bare_ceiling(workers: int, seconds: int) -> dict[str, float]:
    port = free_port()
    command = [sys.executable, "-m", "uvicorn", "--workers", str(workers), "--port", str(port)]
    command += ["--no-access-log", "--log-level", "warning", "bench.bare_app:app"]
    with process(command, {**os.environ, "PYTHONPATH": str(ROOT)}):
        wait_ready(f"http://127.0.0.1:{port}/docs")
        return run_wrk(f"http://127.0.0.1:{port}", "none", CASE, seconds)


def passes(probe: dict[str, float]) -> bool:
    return probe["p99_ms"] < P99_TARGET_MS and probe["errors"] == 0


def capacity(base: str, key: str, seconds: int) -> tuple[dict[str, float], dict[str, float]]:
    """(closed-loop saturation, the best passing open-loop probe)."""
    saturated = run_wrk(base, key, CASE, seconds)
    low, high = 0.1 * saturated["rps"], saturated["rps"]
    best: dict[str, float] = {"offered_rps": 0.0, "rps": 0.0, "p50_ms": 0.0, "p99_ms": 0.0}
    for _ in range(PROBES):
        offered = (low + high) / 2
        probe = open_loop_at(base, key, CASE, offered, seconds)
        ok = passes(probe)
        print(json.dumps({"probe": probe, "passes": ok}), flush=True)
        if ok:
            best, low = probe, offered
        else:
            high = offered
    return saturated, best


def serve_env(state: Path, port: int, workers: int, database_url: str | None) -> dict[str, str]:
    env = {
        **os.environ,
        "MIZAN_STATE_DIR": str(state),
        "MIZAN_PORT": str(port),
        "MIZAN_WORKERS": str(workers),
        "MIZAN_SERVE_WORKER": "false",
    }
    if database_url:
        import sqlalchemy as sa

        schema = f"capacity_{int(time.time())}"
        with sa.create_engine(database_url).begin() as connection:
            connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
        separator = "&" if "?" in database_url else "?"
        env["MIZAN_DATABASE_URL"] = f"{database_url}{separator}options=-csearch_path%3D{schema}"
    return env


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=15, help="per probe")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--postgres", help="also measure with this PostgreSQL URL")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk not found: apt-get install wrk")
    bare = bare_ceiling(args.workers, args.seconds)
    print(json.dumps({"bare": bare}), flush=True)
    databases: dict[str, str | None] = {"SQLite": None}
    if args.postgres:
        databases["PostgreSQL"] = args.postgres
    rows = []
    for database, url in databases.items():
        port = free_port()
        env = serve_env(Path(tempfile.mkdtemp(prefix="mizan-capacity-")), port, args.workers, url)
        key = uploader_key(env, "capacity")
        with process([*CLI, "serve"], env):
            base = f"http://127.0.0.1:{port}"
            wait_ready(f"{base}/readyz", listeners=args.workers)
            run_wrk(base, key, CASE, 3)  # warm-up: first connections, caches, page cache
            saturated, best = capacity(base, key, args.seconds)
        rows.append((database, saturated, best))
        if url:  # the run's own schema, dropped with what it holds
            import sqlalchemy as sa

            schema = env["MIZAN_DATABASE_URL"].rsplit("%3D", 1)[1]
            with sa.create_engine(url).begin() as connection:
                connection.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
    print()
    print(
        f"machine: {len(os.sched_getaffinity(0))} cores; {dt.date.today().isoformat()}; "
        f"uvicorn workers {args.workers}; wrk -t2 -c32 closed loop, open-loop probes of "
        f"{args.seconds} s"
    )
    print()
    print(
        "| database | highest steady rate with p99 < 100 ms (answered req/s) | p50 ms | p99 ms "
        "| service saturated (closed loop) req/s, p99 ms | bare FastAPI req/s |"
    )
    print("|---|---:|---:|---:|---:|---:|")
    for database, saturated, best in rows:
        print(
            f"| {database} | {best['rps']:.0f} | {best['p50_ms']:.1f} | {best['p99_ms']:.1f} "
            f"| {saturated['rps']:.0f}, {saturated['p99_ms']:.0f} | {bare['rps']:.0f} |"
        )


if __name__ == "__main__":
    main()
