"""The scoring fast path (service/score_fast_path.py) answers as the route would, and hands on
everything unusual: compared byte for byte with an app whose fast path is off."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterator

import httpx
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from starlette.types import Message

from service.app import create_app
from service.domain import Role
from service.keys import KeyStore
from service.settings import Settings
from service.tables import contents
from tests.service.conftest import SPAM, KeyMaker, video
from tests.service.test_limits import all_rows

SCORE = "/v1/videos/score"
Headers = list[tuple[str, str]]  # pairs, so that a header can be sent twice
JSON = [("Content-Type", "application/json")]
# JSON all the same, but not the exact content type the fast path takes: the route answers
VIA_ROUTE = [("Content-Type", "application/json; charset=utf-8")]


def fast_path_count(client: TestClient, outcome: str) -> float:
    text = client.get("/metrics").text
    found = re.search(rf'^mizan_score_fast_path_total\{{outcome="{outcome}"\}} (\S+)$', text, re.M)
    return float(found.group(1)) if found else 0.0


def requests_seen(client: TestClient, status: int) -> float:
    """POST /v1/videos/score requests with this status in the latency histogram."""
    text = client.get("/metrics").text
    series = (
        "mizan_http_request_duration_seconds_count"
        rf'\{{method="POST",route="{SCORE}",status="{status}"\}}'
    )
    found = re.search(rf"^{series} (\S+)$", text, re.M)
    return float(found.group(1)) if found else 0.0


def post(client: TestClient, body: bytes, headers: Headers) -> httpx.Response:
    return client.post(SCORE, content=body, headers=headers)


def pairs(headers: dict[str, str]) -> Headers:
    return list(headers.items())


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

    first = post(client, body, pairs(uploader) + JSON)
    from_route = post(client, body, pairs(uploader) + VIA_ROUTE)
    from_fast_path = post(client, body, pairs(uploader) + JSON)

    assert first.status_code == from_route.status_code == from_fast_path.status_code == 200
    assert first.json()["action"] == "remove"
    assert "Idempotent-Replayed" not in first.headers
    assert from_route.headers["Idempotent-Replayed"] == "true"
    assert from_fast_path.headers["Idempotent-Replayed"] == "true"
    assert from_fast_path.content == from_route.content  # the first decision, serialised alike
    assert from_fast_path.headers.multi_items() == from_route.headers.multi_items()
    assert fast_path_count(client, "answered") == answered + 2
    assert fast_path_count(client, "handed_on") == handed_on + 1


def test_each_request_is_timed_once_with_its_status_on_either_path(
    client: TestClient, uploader: dict[str, str]
) -> None:
    """The fast path sits outside RequestMetrics: it times what it answers itself, and what it
    hands on is timed by RequestMetrics, never both."""
    seen = {status: requests_seen(client, status) for status in (200, 409, 422)}
    answered = fast_path_count(client, "answered")
    assert post(client, body_of(video("timed", **SPAM)), pairs(uploader) + JSON).status_code == 200
    edit = body_of(video("timed", **{**SPAM, "title": "edited"}))
    assert post(client, edit, pairs(uploader) + JSON).status_code == 409  # answered here too
    handed_on = body_of(video("timed2", region="ZZ"))
    assert post(client, handed_on, pairs(uploader) + JSON).status_code == 422

    assert fast_path_count(client, "answered") == answered + 2
    assert {status: requests_seen(client, status) - seen[status] for status in seen} == {
        200: 1,
        409: 1,
        422: 1,
    }


def body_of(fields: dict[str, object]) -> bytes:
    return httpx.Request("POST", "/", json=fields).content


def _unusual_requests(client: TestClient, make_key: KeyMaker) -> dict[str, tuple[bytes, Headers]]:
    uploader = pairs(make_key(Role.UPLOADER))
    moderator = pairs(make_key(Role.MODERATOR))
    store: KeyStore = client.app.state.keys  # type: ignore[attr-defined]
    revoked, plaintext = store.create("gone", [Role.UPLOADER], ["en"], dt.datetime.now(dt.UTC))
    store.revoke(revoked.key_id, dt.datetime.now(dt.UTC))

    def valid(**fields: object) -> bytes:
        return httpx.Request("POST", "/", json=video("odd", **fields)).content

    as_uploader = uploader + JSON
    return {
        "no key": (valid(), JSON),
        "not a bearer key": (valid(), [("Authorization", "Basic dXNlcjpwYXNz"), *JSON]),
        "unknown key": (valid(), [("Authorization", "Bearer mz_nokey_secret"), *JSON]),
        "revoked key": (valid(), [("Authorization", f"Bearer {plaintext}"), *JSON]),
        "moderator's key": (valid(), moderator + JSON),
        "moderator's key, then an uploader's": (valid(), moderator + uploader + JSON),
        "unknown key, and a body that does not parse": (
            b"{",
            [("Authorization", "Bearer mz_nokey_secret"), *JSON],
        ),
        "text/plain": (valid(), [*uploader, ("Content-Type", "text/plain")]),
        "text/plain, then JSON": (valid(), [*uploader, ("Content-Type", "text/plain"), *JSON]),
        "no content type": (valid(), uploader),
        "not JSON": (b'{"video_id": "odd", ', as_uploader),
        "a JSON list": (b"[1, 2]", as_uploader),
        "empty body": (b"", as_uploader),
        "fields missing": (b'{"video_id": "odd"}', as_uploader),
        "wrong type": (valid(title=["a list"]), as_uploader),
        "unknown region": (valid(region="ZZ"), as_uploader),
        "title too long": (valid(title="a" * 1001), as_uploader),
        "no text at all": (
            valid(title="", description="", hashtags=[], transcript=""),
            as_uploader,
        ),
        "invalid UTF-8": (valid().replace(b"karahi", b"kar\xffahi"), as_uploader),
        "lone surrogate": (valid().replace(b"karahi", b"kar\\ud800ahi"), as_uploader),
        "NaN": (valid().replace(b'"title"', b'"duration_s": NaN, "title"'), as_uploader),
        "Infinity": (valid().replace(b'"title"', b'"duration_s": Infinity, "title"'), as_uploader),
        "nested past orjson's depth": (b"[" * 1100 + b"]" * 1100, as_uploader),
        # within orjson's 1,024 levels, past json.loads' (the route's: a 400)
        "an ignored field 1,000 levels deep": (
            valid()[:-1] + b', "extra": ' + b"[" * 999 + b"]" * 999 + b"}",
            as_uploader,
        ),
    }


def test_every_unusual_request_gets_the_routes_answer_and_writes_nothing(
    client: TestClient, route_only: TestClient, make_key: KeyMaker
) -> None:
    handed_on = fast_path_count(client, "handed_on")
    before = all_rows(client)
    cases = _unusual_requests(client, make_key)
    for name, (body, headers) in cases.items():
        fast, route = post(client, body, headers), post(route_only, body, headers)
        assert 400 <= fast.status_code < 500, (name, fast.status_code, fast.text[:300])
        assert (fast.status_code, fast.content) == (route.status_code, route.content), name
        assert fast.headers["content-type"] == route.headers["content-type"], name
    assert all_rows(client) == before
    # keys that do not authenticate are answered by the fast path (not looked up twice)
    not_authenticated = {"unknown key", "revoked key"}
    assert fast_path_count(client, "handed_on") == handed_on + len(cases) - len(not_authenticated)


def test_bodies_the_two_parsers_read_apart_get_the_routes_content(
    client: TestClient, route_only: TestClient, uploader: dict[str, str]
) -> None:
    """The fast path reads a body with orjson, and what orjson refuses with json.loads, as the
    route does (a BOM, UTF-16); numbers past 64 bits orjson reads as floats. The fast path
    answers each, and the route's answer to the same body is a replay of the same decision,
    so both read the same content, to the hash."""
    past_64_bits = [{"start_s": 2**70 + 1, "end_s": 2**71 + 3, "text": "a very long video"}]
    cases = {
        "UTF-8 with a BOM": b"\xef\xbb\xbf" + body_of(video("bom")),
        "UTF-16": json.dumps(video("utf16")).encode("utf-16"),
        "segment times past 64 bits": body_of(video("big", transcript=past_64_bits)),
    }
    answered = fast_path_count(client, "answered")
    for name, body in cases.items():
        fast = post(client, body, pairs(uploader) + JSON)
        route = post(route_only, body, pairs(uploader) + JSON)
        assert fast.status_code == route.status_code == 200, (name, fast.text, route.text)
        assert "Idempotent-Replayed" not in fast.headers, name
        assert route.headers["Idempotent-Replayed"] == "true", name
        assert fast.json() == route.json(), name  # (PostgreSQL's JSONB orders a replay's keys)
    assert fast_path_count(client, "answered") == answered + len(cases)


def test_an_error_while_scoring_is_answered_by_the_apps_handlers(
    client: TestClient, route_only: TestClient, uploader: dict[str, str]
) -> None:
    assert client.post(SCORE, json=video("gone", **SPAM), headers=uploader).json()["action"] == (
        "remove"
    )
    edit = httpx.Request("POST", "/", json=video("gone", **{**SPAM, "title": "edited"})).content
    answered = fast_path_count(client, "answered")
    before = all_rows(client)

    fast = post(client, edit, pairs(uploader) + JSON)
    route = post(route_only, edit, pairs(uploader) + JSON)

    assert fast.status_code == 409, fast.text
    assert fast.headers["content-type"] == "application/problem+json"
    assert (fast.status_code, fast.content) == (route.status_code, route.content)
    assert fast.headers.multi_items() == route.headers.multi_items()
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
    response = client.post(SCORE, content=chunks(), headers=pairs(uploader) + JSON)
    assert response.status_code == 413, response.text[:300]
    assert response.headers["content-type"] == "application/problem+json"
    assert all_rows(client) == before


def drive(
    client: TestClient, messages: list[Message], headers: Headers, sent: list[Message] | None = None
) -> list[Message]:
    """Call the app as a server would, the body in the messages given (no Content-Length, so
    BodyLimit counts it as it comes); what the app sent back (also into ``sent``, for an app
    that raises after answering)."""
    waiting = list(messages)
    sent = [] if sent is None else sent

    async def receive() -> Message:
        return waiting.pop(0) if waiting else {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)

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
        "headers": [(name.lower().encode(), value.encode()) for name, value in headers],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
        "state": {},
    }
    assert client.portal is not None
    client.portal.call(client.app, scope, receive, send)
    return sent


def answer(sent: list[Message]) -> tuple[int, bytes]:
    (start,) = [m for m in sent if m["type"] == "http.response.start"]
    return start["status"], b"".join(m.get("body", b"") for m in sent[1:])


def handed_to_the_route(
    client: TestClient, route_only: TestClient, messages: list[Message], headers: Headers
) -> tuple[int, bytes]:
    """The answer of ``client`` to the request: checked to be the route's (the same as the
    app without the fast path), counted as handed on, and writing nothing."""
    before = all_rows(client)
    handed_on = fast_path_count(client, "handed_on")
    fast = answer(drive(client, messages, headers))
    assert fast == answer(drive(route_only, messages, headers))
    assert fast_path_count(client, "handed_on") == handed_on + 1
    assert all_rows(client) == before
    return fast


def test_a_body_past_the_limit_after_some_of_it_was_read_gets_the_routes_413(
    client: TestClient, route_only: TestClient, settings: Settings, uploader: dict[str, str]
) -> None:
    """Several messages: the fast path has read some of the body when BodyLimit stops it."""
    piece = b" " * (settings.max_body_bytes // 3)
    opening = {"type": "http.request", "body": b'{"video_id": "big", ', "more_body": True}
    messages: list[Message] = [
        opening,
        *({"type": "http.request", "body": piece, "more_body": True} for _ in range(4)),
        {"type": "http.request", "body": b"}", "more_body": False},
    ]
    status, _ = handed_to_the_route(client, route_only, messages, pairs(uploader) + JSON)
    assert status == 413


def test_a_whole_body_past_the_limit_in_one_message_gets_the_routes_413(
    client: TestClient, route_only: TestClient, settings: Settings, uploader: dict[str, str]
) -> None:
    """No Content-Length, and the body whole in one message but over the limit: handed on as
    a body that has ended, and BodyLimit answers it."""
    body = b'{"video_id": "big", "title": "' + b"a" * settings.max_body_bytes + b'"}'
    messages: list[Message] = [{"type": "http.request", "body": body, "more_body": False}]
    status, _ = handed_to_the_route(client, route_only, messages, pairs(uploader) + JSON)
    assert status == 413


def test_a_client_gone_before_its_body_ended_is_not_scored(
    client: TestClient, route_only: TestClient, uploader: dict[str, str]
) -> None:
    """The whole JSON came, then the client went before saying the body was complete: the
    route meets the disconnect too, and nothing is scored or written."""
    body = httpx.Request("POST", "/", json=video("left")).content
    messages: list[Message] = [
        {"type": "http.request", "body": body, "more_body": True},
        {"type": "http.disconnect"},
    ]
    status, _ = handed_to_the_route(client, route_only, messages, pairs(uploader) + JSON)
    assert status == 400  # the route's answer to a body cut short (no one reads it)


def test_an_unexpected_error_while_scoring_is_raised_on_as_the_routes_is(
    client: TestClient, route_only: TestClient, uploader: dict[str, str]
) -> None:
    """An error no handler is registered for (here a stray row the log write collides with)
    reaches ServerErrorMiddleware, which answers 500 and raises it again for the server's
    log: TestClient raises it, on both paths."""
    engine: sa.Engine = client.app.state.engine  # type: ignore[attr-defined]
    with engine.begin() as connection:
        connection.execute(contents.insert().values(video_id="clash", revision=1, content="{}"))
    body = httpx.Request("POST", "/", json=video("clash")).content
    message: Message = {"type": "http.request", "body": body, "more_body": False}
    headers = pairs(uploader) + JSON
    before = all_rows(client)
    fast: list[Message] = []
    route: list[Message] = []

    with pytest.raises(sa.exc.IntegrityError):
        drive(client, [message], headers, fast)
    with pytest.raises(sa.exc.IntegrityError):
        drive(route_only, [message], headers, route)

    assert answer(fast)[0] == 500  # what the client was sent before the error went on
    assert answer(fast) == answer(route)
    assert all_rows(client) == before
