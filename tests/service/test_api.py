"""The scoring API through TestClient, on SQLite and PostgreSQL, with the committed model."""

from __future__ import annotations

import gc
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from fastapi.testclient import TestClient

from service.app import create_app
from service.decision_log import DecisionLog
from service.settings import Settings
from tests.service.conftest import SPAM, video

Headers = dict[str, str]


def rows(client: TestClient) -> dict[str, int]:
    log: DecisionLog = client.app.state.decision_log  # type: ignore[attr-defined]
    return log.count_rows()


def test_score_removes_spam_with_evidence(client: TestClient, uploader: Headers) -> None:
    response = client.post("/v1/videos/score", json=video("v1", **SPAM), headers=uploader)
    assert response.status_code == 200
    decision = response.json()
    assert decision["action"] == "remove"
    assert (decision["status"], decision["visibility"], decision["label"]) == (
        "removed",
        "removed",
        "spam",
    )
    assert decision["model_version"] == "1.0.2"
    assert decision["policy_version"] == "2023-04-21"
    assert set(decision["scores"]) == {"hate_speech", "harassment", "spam", "misinformation"}
    first = decision["evidence"][0]
    assert first["label"] == "spam"
    assert first["score"] == decision["scores"]["spam"]
    assert decision["thresholds"]["spam"]["remove"] <= decision["scores"]["spam"]
    assert "Idempotent-Replayed" not in response.headers


def test_a_benign_video_is_allowed(client: TestClient, uploader: Headers) -> None:
    decision = client.post("/v1/videos/score", json=video("v1"), headers=uploader).json()
    assert (decision["action"], decision["status"], decision["visibility"]) == (
        "allow",
        "live",
        "public",
    )
    assert decision["label"] is None
    assert decision["evidence"] == []


def test_timed_transcript_evidence_points_to_the_moment(
    client: TestClient, uploader: Headers
) -> None:
    segments = [
        {
            "start_s": float(i * 5),
            "end_s": float(i * 5 + 5),
            "text": "we cook rice and lentils today",
        }
        for i in range(40)
    ]
    pitch = "text WIN to 80082 to claim your free prize now, urgent cash award, call to claim"
    for i in (30, 31, 32):  # 150 s to 165 s
        segments[i] = {"start_s": i * 5.0, "end_s": i * 5.0 + 5, "text": pitch}
    body = video("v1", title="Cooking", description="", hashtags=[], transcript=segments)
    decision = client.post("/v1/videos/score", json=body, headers=uploader).json()
    spam = (
        next(e for e in decision["evidence"] if e["label"] == "spam")
        if decision["evidence"]
        else None
    )
    assert spam is not None, decision
    assert spam["field"] == "transcript"
    assert spam["start_s"] < 165.0  # the window overlaps the pitch (150 s to 165 s)
    assert spam["end_s"] > 150.0
    assert "80082" in spam["text"]


def test_same_content_replays_the_first_decision(client: TestClient, uploader: Headers) -> None:
    first = client.post("/v1/videos/score", json=video("v1"), headers=uploader)
    before = rows(client)
    again = client.post("/v1/videos/score", json=video("v1", region="GB"), headers=uploader)
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert rows(client) == before


def test_the_cookie_session_is_the_consoles_alone(client: TestClient, uploader: Headers) -> None:
    # the session middleware runs under /console only (service/middleware.py OnlyUnder)
    scored = client.post("/v1/videos/score", json=video("v-cookie"), headers=uploader)
    assert scored.status_code == 200
    assert scored.headers["content-type"] == "application/json"
    assert "set-cookie" not in scored.headers
    sign_in = client.get("/console/login")
    assert sign_in.status_code == 200
    assert "mizan_console=" in sign_in.headers["set-cookie"]


def test_edited_content_is_scored_as_a_new_revision(client: TestClient, uploader: Headers) -> None:
    client.post("/v1/videos/score", json=video("v1"), headers=uploader)
    edited = client.post(
        "/v1/videos/score", json=video("v1", title="New title"), headers=uploader
    ).json()
    assert edited["revision"] == 2
    history = client.get("/v1/videos/v1", headers=uploader).json()["history"]
    assert [e["type"] for e in history] == ["scored", "scored"]


def test_concurrent_duplicates_produce_one_decision(client: TestClient, uploader: Headers) -> None:
    barrier = threading.Barrier(8)

    def post(_: int) -> str:
        barrier.wait()
        response = client.post("/v1/videos/score", json=video("v1", **SPAM), headers=uploader)
        assert response.status_code == 200
        return str(response.json()["decision_id"])

    with ThreadPoolExecutor(8) as pool:
        assert len(set(pool.map(post, range(8)))) == 1
    assert rows(client)["decisions"] == 1
    assert rows(client)["events"] == 2  # scored, auto_removed


