"""mizan train / evaluate / score, end to end on the small data set."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from service.cli import main
from tests.classifier.conftest import TINY_CONFIG


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory, tiny_data: Path) -> Path:
    models = tmp_path_factory.mktemp("cli-models")
    # the tiny set needs min_df=1; the CLI trains with the reference config otherwise
    code = main(
        [
            "-q",
            "train",
            "--data",
            str(tiny_data),
            "--out",
            str(models),
            "--version",
            "9.9.9",
            "--min-df",
            "1",
            "--validation-share",
            str(TINY_CONFIG.validation_share),
        ]
    )
    assert code == 0
    return models / "9.9.9"


def test_train_writes_a_loadable_model(trained: Path) -> None:
    assert (trained / "model.onnx").is_file()
    assert json.loads((trained / "card.json").read_text())["version"] == "9.9.9"
    assert (trained.parent / "ACTIVE").read_text().strip() == "9.9.9"


def test_evaluate_prints_json_metrics(
    trained: Path, tiny_data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["-q", "evaluate", "--model", str(trained), "--data", str(tiny_data), "--json"])
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    assert out["rows"] == len(tiny_data.read_text().splitlines())
    assert set(out["overall"]) == {"hate_speech", "harassment", "spam", "misinformation"}


def test_evaluate_validation_split_reproduces_the_card(
    trained: Path, tiny_data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        [
            "-q",
            "evaluate",
            "--model",
            str(trained),
            "--data",
            str(tiny_data),
            "--split",
            "validation",
            "--json",
        ]
    )
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    card = json.loads((trained / "card.json").read_text())
    assert out["overall"] == card["metrics"]["overall"]


def test_evaluate_table(trained: Path, tiny_data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["-q", "evaluate", "--model", str(trained), "--data", str(tiny_data)]) == 0
    table = capsys.readouterr().out
    assert "average" not in table  # compact headers
    assert "harassment" in table
    assert "AP" in table


def test_score_round_trip_keeps_order_and_shape(trained: Path, tmp_path: Path) -> None:
    lines = [
        {"id": "a", "text": "you are a stupid idiot"},
        {
            "video_id": "v1",
            "title": "Free money",
            "hashtags": ["#FreeMoney"],
            "transcript": [{"start_s": 0, "end_s": 4, "text": "click here to claim your prize"}],
        },
        {"text": "یہ بہت اچھا گانا ہے"},
        {"title": "", "transcript": "garlic water cures covid"},
    ]
    source = tmp_path / "in.jsonl"
    source.write_text("\n".join(json.dumps(line, ensure_ascii=False) for line in lines) + "\n")
    # through the installed console script, as other tools will call it
    result = subprocess.run(
        [sys.executable, "-m", "service.cli", "score", "--model", str(trained), str(source)],
        capture_output=True,
        text=True,
        check=True,
    )
    outputs = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(outputs) == len(lines)
    assert outputs[0]["id"] == "a"
    assert outputs[1]["video_id"] == "v1"
    for out in outputs:
        assert set(out["scores"]) == {"hate_speech", "harassment", "spam", "misinformation"}
        assert all(0.0 <= p <= 1.0 for p in out["scores"].values())
        assert out["model_version"] == "9.9.9"
    assert "evidence" not in outputs[0]
    spam = next(e for e in outputs[1]["evidence"] if e["label"] == "spam")
    assert spam["field"] in {"title", "hashtags", "transcript"}


def test_score_reports_a_bad_line(trained: Path, tmp_path: Path) -> None:
    source = tmp_path / "bad.jsonl"
    source.write_text('{"text": "fine"}\nnot json\n')
    assert main(["-q", "score", "--model", str(trained), str(source)]) == 1


def test_missing_model_is_a_clean_failure(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text('{"text": "x"}\n')
    assert main(["-q", "score", "--model", str(tmp_path / "nope"), str(source)]) == 1
    assert "cannot read" in capsys.readouterr().err
