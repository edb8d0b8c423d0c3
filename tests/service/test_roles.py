"""Access matrix: every route, every role and no key, answered as DESIGN.md section 9 says.

ROLES must name every route the app serves: a new route without an entry fails the test.
"""

from __future__ import annotations

import itertools

import pytest
from fastapi.testclient import TestClient

from service.app import create_app
from service.domain import Role
from service.settings import Settings
from tests.service.conftest import KeyMaker, video

PUBLIC: frozenset[Role] = frozenset()  # no key needed
ROLES: dict[tuple[str, str], frozenset[Role]] = {
    ("POST", "/v1/videos/score"): frozenset({Role.UPLOADER}),
    ("POST", "/v1/videos/score-batch"): frozenset({Role.UPLOADER}),
    ("GET", "/v1/videos/{video_id}"): frozenset({Role.UPLOADER, Role.MODERATOR, Role.ANALYST}),
    ("POST", "/v1/videos/{video_id}/views"): frozenset({Role.UPLOADER}),
    ("POST", "/v1/videos/{video_id}/reports"): frozenset({Role.UPLOADER}),
    ("GET", "/v1/review/queues"): frozenset({Role.MODERATOR}),
    ("POST", "/v1/review/claim"): frozenset({Role.MODERATOR}),
    ("POST", "/v1/review/items/{item_id}/decision"): frozenset({Role.MODERATOR}),
    ("POST", "/v1/review/items/{item_id}/release"): frozenset({Role.MODERATOR}),
    ("POST", "/v1/videos/{video_id}/appeals"): frozenset({Role.UPLOADER}),
    ("GET", "/v1/appeals/queues"): frozenset({Role.APPEALS_REVIEWER}),
    ("POST", "/v1/appeals/claim"): frozenset({Role.APPEALS_REVIEWER}),
    ("POST", "/v1/appeals/{appeal_id}/decision"): frozenset({Role.APPEALS_REVIEWER}),
    ("POST", "/v1/appeals/{appeal_id}/release"): frozenset({Role.APPEALS_REVIEWER}),
    ("GET", "/v1/reports/enforcement"): frozenset({Role.ANALYST}),
    ("GET", "/v1/reports/statements-of-reasons"): frozenset({Role.ANALYST}),
    ("GET", "/v1/audits/queues"): frozenset({Role.MODERATOR}),
    ("POST", "/v1/audits/claim"): frozenset({Role.MODERATOR}),
    ("POST", "/v1/audits/{audit_id}/decision"): frozenset({Role.MODERATOR}),
    ("POST", "/v1/audits/{audit_id}/release"): frozenset({Role.MODERATOR}),
    ("GET", "/v1/models"): frozenset({Role.ADMIN}),
    ("POST", "/v1/models/{version}/activate"): frozenset({Role.ADMIN}),
    ("POST", "/v1/models/{version}/shadow"): frozenset({Role.ADMIN}),
    ("DELETE", "/v1/models/shadow"): frozenset({Role.ADMIN}),
    ("GET", "/v1/creators/{creator_id}"): frozenset({Role.UPLOADER, Role.MODERATOR}),
    ("GET", "/healthz"): PUBLIC,
    ("GET", "/readyz"): PUBLIC,
    ("GET", "/metrics"): PUBLIC,
}
BODIES: dict[str, object] = {
    "/v1/videos/score": video("m1"),
    "/v1/videos/score-batch": {"videos": [video("m2")]},
    "/v1/videos/{video_id}/views": {"views": 1},
    "/v1/videos/{video_id}/reports": {"reason": "spam", "reporter_id": "u1"},
    "/v1/review/items/{item_id}/decision": {"verdict": "approve"},
    "/v1/videos/{video_id}/appeals": {"statement": "it is a cooking video"},
    "/v1/appeals/{appeal_id}/decision": {"verdict": "restore"},
    "/v1/audits/{audit_id}/decision": {"verdict": "confirm"},
}
QUERIES = {
    "/v1/reports/enforcement": "?period=2023Q1",
    "/v1/reports/statements-of-reasons": "?period=2023Q1",
}
# What an allowed caller gets when it is not 200: an empty queue, an item that does not exist.
ALLOWED_STATUS: dict[str, set[int]] = {
    "/v1/review/claim": {200, 204},
    "/v1/review/items/{item_id}/decision": {404},
    "/v1/review/items/{item_id}/release": {404},
    "/v1/videos/{video_id}/appeals": {409},  # the video is live: nothing to appeal
    "/v1/appeals/claim": {200, 204},
    "/v1/appeals/{appeal_id}/decision": {404},
    "/v1/appeals/{appeal_id}/release": {404},
    "/v1/audits/claim": {200, 204},
    "/v1/audits/{audit_id}/decision": {404},
    "/v1/audits/{audit_id}/release": {404},
    "/v1/models/{version}/shadow": {409},  # the champion cannot shadow itself
}


