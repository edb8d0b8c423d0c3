"""Ranking metrics and threshold calibration in numpy (serving machines have no scikit-learn).

Definitions follow scikit-learn's, and the tests check them against it:
- average precision: sum over distinct thresholds of (R_n - R_{n-1}) * P_n;
- ROC-AUC: area under the ROC curve, ties counted half;
- a threshold t flags every score >= t.

Calibration, per label, on held-out scores:
- auto-remove threshold: the lowest t whose precision (over all scores >= t) reaches the target
  (0.95); None when no threshold does, and the label then never removes automatically;
- review threshold: the highest t whose recall still reaches the target (0.90).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

Scores = npt.NDArray[np.floating]
Truth = npt.NDArray[np.integer] | npt.NDArray[np.bool_]


@dataclass(frozen=True, slots=True)
class Curve:
    """Precision and recall at each distinct score, thresholds descending."""

    thresholds: npt.NDArray[np.float64]
    precision: npt.NDArray[np.float64]
    recall: npt.NDArray[np.float64]
    true_positives: npt.NDArray[np.int64]
    false_positives: npt.NDArray[np.int64]
    positives: int


@dataclass(frozen=True, slots=True)
class Thresholds:
    remove: float | None
    review: float | None


def threshold_curve(truth: Truth, scores: Scores) -> Curve:
    y = np.asarray(truth).astype(bool)
    s = np.asarray(scores, dtype=np.float64)
    order = np.argsort(-s, kind="mergesort")
    s, y = s[order], y[order]
    last_of_each_score = np.r_[np.flatnonzero(np.diff(s)), len(s) - 1]
    tp = np.cumsum(y)[last_of_each_score].astype(np.int64)
    fp = (last_of_each_score + 1 - tp).astype(np.int64)
    positives = int(y.sum())
    precision = tp / np.maximum(tp + fp, 1)
    recall = tp / positives if positives else np.zeros(len(tp))
    return Curve(s[last_of_each_score], precision, recall, tp, fp, positives)


def average_precision(truth: Truth, scores: Scores) -> float | None:
    curve = threshold_curve(truth, scores)
    if curve.positives == 0:
        return None
    recall_steps = np.diff(np.r_[0.0, curve.recall])
    return float(np.sum(recall_steps * curve.precision))


def roc_auc(truth: Truth, scores: Scores) -> float | None:
    curve = threshold_curve(truth, scores)
    negatives = len(np.asarray(truth)) - curve.positives
    if curve.positives == 0 or negatives == 0:
        return None
    tpr = np.r_[0.0, curve.true_positives / curve.positives]
    fpr = np.r_[0.0, curve.false_positives / negatives]
    return float(np.trapezoid(tpr, fpr))


def precision_recall_at(truth: Truth, scores: Scores, threshold: float) -> tuple[float, float]:
    y = np.asarray(truth).astype(bool)
    flagged = np.asarray(scores) >= threshold
    tp = int(np.sum(flagged & y))
    precision = tp / int(flagged.sum()) if flagged.any() else 1.0
    recall = tp / int(y.sum()) if y.any() else 0.0
    return precision, recall


def calibrate(
    truth: Truth, scores: Scores, *, target_precision: float = 0.95, target_recall: float = 0.90
) -> Thresholds:
    curve = threshold_curve(truth, scores)
    if curve.positives == 0:
        return Thresholds(remove=None, review=None)
    precise = np.flatnonzero(curve.precision >= target_precision)
    # thresholds are descending, so the last qualifying index is the lowest threshold
    remove = float(curve.thresholds[precise[-1]]) if len(precise) else None
    recalled = np.flatnonzero(curve.recall >= target_recall)
    review = float(curve.thresholds[recalled[0]]) if len(recalled) else None
    return Thresholds(remove=remove, review=review)


def thresholds_for_length(
    table: Mapping[str, Thresholds], fallback: Thresholds, texts: int
) -> Thresholds:
    """The row of a label's length table for a video of ``texts`` scored texts (the largest
    k <= texts; beyond the table, its last row)."""
    most = max(texts, 1)
    usable = [k for k in map(int, table) if k <= most]  # (each key parsed once: scoring path)
    return table[str(max(usable))] if usable else fallback
