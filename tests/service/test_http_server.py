"""End-to-end paths through a real server: `mizan serve` with two uvicorn workers and the RQ
worker it starts, delivering webhooks to a real local receiver."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from redis import Redis

from tests.service.conftest import MISINFORMATION, SPAM, video
from tests.service.receiver import SECRET, Receiver
from tests.service.served import served


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver(fail_first=1)
    yield server
    server.close()


@pytest.fixture
def server(
    tmp_path: Path, redis: Redis, redis_url: str, receiver: Receiver
) -> Iterator[tuple[str, dict[str, str]]]:
    with served(
        tmp_path,
        redis_url,
        workers=2,
        webhook_url=receiver.url,
        webhook_secret=SECRET,
        webhook_retry_intervals_s="[1, 1, 1]",
    ) as running:
        key = running.create_key("uploader", "moderator", name="e2e")
        yield running.base, {"Authorization": f"Bearer {key}"}


def test_score_views_history_and_metrics_through_a_real_server(
    server: tuple[str, dict[str, str]],
) -> None:
    base, headers = server
    with httpx.Client(base_url=base, headers=headers, timeout=30) as client:
        spam = client.post("/v1/videos/score", json=video("e1", **SPAM))
        assert spam.status_code == 200
        assert spam.json()["action"] == "remove"
        replay = client.post("/v1/videos/score", json=video("e1", **SPAM))
        assert replay.headers["idempotent-replayed"] == "true"
        assert replay.json()["decision_id"] == spam.json()["decision_id"]
        benign = client.post("/v1/videos/score", json=video("e2")).json()
        assert benign["action"] == "allow"
        assert client.post("/v1/videos/e2/views", json={"views": 12}).json()["views"] == 12
        history = client.get("/v1/videos/e2").json()["history"]
        assert [e["type"] for e in history] == ["scored", "views_updated"]
        bad = client.post("/v1/videos/score", json=video("e3", region="ZZ"))
        assert bad.status_code == 422
        assert bad.headers["content-type"] == "application/problem+json"
        # bodies sent in chunks (no Content-Length) reach the scoring fast path as several
        # messages: read whole when within the limit, refused with 413 past it
        body = json.dumps(video("e4")).encode()
        pieces = (body[i : i + 16] for i in range(0, len(body), 16))
        as_json = {"Content-Type": "application/json"}
        chunked = client.post("/v1/videos/score", content=pieces, headers=as_json)
        assert chunked.json()["action"] == "allow"
        endless = (b'{"title": "' if i == 0 else b"a" * 4096 for i in range(300))
        too_big = client.post("/v1/videos/score", content=endless, headers=as_json)
        assert too_big.status_code == 413
        assert too_big.headers["content-type"] == "application/problem+json"
        # both workers' counters are summed (prometheus multiprocess mode)
        metrics = client.get("/metrics").text
        assert (
            'mizan_decisions_total{action="remove",label="spam",model_version="1.0.2"} 1.0'
            in metrics
        )
        assert (
            'mizan_decisions_total{action="allow",label="none",model_version="1.0.2"} 2.0'
            in metrics
        )
        # the scoring fast path answered e1 twice, e2 and e4; the route answered the rest
        assert 'mizan_score_fast_path_total{outcome="answered"} 4.0' in metrics
        assert 'mizan_score_fast_path_total{outcome="handed_on"} 2.0' in metrics


def test_review_and_webhooks_through_a_real_server(
    server: tuple[str, dict[str, str]], receiver: Receiver
) -> None:
    base, headers = server
    with httpx.Client(base_url=base, headers=headers, timeout=30) as client:
        scored = client.post("/v1/videos/score", json=video("r1", **MISINFORMATION)).json()
        assert (scored["action"], scored["visibility"]) == ("review", "limited")
        queues = client.get("/v1/review/queues").json()
        assert queues["waiting"] == 1
        claim = client.post("/v1/review/claim")
        assert claim.status_code == 200
        item = claim.json()["item"]
        assert claim.json()["content"]["title"] == MISINFORMATION["title"]
        assert 0 < item["lease_remaining_s"] <= 600
        decision = {"verdict": "remove", "label": "misinformation", "note": "false cure"}
        url = f"/v1/review/items/{item['item_id']}/decision"
        decided = client.post(url, json=decision)
        assert decided.status_code == 200, decided.text
        assert decided.json()["video"]["status"] == "removed"
        again = client.post(url, json=decision)
        assert again.status_code == 409
        assert again.headers["content-type"] == "application/problem+json"
        assert client.post("/v1/review/claim").status_code == 204
        history = [e["type"] for e in client.get("/v1/videos/r1").json()["history"]]
        assert history == ["scored", "queued_for_review", "claimed", "human_removed"]
    # the worker `mizan serve` started delivers it, after one refused attempt
    deadline = time.monotonic() + 30
    while not receiver.accepted and time.monotonic() < deadline:
        time.sleep(0.2)
    [(event_id, times)] = receiver.accepted.items()
    assert times == 1
    assert receiver.payloads[event_id]["type"] == "removed"
    assert receiver.payloads[event_id]["video_id"] == "r1"