def served_routes() -> set[tuple[str, str]]:
    """Every (method, path) in the app's OpenAPI schema (FastAPI lists included routers
    lazily, so the schema is the stable place to read them)."""
    schema = create_app(Settings()).openapi()
    return {(method.upper(), path) for path, item in schema["paths"].items() for method in item}


def test_every_route_has_an_entry() -> None:
    assert served_routes() == set(ROLES)


CASES = [(method, path, role) for (method, path), role in itertools.product(ROLES, [None, *Role])]


@pytest.mark.parametrize(
    ("method", "path", "role"), CASES, ids=[f"{m} {p} {r}" for m, p, r in CASES]
)
def test_access(
    client: TestClient, make_key: KeyMaker, method: str, path: str, role: Role | None
) -> None:
    allowed = ROLES[(method, path)]
    headers = make_key(role) if role else {}
    url = path.replace("{video_id}", "m0").replace("{item_id}", "r0").replace("{appeal_id}", "a0")
    url = url.replace("{audit_id}", "a0").replace("{version}", "1.0.2")
    url = url.replace("{creator_id}", "creator-1")
    url += QUERIES.get(path, "")
    if "{video_id}" in path or "{creator_id}" in path:  # it must exist for a success
        client.post("/v1/videos/score", json=video("m0"), headers=make_key(Role.UPLOADER))
    response = client.request(method, url, json=BODIES.get(path), headers=headers)
    if allowed is PUBLIC:
        assert response.status_code == 200
    elif role is None:
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == "Bearer"
    elif role in allowed:
        assert response.status_code in ALLOWED_STATUS.get(path, {200}), response.text
    else:
        assert response.status_code == 403
        assert response.json()["type"] == "/problems/forbidden"


@pytest.mark.parametrize(
    "authorization",
    ["Bearer", "Bearer nonsense", "Basic abc", "Bearer mz_aaaaaaaa_" + "x" * 43, "mz_only"],
)
def test_bad_keys_are_401(client: TestClient, authorization: str) -> None:
    response = client.post(
        "/v1/videos/score", json=video("k1"), headers={"Authorization": authorization}
    )
    assert response.status_code == 401


def test_a_revoked_key_stops_working(client: TestClient, settings: Settings) -> None:
    import datetime as dt

    store = client.app.state.keys  # type: ignore[attr-defined]
    key, plaintext = store.create("short-lived", [Role.UPLOADER], [], dt.datetime.now(dt.UTC))
    headers = {"Authorization": f"Bearer {plaintext}"}
    assert client.get("/v1/videos/none", headers=headers).status_code == 404
    store.revoke(key.key_id, dt.datetime.now(dt.UTC))
    assert client.get("/v1/videos/none", headers=headers).status_code == 401


def test_keys_are_never_logged(client: TestClient, settings: Settings) -> None:
    """Every log record of a session of key use (good, wrong role, wrong secret, revoked, the
    console sign-in) is formatted as production formats it, and searched."""
    import datetime as dt
    import io
    import logging
    import re

    from service.logs import JsonFormatter

    store = client.app.state.keys  # type: ignore[attr-defined]
    now = dt.datetime.now(dt.UTC)
    _, uploader = store.create("logged", [Role.UPLOADER], [], now)
    revoked_key, revoked = store.create("gone", [Role.MODERATOR], [], now)
    store.revoke(revoked_key.key_id, now)
    wrong_secret = uploader[:-4] + "AAAA"
    secrets = [uploader, revoked, wrong_secret]
    sink = io.StringIO()
    handler = logging.StreamHandler(sink)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.addHandler(handler)
    old_level = root.level
    root.setLevel(logging.DEBUG)
    try:
        bearer = {"Authorization": f"Bearer {uploader}"}
        assert client.post("/v1/videos/score", json=video("l1"), headers=bearer).is_success
        assert client.get("/v1/review/queues", headers=bearer).status_code == 403
        for key in (wrong_secret, revoked):
            response = client.get("/v1/videos/l1", headers={"Authorization": f"Bearer {key}"})
            assert response.status_code == 401
        form = client.get("/console/login").text
        csrf = re.search(r'name="csrf" value="([^"]+)"', form)
        assert csrf
        for key in (uploader, wrong_secret):
            client.post("/console/login", data={"key": key, "csrf": csrf.group(1)})
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
    logged = sink.getvalue()
    assert logged  # the requests were logged at all
    for secret in secrets:
        assert secret not in logged
        secret_part = secret.split("_", 2)[2]  # mz_<key id>_<secret>; the secret may hold "_"
        assert len(secret_part) == 43
        assert secret_part not in logged
