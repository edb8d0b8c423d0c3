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


WINDOW_COUNTS = (1, 2, 4, 8, 16, 32, 64)


def length_thresholds(
    benign_scores: npt.NDArray[np.floating],
    labels: Sequence[str],
    thresholds: Mapping[str, Thresholds],
    window_counts: Sequence[int] = WINDOW_COUNTS,
) -> dict[str, dict[str, Thresholds]]:
    """Per label and number of scored texts k, thresholds that keep a benign video's chance of
    being flagged at what it is for a single text.

    A video's score is the maximum over its k texts, so with a fixed threshold t a benign video
    is flagged with probability 1 - (1 - q)^k, where q is a single benign text's chance of
    reaching t. Raising the threshold to the benign score quantile 1 - q_k, with
    q_k = 1 - (1 - q)^(1/k), keeps it at q (assuming independent texts; windows of one
    transcript are correlated, so this errs towards fewer false alarms). Never below t.
    """
    result: dict[str, dict[str, Thresholds]] = {}
    for column, label in enumerate(labels):
        scores = np.sort(np.asarray(benign_scores[:, column], dtype=np.float64))
        per_k: dict[str, Thresholds] = {}
        for k in window_counts:
            adjusted = [
                _raise_for_length(scores, t, k)
                for t in (thresholds[label].remove, thresholds[label].review)
            ]
            per_k[str(k)] = Thresholds(remove=adjusted[0], review=adjusted[1])
        result[label] = per_k
    return result


def _raise_for_length(
    sorted_benign: npt.NDArray[np.float64], threshold: float | None, k: int
) -> float | None:
    if threshold is None or k == 1 or len(sorted_benign) == 0:
        return threshold
    single = float(np.mean(sorted_benign >= threshold))
    if single == 0.0:
        return threshold  # no benign text reaches it: nothing to correct with this sample
    per_text = 1.0 - (1.0 - single) ** (1.0 / k)
    quantile = float(np.quantile(sorted_benign, 1.0 - per_text, method="higher"))
    return max(threshold, quantile)


def false_alarms_by_windows(
    benign_scores: npt.NDArray[np.floating],
    positive_scores: Mapping[str, npt.NDArray[np.floating]],
    labels: Sequence[str],
    thresholds: Mapping[str, Thresholds],
    by_length: Mapping[str, Mapping[str, Thresholds]],
    seed: int,
    window_counts: Sequence[int] = WINDOW_COUNTS,
    videos: int = 2000,
) -> dict[str, object]:
    """How often a video is flagged as its transcript grows, with fixed and length thresholds.

    A benign video of k windows scores the maximum of k benign validation texts (drawn at
    random); a violating one the maximum of one positive text and k - 1 benign ones. "flagged"
    means removed or sent to review.
    """
    rng = np.random.default_rng(seed)
    result: dict[str, object] = {}
    for k in window_counts:
        picks = rng.integers(0, len(benign_scores), size=(videos, k))
        benign_max = benign_scores[picks].max(axis=1)  # [videos, labels]
        per_label: dict[str, object] = {}
        for i, label in enumerate(labels):
            fixed, adjusted = thresholds[label], by_length[label][str(k)]
            positives = positive_scores.get(label, np.zeros(0))
            one_bad = None
            if len(positives):
                # one violating text among k - 1 benign ones (the k = 1 video is just the text)
                worst_benign = benign_scores[picks[:, 1:], i].max(axis=1) if k > 1 else 0.0
                one_bad = np.maximum(
                    positives[rng.integers(0, len(positives), size=videos)], worst_benign
                )
            row: dict[str, object] = {}
            for name, t in (("fixed", fixed), ("by_length", adjusted)):
                row[f"benign_removed_{name}"] = _share(benign_max[:, i], t.remove)
                row[f"benign_flagged_{name}"] = _share(benign_max[:, i], _lowest(t))
                if one_bad is not None:
                    row[f"violating_flagged_{name}"] = _share(one_bad, _lowest(t))
            per_label[label] = row
        result[str(k)] = per_label
    return {"videos_per_point": videos, "windows": result}


def _lowest(t: Thresholds) -> float | None:
    present = [v for v in (t.remove, t.review) if v is not None]
    return min(present) if present else None


def _share(scores: npt.NDArray[np.floating], threshold: float | None) -> float | None:
    return None if threshold is None else _round(float(np.mean(scores >= threshold)))


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