def test_batch_returns_one_decision_per_video_in_order(
    client: TestClient, uploader: Headers
) -> None:
    videos = [video(f"b{i}", **(SPAM if i % 2 else {})) for i in range(6)]
    response = client.post("/v1/videos/score-batch", json={"videos": videos}, headers=uploader)
    assert response.status_code == 200
    decisions = response.json()["decisions"]
    assert [d["video_id"] for d in decisions] == [f"b{i}" for i in range(6)]
    assert [d["action"] for d in decisions] == ["allow", "remove"] * 3


def test_a_batch_with_a_conflict_writes_nothing(client: TestClient, uploader: Headers) -> None:
    client.post("/v1/videos/score", json=video("gone", **SPAM), headers=uploader)
    before = rows(client)
    batch = {"videos": [video("new"), video("gone", title="edited after removal")]}
    response = client.post("/v1/videos/score-batch", json=batch, headers=uploader)
    assert response.status_code == 409
    assert response.headers["content-type"] == "application/problem+json"
    assert rows(client) == before


def test_video_status_and_history(client: TestClient, uploader: Headers) -> None:
    client.post("/v1/videos/score", json=video("v1", **SPAM), headers=uploader)
    client.post("/v1/videos/v1/views", json={"views": 7}, headers=uploader)
    body = client.get("/v1/videos/v1", headers=uploader).json()
    assert (body["status"], body["views"], body["views_at_removal"]) == ("removed", 7, 0)
    assert body["decision"]["action"] == "remove"
    assert [e["type"] for e in body["history"]] == ["scored", "auto_removed", "views_updated"]
    assert client.get("/v1/videos/unknown", headers=uploader).status_code == 404


def test_views_and_reports(client: TestClient, uploader: Headers) -> None:
    client.post("/v1/videos/score", json=video("v1"), headers=uploader)
    assert (
        client.post("/v1/videos/v1/views", json={"views": 100}, headers=uploader).json()["views"]
        == 100
    )
    assert (
        client.post("/v1/videos/v1/views", json={"views": 50}, headers=uploader).json()["views"]
        == 100
    )
    report = {"reason": "hateful", "reporter_id": "user-9"}
    assert client.post("/v1/videos/v1/reports", json=report, headers=uploader).json() == {
        "video_id": "v1",
        "reports": 1,
        "counted": True,
    }
    assert (
        client.post("/v1/videos/v1/reports", json=report, headers=uploader).json()["counted"]
        is False
    )
    assert client.post("/v1/videos/nope/reports", json=report, headers=uploader).status_code == 404
    assert (
        client.post("/v1/videos/nope/views", json={"views": 1}, headers=uploader).status_code == 404
    )


LIMITS = Settings()


