"""What a pause costs the next model run: the scorer alone, back to back and after pauses.

The issue's baseline runs the scorer in a tight loop, each run right after the last, its
tables hot in the CPU's caches. A service under an open-loop load waits between requests,
and on a shared VM the neighbours' work evicts those tables meanwhile. This measures the
scorer alone (no app, no HTTP, one thread, one CPU) on service_throughput's cases: the CPU
time of one model run after pauses of 0, 1, 5 and 40 ms, each the median of ``--runs``.
`--spin` keeps a busy loop on the same CPU meanwhile (at nice 19, so it yields to the
scorer): the core then never sleeps, which separates its sleep states from the caches.

    .venv/bin/python bench/cold_caches.py [--runs 200] [--cpu 0] [--spin]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time

from classifier import OnnxScorer, Video
from service.models import load_active
from service.settings import PROJECT_ROOT

sys.path.insert(0, str(PROJECT_ROOT))  # the sibling bench module, when run as a script
from bench.service_throughput import CASES, DEFAULT_CASES

PAUSES_S = (0.0, 0.001, 0.005, 0.040)


def model_cpu_us(scorer: OnnxScorer, case: dict[str, str], pause_s: float, runs: int) -> float:
    """Median thread CPU of one model run (one video) after a pause of ``pause_s``."""
    video = [Video(**case)]
    costs = []
    for _ in range(runs):
        if pause_s:
            time.sleep(pause_s)
        started = time.thread_time()
        scorer.score_videos(video)
        costs.append(time.thread_time() - started)
    return 1e6 * statistics.median(costs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--cpu", type=int, default=0, help="pin this process to one CPU")
    parser.add_argument(
        "--spin", action="store_true", help="a busy loop at nice 19 on the same CPU meanwhile"
    )
    args = parser.parse_args()
    os.sched_setaffinity(0, {args.cpu})
    spinner = None
    if args.spin:
        spinner = subprocess.Popen(
            ["nice", "-n", "19", sys.executable, "-c", "while True: pass"],
            preexec_fn=lambda: os.sched_setaffinity(0, {args.cpu}),
        )
    try:
        measure(load_active(PROJECT_ROOT / "models"), args.runs, args.cpu, spinning=args.spin)
    finally:
        if spinner is not None:
            spinner.kill()
            spinner.wait()


def measure(scorer: OnnxScorer, runs: int, cpu: int, *, spinning: bool) -> None:
    spin = "; a busy loop at nice 19 on it meanwhile" if spinning else ""
    print(f"{os.cpu_count()} cores; {runs} runs a cell; CPU {cpu}{spin}")
    print()
    header = " | ".join(f"after {1000 * pause:g} ms" for pause in PAUSES_S)
    print(f"| case | {header} |")
    print("|---|" + "---:|" * len(PAUSES_S))
    for name in DEFAULT_CASES:
        case = CASES[name]
        model_cpu_us(scorer, case, 0.0, runs)  # warm up
        # twice round, interleaved, so a slow minute of the VM is not one column's alone
        cells: dict[float, list[float]] = {pause: [] for pause in PAUSES_S}
        for _ in range(2):
            for pause in PAUSES_S:
                cells[pause].append(model_cpu_us(scorer, case, pause, runs))
        row = " | ".join(
            " / ".join(f"{value:,.0f}" for value in cells[pause]) for pause in PAUSES_S
        )
        print(f"| {name} | {row} |")
    print()
    print("us of CPU a model run (one video), median of the runs; each cell: two rounds")


if __name__ == "__main__":
    main()
