"""What a pause costs the next model run: the scorer alone, back to back and after pauses.

The issue's baseline runs the scorer in a tight loop, each run right after the last, its
tables hot in the CPU's caches. A service under an open-loop load waits between requests,
and on a shared VM the neighbours' work evicts those tables meanwhile. This measures the
scorer alone (no app, no HTTP, one thread, one CPU) on service_throughput's cases: the CPU
time of one model run after pauses of 0, 1, 5 and 40 ms, each the median of ``--runs``.

    .venv/bin/python bench/cold_caches.py [--runs 200] [--cpu 0]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

from classifier import Video
from service.models import load_active
from service.settings import PROJECT_ROOT

sys.path.insert(0, str(PROJECT_ROOT))  # the sibling bench module, when run as a script
from bench.service_throughput import CASES, DEFAULT_CASES

PAUSES_S = (0.0, 0.001, 0.005, 0.040)


def model_cpu_us(case: dict[str, str], pause_s: float, runs: int) -> float:
    """Median thread CPU of one model run (one video) after a pause of ``pause_s``."""
    scorer = _SCORER
    video = [Video(**case)]
    costs = []
    for _ in range(runs):
        if pause_s:
            time.sleep(pause_s)
        started = time.thread_time()
        scorer.score_videos(video)
        costs.append(time.thread_time() - started)
    return 1e6 * statistics.median(costs)


_SCORER = load_active(PROJECT_ROOT / "models")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--cpu", type=int, default=0, help="pin this process to one CPU")
    args = parser.parse_args()
    os.sched_setaffinity(0, {args.cpu})
    print(f"{os.cpu_count()} cores; {args.runs} runs a cell; CPU {args.cpu}")
    print()
    header = " | ".join(f"after {1000 * pause:g} ms" for pause in PAUSES_S)
    print(f"| case | {header} |")
    print("|---|" + "---:|" * len(PAUSES_S))
    for name in DEFAULT_CASES:
        case = CASES[name]
        model_cpu_us(case, 0.0, args.runs)  # warm up
        # twice round, interleaved, so a slow minute of the VM is not one column's alone
        cells: dict[float, list[float]] = {pause: [] for pause in PAUSES_S}
        for _ in range(2):
            for pause in PAUSES_S:
                cells[pause].append(model_cpu_us(case, pause, args.runs))
        row = " | ".join(
            " / ".join(f"{value:,.0f}" for value in cells[pause]) for pause in PAUSES_S
        )
        print(f"| {name} | {row} |")
    print()
    print("us of CPU a model run (one video), median of the runs; each cell: two rounds")


if __name__ == "__main__":
    main()
