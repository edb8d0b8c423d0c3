"""Train, export, calibrate and document a model version (training-time only).

    examples -> seeded stratified split (train / validation)
             -> normalise -> word (1-2) + char (2-5) TF-IDF -> one logistic regression per label
             -> ONNX (classifier.export) -> scores of the validation split through onnxruntime
             -> thresholds (classifier.metrics.calibrate) and metrics -> models/<version>/card.json

The ONNX scores, not scikit-learn's, are calibrated, because they are what serves. A plain
TF-IDF + logistic regression baseline is fitted on the same split and its metrics recorded
beside ours. Everything is seeded: training again on the same file gives the same split and,
on a CPU like the training one (the card records its SIMD levels and BLAS kernels), the same
card; on another, metrics and thresholds a few thousandths away
(tests/classifier/test_reference_model.py).

Only this module and classifier.export import scikit-learn.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import importlib.metadata
import logging
import os
import platform
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import numpy.typing as npt
from scipy import sparse
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.multiclass import OneVsRestClassifier
from sklearn.pipeline import FeatureUnion, FunctionTransformer, Pipeline
from tqdm import tqdm

from classifier.card import ACTIVE_FILE, CARD_FILE, ONNX_FILE, ModelCard, set_active_version
from classifier.dataset import (
    Example,
    Split,
    file_sha256,
    label_matrix,
    load_examples,
    split_examples,
)
from classifier.evaluate import evaluate_scores, false_alarms_by_windows, length_thresholds
from classifier.export import SparseNgramLinear, export_onnx
from classifier.features import TOKEN_PATTERN, NgramSpec
from classifier.metrics import Thresholds, calibrate
from classifier.normalise import NORMALISATION_VERSION, normalise
from classifier.scorer import OnnxScorer
from classifier.video import Windowing

log = logging.getLogger(__name__)

# Labels of the reference data, in the DATASHEET's order; other labels sort after, by name.
REFERENCE_LABELS = ("hate_speech", "harassment", "spam", "misinformation")
MODEL_NAME = "mizan-ngram-linear"


@dataclass(frozen=True, slots=True)
class TrainingConfig:
    seed: int = 20231
    validation_share: float = 0.15
    ngrams: NgramSpec = field(default_factory=NgramSpec)
    windowing: Windowing = field(default_factory=Windowing)
    word_min_df: int = 2
    char_min_df: int = 3
    word_max_features: int = 150_000
    char_max_features: int = 250_000
    inverse_regularisation: float = 8.0
    # A label whose positives all carry another label (hate_speech: every row is harassment too,
    # DATASHEET) learns P(child | parent) on the parent's positives, served as
    # P(parent) * P(child | parent). Measured on the validation split: hate_speech AP 0.588 flat,
    # 0.601 nested.
    nest_labels: bool = True
    nested_inverse_regularisation: float = 4.0
    target_precision: float = 0.95
    target_recall: float = 0.90
    # Weight of a human-confirmed example (`mizan export-labels`) against an original one when
    # fitting. 1 treats them alike; above 1 lets a few hundred people's decisions on real
    # traffic count against tens of thousands of reference rows.
    human_weight: float = 1.0


class PerLabelLogistic(ClassifierMixin, BaseEstimator):  # type: ignore[misc]
    """One logistic regression per label, fitted in turn with a progress bar.

    A top-level label is fitted on every row with balanced class weights. A nested label
    (``nested[child] = parent``, column indices) is fitted on the parent's positive rows only,
    without class weights, and its probability is multiplied by the parent's.

    OneVsRestClassifier cannot nest, has no progress bar, and its n_jobs fails on FeatureUnion
    output (read-only buffers); one label at a time is fast enough here.
    """

    def __init__(
        self,
        inverse_regularisation: float = 1.0,
        seed: int = 0,
        nested: dict[int, int] | None = None,
        nested_inverse_regularisation: float = 1.0,
    ) -> None:
        self.inverse_regularisation = inverse_regularisation
        self.seed = seed
        self.nested = nested
        self.nested_inverse_regularisation = nested_inverse_regularisation

    def fit(
        self,
        features: sparse.csr_matrix,
        targets: npt.NDArray[np.uint8],
        sample_weight: npt.NDArray[np.float64] | None = None,
    ) -> PerLabelLogistic:
        nested = self.nested or {}
        weights = np.ones(targets.shape[0]) if sample_weight is None else sample_weight
        coefs, intercepts = [], []
        for column in tqdm(range(targets.shape[1]), desc="fit labels", unit="label"):
            rows = slice(None)
            options: dict[str, object] = {
                "C": self.inverse_regularisation,
                "class_weight": "balanced",
            }
            if column in nested:
                rows = targets[:, nested[column]] == 1
                options = {"C": self.nested_inverse_regularisation, "class_weight": None}
            model = LogisticRegression(
                solver="liblinear", max_iter=1000, random_state=self.seed, **options
            )
            model.fit(features[rows], targets[rows, column], sample_weight=weights[rows])
            coefs.append(model.coef_[0])
            intercepts.append(model.intercept_[0])
        self.coef_ = np.vstack(coefs)
        self.intercept_ = np.array(intercepts)
        return self

    def decision_function(self, features: sparse.csr_matrix) -> npt.NDArray[np.float64]:
        logits: npt.NDArray[np.float64] = np.asarray(features @ self.coef_.T) + self.intercept_
        return logits

    def predict_proba(self, features: sparse.csr_matrix) -> npt.NDArray[np.float64]:
        probabilities = 1.0 / (1.0 + np.exp(-self.decision_function(features)))
        for child, parent in (self.nested or {}).items():
            probabilities[:, child] *= probabilities[:, parent]
        return probabilities


def nested_labels(targets: npt.NDArray[np.uint8]) -> dict[int, int]:
    """child -> parent where every positive of the child is a positive of the parent."""
    nested: dict[int, int] = {}
    counts = targets.sum(axis=0)
    for child in range(targets.shape[1]):
        positives = targets[:, child] == 1
        parents = [
            parent
            for parent in range(targets.shape[1])
            if parent != child
            and counts[parent] > counts[child] > 0
            and bool(np.all(targets[positives, parent] == 1))
        ]
        if parents:  # the smallest superset is the closest parent
            nested[child] = min(parents, key=lambda p: int(counts[p]))
    # only one level: a parent that is itself nested would need a chain of products
    return {c: p for c, p in nested.items() if p not in nested}


def normalise_texts(texts: Sequence[str]) -> list[str]:
    return [normalise(text) for text in texts]


def build_features(config: TrainingConfig) -> FeatureUnion:
    spec = config.ngrams
    return FeatureUnion(
        [
            (
                "word",
                TfidfVectorizer(
                    lowercase=False,  # normalise() has case-folded already
                    token_pattern=TOKEN_PATTERN,
                    ngram_range=(spec.word_min_n, spec.word_max_n),
                    min_df=config.word_min_df,
                    max_features=config.word_max_features,
                    sublinear_tf=spec.sublinear_tf,
                ),
            ),
            (
                "char",
                TfidfVectorizer(
                    lowercase=False,
                    analyzer="char",
                    ngram_range=(spec.char_min_n, spec.char_max_n),
                    min_df=config.char_min_df,
                    max_features=config.char_max_features,
                    sublinear_tf=spec.sublinear_tf,
                ),
            ),
        ]
    )


def ordered_labels(examples: Sequence[Example]) -> tuple[str, ...]:
    found = {label for example in examples for label in example.labels}
    rank = {label: i for i, label in enumerate(REFERENCE_LABELS)}
    return tuple(sorted(found, key=lambda label: (rank.get(label, len(rank)), label)))


@dataclass(frozen=True, slots=True)
class TrainedModel:
    pipeline: Pipeline  # raw texts in, probabilities out: the scikit-learn reference
    card: ModelCard
    onnx_model: bytes


def train(
    data_path: Path,
    config: TrainingConfig,
    version: str,
    human_labels: Sequence[Path] = (),
) -> TrainedModel:
    """Fit, export and calibrate; nothing is written (see `save`).

    ``human_labels``: files of `mizan export-labels`, added to the original data (an id seen
    again replaces the earlier row) and split like it, so people's decisions on real traffic
    are both learned from and calibrated on; the card records the mix.
    """
    started = time.perf_counter()
    original = load_examples(data_path)
    human = load_human_examples(human_labels)
    examples = merge_examples(original, human)
    labels = ordered_labels(examples)
    split = split_examples(examples, config.validation_share, config.seed)
    log.info(
        "training.split", extra={"train": len(split.train), "validation": len(split.validation)}
    )

    train_texts = normalise_texts(
        tqdm([e.text for e in split.train], desc="normalise", unit="text")
    )
    validation_texts = normalise_texts([e.text for e in split.validation])
    train_targets = label_matrix(split.train, labels)
    validation_targets = label_matrix(split.validation, labels)

    features = build_features(config)
    with tqdm(total=1, desc="vectorise", unit="pass") as bar:
        train_matrix = features.fit_transform(train_texts)
        bar.update()
    nested = nested_labels(train_targets) if config.nest_labels else {}
    human_ids = {example.id for example in human}
    weights = np.array(
        [config.human_weight if e.id in human_ids else 1.0 for e in split.train], dtype=np.float64
    )
    classifier = PerLabelLogistic(
        config.inverse_regularisation, config.seed, nested, config.nested_inverse_regularisation
    ).fit(train_matrix, train_targets, sample_weight=weights)
    pipeline = Pipeline(
        [
            ("normalise", FunctionTransformer(normalise_texts)),
            ("features", features),
            ("classify", classifier),
        ]
    )

    word, char = (features.transformer_list[i][1] for i in (0, 1))
    parents = [nested.get(i, -1) for i in range(len(labels))]
    exportable = SparseNgramLinear(
        word, char, classifier.coef_, classifier.intercept_, config.ngrams, parents
    )
    onnx_model = export_onnx(exportable, f"{MODEL_NAME}-{version}")
    onnx_sha256 = hashlib.sha256(onnx_model).hexdigest()

    draft = ModelCard(
        name=MODEL_NAME,
        version=version,
        labels=labels,
        thresholds={},
        length_thresholds={},
        ngrams=config.ngrams,
        windowing=config.windowing,
        normalisation_version=NORMALISATION_VERSION,
        onnx_sha256=onnx_sha256,
        created_at=dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat(),
    )
    scorer = OnnxScorer(onnx_model, draft)
    onnx_scores = scorer.score_normalised(validation_texts)
    sklearn_scores = classifier.predict_proba(features.transform(validation_texts))
    parity_gap = float(np.max(np.abs(onnx_scores - sklearn_scores)))

    thresholds = calibrate_labels(validation_targets, onnx_scores, labels, config)
    languages = [e.lang for e in split.validation]
    metrics = evaluate_scores(validation_targets, onnx_scores, languages, labels, thresholds)
    benign = onnx_scores[validation_targets.sum(axis=1) == 0]
    by_length = length_thresholds(benign, labels, thresholds)
    positives = {
        label: onnx_scores[validation_targets[:, i] == 1, i] for i, label in enumerate(labels)
    }
    false_alarms = false_alarms_by_windows(
        benign, positives, labels, thresholds, by_length, config.seed
    )
    baseline = _baseline_metrics(split.train, split.validation, labels, config)
    elapsed = time.perf_counter() - started

    card = replace(
        draft,
        thresholds=thresholds,
        length_thresholds=by_length,
        training={
            "data_file": data_path.name,
            "data_sha256": file_sha256(data_path),
            "rows": len(examples),
            "mix": {"original": len(examples) - len(human_ids), "human": len(human_ids)},
            "human_labels": human_mix(human, human_labels, split, config.human_weight),
            "train_rows": len(split.train),
            "validation_rows": len(split.validation),
            "validation_share": config.validation_share,
            "split": "stratified by (source, labels)",
            "seed": config.seed,
            "features": {
                "word": {
                    "ngrams": [config.ngrams.word_min_n, config.ngrams.word_max_n],
                    "min_df": config.word_min_df,
                    "vocabulary": len(word.vocabulary_),
                },
                "char": {
                    "ngrams": [config.ngrams.char_min_n, config.ngrams.char_max_n],
                    "min_df": config.char_min_df,
                    "vocabulary": len(char.vocabulary_),
                },
                "sublinear_tf": config.ngrams.sublinear_tf,
            },
            "classifier": {
                "kind": "logistic regression per label",
                "solver": "liblinear",
                "C": config.inverse_regularisation,
                "class_weight": "balanced",
                "nested": {labels[c]: labels[p] for c, p in nested.items()},
                "nested_C": config.nested_inverse_regularisation,
                "nested_note": "P(child) = P(parent) * P(child | parent), the latter fitted "
                "on the parent's positives without class weights",
            },
            "calibration": {
                "on": "onnx scores of the validation split",
                "remove": f"lowest threshold with precision >= {config.target_precision}",
                "review": f"highest threshold with recall >= {config.target_recall}",
            },
            "seconds": round(elapsed, 1),
            "machine": _machine(),
        },
        metrics=metrics,
        baseline_metrics=baseline,
        parity={
            "max_abs_difference": parity_gap,
            "texts": len(validation_texts),
            "compared": "onnxruntime vs scikit-learn predict_proba, validation split",
        },
        false_alarms_by_windows=false_alarms,
        libraries=_library_versions(),
    )
    return TrainedModel(pipeline=pipeline, card=card, onnx_model=onnx_model)


def load_human_examples(paths: Sequence[Path]) -> list[Example]:
    """Rows of `mizan export-labels` files, the last of an id winning."""
    latest: dict[str, Example] = {}
    for path in paths:
        for example in load_examples(path):
            latest[example.id] = example
    return list(latest.values())


def merge_examples(original: Sequence[Example], human: Sequence[Example]) -> list[Example]:
    replaced = {example.id for example in human}
    return [e for e in original if e.id not in replaced] + list(human)


def human_mix(
    human: Sequence[Example], paths: Sequence[Path], split: Split, weight: float
) -> dict[str, object] | None:
    """What the card records about the human-confirmed part of the training data."""
    if not paths:
        return None
    ids = {example.id for example in human}
    per_label: dict[str, int] = {}
    for example in human:
        for label in example.labels or ("benign",):
            per_label[label] = per_label.get(label, 0) + 1
    return {
        "files": [path.name for path in paths],
        "sha256": [file_sha256(path) for path in paths],
        "rows": len(human),
        "violations": sum(bool(example.labels) for example in human),
        "benign": sum(not example.labels for example in human),
        "per_label": dict(sorted(per_label.items())),
        "in_train": sum(e.id in ids for e in split.train),
        "in_validation": sum(e.id in ids for e in split.validation),
        "weight": weight,
    }


def save(model: TrainedModel, models_dir: Path, *, activate_if_first: bool = True) -> Path:
    out = models_dir / model.card.version
    out.mkdir(parents=True, exist_ok=True)
    (out / ONNX_FILE).write_bytes(model.onnx_model)
    (out / CARD_FILE).write_text(model.card.to_json(), encoding="utf-8")
    if activate_if_first and not (models_dir / ACTIVE_FILE).exists():
        set_active_version(models_dir, model.card.version)
    return out


def calibrate_labels(
    truth: npt.NDArray[np.uint8],
    scores: npt.NDArray[np.floating],
    labels: Sequence[str],
    config: TrainingConfig,
) -> dict[str, Thresholds]:
    return {
        label: calibrate(
            truth[:, i],
            scores[:, i],
            target_precision=config.target_precision,
            target_recall=config.target_recall,
        )
        for i, label in enumerate(labels)
    }


def _baseline_metrics(
    train_rows: Sequence[Example],
    validation_rows: Sequence[Example],
    labels: Sequence[str],
    config: TrainingConfig,
) -> dict[str, object]:
    """Plain TfidfVectorizer() + LogisticRegression on raw text: the bar our model must clear."""
    baseline = Pipeline(
        [
            ("tfidf", TfidfVectorizer()),
            ("classify", OneVsRestClassifier(LogisticRegression(max_iter=1000))),
        ]
    )
    with tqdm(total=1, desc="baseline", unit="fit") as bar:
        baseline.fit([e.text for e in train_rows], label_matrix(train_rows, labels))
        bar.update()
    scores = baseline.predict_proba([e.text for e in validation_rows])
    truth = label_matrix(validation_rows, labels)
    thresholds = calibrate_labels(truth, scores, labels, config)
    result = evaluate_scores(truth, scores, [e.lang for e in validation_rows], labels, thresholds)
    result["model"] = "TfidfVectorizer() + OneVsRest(LogisticRegression()), raw text"
    return result


def _library_versions() -> dict[str, str]:
    names = ("scikit-learn", "skl2onnx", "onnx", "onnxruntime", "numpy", "scipy")
    return {name: importlib.metadata.version(name) for name in names}


def _cpu_count() -> int:
    return len(os.sched_getaffinity(0))


def _machine() -> dict[str, object]:
    """What the card's numbers may depend on beyond data, seed and libraries: retrained on
    another CPU, 1.0.2 came out a few thousandths away (tests/classifier/test_reference_model.py).
    numpy, its BLAS and onnxruntime each pick SIMD code by what the CPU offers; the SIMD
    levels numpy found and the BLAS kernels in use say which CPUs should agree exactly."""
    from threadpoolctl import threadpool_info  # scikit-learn's dependency

    # what numpy.show_runtime() reads: numpy's own SIMD dispatch (numpy is pinned)
    features = importlib.import_module("numpy._core._multiarray_umath").__cpu_features__
    return {
        "cpus": _cpu_count(),
        "python": platform.python_version(),
        "simd": sorted(name for name, found in features.items() if found),
        "blas": sorted(
            f"{pool.get('internal_api')} {pool.get('architecture')}"
            for pool in threadpool_info()
            if pool.get("user_api") == "blas"
        ),
    }
