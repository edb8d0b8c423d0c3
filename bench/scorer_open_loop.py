"""The scorer alone as if it were the server: its latency under issue 3's open-loop load.

Issue 3 asks for a p99 under 50 ms at 70% of the scorer-alone throughput, offered open-loop.
This asks the same of the scorer alone, with nothing around it (no HTTP, no app, no log): one
thread on one CPU, requests arriving at Poisson times (bench/open_loop.py's schedule, the
same seed), each a model run of service_throughput's video, latency from its arrival to the
end of its run. Its rate is first measured closed-loop, back to back, as service_throughput's
baseline is; the load is then offered at shares of that rate. One at a time is the baseline
as the issue defines it; `--together` instead runs everything waiting in one model run, as the
service's scoring thread does (up to 16 videos).

    .venv/bin/python bench/scorer_open_loop.py [--seconds 15] [--cpu 0] [--shares 0.3,0.5,0.7]
"""

from __future__ import annotations

import argparse
import gc
import os
import random
import sys
import time

from classifier import OnnxScorer, Video
from service.models import load_active
from service.settings import PROJECT_ROOT

sys.path.insert(0, str(PROJECT_ROOT))  # the sibling bench module, when run as a script
from bench.service_throughput import CASES, DEFAULT_CASES

MAX_TOGETHER = 16  # the scoring thread's default round (MIZAN_COALESCE_MAX_VIDEOS)


def closed_loop_rate(scorer: OnnxScorer, video: Video, seconds: float) -> float:
    done, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        scorer.score_videos([video])
        done += 1
    return done / (time.perf_counter() - started)


def open_loop(
    scorer: OnnxScorer, video: Video, rate: float, seconds: float, together: bool, seed: int = 7
) -> dict[str, float]:
    """p50 and p99 latency (ms) and the rate achieved, arrivals at ``rate`` a second."""
    rng = random.Random(seed)
    arrivals, at = [], 0.0
    while at < seconds:
        at += rng.expovariate(rate)
        arrivals.append(at)
    latencies: list[float] = []
    start = time.perf_counter()
    next_index = 0
    while next_index < len(arrivals):
        now = time.perf_counter() - start
        if arrivals[next_index] > now:
            time.sleep(arrivals[next_index] - now)  # idle until the next arrival
            now = time.perf_counter() - start
        waiting = 1
        if together:
            while (
                next_index + waiting < len(arrivals)
                and arrivals[next_index + waiting] <= now
                and waiting < MAX_TOGETHER
            ):
                waiting += 1
        scorer.score_videos([video] * waiting)
        finished = time.perf_counter() - start
        latencies += [finished - arrivals[i] for i in range(next_index, next_index + waiting)]
        next_index += waiting
    elapsed = time.perf_counter() - start
    latencies.sort()
    return {
        "offered": len(arrivals) / seconds,
        "achieved": len(latencies) / elapsed,
        "p50_ms": 1000 * latencies[len(latencies) // 2],
        "p99_ms": 1000 * latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--cpu", type=int, default=0, help="pin this process to one CPU")
    parser.add_argument(
        "--shares",
        type=lambda text: [float(share) for share in text.split(",")],
        default=[0.3, 0.5, 0.7],
    )
    args = parser.parse_args()
    os.sched_setaffinity(0, {args.cpu})
    scorer = load_active(PROJECT_ROOT / "models")
    gc.freeze()  # as the service does once started: the model's objects out of the collector's scans
    print(f"{os.cpu_count()} cores; CPU {args.cpu}; {args.seconds:g} s a cell")
    print()
    print(
        "| case | closed-loop rate /s | share | offered /s | one at a time: achieved | p50 ms "
        "| p99 ms | all waiting together: achieved | p50 ms | p99 ms |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name in DEFAULT_CASES:
        video = Video(**CASES[name])
        closed_loop_rate(scorer, video, 2.0)  # warm up
        rate = closed_loop_rate(scorer, video, args.seconds / 2)
        for share in args.shares:
            alone = open_loop(scorer, video, share * rate, args.seconds, together=False)
            merged = open_loop(scorer, video, share * rate, args.seconds, together=True)
            print(
                f"| {name} | {rate:,.0f} | {share:.0%} | {alone['offered']:,.0f} "
                f"| {alone['achieved']:,.0f} | {alone['p50_ms']:.1f} | {alone['p99_ms']:.1f} "
                f"| {merged['achieved']:,.0f} | {merged['p50_ms']:.1f} | {merged['p99_ms']:.1f} |"
            )


if __name__ == "__main__":
    main()
