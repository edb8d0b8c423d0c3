"""The scoring fast path (service/score_fast_path.py) answers as the route would, and hands on
everything unusual: compared byte for byte with an app whose fast path is off."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest
from fastapi.testclient import TestClient
from starlette.types import Message

from service.app import create_app
from service.domain import Role
from service.settings import Settings
from tests.service.conftest import SPAM, KeyMaker, video
from tests.service.test_limits import all_rows

SCORE = "/v1/videos/score"
JSON = {"Content-Type": "application/json"}
# JSON all the same, but not the exact content type the fast path takes: the route answers
VIA_ROUTE = {"Content-Type": "application/json; charset=utf-8"}


def fast_path_count(client: TestClient, outcome: str) -> float:
    text = client.get("/metrics").text
    found = re.search(rf'^mizan_score_fast_path_total\{{outcome="{outcome}"\}} (\S+)$', text, re.M)
    return float(found.group(1)) if found else 0.0


def post(client: TestClient, body: bytes, headers: dict[str, str]) -> httpx.Response:
    return client.post(SCORE, content=body, headers=headers)


@pytest.fixture
def route_only(settings: Settings, client: TestClient) -> Iterator[TestClient]:
    """A second app on the same database and Redis, its fast path off. (Started after
    `client`, stopped before it: apps in one process stop in reverse order, app.py.)"""
    with TestClient(create_app(settings.model_copy(update={"score_fast_path": False}))) as other:
        yield other


def test_a_replay_is_the_same_bytes_from_the_fast_path_and_from_the_route(
    client: TestClient, uploader: dict[str, str]
) -> None:
    body = httpx.Request("POST", "/", json=video("same", **SPAM)).content
    answered, handed_on = fast_path_count(client, "answered"), fast_path_count(client, "handed_on")

    first = post(client, body, {**uploader, **JSON})
    from_route = post(client, body, {**uploader, **VIA_ROUTE})
    from_fast_path = post(client, body, {**uploader, **JSON})

    assert first.status_code == from_route.status_code == from_fast_path.status_code == 200
    assert first.json()["action"] == "remove"
    assert "Idempotent-Replayed" not in first.headers
    assert from_route.headers["Idempotent-Replayed"] == "true"
    assert from_fast_path.headers["Idempotent-Replayed"] == "true"
    assert from_fast_path.content == from_route.content  # the first decision, serialised alike
    assert from_fast_path.headers["content-type"] == from_route.headers["content-type"]
    assert fast_path_count(client, "answered") == answered + 2
    assert fast_path_count(client, "handed_on") == handed_on + 1


def _unusual_requests(make_key: KeyMaker) -> dict[str, tuple[bytes, dict[str, str]]]:
    uploader = make_key(Role.UPLOADER)

    def valid(**fields: object) -> bytes:
        return httpx.Request("POST", "/", json=video("odd", **fields)).content

    return {
        "no key": (valid(), JSON),
        "not a bearer key": (valid(), {"Authorization": "Basic dXNlcjpwYXNz", **JSON}),
        "unknown key": (valid(), {"Authorization": "Bearer mz_nokey_secret", **JSON}),
        "moderator's key": (valid(), {**make_key(Role.MODERATOR), **JSON}),
        "text/plain": (valid(), {**uploader, "Content-Type": "text/plain"}),
        "no content type": (valid(), uploader),
        "not JSON": (b'{"video_id": "odd", ', {**uploader, **JSON}),
        "a JSON list": (b"[1, 2]", {**uploader, **JSON}),
        "empty body": (b"", {**uploader, **JSON}),
        "fields missing": (b'{"video_id": "odd"}', {**uploader, **JSON}),
        "wrong type": (valid(title=["a list"]), {**uploader, **JSON}),
        "unknown region": (valid(region="ZZ"), {**uploader, **JSON}),
        "title too long": (valid(title="a" * 1001), {**uploader, **JSON}),
        "no text at all": (
            valid(title="", description="", hashtags=[], transcript=""),
            {**uploader, **JSON},
        ),
        "invalid UTF-8": (valid().replace(b"karahi", b"kar\xffahi"), {**uploader, **JSON}),
        "lone surrogate": (valid().replace(b"karahi", b"kar\\ud800ahi"), {**uploader, **JSON}),
    }


def test_every_unusual_request_gets_the_routes_answer_and_writes_nothing(
    client: TestClient, route_only: TestClient, make_key: KeyMaker
) -> None:
    handed_on = fast_path_count(client, "handed_on")
    before = all_rows(client)
    cases = _unusual_requests(make_key)
    for name, (body, headers) in cases.items():
        fast, route = post(client, body, headers), post(route_only, body, headers)
        assert 400 <= fast.status_code < 500, (name, fast.status_code, fast.text[:300])
        assert (fast.status_code, fast.content) == (route.status_code, route.content), name
        assert fast.headers["content-type"] == route.headers["content-type"], name
    assert all_rows(client) == before
    assert fast_path_count(client, "handed_on") == handed_on + len(cases)


def test_an_error_while_scoring_is_answered_by_the_apps_handlers(
    client: TestClient, route_only: TestClient, uploader: dict[str, str]
) -> None:
    assert client.post(SCORE, json=video("gone", **SPAM), headers=uploader).json()["action"] == (
        "remove"
    )
    edit = httpx.Request("POST", "/", json=video("gone", **{**SPAM, "title": "edited"})).content
    answered = fast_path_count(client, "answered")
    before = all_rows(client)

    fast = post(client, edit, {**uploader, **JSON})
    route = post(route_only, edit, {**uploader, **JSON})

    assert fast.status_code == 409, fast.text
    assert fast.headers["content-type"] == "application/problem+json"
    assert (fast.status_code, fast.content) == (route.status_code, route.content)
    assert fast_path_count(client, "answered") == answered + 1  # scored there, then refused
    assert all_rows(client) == before


def test_a_chunked_body_past_the_limit_is_413_and_writes_nothing(
    client: TestClient, settings: Settings, uploader: dict[str, str]
) -> None:
    def chunks() -> Iterator[bytes]:  # no Content-Length: counted while it is read
        yield b'{"video_id": "big", "creator_id": "c", "region": "PK", "title": "'
        for _ in range(settings.max_body_bytes // 1000 + 1):
            yield b"a" * 1000
        yield b'"}'

    before = all_rows(client)
    response = client.post(SCORE, content=chunks(), headers={**uploader, **JSON})
    assert response.status_code == 413, response.text[:300]
    assert response.headers["content-type"] == "application/problem+json"
    assert all_rows(client) == before


def test_a_client_gone_before_its_body_ended_is_not_scored(
    client: TestClient, uploader: dict[str, str]
) -> None:
    """The whole JSON came, then the client went before saying the body was complete: the
    route meets the disconnect too, and nothing is scored or written."""
    body = httpx.Request("POST", "/", json=video("left")).content
    messages: list[Message] = [
        {"type": "http.request", "body": body, "more_body": True},
        {"type": "http.disconnect"},
    ]
    sent: list[Message] = []

    async def receive() -> Message:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)

    headers = [(b"content-type", b"application/json")] + [
        (name.lower().encode(), value.encode()) for name, value in uploader.items()
    ]
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": SCORE,
        "raw_path": SCORE.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
        "state": {},
    }
    before = all_rows(client)
    handed_on = fast_path_count(client, "handed_on")
    assert client.portal is not None
    client.portal.call(client.app, scope, receive, send)
    assert all_rows(client) == before
    assert fast_path_count(client, "handed_on") == handed_on + 1
    (start,) = [m for m in sent if m["type"] == "http.response.start"]
    assert start["status"] == 400  # the route's answer to a body cut short (no one reads it)
