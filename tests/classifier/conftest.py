from __future__ import annotations

import warnings
from pathlib import Path

import pytest

from classifier.train import TrainedModel, TrainingConfig, save, train
from tests.classifier.tiny_data import write_tiny_data

TINY_CONFIG = TrainingConfig(word_min_df=1, char_min_df=1, validation_share=0.3)


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny_data(tmp_path_factory.mktemp("data") / "tiny.jsonl")


@pytest.fixture(scope="session")
def tiny_model(tiny_data: Path) -> TrainedModel:
    with warnings.catch_warnings():
        # liblinear on a few dozen rows may warn that it did not converge; irrelevant here
        warnings.simplefilter("ignore")
        return train(tiny_data, TINY_CONFIG, "0.0.1-test")


@pytest.fixture(scope="session")
def tiny_models_dir(tiny_model: TrainedModel, tmp_path_factory: pytest.TempPathFactory) -> Path:
    models = tmp_path_factory.mktemp("models")
    save(tiny_model, models)
    return models
