"""Labeled examples in the training-data JSONL schema (see the data's DATASHEET.md).

One JSON object per line: ``id``, ``text``, ``labels`` (a subset of the label set; empty means
benign), ``lang``, ``source``. `mizan export-labels` writes human decisions in the same schema, so
a later training can append them.

The validation split is carved from the training file, stratified by (source, labels) so every
source and label mix is represented in both parts, and seeded so it is the same every time.

Imports numpy and the standard library only.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from classifier.errors import ClassifierError


@dataclass(frozen=True, slots=True)
class Example:
    id: str
    text: str
    labels: tuple[str, ...]
    lang: str
    source: str


@dataclass(frozen=True, slots=True)
class Split:
    train: tuple[Example, ...]
    validation: tuple[Example, ...]


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def load_examples(path: Path) -> list[Example]:
    examples = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                examples.append(
                    Example(
                        id=str(row["id"]),
                        text=str(row["text"]),
                        labels=tuple(row.get("labels") or ()),
                        lang=str(row.get("lang") or "und"),
                        source=str(row.get("source") or "unknown"),
                    )
                )
            except (ValueError, KeyError, TypeError) as exc:
                raise ClassifierError(f"{path}:{number}: not a training example: {exc}") from exc
    if not examples:
        raise ClassifierError(f"{path}: no examples")
    return examples


def split_examples(examples: Sequence[Example], validation_share: float, seed: int) -> Split:
    strata: dict[tuple[str, tuple[str, ...]], list[int]] = defaultdict(list)
    for index, example in enumerate(examples):
        strata[(example.source, tuple(sorted(example.labels)))].append(index)
    rng = np.random.default_rng(seed)
    held_out: set[int] = set()
    for key in sorted(strata):
        members = strata[key]
        count = round(len(members) * validation_share)
        if count:
            held_out.update(int(i) for i in rng.choice(members, size=count, replace=False))
    train = tuple(e for i, e in enumerate(examples) if i not in held_out)
    validation = tuple(e for i, e in enumerate(examples) if i in held_out)
    return Split(train, validation)


def label_matrix(examples: Sequence[Example], labels: Sequence[str]) -> np.ndarray:
    """Examples x labels indicator matrix (uint8)."""
    index = {label: i for i, label in enumerate(labels)}
    matrix = np.zeros((len(examples), len(labels)), dtype=np.uint8)
    for row, example in enumerate(examples):
        for label in example.labels:
            if label in index:
                matrix[row, index[label]] = 1
    return matrix
