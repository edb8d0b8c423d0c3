"""Every documented limit, at the limit (accepted) and one past it (refused, nothing written).

LIMITS must name every `max_*` setting: a new limit without a case here fails the test.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

import httpx
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from service.domain import Role
from service.settings import Settings
from service.tables import metadata
from tests.service.conftest import MISINFORMATION, SPAM, KeyMaker, video

DEFAULTS = Settings()


@dataclass(frozen=True)
class Caller:
    client: TestClient
    make_key: KeyMaker

    def post(self, path: str, role: Role, **kwargs: object) -> httpx.Response:
        return self.client.post(path, headers=self.make_key(role), **kwargs)  # type: ignore[arg-type]

    def score(self, body: dict[str, object]) -> httpx.Response:
        return self.post("/v1/videos/score", Role.UPLOADER, json=body)

    def claimed_review_item(self) -> tuple[str, dict[str, str]]:
        assert self.score(video("to-review", **MISINFORMATION)).json()["action"] == "review"
        moderator = self.make_key(Role.MODERATOR)
        claim = self.client.post("/v1/review/claim", headers=moderator)
        return claim.json()["item"]["item_id"], moderator

    def claimed_appeal(self) -> tuple[str, dict[str, str]]:
        assert self.score(video("to-appeal", **SPAM)).json()["action"] == "remove"
        appeal = self.post(
            "/v1/videos/to-appeal/appeals", Role.UPLOADER, json={"statement": "it is a joke"}
        )
        reviewer = self.make_key(Role.APPEALS_REVIEWER)
        claim = self.client.post("/v1/appeals/claim", headers=reviewer)
        assert claim.status_code == 200, claim.text
        return appeal.json()["appeal_id"], reviewer


def padded_json(body: dict[str, object], size: int) -> bytes:
    """``body`` as JSON of exactly ``size`` bytes (whitespace after the object is still JSON)."""
    raw = json.dumps(body).encode()
    assert len(raw) <= size
    return raw + b" " * (size - len(raw))


def raw_post(caller: Caller, path: str, content: bytes) -> httpx.Response:
    headers = {**caller.make_key(Role.UPLOADER), "Content-Type": "application/json"}
    return caller.client.post(path, content=content, headers=headers)


def _chars(n: int) -> str:
    return ("karahi " * (n // 7 + 1))[:n]


Send = Callable[[int], httpx.Response]


def _score(caller: Caller, make: Callable[[int], dict[str, object]]) -> Send:
    return lambda n: caller.score(make(n))


def _report(caller: Caller) -> Send:
    caller.score(video("r"))
    return lambda n: caller.post(
        "/v1/videos/r/reports", Role.UPLOADER, json={"reason": _chars(n), "reporter_id": "u"}
    )


def _appeal(caller: Caller) -> Send:
    caller.score(video("s", **SPAM))
    return lambda n: caller.post(
        "/v1/videos/s/appeals", Role.UPLOADER, json={"statement": _chars(n)}
    )


def _review_note(caller: Caller) -> Send:
    item_id, moderator = caller.claimed_review_item()
    return lambda n: caller.client.post(
        f"/v1/review/items/{item_id}/decision",
        json={"verdict": "approve", "note": _chars(n)},
        headers=moderator,
    )


# setting -> prepares what the request needs (a video, a claimed item) and returns a sender of
# the request with the limited quantity at n
LIMITS: dict[str, Callable[[Caller], Send]] = {
    "max_title_chars": lambda c: _score(c, lambda n: video("t", title=_chars(n))),
    "max_description_chars": lambda c: _score(c, lambda n: video("d", description=_chars(n))),
    "max_hashtags": lambda c: _score(c, lambda n: video("h", hashtags=["#food"] * n)),
    "max_hashtag_chars": lambda c: _score(c, lambda n: video("hc", hashtags=["#" + "a" * (n - 1)])),
    "max_transcript_chars": lambda c: _score(c, lambda n: video("tc", transcript=_chars(n))),
    "max_transcript_segments": lambda c: _score(
        c,
        lambda n: video(
            "ts", transcript=[{"start_s": i, "end_s": i + 1, "text": "ok"} for i in range(n)]
        ),
    ),
    "max_id_chars": lambda c: _score(c, lambda n: video("v" * n)),
    "max_batch_videos": lambda c: (
        lambda n: c.post(
            "/v1/videos/score-batch",
            Role.UPLOADER,
            json={"videos": [video(f"b{i}") for i in range(n)]},
        )
    ),
    "max_body_bytes": lambda c: (
        lambda n: raw_post(c, "/v1/videos/score", padded_json(video("bb"), n))
    ),
    "max_batch_body_bytes": lambda c: (
        lambda n: raw_post(c, "/v1/videos/score-batch", padded_json({"videos": [video("bbb")]}, n))
    ),
    "max_report_reason_chars": _report,
    "max_statement_chars": _appeal,
    "max_note_chars": _review_note,
}


def test_every_limit_has_a_case() -> None:
    settings = {name for name in Settings.model_fields if name.startswith("max_")}
    assert settings == set(LIMITS)


def all_rows(client: TestClient) -> dict[str, int]:
    """Rows per table, but the keys the test itself makes."""
    engine: sa.Engine = client.app.state.engine  # type: ignore[attr-defined]
    with engine.connect() as connection:
        return {
            table.name: int(connection.scalar(sa.select(sa.func.count()).select_from(table)) or 0)
            for table in metadata.sorted_tables
            if table.name != "api_keys"
        }


@pytest.mark.parametrize("name", sorted(LIMITS))
def test_at_the_limit_is_accepted(client: TestClient, make_key: KeyMaker, name: str) -> None:
    send = LIMITS[name](Caller(client, make_key))
    response = send(getattr(DEFAULTS, name))
    assert response.is_success, response.text[:500]


@pytest.mark.parametrize("name", sorted(LIMITS))
def test_one_past_the_limit_is_refused_and_writes_nothing(
    client: TestClient, make_key: KeyMaker, name: str
) -> None:
    send = LIMITS[name](Caller(client, make_key))
    before = all_rows(client)
    response = send(getattr(DEFAULTS, name) + 1)
    assert response.status_code == (413 if name.endswith("_bytes") else 422), response.text[:500]
    assert response.headers["content-type"] == "application/problem+json"
    assert all_rows(client) == before
