from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, roc_auc_score

from classifier.metrics import average_precision, calibrate, precision_recall_at, roc_auc


@pytest.mark.parametrize("seed", range(5))
def test_ranking_metrics_equal_sklearn(seed: int) -> None:
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, 2, size=500)
    scores = np.round(rng.random(500) * 0.5 + truth * 0.3, 2)  # rounding makes ties
    assert average_precision(truth, scores) == pytest.approx(average_precision_score(truth, scores))
    assert roc_auc(truth, scores) == pytest.approx(roc_auc_score(truth, scores))


def test_metrics_without_positives() -> None:
    assert average_precision(np.zeros(3), np.array([0.1, 0.2, 0.3])) is None
    assert roc_auc(np.zeros(3), np.array([0.1, 0.2, 0.3])) is None


def test_calibration_on_a_constructed_case() -> None:
    # 20 scores, descending. Positives at the ranks marked 1.
    scores = np.linspace(0.99, 0.04, 20)
    truth = np.array([1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0])
    # precision at rank k (1-based): ranks 1-9 -> 1.0; 10 -> 0.9; 11 -> 10/11=0.909;
    # ... 18 -> 17/18 = 0.944; 19 -> 17/19; 20 -> 17/20. Never >= 0.95 after rank 9,
    # so the remove threshold is the 9th score.
    # recall at rank k: 17 positives; recall >= 0.90 needs 16 of them (15.3 rounded up),
    # reached at rank 17 (positives in the first 17 ranks: 16), so the review threshold is
    # the 17th score.
    thresholds = calibrate(truth, scores, target_precision=0.95, target_recall=0.90)
    assert thresholds.remove == pytest.approx(scores[8])
    assert thresholds.review == pytest.approx(scores[16])
    assert precision_recall_at(truth, scores, scores[8]) == (1.0, pytest.approx(9 / 17))


def test_lowest_qualifying_threshold_even_after_a_dip() -> None:
    # The top score is a false positive (precision 0 at the top), yet further down the
    # precision recovers to 0.95: the lowest threshold reaching the target is chosen.
    scores = np.linspace(1.0, 0.01, 100)
    truth = np.array([0] + [1] * 40 + [0] * 59)
    thresholds = calibrate(truth, scores)
    # at rank 41 precision is 40/41 = 0.976; at rank 42, 40/42 = 0.952; at 43, 40/43 = 0.930
    assert thresholds.remove == pytest.approx(scores[41])


def test_a_label_that_cannot_reach_the_precision_has_no_remove_threshold() -> None:
    scores = np.linspace(1.0, 0.0, 10)
    truth = np.array([0, 1, 0, 1, 0, 1, 0, 1, 0, 1])
    thresholds = calibrate(truth, scores)
    assert thresholds.remove is None
    assert thresholds.review is not None


def test_length_thresholds_keep_the_benign_flag_rate() -> None:
    from classifier.evaluate import length_thresholds
    from classifier.metrics import Thresholds, thresholds_for_length

    rng = np.random.default_rng(0)
    benign = rng.random((100_000, 1))
    fixed = {"spam": Thresholds(remove=0.99, review=0.9)}  # single-text rates 1% and 10%
    table = length_thresholds(benign, ["spam"], fixed, window_counts=(1, 10))["spam"]
    assert table["1"] == fixed["spam"]
    # for 10 texts: per-text rate 1 - 0.99**(1/10), i.e. the 0.999 quantile of a uniform
    assert table["10"].remove == pytest.approx(1 - (1 - (1 - 0.01) ** 0.1), abs=2e-3)
    ten = benign[rng.integers(0, len(benign), size=(20_000, 10)), 0].max(axis=1)
    assert np.mean(ten >= table["10"].remove) == pytest.approx(0.01, abs=0.003)
    assert np.mean(ten >= table["10"].review) == pytest.approx(0.10, abs=0.01)
    assert np.mean(ten >= fixed["spam"].review) > 0.6  # what a fixed threshold would do
    # lookup: the largest k not above the video's text count
    assert thresholds_for_length(table, fixed["spam"], 3) == table["1"]
    assert thresholds_for_length(table, fixed["spam"], 50) == table["10"]
    assert thresholds_for_length({}, fixed["spam"], 50) == fixed["spam"]


def test_length_thresholds_never_lower_and_keep_none() -> None:
    from classifier.evaluate import length_thresholds
    from classifier.metrics import Thresholds

    benign = np.zeros((100, 1))  # no benign text reaches any threshold
    fixed = {"x": Thresholds(remove=None, review=0.5)}
    table = length_thresholds(benign, ["x"], fixed, window_counts=(1, 8))["x"]
    assert table["8"] == Thresholds(remove=None, review=0.5)
