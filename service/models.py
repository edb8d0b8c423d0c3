"""Loading model versions: one ONNX session per process and model file.

The cache key includes the onnx file's sha256 (from its card), so a retrained file under the
same version name is never served from a stale session.
"""

from __future__ import annotations

import functools
from pathlib import Path

from classifier import ModelCard, OnnxScorer, active_version


# A few sessions: the lineup in force, the one before it (a rollback is instant), and a
# version checked before activation. Older ones are let go with the lineup that held them.
@functools.lru_cache(maxsize=4)
def _scorer(model_dir: Path, onnx_sha256: str, threads: int) -> OnnxScorer:
    return OnnxScorer.from_dir(model_dir, threads=threads)


def load_version(models_dir: Path, version: str, threads: int = 1) -> OnnxScorer:
    model_dir = (models_dir / version).resolve()
    card = ModelCard.load(model_dir)
    return _scorer(model_dir, card.onnx_sha256, threads)


def load_active(models_dir: Path, threads: int = 1) -> OnnxScorer:
    """The version models/ACTIVE names (the service asks service.model_registry instead)."""
    return load_version(models_dir, active_version(models_dir), threads)