def _bad_bodies() -> list[tuple[str, object, int]]:
    base = video("bad")
    without = {k: v for k, v in base.items() if k != "region"}
    return [
        ("missing region", without, 422),
        ("missing video_id", {k: v for k, v in base.items() if k != "video_id"}, 422),
        ("title not a string", {**base, "title": 123}, 422),
        ("hashtags not a list", {**base, "hashtags": "#x"}, 422),
        ("segment without times", {**base, "transcript": [{"text": "x"}]}, 422),
        (
            "segment ends before it starts",
            {**base, "transcript": [{"start_s": 5, "end_s": 1, "text": "x"}]},
            422,
        ),
        ("negative start", {**base, "transcript": [{"start_s": -1, "end_s": 1, "text": "x"}]}, 422),
        ("unknown region", {**base, "region": "XX"}, 422),
        ("lower-case region", {**base, "region": "pk"}, 422),
        ("naive timestamp", {**base, "uploaded_at": "2023-03-01T10:00:00"}, 422),
        ("not a timestamp", {**base, "uploaded_at": "yesterday"}, 422),
        ("bad video id", {**base, "video_id": "has spaces"}, 422),
        ("bad language tag", {**base, "language": "english!!"}, 422),
        (
            "empty texts",
            {**base, "title": "", "description": " ", "hashtags": [], "transcript": ""},
            422,
        ),
        ("title past the limit", {**base, "title": "x" * (LIMITS.max_title_chars + 1)}, 422),
        ("too many hashtags", {**base, "hashtags": ["#a"] * (LIMITS.max_hashtags + 1)}, 422),
        (
            "transcript past the limit",
            {**base, "transcript": "a " * (LIMITS.max_transcript_chars // 2 + 1)},
            422,
        ),
        ("NUL character", {**base, "title": "a\u0000b"}, 422),
        ("Unix time for uploaded_at", {**base, "uploaded_at": 1677664800}, 422),
        ("Unix time as text", {**base, "uploaded_at": "1677664800"}, 422),
        ("a time without seconds", {**base, "uploaded_at": "2023-03-01T10:00Z"}, 422),
        ("a boolean for duration_s", {**base, "duration_s": True}, 422),
        ("not an object", [1, 2], 422),
    ]


@pytest.mark.parametrize(
    ("case", "body", "status"), _bad_bodies(), ids=[c[0] for c in _bad_bodies()]
)
def test_bad_input_is_refused_and_writes_nothing(
    client: TestClient, uploader: Headers, case: str, body: object, status: int
) -> None:
    before = rows(client)
    response = client.post("/v1/videos/score", json=body, headers=uploader)
    assert response.status_code == status, response.text
    problem = response.json()
    assert response.headers["content-type"] == "application/problem+json"
    assert problem["status"] == status
    assert problem["type"].startswith("/problems/")
    assert rows(client) == before


@pytest.mark.parametrize(
    ("case", "raw", "status"),
    [
        (
            "lone surrogate",
            b'{"video_id": "v", "creator_id": "c", "region": "PK", '
            b'"uploaded_at": "2023-03-01T10:00:00Z", "title": "\\ud800"}',
            422,
        ),
        (
            "invalid UTF-8",
            b'{"video_id": "v", "creator_id": "c", "region": "PK", '
            b'"uploaded_at": "2023-03-01T10:00:00Z", "title": "\xff\xfe"}',
            400,
        ),
        ("not JSON", b"video_id=v", 422),
        (
            "NaN seconds",
            b'{"video_id": "v", "creator_id": "c", "region": "PK", '
            b'"uploaded_at": "2023-03-01T10:00:00Z", '
            b'"transcript": [{"start_s": NaN, "end_s": 1, "text": "x"}]}',
            422,
        ),
        (
            "Infinity for duration_s",
            b'{"video_id": "v", "creator_id": "c", "region": "PK", '
            b'"uploaded_at": "2023-03-01T10:00:00Z", "title": "x", "duration_s": Infinity}',
            422,
        ),
        (
            "duration_s past a float's range",
            b'{"video_id": "v", "creator_id": "c", "region": "PK", '
            b'"uploaded_at": "2023-03-01T10:00:00Z", "title": "x", "duration_s": 1e309}',
            422,
        ),
    ],
)
def test_malformed_bodies_are_refused(
    client: TestClient, uploader: Headers, case: str, raw: bytes, status: int
) -> None:
    before = rows(client)
    response = client.post(
        "/v1/videos/score", content=raw, headers={**uploader, "Content-Type": "application/json"}
    )
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert rows(client) == before


def test_batch_size_limit(client: TestClient, uploader: Headers) -> None:
    videos = [video(f"v{i}") for i in range(LIMITS.max_batch_videos)]
    assert (
        client.post("/v1/videos/score-batch", json={"videos": videos}, headers=uploader).status_code
        == 200
    )
    before = rows(client)
    videos = [video(f"w{i}") for i in range(LIMITS.max_batch_videos + 1)]
    response = client.post("/v1/videos/score-batch", json={"videos": videos}, headers=uploader)
    assert response.status_code == 422
    assert rows(client) == before
    same = {"videos": [video("d1"), video("d1")]}
    assert client.post("/v1/videos/score-batch", json=same, headers=uploader).status_code == 422
    assert (
        client.post("/v1/videos/score-batch", json={"videos": []}, headers=uploader).status_code
        == 422
    )


def test_health_ready_metrics(client: TestClient, uploader: Headers) -> None:
    client.post("/v1/videos/score", json=video("v1", **SPAM), headers=uploader)
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz").json()
    assert ready["checks"] == {"model": "1.0.2", "scoring": "ok", "database": "ok", "redis": "ok"}
    text = client.get("/metrics").text
    assert 'mizan_decisions_total{action="remove",label="spam",model_version="1.0.2"}' in text
    assert 'mizan_model_score_count{label="spam",model_version="1.0.2"}' in text
    champion = 'mizan_model_info{policy_version="2023-04-21",role="champion",version="1.0.2"} 1.0'
    assert champion in text
    assert (
        'mizan_http_request_duration_seconds_count{method="POST",route="/v1/videos/score",status="200"}'
        in text
    )
    # decided on the scoring thread: at least this test's one scoring is counted
    (decided,) = [
        line for line in text.splitlines() if line.startswith("mizan_scoring_batch_videos_count")
    ]
    assert float(decided.split()[-1]) >= 1


def test_what_start_up_built_is_kept_out_of_the_collectors_way(settings: Settings) -> None:
    """Full collections would otherwise walk every library and model object (70 ms stops)."""
    gc.unfreeze()
    with TestClient(create_app(settings)):
        assert gc.get_freeze_count() > 50_000
    assert gc.get_freeze_count() == 0  # and given back when the app stops


def test_the_gil_switch_interval_is_the_setting_while_the_app_runs(settings: Settings) -> None:
    before = sys.getswitchinterval()
    assert before != 0.0025
    with TestClient(create_app(settings.model_copy(update={"gil_switch_interval_ms": 2.5}))):
        assert sys.getswitchinterval() == pytest.approx(0.0025)
    assert sys.getswitchinterval() == before


def test_unknown_routes_and_methods_are_problems(client: TestClient) -> None:
    missing = client.get("/v1/nothing-here")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
    assert client.get("/v1/videos/score").status_code in (401, 405)
