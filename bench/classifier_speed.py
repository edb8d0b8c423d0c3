"""scikit-learn's predict_proba against the ONNX scorer, on the same inputs, in one run.

    .venv/bin/python bench/classifier_speed.py [--data FILE] [--quick]

Trains the reference pipeline (same config and seed as the committed model, about 80 s) so the
scikit-learn side is the very pipeline the ONNX graph was exported from, then times:

- one title-sized text, and one 1,500-word transcript (as the scorer windows it);
- batches of 1, 32 and 256 typical videos (title, description, hashtags, 300-word transcript);
- the ONNX scorer with 1 and 2 intra-op threads;
- where a call's time goes: normalisation, n-gram keys, onnxruntime (with its own profiler's
  per-operator split for the transcript).

Both sides get raw texts and normalise them (the pipeline's first step is the same function).
Prints a Markdown table for BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import onnxruntime as ort

from classifier import OnnxScorer, Video
from classifier.dataset import load_examples, split_examples
from classifier.features import encode
from classifier.normalise import normalise
from classifier.train import TrainingConfig, train
from classifier.video import video_units
from service.settings import default_data_dir


def timed(call: Callable[[], object], repeats: int) -> list[float]:
    call()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return times


def summary(times: Sequence[float], items: int) -> dict[str, float]:
    ordered = sorted(times)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return {
        "items_per_s": items / statistics.mean(times),
        "p50_ms": statistics.median(times) * 1000,
        "p99_ms": p99 * 1000,
    }


def make_inputs(validation: Sequence[str]) -> tuple[str, str, list[Video]]:
    rng = np.random.default_rng(7)
    short = [t for t in validation if 6 <= len(t.split()) <= 14]
    title = short[int(rng.integers(len(short)))]
    words: list[str] = []
    while len(words) < 1500:
        words.extend(validation[int(rng.integers(len(validation)))].split())
    transcript = " ".join(words[:1500])
    videos = []
    for _ in range(256):
        body: list[str] = []
        while len(body) < 300:
            body.extend(validation[int(rng.integers(len(validation)))].split())
        videos.append(
            Video(
                title=short[int(rng.integers(len(short)))],
                description=" ".join(body[:30]),
                hashtags=("#FunnyVideos", "#Pakistan", "#ForYou"),
                transcript=" ".join(body[:300]),
            )
        )
    return title, transcript, videos


def profile_onnx(scorer_bytes: bytes, scorer: OnnxScorer, texts: Sequence[str]) -> dict[str, float]:
    """Per-operator time (µs per call) from onnxruntime's profiler, for one batch of texts."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.enable_profiling = True
    options.profile_file_prefix = os.path.join(tempfile.mkdtemp(), "ort")
    session = ort.InferenceSession(scorer_bytes, options, providers=["CPUExecutionProvider"])
    batch = encode([normalise(t) for t in texts], scorer.card.ngrams)
    feeds = {
        "keys": batch.keys,
        "counts": batch.counts,
        "segments": batch.segments,
        "n_texts": np.array([batch.n_texts], dtype=np.int64),
    }
    runs = 50
    for _ in range(runs):
        session.run(None, feeds)
    trace = json.loads(Path(session.end_profiling()).read_text())
    per_op: dict[str, float] = defaultdict(float)
    for event in trace:
        if event.get("cat") == "Node" and event["name"].endswith("_kernel_time"):
            per_op[event["args"]["op_name"]] += event["dur"] / runs
    return dict(sorted(per_op.items(), key=lambda kv: -kv[1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=default_data_dir() / "train.jsonl")
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    args = parser.parse_args()
    scale = 0.2 if args.quick else 1.0

    config = TrainingConfig()
    print(f"training the reference pipeline on {args.data} ...", flush=True)
    trained = train(args.data, config, "bench")
    pipeline = trained.pipeline
    scorers = {
        threads: OnnxScorer(trained.onnx_model, trained.card, threads=threads) for threads in (1, 2)
    }
    examples = load_examples(args.data)
    validation = [
        e.text for e in split_examples(examples, config.validation_share, config.seed).validation
    ]
    title, transcript, videos = make_inputs(validation)
    transcript_units = [
        u.text for u in video_units(Video(transcript=transcript), trained.card.windowing)
    ]

    rows = []

    def compare(name: str, texts: list[str], items: int, repeats: int) -> None:
        repeats = max(5, int(repeats * scale))
        sk = summary(timed(lambda: pipeline.predict_proba(texts), repeats), items)
        result = {"case": name, "texts": len(texts), "sklearn": sk}
        for threads, scorer in scorers.items():
            result[f"onnx_{threads}t"] = summary(
                timed(lambda s=scorer: s.score_texts(texts), repeats), items
            )
        result["speedup"] = sk["p50_ms"] / result["onnx_1t"]["p50_ms"]  # type: ignore[index]
        rows.append(result)
        print(json.dumps(result), flush=True)

    compare("title (1 text)", [title], 1, 2000)
    compare("1,500-word transcript", transcript_units, 1, 200)
    for size in (1, 32, 256):
        batch = videos[:size]
        texts = [u.text for v in batch for u in video_units(v, trained.card.windowing)]
        compare(f"batch of {size} videos", texts, size, {1: 1000, 32: 60, 256: 10}[size])

    scorer = scorers[1]
    split = {}
    normalised = [normalise(t) for t in transcript_units]
    split["normalise_ms"] = (
        statistics.median(timed(lambda: [normalise(t) for t in transcript_units], 200)) * 1000
    )
    split["encode_ms"] = (
        statistics.median(timed(lambda: encode(normalised, scorer.card.ngrams), 200)) * 1000
    )
    split["score_normalised_ms"] = (
        statistics.median(timed(lambda: scorer.score_normalised(normalised), 200)) * 1000
    )
    split["score_videos_ms"] = (
        statistics.median(timed(lambda: scorer.score_videos([Video(transcript=transcript)]), 200))
        * 1000
    )
    ops = profile_onnx(trained.onnx_model, scorer, transcript_units)

    print()
    print(
        f"machine: {len(os.sched_getaffinity(0))} cores; {dt.date.today().isoformat()}; "
        f"onnxruntime {ort.__version__}; model features "
        f"{json.dumps(trained.card.training['features'])}"
    )
    print()
    print(
        "| case | texts | sklearn items/s | p50 ms | p99 ms "
        "| ONNX (1 thread) items/s | p50 ms | p99 ms | ONNX (2 threads) p50 ms | p50 speed-up |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for row in rows:
        sk, o1, o2 = row["sklearn"], row["onnx_1t"], row["onnx_2t"]
        print(
            f"| {row['case']} | {row['texts']} | {sk['items_per_s']:.0f} | {sk['p50_ms']:.3f} | "
            f"{sk['p99_ms']:.3f} | {o1['items_per_s']:.0f} | {o1['p50_ms']:.3f} | "
            f"{o1['p99_ms']:.3f} | "
            f"{o2['p50_ms']:.3f} | {row['speedup']:.1f}x |"
        )
    print()
    print(
        "1,500-word transcript, where the ONNX path's time goes (p50, ms):",
        json.dumps({k: round(v, 3) for k, v in split.items()}),
    )
    print(
        "onnxruntime operators (µs per call):", json.dumps({k: round(v, 1) for k, v in ops.items()})
    )


if __name__ == "__main__":
    main()
