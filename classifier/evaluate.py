"""Per-label and per-language metrics of a model's scores, as recorded in the model card.

Used by training (on the validation split) and by ``mizan evaluate`` (on any labeled file).
numpy only.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence

import numpy as np
import numpy.typing as npt

from classifier.metrics import Thresholds, average_precision, precision_recall_at, roc_auc

# Languages with fewer validation rows than this get no separate table (ja/ko/zh: a dozen rows).
MIN_LANGUAGE_ROWS = 50


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 6)


def label_metrics(
    truth: npt.NDArray[np.integer], scores: npt.NDArray[np.floating], thresholds: Thresholds
) -> dict[str, object]:
    positives = int(truth.sum())
    row: dict[str, object] = {
        "rows": len(truth),
        "positives": positives,
        "roc_auc": _round(roc_auc(truth, scores)),
        "average_precision": _round(average_precision(truth, scores)),
    }
    for name, threshold in (("remove", thresholds.remove), ("review", thresholds.review)):
        row[f"{name}_threshold"] = _round(threshold)
        if threshold is None or positives == 0:
            row[f"precision_at_{name}"] = row[f"recall_at_{name}"] = None
            continue
        precision, recall = precision_recall_at(truth, scores, threshold)
        row[f"precision_at_{name}"] = _round(precision)
        row[f"recall_at_{name}"] = _round(recall)
    return row


def evaluate_scores(
    truth: npt.NDArray[np.integer],
    scores: npt.NDArray[np.floating],
    languages: Sequence[str],
    labels: Sequence[str],
    thresholds: Mapping[str, Thresholds],
) -> dict[str, object]:
    """``{"overall": {label: metrics}, "by_language": {lang: {label: metrics}}}``."""
    overall = {
        label: label_metrics(truth[:, i], scores[:, i], thresholds[label])
        for i, label in enumerate(labels)
    }
    langs = np.asarray(languages)
    by_language: dict[str, object] = {}
    for lang, count in sorted(Counter(languages).items()):
        if count < MIN_LANGUAGE_ROWS:
            continue
        mask = langs == lang
        by_language[lang] = {
            label: label_metrics(truth[mask, i], scores[mask, i], thresholds[label])
            for i, label in enumerate(labels)
        }
    return {"overall": overall, "by_language": by_language}


def false_alarms_by_windows(
    benign_scores: npt.NDArray[np.floating],
    labels: Sequence[str],
    thresholds: Mapping[str, Thresholds],
    seed: int,
    window_counts: Sequence[int] = (1, 2, 4, 8, 16, 32),
    videos: int = 2000,
) -> dict[str, object]:
    """How often a benign video is flagged, as its transcript grows.

    A video of k windows scores the maximum of k benign texts' scores (drawn at random from the
    validation split's benign rows), so each extra window is one more chance of a false alarm.
    """
    rng = np.random.default_rng(seed)
    result: dict[str, object] = {}
    for k in window_counts:
        picks = rng.integers(0, len(benign_scores), size=(videos, k))
        video_max = benign_scores[picks].max(axis=1)  # [videos, labels]
        per_label: dict[str, object] = {}
        for i, label in enumerate(labels):
            t = thresholds[label]
            per_label[label] = {
                "removed": None
                if t.remove is None
                else _round(float(np.mean(video_max[:, i] >= t.remove))),
                "reviewed": None
                if t.review is None
                else _round(float(np.mean(video_max[:, i] >= t.review))),
            }
        result[str(k)] = per_label
    return {"videos_per_point": videos, "windows": result}


def format_table(metrics: Mapping[str, object]) -> str:
    """The metrics as a plain-text table: one line per (scope, label)."""
    header = (
        f"{'scope':<10} {'label':<16} {'rows':>6} {'pos':>6} {'ROC-AUC':>8} {'AP':>7} "
        f"{'remove@':>8} {'P':>6} {'R':>6} {'review@':>8} {'P':>6} {'R':>6}"
    )
    lines = [header, "-" * len(header)]
    scopes: list[tuple[str, Mapping[str, object]]] = [("all", metrics["overall"])]  # type: ignore[list-item]
    by_language = metrics.get("by_language", {})
    assert isinstance(by_language, Mapping)
    scopes.extend((lang, table) for lang, table in by_language.items())
    for scope, table in scopes:
        for label, row in table.items():
            assert isinstance(row, Mapping)
            lines.append(
                f"{scope:<10} {label:<16} {row['rows']:>6} {row['positives']:>6} "
                f"{_cell(row['roc_auc']):>8} {_cell(row['average_precision']):>7} "
                f"{_cell(row['remove_threshold']):>8} {_cell(row['precision_at_remove']):>6} "
                f"{_cell(row['recall_at_remove']):>6} {_cell(row['review_threshold']):>8} "
                f"{_cell(row['precision_at_review']):>6} {_cell(row['recall_at_review']):>6}"
            )
    return "\n".join(lines)


def _cell(value: object) -> str:
    return "-" if value is None else f"{value:.3f}" if isinstance(value, float) else str(value)
