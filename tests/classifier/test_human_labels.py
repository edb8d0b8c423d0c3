"""Training on the original data plus human-confirmed labels (`mizan export-labels` files):
the mix in the card, an id seen again replacing the original row, the weight taking effect."""

from __future__ import annotations

import json
import warnings
from dataclasses import replace
from pathlib import Path

import pytest

from classifier.dataset import load_examples
from classifier.train import TrainedModel, train
from service.cli import main
from tests.classifier.conftest import TINY_CONFIG

HUMAN = [  # what export-labels writes: a confirmed removal, an approval, a restoration
    {"id": "mizan:v1:1", "text": "claim your free prize now, send your number", "labels": ["spam"]},
    {"id": "mizan:v2:1", "text": "my grandmother's halwa recipe", "labels": []},
    {"id": "tiny:0", "text": "those people are vermin", "labels": []},  # replaces a tiny row
]


@pytest.fixture(scope="module")
def human_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("human") / "labels.jsonl"
    with path.open("w", encoding="utf-8") as sink:
        for row in HUMAN:
            sink.write(json.dumps({**row, "lang": "en", "source": "mizan"}) + "\n")
    return path


def fit(data: Path, human: list[Path], weight: float = 1.0) -> TrainedModel:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # liblinear on a few dozen rows may not converge
        return train(data, replace(TINY_CONFIG, human_weight=weight), "0.0.2-test", human)


def test_the_card_records_the_mix(tiny_data: Path, human_file: Path) -> None:
    original = len(load_examples(tiny_data))
    card = fit(tiny_data, [human_file]).card
    assert card.training["rows"] == original + 2  # one human row replaced an original one
    assert card.training["mix"] == {"original": original - 1, "human": 3}
    mix = card.training["human_labels"]
    assert isinstance(mix, dict)
    assert (mix["rows"], mix["violations"], mix["benign"]) == (3, 1, 2)
    assert mix["per_label"] == {"benign": 2, "spam": 1}
    assert mix["in_train"] + mix["in_validation"] == 3
    assert mix["files"] == [human_file.name]
    assert mix["weight"] == 1.0


def test_the_weight_changes_the_model(tiny_data: Path, human_file: Path) -> None:
    plain = fit(tiny_data, [human_file], 1.0).card
    weighted = fit(tiny_data, [human_file], 20.0).card
    assert plain.onnx_sha256 != weighted.onnx_sha256
    assert fit(tiny_data, []).card.training["human_labels"] is None


def test_mizan_train_takes_human_labels(tiny_data: Path, human_file: Path, tmp_path: Path) -> None:
    code = main(
        [
            "-q",
            "train",
            "--data",
            str(tiny_data),
            "--human-labels",
            str(human_file),
            "--human-weight",
            "3",
            "--out",
            str(tmp_path),
            "--version",
            "9.9.8",
            "--min-df",
            "1",
            "--validation-share",
            str(TINY_CONFIG.validation_share),
        ]
    )
    assert code == 0
    card = json.loads((tmp_path / "9.9.8" / "card.json").read_text(encoding="utf-8"))
    assert card["training"]["human_labels"]["weight"] == 3.0
    assert card["training"]["mix"]["human"] == 3
