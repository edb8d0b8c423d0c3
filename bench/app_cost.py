"""CPU a scoring request costs inside the app, without the HTTP server and the network.

The ASGI app is driven in-process by 32 concurrent callers (the closed loop of
bench/service_throughput.py, without uvicorn), on the embedded defaults (a SQLite file, the
committed model), and the process's CPU time is divided by the requests answered: the event
loop's share and the scoring thread's together, as a worker pays them. Each request is a new
video of one of service_throughput's cases (`--case`; a title-only video by default).
`--scorer-alone` measures the scorer alone on the same video after the app, one video a model
run as in service_throughput (the issue's baseline), in the same process: the app's cost
against the model's with no HTTP and no other run between them.

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
    .venv/bin/python bench/app_cost.py --instructions --case "1,500-word transcript" \
        --requests 200 --repeats 3 --warm-up 60 --scorer-alone
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import functools
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import uvloop

from classifier import Video
from service import metrics
from service.app import create_app
from service.domain import Role
from service.models import load_active
from service.settings import PROJECT_ROOT, Settings

sys.path.insert(0, str(PROJECT_ROOT))  # the sibling bench module, when run as a script
from bench import pg_backends
from bench.service_throughput import CASES, drop_schema, new_schema

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


async def one_request(app: Any, key: str, case: dict[str, str], video_id: str) -> int:
    body = json.dumps(
        {
            "video_id": video_id,
            "creator_id": "bench",
            "region": "PK",
            "uploaded_at": "2023-03-01T10:00:00Z",
            **case,
        }
    ).encode()
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope_for(key, body), receive, send)
    return int(sent[0]["status"])


async def closed_loop(
    app: Any, key: str, case: dict[str, str], requests: int, run: str
) -> tuple[float, float]:
    """Process CPU seconds and wall-clock seconds for ``requests`` requests, CALLERS at a
    time."""
    next_index = 0

    async def caller() -> None:
        nonlocal next_index
        while next_index < requests:
            next_index += 1
            status = await one_request(app, key, case, f"{run}-{next_index}")
            if status != 200:
                raise SystemExit(f"answered {status}")

    started, started_wall = time.process_time(), time.perf_counter()
    await asyncio.gather(*(caller() for _ in range(CALLERS)))
    return time.process_time() - started, time.perf_counter() - started_wall


def _round_totals() -> tuple[float, float]:
    """Videos decided and scoring rounds so far (the round-size histogram's sum and count)."""
    samples = {sample.name: sample.value for sample in metrics.SCORING_BATCH.collect()[0].samples}
    return samples["mizan_scoring_batch_videos_sum"], samples["mizan_scoring_batch_videos_count"]


def _bytes_written() -> int:
    """Bytes this process has handed to write() and its kin so far (/proc/self/io's wchar):
    SQLite's WAL frames and checkpoints, whether or not they reached the disk yet."""
    with open("/proc/self/io") as io:
        return next(int(line.split()[1]) for line in io if line.startswith("wchar:"))


CALLGRIND = "APP_COST_CALLGRIND"  # set in the child run under valgrind: count each repeat


def _callgrind(command: str) -> None:
    """Zero or dump this process's counts (callgrind_control; a no-op outside valgrind)."""
    if os.environ.get(CALLGRIND):
        subprocess.run(
            ["callgrind_control", command, str(os.getpid())], check=True, capture_output=True
        )


async def measure(
    state: Path,
    case: dict[str, str],
    requests: int,
    repeats: int,
    warm_up: int,
    database_url: str | None = None,
    after_warm_up: Callable[[], None] | None = None,
) -> list[tuple[float, float, float, float]]:
    """Per repeat: microseconds of process CPU a request, videos a scoring round, bytes the
    process wrote a request (SQLite's WAL and checkpoints: nothing else here writes), and
    wall-clock microseconds over requests: CALLERS at a time, so the inverse of throughput,
    not a request's latency (on PostgreSQL it includes the waits on the server)."""
    settings = Settings(
        state_dir=state, database_url=database_url, audit_share=0.0, console_secret="bench"
    )
    app = create_app(settings)
    results = []
    async with app.router.lifespan_context(app):  # the app's start-up and shut-down
        _, key = app.state.keys.create("bench", [Role.UPLOADER], ["en"], dt.datetime.now(dt.UTC))
        await closed_loop(app, key, case, warm_up, "warm")
        if after_warm_up is not None:
            after_warm_up()
        for n in range(repeats):
            videos, rounds = _round_totals()
            written = _bytes_written()
            _callgrind("--zero")
            cpu_s, wall_s = await closed_loop(app, key, case, requests, f"r{n}")
            _callgrind("--dump")
            videos_after, rounds_after = _round_totals()
            results.append(
                (
                    1e6 * cpu_s / requests,
                    (videos_after - videos) / (rounds_after - rounds),
                    (_bytes_written() - written) / requests,
                    1e6 * wall_s / requests,
                )
            )
    return results


def measure_scorer_alone(
    case: dict[str, str], requests: int, repeats: int, warm_up: int
) -> list[float]:
    """Per repeat: microseconds of process CPU a video for the scorer alone, as
    service_throughput's baseline runs it (the committed model, one video a model run)."""
    scorer = load_active(PROJECT_ROOT / "models")
    video = [Video(**case)]  # every field the app's requests carry
    for _ in range(warm_up):
        scorer.score_videos(video)
    results = []
    for _ in range(repeats):
        _callgrind("--zero")
        started = time.process_time()
        for _ in range(requests):
            scorer.score_videos(video)
        cpu_s = time.process_time() - started
        _callgrind("--dump")
        results.append(1e6 * cpu_s / requests)
    return results


def _callgrind_counts(arguments: list[str], dumps: int) -> tuple[list[int], str]:
    """Instructions in each of this file's dumps, run under valgrind with ``arguments``; and
    the first line it printed."""
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "callgrind.out"
        run = subprocess.run(
            [
                "valgrind",
                "--tool=callgrind",
                f"--callgrind-out-file={out}",
                sys.executable,
                __file__,
                *arguments,
            ],
            env={**os.environ, CALLGRIND: "1", "PYTHONHASHSEED": "0"},  # same set orders
            capture_output=True,
            text=True,
        )
        if run.returncode != 0:
            raise SystemExit(run.stderr[-2000:])
        counts = [
            int(re.search(r"^summary: (\d+)$", (Path(f"{out}.{n}")).read_text(), re.M).group(1))  # type: ignore[union-attr]
            for n in range(1, dumps + 1)
        ]
    return counts, run.stdout.strip().splitlines()[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", choices=list(CASES), default="title only")
    parser.add_argument("--requests", type=int, default=6000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--warm-up", type=int, default=1000, help="requests first, not counted")
    parser.add_argument("--cpu", type=int, help="pin this process to one CPU")
    parser.add_argument(
        "--postgres",
        metavar="URL",
        help="log to a new schema on this PostgreSQL server instead of a SQLite file (the "
        "process's CPU is the worker's; the server's backends are not counted)",
    )
    parser.add_argument(
        "--scorer-alone",
        action="store_true",
        help="then the scorer alone on the same video, one a model run, as many times",
    )
    parser.add_argument(
        "--instructions",
        action="store_true",
        help="count instructions under callgrind instead (--requests 1000 --repeats 3: ~4 min)",
    )
    args = parser.parse_args()
    case = CASES[args.case]
    if args.instructions:
        # Each repeat is counted alone: this file runs again under valgrind, its counts zeroed
        # before each repeat and dumped after it (start-up and warm-ups left out). The same
        # code and inputs count within about 1% whatever else the machine does; the rest is
        # the rounds' sizes and SQLite's pages, which follow the order the threads ran in.
        arguments = [
            *("--case", args.case, "--requests", str(args.requests)),
            *("--repeats", str(args.repeats), "--warm-up", str(args.warm_up)),
            *(["--scorer-alone"] if args.scorer_alone else []),
            *(["--postgres", args.postgres] if args.postgres else []),
        ]
        dumps = args.repeats * (2 if args.scorer_alone else 1)
        counts, timed = _callgrind_counts(arguments, dumps)
        app_counts = [count / args.requests for count in counts[: args.repeats]]
        print(f"instructions a request ({args.case}):", _listed(app_counts, ",.0f"))
        if args.scorer_alone:
            alone = [count / args.requests for count in counts[args.repeats :]]
            print("instructions a video, the scorer alone:", _listed(alone, ",.0f"))
            print(
                f"scorer alone / app: {statistics.median(alone) / statistics.median(app_counts):.0%}"
            )
        print("under valgrind,", timed)
        return
    if args.cpu is not None:
        os.sched_setaffinity(0, {args.cpu})
    schema = f"app_cost_{os.getpid()}"
    database_url = new_schema(args.postgres, schema) if args.postgres else None
    # on PostgreSQL, plans made on tables that hold rows, as a production server's autovacuum
    # leaves them (service_throughput does the same)
    analyze = (
        functools.partial(pg_backends.analyze, args.postgres, schema) if args.postgres else None
    )
    try:
        with tempfile.TemporaryDirectory() as state:
            os.environ.pop("MIZAN_DATABASE_URL", None)
            # uvloop, as uvicorn runs the service (its loop=auto takes it when installed)
            with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
                results = runner.run(
                    measure(
                        Path(state),
                        case,
                        args.requests,
                        args.repeats,
                        args.warm_up,
                        database_url,
                        analyze,
                    )
                )
    finally:
        if args.postgres:
            drop_schema(args.postgres, schema)
    costs = [cost for cost, _, _, _ in results]
    if args.postgres:  # the server writes PostgreSQL's WAL: none of it is this process's
        print(
            f"us of process CPU a request ({args.case}; videos a round, wall-clock us / requests):",
            " ".join(f"{cost:.0f} ({size:.1f}, {wall:.0f})" for cost, size, _, wall in results),
        )
    else:
        print(
            f"us of process CPU a request ({args.case}; videos a round, KB written a request,"
            " wall-clock us / requests):",
            " ".join(
                f"{cost:.0f} ({size:.1f}, {written / 1000:.1f}, {wall:.0f})"
                for cost, size, written, wall in results
            ),
        )
    print(
        f"median {statistics.median(costs):.0f}, wall clock / requests"
        f" {statistics.median(wall for _, _, _, wall in results):.0f}"
    )
    if args.scorer_alone:
        alone = measure_scorer_alone(case, args.requests, args.repeats, args.warm_up)
        print("us of process CPU a video, the scorer alone:", _listed(alone, ".0f"))
        print(f"scorer alone / app: {statistics.median(alone) / statistics.median(costs):.0%}")


def _listed(values: list[float], form: str) -> str:
    return (
        f"{', '.join(format(v, form) for v in values)} (median {statistics.median(values):{form}})"
    )


if __name__ == "__main__":
    main()
