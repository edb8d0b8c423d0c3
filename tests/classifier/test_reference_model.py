"""The committed reference model against the real training data.

Retrains it from the data (about 80 s, once per session): same data, seed and libraries must give
the same card, and the retrained scikit-learn pipeline is the reference for the ONNX parity check
on real validation texts.
"""

from __future__ import annotations

import re
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest

from classifier import ModelCard, OnnxScorer, active_version
from classifier.dataset import load_examples, split_examples
from classifier.train import TrainedModel, TrainingConfig, train

pytestmark = [pytest.mark.data, pytest.mark.slow]

AP_TARGETS = {"hate_speech": 0.60, "harassment": 0.985, "spam": 0.97, "misinformation": 0.95}
EMOJI = re.compile("[\U0001f300-\U0001faff\u2600-\u27bf]")


@pytest.fixture(scope="module")
def committed(models_dir: Path) -> ModelCard:
    return ModelCard.load(models_dir / active_version(models_dir))


@pytest.fixture(scope="module")
def retrained(data_file: Path, committed: ModelCard) -> TrainedModel:
    return train(data_file, TrainingConfig(), committed.version)


def test_committed_model_loads_and_matches_its_card(models_dir: Path, committed: ModelCard) -> None:
    scorer = OnnxScorer.from_dir(models_dir / committed.version)
    assert scorer.labels == ("hate_speech", "harassment", "spam", "misinformation")
    size_mb = (models_dir / committed.version / "model.onnx").stat().st_size / 1e6
    assert size_mb < 25


def test_validation_average_precision_meets_targets_and_beats_baseline(
    committed: ModelCard,
) -> None:
    overall = committed.metrics["overall"]
    baseline = committed.baseline_metrics["overall"]
    for label, target in AP_TARGETS.items():
        ours = overall[label]["average_precision"]  # type: ignore[index]
        assert ours >= target, f"{label}: AP {ours} < {target}"
        assert ours >= baseline[label]["average_precision"], label  # type: ignore[index]


# Retraining reproduced 1.0.2 exactly on the VMs this project ran on until 2026-12-04. On an
# AMD EPYC with AVX2 and no AVX-512, with the same data and library versions, its thresholds
# came out up to 0.0043 away and its metrics up to 0.0075 (one positive of 133 in the
# smallest group); the baseline's were the same. numpy, its BLAS and onnxruntime each pick
# SIMD code by CPU; which of them moved it is not pinned down. Cards trained since record
# the SIMD levels and BLAS kernels (card.training["machine"]): on a machine that matches,
# the card must come out the same to the byte.
THRESHOLD_TOLERANCE = 0.01
METRIC_TOLERANCE = 0.02


def test_training_again_gives_the_same_card(
    retrained: TrainedModel, committed: ModelCard, data_file: Path
) -> None:
    """Same data, seed and libraries: the same split (every count), the same baseline, and
    metrics and thresholds within what another CPU's floating point moves; on a CPU like the
    one that trained it (as its card records), the same card and ONNX bytes."""
    card = retrained.card
    assert card.libraries == committed.libraries, (
        "library versions differ from the card's: use constraints.txt"
    )
    assert card.training["data_sha256"] == committed.training["data_sha256"]
    assert card.baseline_metrics == committed.baseline_metrics
    assert_close(card.metrics, committed.metrics, METRIC_TOLERANCE)
    assert_close(
        {label: asdict(value) for label, value in card.thresholds.items()},
        {label: asdict(value) for label, value in committed.thresholds.items()},
        THRESHOLD_TOLERANCE,
    )
    overall = card.metrics["overall"]
    for label, target in AP_TARGETS.items():  # the retrained model still meets the targets
        assert overall[label]["average_precision"] >= target, label  # type: ignore[index]
    numerics = ("simd", "blas")
    machine, committed_machine = card.training["machine"], committed.training["machine"]
    if all(committed_machine.get(key) == machine[key] for key in numerics):  # type: ignore[attr-defined,index]
        assert card.metrics == committed.metrics
        assert card.thresholds == committed.thresholds
        assert card.onnx_sha256 == committed.onnx_sha256


def assert_close(ours: object, theirs: object, tolerance: float, path: str = "") -> None:
    """Counts, keys and None alike; floats within ``tolerance``."""
    if isinstance(theirs, dict):
        assert isinstance(ours, dict), path
        assert ours.keys() == theirs.keys(), path
        for key in theirs:
            assert_close(ours[key], theirs[key], tolerance, f"{path}/{key}")
    elif isinstance(theirs, float) and isinstance(ours, float):
        assert abs(ours - theirs) <= tolerance, (path, ours, theirs)
    else:
        assert ours == theirs, (path, ours, theirs)


def test_onnx_matches_sklearn_on_real_validation_texts(
    retrained: TrainedModel, data_file: Path
) -> None:
    config = TrainingConfig()
    validation = split_examples(
        load_examples(data_file), config.validation_share, config.seed
    ).validation
    texts = [e.text for e in validation]
    # the sample must hold what tokenisers get wrong
    assert len(texts) >= 1000
    assert sum(e.lang == "ur" for e in validation) >= 100  # Urdu script
    assert sum(e.lang == "ur-Latn" for e in validation) >= 100  # Roman Urdu
    assert sum(bool(EMOJI.search(t)) for t in texts) >= 100
    assert sum(any(c.isupper() for c in t) for t in texts) >= 1000
    scorer = OnnxScorer(retrained.onnx_model, retrained.card)
    gap = np.abs(scorer.score_texts(texts) - retrained.pipeline.predict_proba(texts))
    assert float(gap.max()) < 0.01
    assert float(gap.max()) < 1e-4  # in practice float32 rounding only
