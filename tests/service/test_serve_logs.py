"""What `mizan serve` logs: one JSON object per line, from its worker processes too, at the
level MIZAN_LOG_LEVEL asks for."""

from __future__ import annotations

import json
import logging
import os
import subprocess
from pathlib import Path

import httpx
import pytest

from service import logs
from tests.service.served import CLI, served


def test_every_worker_logs_json_lines_at_the_level_asked(tmp_path: Path, redis_url: str) -> None:
    """Several workers are spawned interpreters, which start with logging unconfigured: their
    lines below WARNING were dropped, the rest printed bare. At debug, each decision is a line."""
    output = tmp_path / "serve.log"
    video_ids = [f"logged-{n}" for n in range(8)]
    with served(tmp_path, redis_url, workers=2, log=output, quiet=False, log_level="debug") as app:
        key = app.create_key("uploader")
        headers = {"Authorization": f"Bearer {key}"}
        for video_id in video_ids:  # a connection each: SO_REUSEPORT spreads them by hash
            with httpx.Client(base_url=app.base, headers=headers, timeout=30) as client:
                video = {
                    "video_id": video_id,
                    "creator_id": "c1",
                    "region": "PK",
                    "uploaded_at": "2023-03-01T10:00:00Z",
                    "title": "cricket highlights",
                }
                assert client.post("/v1/videos/score", json=video).status_code == 200
    lines = [line for line in output.read_text().splitlines() if line.strip()]
    plain = [line for line in lines if not line.startswith("{")]
    assert not plain, "\n".join(plain)  # uvicorn's and rq's lines too
    ours = [json.loads(line) for line in lines]
    scored = {line["video_id"]: line for line in ours if line["event"] == "video.scored"}
    assert sorted(scored) == video_ids
    assert {line["level"] for line in scored.values()} == {"debug"}
    assert all(line["action"] == "allow" for line in scored.values())
    assert "cricket" not in output.read_text()  # ids and outcomes only, never the content


def test_an_unknown_log_level_is_refused_before_anything_starts(tmp_path: Path) -> None:
    env = {**os.environ, "MIZAN_LOG_LEVEL": "loud", "MIZAN_STATE_DIR": str(tmp_path)}
    result = subprocess.run(
        [*CLI[:-1], "keys", "list"], env=env, capture_output=True, text=True, check=False
    )
    assert result.returncode == 2
    assert "MIZAN_LOG_LEVEL='loud': expected one of debug, info, warning" in result.stderr
    assert not any(tmp_path.iterdir())  # no database made


def test_the_level_defaults_to_info(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MIZAN_LOG_LEVEL", raising=False)
    assert logs.level_from_environment() == logging.INFO
    monkeypatch.setenv("MIZAN_LOG_LEVEL", " Warning ")
    assert logs.level_from_environment() == logging.WARNING
