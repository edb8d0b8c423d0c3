"""Garbage-collector pauses of a serving process, with what start-up built frozen and without.

    .venv/bin/python bench/gc_pauses.py [--requests 8000] [--case title]

One app in this process (TestClient: the same lifespan as `mizan serve`, SQLite in a scratch
folder), then the same scoring requests twice: as the app runs (start-up's objects frozen,
service/app.py), and after `gc.unfreeze()`, as before that. Every collection is timed through
`gc.callbacks`; a full (generation 2) collection stops every thread of the worker. Prints a
Markdown table for BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import os
import subprocess
import sys
import tempfile
import time
from collections import defaultdict

from service.settings import PROJECT_ROOT

sys.path.insert(0, str(PROJECT_ROOT))  # the sibling bench module, when run as a script
from bench.service_throughput import CASES, CLI


def timed_collections(run: object) -> dict[int, list[float]]:
    """Milliseconds of each collection, by generation, while ``run()`` runs."""
    pauses: dict[int, list[float]] = defaultdict(list)
    started = [0.0]

    def callback(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            started[0] = time.perf_counter()
        else:
            pauses[info["generation"]].append(1000 * (time.perf_counter() - started[0]))

    gc.callbacks.append(callback)
    try:
        run()  # type: ignore[operator]
    finally:
        gc.callbacks.remove(callback)
    return pauses


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=8000)
    parser.add_argument("--case", choices=("title", "transcript"), default="title")
    args = parser.parse_args()
    os.environ["MIZAN_STATE_DIR"] = tempfile.mkdtemp(prefix="mizan-gc-")
    from fastapi.testclient import TestClient

    from service.app import create_app
    from service.settings import Settings

    key = subprocess.run(
        [*CLI, "keys", "create", "--name", "gc", "--role", "uploader"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    case = CASES["title only" if args.case == "title" else "1,500-word transcript"]
    headers = {"Authorization": f"Bearer {key}"}
    rows = []
    with TestClient(create_app(Settings())) as client:

        def score(prefix: str) -> None:
            for i in range(args.requests):
                body = {
                    "video_id": f"{prefix}-{i}",
                    "creator_id": "bench",
                    "region": "PK",
                    "uploaded_at": "2023-03-01T10:00:00Z",
                    **case,
                }
                response = client.post("/v1/videos/score", json=body, headers=headers)
                response.raise_for_status()

        frozen = gc.get_freeze_count()
        rows.append(("frozen at start-up (now)", frozen, timed_collections(lambda: score("f"))))
        gc.unfreeze()
        rows.append(("not frozen (before)", 0, timed_collections(lambda: score("u"))))
    print(
        f"\nmachine: {os.cpu_count()} cores; {dt.date.today()}; {args.requests} {args.case} "
        "requests each\n"
    )
    print("| start-up's objects | frozen objects | generation | collections | median ms | max ms |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, count, pauses in rows:
        for generation in (0, 1, 2):
            times = sorted(pauses.get(generation, []))
            median = f"{times[len(times) // 2]:.2f}" if times else "-"
            longest = f"{times[-1]:.2f}" if times else "-"
            print(f"| {name} | {count:,} | {generation} | {len(times)} | {median} | {longest} |")


if __name__ == "__main__":
    main()
