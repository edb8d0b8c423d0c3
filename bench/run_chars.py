"""How many characters the scorer should put into one onnxruntime run (classifier.scorer.RUN_CHARS).

    .venv/bin/python bench/run_chars.py [--data FILE] [--seconds 4] [--cpu 0]
        [--run-chars 400000,100000,50000,25000]

The scorer cuts a call's texts into runs of at most RUN_CHARS characters. One run's n-gram
keys and their sort buffers grow with its characters (about 4 keys a character, 8 bytes each),
and past the core's cache every key costs a miss. Measured on one CPU (the process pins itself
there), videos a second, for each run size and batch size:

- typical videos: validation texts of the training data as title, 30-word description, three
  hashtags and 300-word transcript (as bench/classifier_speed.py makes them), all different;
- distinct 1,500-word transcripts made of validation texts;
- the 1,500-word transcript of bench/service_throughput.py, the same video repeated (what the
  service is benchmarked with: its rounds put up to 16 copies into one call).

Needs the training data (validation split); prints a Markdown table.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from classifier_speed import make_inputs
from service_throughput import CASES

from classifier import OnnxScorer, Video
from classifier.card import active_version
from classifier.dataset import load_examples, split_examples
from classifier.train import TrainingConfig
from service.settings import PROJECT_ROOT, default_data_dir


def long_transcripts(validation: Sequence[str], count: int, title: str) -> list[Video]:
    rng = np.random.default_rng(3)
    videos = []
    for _ in range(count):
        words: list[str] = []
        while len(words) < 1500:
            words.extend(validation[int(rng.integers(len(validation)))].split())
        videos.append(Video(title=title, transcript=" ".join(words[:1500])))
    return videos


def videos_per_second(
    scorer: OnnxScorer, videos: Sequence[Video], batch: int, seconds: float
) -> float:
    """Calls of ``batch`` videos (taken in turn from ``videos``) for ``seconds``."""
    scorer.score_videos(videos[:batch])  # first call: onnxruntime's allocations
    scored, start, turn = 0, time.perf_counter(), 0
    while time.perf_counter() - start < seconds:
        scorer.score_videos([videos[(turn + k) % len(videos)] for k in range(batch)])
        turn += batch
        scored += batch
    return scored / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=default_data_dir() / "train.jsonl")
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--cpu", type=int, default=0)
    parser.add_argument(
        "--run-chars",
        type=lambda text: [int(value) for value in text.split(",")],
        default=[400_000, 100_000, 50_000, 25_000],
    )
    args = parser.parse_args()
    os.sched_setaffinity(0, {args.cpu})
    config = TrainingConfig()
    validation = [
        e.text
        for e in split_examples(
            load_examples(args.data), config.validation_share, config.seed
        ).validation
    ]
    title, _, typical = make_inputs(validation)
    bench_case = CASES["1,500-word transcript"]
    repeated = [Video(title=bench_case["title"], transcript=bench_case["transcript"])]
    inputs = {
        "typical videos, all different": (typical, (1, 32, 256)),
        "1,500-word transcripts, all different": (long_transcripts(validation, 32, title), (1, 16)),
        "service bench's 1,500-word transcript, repeated": (repeated, (1, 16)),
    }
    models = PROJECT_ROOT / "models"
    version = active_version(models)
    print(
        f"{dt.date.today().isoformat()}, model {version}, CPU {args.cpu}, {args.seconds} s a cell"
    )
    print()
    print(
        "| videos | characters a video | batch | "
        + " | ".join(f"run of {chars:,} chars: videos/s" for chars in args.run_chars)
        + " |"
    )
    print("|---|---:|---:|" + "---:|" * len(args.run_chars))
    scorers = {
        chars: OnnxScorer.from_dir(models / version, run_chars=chars) for chars in args.run_chars
    }
    for name, (videos, batches) in inputs.items():
        chars = int(
            np.mean([len(v.title) + len(v.description) + len(v.transcript) for v in videos])
        )
        for batch in batches:
            rates = [
                videos_per_second(scorers[run], videos, batch, args.seconds)
                for run in args.run_chars
            ]
            cells = " | ".join(f"{rate:,.0f}" for rate in rates)
            print(f"| {name} | {chars:,} | {batch} | {cells} |", flush=True)


if __name__ == "__main__":
    main()
