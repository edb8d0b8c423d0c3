"""The model card: everything about a model version that is data, not code.

``models/<version>/card.json`` sits beside ``model.onnx``. Serving reads the labels, the n-gram
and windowing settings, the calibrated thresholds and the onnx file's sha256 from it; the rest
(metrics, training data hash, library versions, parity gap, training time) is the record a
reviewer needs to trust the version.

``models/ACTIVE`` names the version that serves.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path

from classifier.errors import ModelError
from classifier.features import NgramSpec
from classifier.metrics import Thresholds, thresholds_for_length
from classifier.video import Windowing

CARD_FILE = "card.json"
ONNX_FILE = "model.onnx"
ACTIVE_FILE = "ACTIVE"

JSONObject = Mapping[str, object]


@dataclass(frozen=True, slots=True)
class ModelCard:
    name: str
    version: str
    labels: tuple[str, ...]
    thresholds: Mapping[str, Thresholds]
    # label -> number of scored texts k -> thresholds for a video of k texts (see
    # classifier.evaluate.length_thresholds); empty for cards that predate it
    length_thresholds: Mapping[str, Mapping[str, Thresholds]]
    ngrams: NgramSpec
    windowing: Windowing
    normalisation_version: str
    onnx_sha256: str
    created_at: str
    training: JSONObject = field(default_factory=dict)
    metrics: JSONObject = field(default_factory=dict)
    baseline_metrics: JSONObject = field(default_factory=dict)
    parity: JSONObject = field(default_factory=dict)
    false_alarms_by_windows: JSONObject = field(default_factory=dict)
    libraries: Mapping[str, str] = field(default_factory=dict)

    def thresholds_for(self, label: str, texts: int) -> Thresholds:
        """Thresholds for a video whose score is the maximum over ``texts`` scored texts."""
        return thresholds_for_length(
            self.length_thresholds.get(label, {}), self.thresholds[label], texts
        )

    def to_json(self) -> str:
        body = asdict(self)
        body["labels"] = list(self.labels)
        return json.dumps(body, indent=2, ensure_ascii=False, sort_keys=False) + "\n"

    @classmethod
    def from_json(cls, text: str) -> ModelCard:
        try:
            body = json.loads(text)
            return cls(
                name=body["name"],
                version=body["version"],
                labels=tuple(body["labels"]),
                thresholds={
                    label: Thresholds(remove=t["remove"], review=t["review"])
                    for label, t in body["thresholds"].items()
                },
                length_thresholds={
                    label: {
                        k: Thresholds(remove=t["remove"], review=t["review"])
                        for k, t in table.items()
                    }
                    for label, table in body.get("length_thresholds", {}).items()
                },
                ngrams=NgramSpec(**body["ngrams"]),
                windowing=Windowing(**body["windowing"]),
                normalisation_version=body["normalisation_version"],
                onnx_sha256=body["onnx_sha256"],
                created_at=body["created_at"],
                training=body.get("training", {}),
                metrics=body.get("metrics", {}),
                baseline_metrics=body.get("baseline_metrics", {}),
                parity=body.get("parity", {}),
                false_alarms_by_windows=body.get("false_alarms_by_windows", {}),
                libraries=body.get("libraries", {}),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelError(f"not a valid model card: {exc}") from exc

    @classmethod
    def load(cls, model_dir: Path) -> ModelCard:
        path = model_dir / CARD_FILE
        try:
            return cls.from_json(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ModelError(f"cannot read {path}: {exc}") from exc


def active_version(models_dir: Path) -> str:
    try:
        version = (models_dir / ACTIVE_FILE).read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ModelError(f"no active model: cannot read {models_dir / ACTIVE_FILE}") from exc
    if not version:
        raise ModelError(f"{models_dir / ACTIVE_FILE} is empty")
    return version


def set_active_version(models_dir: Path, version: str) -> None:
    if not (models_dir / version / CARD_FILE).is_file():
        raise ModelError(f"no model card at {models_dir / version}")
    temporary = models_dir / f".{ACTIVE_FILE}.tmp"
    temporary.write_text(version + "\n", encoding="utf-8")
    temporary.replace(models_dir / ACTIVE_FILE)  # atomic: readers see the old or the new name
