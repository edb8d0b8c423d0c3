"""The serving scorer: normalise, encode n-gram keys, one batched onnxruntime run.

One `OnnxScorer` per process (build it once at start-up): the InferenceSession is safe to `run()`
from several threads at once, and each run uses ``threads`` intra-op threads (1 by default: the
graph is a handful of small gathers and scatters, and a second thread only added overhead in
bench/classifier_speed.py; concurrency comes from serving several requests at once instead).

A video's score for a label is the maximum over its units (title, description, hashtags,
transcript windows); the unit that gave it is the evidence.

onnxruntime is untyped: its ``Any`` stays inside this module. Imports no scikit-learn.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import onnxruntime as ort

from classifier.card import ONNX_FILE, ModelCard
from classifier.errors import ModelError, ModelIntegrityError
from classifier.features import encode
from classifier.normalise import NORMALISATION_VERSION, normalise
from classifier.video import TextUnit, Video, video_units

EVIDENCE_CHARS = 500
# Texts are scored in runs of at most this many characters, which bounds a run's memory
# (about 4 keys per character, 40 bytes per key and label) whatever the batch size, and keeps
# a run's n-gram keys (8 bytes each) near the size of a core's cache: runs of 400,000
# characters scored 16 long transcripts or 256 typical videos 20-33% slower a video than runs
# of 50,000 (bench/run_chars.py; a single video is the same either way).
RUN_CHARS = 50_000

Probabilities = npt.NDArray[np.float32]


@dataclass(frozen=True, slots=True)
class Evidence:
    label: str
    field: str
    start_s: float | None
    end_s: float | None
    text: str
    score: float


@dataclass(frozen=True, slots=True)
class VideoScores:
    scores: Mapping[str, float]
    evidence: Mapping[str, Evidence]
    units: int


class OnnxScorer:
    def __init__(
        self, onnx_model: bytes, card: ModelCard, *, threads: int = 1, run_chars: int = RUN_CHARS
    ) -> None:
        if card.normalisation_version != NORMALISATION_VERSION:
            raise ModelError(
                f"model {card.version} was trained with normalisation "
                f"v{card.normalisation_version}, this code has v{NORMALISATION_VERSION}"
            )
        self.card = card
        self._run_chars = run_chars
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        try:
            self._session: Any = ort.InferenceSession(
                onnx_model, options, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # onnxruntime raises its own untyped errors
            raise ModelError(f"onnxruntime cannot load model {card.version}: {exc}") from exc

    @classmethod
    def from_dir(
        cls, model_dir: Path, *, threads: int = 1, run_chars: int = RUN_CHARS
    ) -> OnnxScorer:
        """Load ``model_dir``, refusing an onnx file whose sha256 differs from its card's."""
        card = ModelCard.load(model_dir)
        try:
            blob = (model_dir / ONNX_FILE).read_bytes()
        except OSError as exc:
            raise ModelError(f"cannot read {model_dir / ONNX_FILE}: {exc}") from exc
        actual = hashlib.sha256(blob).hexdigest()
        if actual != card.onnx_sha256:
            raise ModelIntegrityError(
                f"{model_dir / ONNX_FILE} has sha256 {actual}, its card says {card.onnx_sha256}"
            )
        return cls(blob, card, threads=threads, run_chars=run_chars)

    @property
    def version(self) -> str:
        return self.card.version

    @property
    def labels(self) -> tuple[str, ...]:
        return self.card.labels

    def score_normalised(self, texts: Sequence[str]) -> Probabilities:
        """Probabilities [texts, labels] for texts already passed through `normalise`."""
        result = np.zeros((len(texts), len(self.labels)), dtype=np.float32)
        begin = 0
        while begin < len(texts):
            end, chars = begin, 0
            while end < len(texts) and (end == begin or chars + len(texts[end]) <= self._run_chars):
                chars += len(texts[end])
                end += 1
            result[begin:end] = self._run(texts[begin:end])
            begin = end
        return result

    def score_texts(self, texts: Sequence[str]) -> Probabilities:
        return self.score_normalised([normalise(text) for text in texts])

    def score_videos(self, videos: Sequence[Video]) -> list[VideoScores]:
        """All units of all videos in one batch; per video the max per label and its evidence."""
        units_per_video = [video_units(video, self.card.windowing) for video in videos]
        flat = [unit for units in units_per_video for unit in units]
        probabilities = self.score_texts([unit.text for unit in flat])
        results, offset = [], 0
        for units in units_per_video:
            block = probabilities[offset : offset + len(units)]
            results.append(self._video_scores(units, block))
            offset += len(units)
        return results

    def _video_scores(self, units: Sequence[TextUnit], block: Probabilities) -> VideoScores:
        if not units:  # nothing to read: nothing to flag
            return VideoScores(dict.fromkeys(self.labels, 0.0), {}, 0)
        best = block.argmax(axis=0)
        scores, evidence = {}, {}
        for column, label in enumerate(self.labels):
            unit = units[int(best[column])]
            score = float(block[best[column], column])
            scores[label] = score
            evidence[label] = Evidence(
                label=label,
                field=unit.field,
                start_s=unit.start_s,
                end_s=unit.end_s,
                text=unit.text[:EVIDENCE_CHARS],
                score=score,
            )
        return VideoScores(scores, evidence, len(units))

    def _run(self, texts: Sequence[str]) -> Probabilities:
        batch = encode(texts, self.card.ngrams)
        feeds = {
            "keys": batch.keys,
            "counts": batch.counts,
            "segments": batch.segments,
            "n_texts": np.array([batch.n_texts], dtype=np.int64),
        }
        (probabilities,) = self._session.run(None, feeds)
        return np.asarray(probabilities, dtype=np.float32)
