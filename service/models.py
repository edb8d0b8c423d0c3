"""Loading the active model: one ONNX session per process and model file.

The cache key includes the onnx file's sha256 (from its card), so a retrained file under the
same version name is never served from a stale session.
"""

from __future__ import annotations

import functools
from pathlib import Path

from classifier import ModelCard, OnnxScorer, active_version


@functools.cache
def _scorer(model_dir: Path, onnx_sha256: str, threads: int) -> OnnxScorer:
    return OnnxScorer.from_dir(model_dir, threads=threads)


def load_active(models_dir: Path, threads: int = 1) -> OnnxScorer:
    model_dir = (models_dir / active_version(models_dir)).resolve()
    card = ModelCard.load(model_dir)
    return _scorer(model_dir, card.onnx_sha256, threads)
