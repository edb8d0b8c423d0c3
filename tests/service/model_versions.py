"""A models folder with two real versions for the lifecycle tests: the committed reference model
(1.0.2, models/ACTIVE) and a small one trained here on the tiny set, whose scores differ, so a
response's scores show which version made them."""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path

from classifier.train import TrainingConfig, save, train
from service.settings import PROJECT_ROOT
from tests.classifier.tiny_data import write_tiny_data

REFERENCE = "1.0.2"
CHALLENGER = "2.0.0-tiny"


def two_versions(folder: Path) -> Path:
    models = folder / "models"
    models.mkdir(parents=True)
    shutil.copytree(PROJECT_ROOT / "models" / REFERENCE, models / REFERENCE)
    (models / "ACTIVE").write_text(REFERENCE + "\n", encoding="utf-8")
    data = write_tiny_data(folder / "tiny.jsonl")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # liblinear on a few dozen rows may not converge
        trained = train(
            data,
            TrainingConfig(word_min_df=1, char_min_df=1, validation_share=0.3),
            CHALLENGER,
        )
    save(trained, models, activate_if_first=False)
    return models


def broken_copy(models: Path, version: str) -> None:
    """A version whose onnx file no longer matches its card's sha256."""
    shutil.copytree(models / REFERENCE, models / version)
    card = models / version / "card.json"
    card.write_text(
        card.read_text(encoding="utf-8").replace(
            f'"version": "{REFERENCE}"', f'"version": "{version}"'
        ),
        encoding="utf-8",
    )
    with (models / version / "model.onnx").open("ab") as onnx:
        onnx.write(b"\0")
