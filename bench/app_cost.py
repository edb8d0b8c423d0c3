"""CPU a title scoring request costs inside the app, without the HTTP server and the network.

The ASGI app is driven in-process by 32 concurrent callers (the closed loop of
bench/service_throughput.py, without uvicorn), on the embedded defaults (a SQLite file, the
committed model), and the process's CPU time is divided by the requests answered: the event
loop's share and the scoring thread's together, as a worker pays them.

End-to-end runs vary by 15-35% from one run to the next on this VM (BENCHMARKS.md), more than
a change to the app's own work moves them; this leaves out the parts that vary most (the
kernel's loopback, wrk beside the server) and the parts the app does not control (uvicorn's
parsing and writes). Building each request (its JSON body and scope) is counted too, the
same for every version. To compare two versions, run this file with each checkout's venv:

    .venv/bin/python bench/app_cost.py [--requests 6000] [--repeats 5] [--cpu 0]
    /other/checkout/.venv/bin/python bench/app_cost.py ...

CPU time still moves with the VM; `--instructions` counts instructions instead, under
valgrind's callgrind (needs valgrind), which repeat within about 1% whatever else runs:

    .venv/bin/python bench/app_cost.py --instructions --requests 1000 --repeats 3 --warm-up 300
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import uvloop

from service import metrics
from service.app import create_app
from service.domain import Role
from service.settings import Settings

TITLE = "Chicken karahi in 20 minutes, Lahore style, with fresh tomatoes"  # service_throughput's
CALLERS = 32
SCORE = "/v1/videos/score"


def scope_for(key: str, body: bytes) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": SCORE,
        "raw_path": SCORE.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [
            (b"host", b"127.0.0.1:8000"),
            (b"content-type", b"application/json"),
            (b"authorization", f"Bearer {key}".encode()),
            (b"content-length", str(len(body)).encode()),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
        "state": {},
    }


async def one_request(app: Any, key: str, video_id: str) -> int:
    body = json.dumps(
        {
            "video_id": video_id,
            "creator_id": "bench",
            "region": "PK",
            "uploaded_at": "2023-03-01T10:00:00Z",
            "title": TITLE,
        }
    ).encode()
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope_for(key, body), receive, send)
    return int(sent[0]["status"])


async def closed_loop(app: Any, key: str, requests: int, run: str) -> float:
    """Process CPU seconds for ``requests`` title requests, CALLERS at a time."""
    next_index = 0

    async def caller() -> None:
        nonlocal next_index
        while next_index < requests:
            next_index += 1
            status = await one_request(app, key, f"{run}-{next_index}")
            if status != 200:
                raise SystemExit(f"answered {status}")

    started = time.process_time()
    await asyncio.gather(*(caller() for _ in range(CALLERS)))
    return time.process_time() - started


def _round_totals() -> tuple[float, float]:
    """Videos decided and scoring rounds so far (the round-size histogram's sum and count)."""
    samples = {sample.name: sample.value for sample in metrics.SCORING_BATCH.collect()[0].samples}
    return samples["mizan_scoring_batch_videos_sum"], samples["mizan_scoring_batch_videos_count"]


CALLGRIND = "APP_COST_CALLGRIND"  # set in the child run under valgrind: count each repeat


def _callgrind(command: str) -> None:
    """Zero or dump this process's counts (callgrind_control; a no-op outside valgrind)."""
    if os.environ.get(CALLGRIND):
        subprocess.run(
            ["callgrind_control", command, str(os.getpid())], check=True, capture_output=True
        )


async def measure(
    state: Path, requests: int, repeats: int, warm_up: int
) -> list[tuple[float, float]]:
    """Per repeat: microseconds of process CPU a request, and videos a scoring round."""
    app = create_app(Settings(state_dir=state, audit_share=0.0, console_secret="bench"))
    results = []
    async with app.router.lifespan_context(app):  # the app's start-up and shut-down
        _, key = app.state.keys.create("bench", [Role.UPLOADER], ["en"], dt.datetime.now(dt.UTC))
        await closed_loop(app, key, warm_up, "warm")
        for n in range(repeats):
            videos, rounds = _round_totals()
            _callgrind("--zero")
            cpu_s = await closed_loop(app, key, requests, f"r{n}")
            _callgrind("--dump")
            videos_after, rounds_after = _round_totals()
            results.append(
                (1e6 * cpu_s / requests, (videos_after - videos) / (rounds_after - rounds))
            )
    return results


def instructions_a_request(requests: int, repeats: int, warm_up: int) -> tuple[list[float], str]:
    """Instructions a request in each repeat, counted by callgrind: this file run under
    valgrind, its counts zeroed before each repeat and dumped after it (so start-up and the
    warm-up are left out). The same code and inputs count within about 1% of each other
    whatever else the machine does; the rest is the rounds' sizes and SQLite's pages, which
    follow the order the threads happened to run in."""
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "callgrind.out"
        run = subprocess.run(
            [
                "valgrind",
                "--tool=callgrind",
                f"--callgrind-out-file={out}",
                sys.executable,
                __file__,
                *("--requests", str(requests), "--repeats", str(repeats)),
                *("--warm-up", str(warm_up)),
            ],
            env={**os.environ, CALLGRIND: "1", "PYTHONHASHSEED": "0"},  # same set orders
            capture_output=True,
            text=True,
        )
        if run.returncode != 0:
            raise SystemExit(run.stderr[-2000:])
        counts = [
            int(re.search(r"^summary: (\d+)$", (Path(f"{out}.{n}")).read_text(), re.M).group(1))  # type: ignore[union-attr]
            for n in range(1, repeats + 1)
        ]
    return [count / requests for count in counts], run.stdout.strip().splitlines()[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=6000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--warm-up", type=int, default=1000, help="requests first, not counted")
    parser.add_argument("--cpu", type=int, help="pin this process to one CPU")
    parser.add_argument(
        "--instructions",
        action="store_true",
        help="count instructions under callgrind instead (--requests 1000 --repeats 3: ~4 min)",
    )
    args = parser.parse_args()
    if args.instructions:
        counts, timed = instructions_a_request(args.requests, args.repeats, args.warm_up)
        print("instructions a title request:", " ".join(f"{count:,.0f}" for count in counts))
        print(f"median {statistics.median(counts):,.0f}")
        print("under valgrind,", timed)
        return
    if args.cpu is not None:
        os.sched_setaffinity(0, {args.cpu})
    with tempfile.TemporaryDirectory() as state:
        os.environ.pop("MIZAN_DATABASE_URL", None)
        # uvloop, as uvicorn runs the service (its loop=auto takes it when installed)
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            results = runner.run(measure(Path(state), args.requests, args.repeats, args.warm_up))
    costs = [cost for cost, _ in results]
    print(
        "us of process CPU a title request (videos a round):",
        " ".join(f"{cost:.0f} ({size:.1f})" for cost, size in results),
    )
    print(f"median {statistics.median(costs):.0f}")


if __name__ == "__main__":
    main()
