"""The production training path (train -> export -> calibrate -> card) on a small data set."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from classifier import ModelCard, ModelIntegrityError, OnnxScorer, Video, active_version
from classifier.card import ACTIVE_FILE, ONNX_FILE
from classifier.train import TrainedModel
from classifier.video import TranscriptSegment

TEXTS = [
    "You are a STUPID IDIOT",
    "FREE MONEY click here NOW!!!",
    "garlic water cures covid 😂😂",
    "تم بہت گندے انسان ہو",
    "tu bohat ganda insaan hai",
    "a lovely day 🌞 at the beach",
    "",
    "x",
    "ﺑﮩﺖ اچھا 𝐟𝐫𝐞𝐞 𝐦𝐨𝐧𝐞𝐲",
]


def test_onnx_scores_equal_sklearn(tiny_model: TrainedModel) -> None:
    scorer = OnnxScorer(tiny_model.onnx_model, tiny_model.card)
    ours = scorer.score_texts(TEXTS)
    reference = tiny_model.pipeline.predict_proba(TEXTS)
    assert ours.shape == (len(TEXTS), 4)
    assert np.max(np.abs(ours - reference)) < 1e-5


def test_batches_and_runs_do_not_change_scores(tiny_model: TrainedModel) -> None:
    whole = OnnxScorer(tiny_model.onnx_model, tiny_model.card).score_texts(TEXTS)
    small_runs = OnnxScorer(tiny_model.onnx_model, tiny_model.card, run_chars=10)
    one_by_one = np.vstack([small_runs.score_texts([text]) for text in TEXTS])
    assert np.allclose(small_runs.score_texts(TEXTS), whole, atol=1e-7)
    assert np.allclose(one_by_one, whole, atol=1e-7)


def test_card_contents(tiny_models_dir: Path, tiny_data: Path) -> None:
    card = ModelCard.load(tiny_models_dir / "0.0.1-test")
    assert card.labels == ("hate_speech", "harassment", "spam", "misinformation")
    assert set(card.thresholds) == set(card.labels)
    for label in card.labels:
        for scope in (card.metrics, card.baseline_metrics):
            row = scope["overall"][label]  # type: ignore[index]
            for key in (
                "roc_auc",
                "average_precision",
                "precision_at_remove",
                "recall_at_remove",
                "precision_at_review",
                "recall_at_review",
                "remove_threshold",
                "review_threshold",
            ):
                assert key in row
    assert set(card.metrics["by_language"]) <= {"en", "ur", "ur-Latn"}  # type: ignore[arg-type]
    training = card.training
    import hashlib

    assert training["data_sha256"] == hashlib.sha256(tiny_data.read_bytes()).hexdigest()
    assert training["seconds"] > 0  # type: ignore[operator]
    assert set(card.libraries) >= {"scikit-learn", "skl2onnx", "onnxruntime", "numpy"}
    onnx = (tiny_models_dir / "0.0.1-test" / ONNX_FILE).read_bytes()
    assert card.onnx_sha256 == hashlib.sha256(onnx).hexdigest()
    assert card.parity["max_abs_difference"] < 1e-5  # type: ignore[operator]
    assert "1" in card.false_alarms_by_windows["windows"]  # type: ignore[operator]
    assert active_version(tiny_models_dir) == "0.0.1-test"  # the first version is made active


def test_scorer_refuses_a_model_that_does_not_match_its_card(
    tiny_models_dir: Path, tmp_path: Path
) -> None:
    copy = tmp_path / "0.0.1-test"
    shutil.copytree(tiny_models_dir / "0.0.1-test", copy)
    blob = bytearray((copy / ONNX_FILE).read_bytes())
    blob[-1] ^= 0xFF
    (copy / ONNX_FILE).write_bytes(bytes(blob))
    with pytest.raises(ModelIntegrityError):
        OnnxScorer.from_dir(copy)


def test_video_score_is_the_max_and_evidence_points_to_the_moment(tiny_models_dir: Path) -> None:
    scorer = OnnxScorer.from_dir(tiny_models_dir / "0.0.1-test")
    filler = "the weather forecast says rain tomorrow " * 30
    spam = "free money click here to claim your prize win a free iphone now"
    segments = (
        TranscriptSegment(0.0, 60.0, filler),
        TranscriptSegment(60.0, 70.0, spam),
        TranscriptSegment(70.0, 130.0, filler),
    )
    video = Video(title="my holiday", hashtags=("#TravelVlog",), transcript=segments)
    (result,) = scorer.score_videos([video])
    evidence = result.evidence["spam"]
    assert evidence.field == "transcript"
    assert evidence.start_s is not None
    assert evidence.end_s is not None
    assert evidence.start_s <= 60.0  # the window holds the spam
    assert evidence.end_s >= 70.0
    assert result.scores["spam"] == pytest.approx(evidence.score)
    units = scorer.score_texts(["my holiday", "#Travel Vlog"])
    assert result.scores["spam"] >= float(units[:, 2].max())
    assert result.units > 3


def test_a_video_without_text_scores_zero(tiny_models_dir: Path) -> None:
    scorer = OnnxScorer.from_dir(tiny_models_dir / "0.0.1-test")
    (result,) = scorer.score_videos([Video()])
    assert result.scores == dict.fromkeys(scorer.labels, 0.0)
    assert result.units == 0


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(), max_size=4))
def test_scoring_never_raises_on_arbitrary_unicode(
    tiny_model: TrainedModel, texts: list[str]
) -> None:
    scores = OnnxScorer(tiny_model.onnx_model, tiny_model.card).score_texts(texts)
    assert scores.shape == (len(texts), 4)
    assert np.all((scores >= 0) & (scores <= 1))


def test_active_pointer_and_card_round_trip(tiny_models_dir: Path) -> None:
    card = ModelCard.load(tiny_models_dir / "0.0.1-test")
    assert ModelCard.from_json(card.to_json()) == card
    assert (tiny_models_dir / ACTIVE_FILE).read_text().strip() == "0.0.1-test"
    assert json.loads(card.to_json())["version"] == "0.0.1-test"
