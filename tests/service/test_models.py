"""Model versions: listing, promotion and rollback through the API and the CLI, a challenger in
shadow that never changes an action, and a switch under concurrent load in a real multi-worker
server that loses no request, each response naming (and scored by) its version."""

from __future__ import annotations

import json
import math
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from redis import Redis

from classifier import OnnxScorer
from service.app import create_app
from service.domain import Role
from service.models import load_version
from service.settings import Settings
from service.shadow_report import Compared, compare
from service.tables import decisions, model_activations, shadow_scores
from tests.service.conftest import MISINFORMATION, SPAM, upload, video
from tests.service.model_versions import CHALLENGER, REFERENCE, broken_copy, two_versions
from tests.service.served import CLI, served

BENIGN: dict[str, object] = {}
CONTENTS = [SPAM, MISINFORMATION, BENIGN, {"title": "you are a stupid idiot, shut up loser"}]


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    models = two_versions(tmp_path_factory.mktemp("versions"))
    broken_copy(models, "3.0.0-broken")
    return models


@pytest.fixture
def lifecycle(settings: Settings, models_dir: Path, tmp_path: Path) -> Settings:
    return settings.model_copy(update={"models_dir": models_dir, "model_refresh_s": 0.2})


@pytest.fixture
def app_client(lifecycle: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(lifecycle)) as client:
        yield client


def keys(client: TestClient, *roles: Role) -> dict[str, str]:
    import datetime as dt

    store = client.app.state.keys  # type: ignore[attr-defined]
    _, plaintext = store.create("t", roles, ["en", "ur", "ur-Latn"], dt.datetime.now(dt.UTC))
    return {"Authorization": f"Bearer {plaintext}"}


def offline_scores(scorer: OnnxScorer, body: dict[str, object]) -> dict[str, float]:
    fields = {k: v for k, v in body.items() if k != "video_id"}
    [result] = scorer.score_videos([upload(str(body["video_id"]), **fields).content])
    return dict(result.scores)


def same_scores(a: dict[str, float], b: dict[str, float]) -> bool:
    return a.keys() == b.keys() and all(math.isclose(a[k], b[k], abs_tol=1e-6) for k in a)


def test_versions_are_listed_with_roles_and_cards(app_client: TestClient) -> None:
    admin = keys(app_client, Role.ADMIN)
    listed = app_client.get("/v1/models", headers=admin).json()
    assert listed["champion"] == REFERENCE  # models/ACTIVE, before any activation
    assert listed["shadow"] is None
    versions = {v["version"]: v for v in listed["versions"]}
    assert set(versions) == {REFERENCE, CHALLENGER, "3.0.0-broken"}
    assert versions[REFERENCE]["role"] == "champion"
    assert versions[CHALLENGER]["role"] is None
    assert versions[CHALLENGER]["training"]["rows"] > 0
    assert listed["history"] == []


def test_promotion_and_rollback_switch_the_scorer_and_keep_old_decisions(
    app_client: TestClient, models_dir: Path
) -> None:
    admin, uploader = keys(app_client, Role.ADMIN), keys(app_client, Role.UPLOADER)
    challenger = load_version(models_dir, CHALLENGER)
    first = app_client.post("/v1/videos/score", json=video("p1", **SPAM), headers=uploader).json()
    assert first["model_version"] == REFERENCE

    promoted = app_client.post(f"/v1/models/{CHALLENGER}/activate", headers=admin).json()
    assert promoted["champion"] == CHALLENGER
    body = video("p2", **SPAM)
    second = app_client.post("/v1/videos/score", json=body, headers=uploader).json()
    assert second["model_version"] == CHALLENGER
    assert same_scores(second["scores"], offline_scores(challenger, body))

    rolled_back = app_client.post(f"/v1/models/{REFERENCE}/activate", headers=admin).json()
    assert rolled_back["champion"] == REFERENCE
    third = app_client.post("/v1/videos/score", json=video("p3", **SPAM), headers=uploader)
    assert third.json()["model_version"] == REFERENCE
    # every decision keeps the version that made it
    for video_id, version in (("p1", REFERENCE), ("p2", CHALLENGER), ("p3", REFERENCE)):
        state = app_client.get(f"/v1/videos/{video_id}", headers=uploader).json()
        assert state["decision"]["model_version"] == version
    history = rolled_back["history"]
    assert [(h["role"], h["version"]) for h in history] == [
        ("champion", REFERENCE),
        ("champion", CHALLENGER),
    ]
    assert history[0]["actor"].startswith("t#")


def test_a_version_that_cannot_serve_is_refused_and_changes_nothing(
    app_client: TestClient,
) -> None:
    admin = keys(app_client, Role.ADMIN)
    missing = app_client.post("/v1/models/9.9.9/activate", headers=admin)
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
    broken = app_client.post("/v1/models/3.0.0-broken/activate", headers=admin)
    assert broken.status_code == 409
    assert "sha256" in broken.json()["detail"]
    shadow_of_champion = app_client.post(f"/v1/models/{REFERENCE}/shadow", headers=admin)
    assert shadow_of_champion.status_code == 409
    engine = app_client.app.state.engine  # type: ignore[attr-defined]
    with engine.connect() as connection:
        assert connection.scalar(sa.select(sa.func.count()).select_from(model_activations)) == 0
    assert app_client.get("/v1/models", headers=admin).json()["champion"] == REFERENCE


def test_a_challenger_in_shadow_never_changes_an_action(
    app_client: TestClient, models_dir: Path
) -> None:
    admin, uploader = keys(app_client, Role.ADMIN), keys(app_client, Role.UPLOADER)
    alone = [
        app_client.post("/v1/videos/score", json=video(f"a{i}", **c), headers=uploader).json()
        for i, c in enumerate(CONTENTS)
    ]
    assert app_client.post(f"/v1/models/{CHALLENGER}/shadow", headers=admin).status_code == 200
    bodies = [video(f"s{i}", **c) for i, c in enumerate(CONTENTS)]
    shadowed = [
        app_client.post("/v1/videos/score", json=body, headers=uploader).json() for body in bodies
    ]
    for before, after in zip(alone, shadowed, strict=True):
        for field in ("action", "status", "visibility", "label", "scores", "model_version"):
            assert after[field] == before[field], field
    challenger = load_version(models_dir, CHALLENGER)
    engine = app_client.app.state.engine  # type: ignore[attr-defined]
    with engine.connect() as connection:
        rows = {
            row.video_id: row
            for row in connection.execute(
                sa.select(shadow_scores, decisions.c.video_id.label("decided_video")).join(
                    decisions, decisions.c.decision_id == shadow_scores.c.decision_id
                )
            )
        }
    assert set(rows) == {f"s{i}" for i in range(len(CONTENTS))}  # only while in shadow
    for body in bodies:
        row = rows[str(body["video_id"])]
        assert row.model_version == CHALLENGER
        assert same_scores(row.scores, offline_scores(challenger, body))
    # the challenger would act differently somewhere, or this test proves nothing
    assert any(
        rows[str(b["video_id"])].action != s["action"]
        for b, s in zip(bodies, shadowed, strict=True)
    )
    # a replay writes no second shadow row; turning shadow off stops them
    app_client.post("/v1/videos/score", json=bodies[0], headers=uploader)
    off = app_client.delete("/v1/models/shadow", headers=admin).json()
    assert off["shadow"] is None
    app_client.post("/v1/videos/score", json=video("after", **SPAM), headers=uploader)
    with engine.connect() as connection:
        count = connection.scalar(sa.select(sa.func.count()).select_from(shadow_scores))
    assert count == len(CONTENTS)


def test_promoting_the_shadow_ends_its_shadowing(app_client: TestClient) -> None:
    admin = keys(app_client, Role.ADMIN)
    app_client.post(f"/v1/models/{CHALLENGER}/shadow", headers=admin)
    promoted = app_client.post(f"/v1/models/{CHALLENGER}/activate", headers=admin).json()
    assert (promoted["champion"], promoted["shadow"]) == (CHALLENGER, None)


def test_the_cli_activates_and_another_process_follows(
    lifecycle: Settings, app_client: TestClient, tmp_path: Path
) -> None:
    """`mizan models activate` in its own process; the running app switches within its
    refresh interval, with no call to it."""
    env = {
        "PATH": "/usr/bin:/bin",
        "MIZAN_DATABASE_URL": lifecycle.effective_database_url(),
        "MIZAN_MODELS_DIR": str(lifecycle.models_dir),
        "MIZAN_STATE_DIR": str(tmp_path / "cli-state"),
    }
    if lifecycle.redis_url:
        env["MIZAN_REDIS_URL"] = lifecycle.redis_url
    done = subprocess.run(
        [*CLI, "models", "activate", CHALLENGER, "--actor", "ml-engineer"],
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert f"champion {CHALLENGER}" in done.stdout
    uploader = keys(app_client, Role.UPLOADER)
    deadline = time.monotonic() + 10
    version = None
    while time.monotonic() < deadline and version != CHALLENGER:
        time.sleep(0.1)
        scored = app_client.post(
            "/v1/videos/score", json=video(f"c{time.monotonic_ns()}"), headers=uploader
        )
        version = scored.json()["model_version"]
    assert version == CHALLENGER
    listed = subprocess.run(
        [*CLI, "models", "list"], env=env, capture_output=True, text=True, check=True
    )
    assert f"{CHALLENGER:<16} champion" in listed.stdout
    assert "by ml-engineer" in listed.stdout
    refused = subprocess.run(
        [*CLI, "models", "activate", "3.0.0-broken"], env=env, capture_output=True, text=True
    )
    assert refused.returncode == 1
    assert "cannot serve" in refused.stderr


def test_activation_under_concurrent_load_loses_no_request(
    models_dir: Path, redis: Redis, redis_url: str, tmp_path: Path
) -> None:
    """Two uvicorn workers under steady load from four clients; the champion is promoted
    mid-run. Every request is answered 200, each response's scores are exactly its named
    version's, each decision in the log keeps that version, and both workers switch."""
    reference, challenger = (
        load_version(models_dir, REFERENCE),
        load_version(models_dir, CHALLENGER),
    )
    by_version = {REFERENCE: reference, CHALLENGER: challenger}
    with served(
        tmp_path, redis_url, workers=2, models_dir=str(models_dir), model_refresh_s="0.5"
    ) as server:
        uploader = {"Authorization": f"Bearer {server.create_key('uploader')}"}
        admin = {"Authorization": f"Bearer {server.create_key('admin')}"}
        answers: list[tuple[dict[str, object], int, dict[str, object]]] = []
        failures: list[str] = []
        stop = threading.Event()
        lock = threading.Lock()

        def load(worker: int) -> None:
            with httpx.Client(base_url=server.base, headers=uploader, timeout=30) as http:
                number = 0
                while not stop.is_set():
                    body = video(f"w{worker}-{number}", **CONTENTS[number % len(CONTENTS)])
                    number += 1
                    try:
                        response = http.post("/v1/videos/score", json=body)
                    except httpx.HTTPError as exc:
                        failures.append(repr(exc))
                        continue
                    with lock:
                        answers.append((body, response.status_code, response.json()))

        threads = [threading.Thread(target=load, args=(i,)) for i in range(4)]
        for thread in threads:
            thread.start()
        time.sleep(3)
        promoted = httpx.post(
            f"{server.base}/v1/models/{CHALLENGER}/activate", headers=admin, timeout=60
        )
        assert promoted.status_code == 200, promoted.text
        switched_at = len(answers)
        time.sleep(5)  # ten refresh intervals: both workers have switched
        stop.set()
        for thread in threads:
            thread.join(60)
        database = server.env["MIZAN_DATABASE_URL"]

    assert failures == []
    assert [status for _, status, _ in answers if status != 200] == []
    assert {a[2]["model_version"] for a in answers[:20]} == {REFERENCE}
    assert switched_at > 20
    assert {a[2]["model_version"] for a in answers[-40:]} == {CHALLENGER}
    for body, _, answer in answers:
        scorer = by_version[str(answer["model_version"])]
        assert same_scores(answer["scores"], offline_scores(scorer, body)), answer["video_id"]
    engine = sa.create_engine(database)
    try:
        with engine.connect() as connection:
            query = sa.select(decisions.c.decision_id, decisions.c.model_version)
            logged = {row.decision_id: row.model_version for row in connection.execute(query)}
    finally:
        engine.dispose()
    assert len(logged) == len(answers)
    assert all(logged[str(a["decision_id"])] == a["model_version"] for _, _, a in answers)


def test_json_cards_name_the_training_mix(models_dir: Path) -> None:
    card = json.loads((models_dir / CHALLENGER / "card.json").read_text())
    assert card["training"]["mix"] == {"original": card["training"]["rows"], "human": 0}
    assert card["training"]["human_labels"] is None


def test_shadow_comparison_is_counted_by_hand() -> None:
    rows = [
        Compared("remove", "remove", True),  # both right
        Compared("remove", "review", False),  # champion wrong removal; challenger flags it
        Compared("allow", "remove", True),  # challenger catches a miss
        Compared("review", "allow", None),  # nobody has decided it
        Compared("allow", "allow", False),
    ]
    report = compare(rows, [REFERENCE], CHALLENGER)
    assert report.videos == 5
    assert report.agreement == 2 / 5
    assert report.would_remove == {"champion": 2, "challenger": 2}
    assert (report.human_decided, report.violations) == (4, 2)
    champion, challenger = (report.quality[n].to_json() for n in ("champion", "challenger"))
    assert champion["removal_precision"] == 0.5  # 1 of its 2 removals was a violation
    assert champion["removal_recall"] == 0.5  # 1 of 2 violations
    assert challenger["removal_precision"] == 1.0
    assert challenger["removal_recall"] == 1.0  # both violations
    assert challenger["flag_precision"] == round(2 / 3, 4)
    assert challenger["flag_recall"] == 1.0
    assert report.to_json()["actions"]["allow->remove"] == 1  # type: ignore[index]


def test_shadow_report_on_served_traffic(
    app_client: TestClient, lifecycle: Settings, tmp_path: Path
) -> None:
    """Scored with a shadow, some decided by a moderator since: `mizan shadow-report` counts
    them as the decision log has them."""
    admin, uploader = keys(app_client, Role.ADMIN), keys(app_client, Role.UPLOADER)
    moderator = keys(app_client, Role.MODERATOR)
    app_client.post(f"/v1/models/{CHALLENGER}/shadow", headers=admin)
    for i, content in enumerate(CONTENTS):
        app_client.post("/v1/videos/score", json=video(f"r{i}", **content), headers=uploader)
    claimed = app_client.post("/v1/review/claim", headers=moderator).json()  # misinformation
    app_client.post(
        f"/v1/review/items/{claimed['item']['item_id']}/decision",
        json={"verdict": "remove", "label": "misinformation"},
        headers=moderator,
    )
    env = {
        "PATH": "/usr/bin:/bin",
        "MIZAN_DATABASE_URL": lifecycle.effective_database_url(),
        "MIZAN_STATE_DIR": str(tmp_path / "cli-state"),
    }
    today = time.strftime("%Y-%m-%d", time.gmtime())
    done = subprocess.run(
        [*CLI, "shadow-report", "--from", today, "--to", today, "--json"],
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert (report["challenger"], report["videos"]) == (CHALLENGER, len(CONTENTS))
    assert report["human_decided"] == 1
    assert report["violations_found"] == 1
    assert report["quality"]["champion"]["flag_recall"] == 1.0  # it sent the video to review
    text = subprocess.run(
        [*CLI, "shadow-report", "--from", today, "--to", today],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert f"challenger {CHALLENGER} beside champion {REFERENCE}" in text


def break_card(models: Path, version: str) -> None:
    """The card no longer matches its onnx file (as a half-copied or edited folder would)."""
    card = models / version / "card.json"
    body = json.loads(card.read_text(encoding="utf-8"))
    body["onnx_sha256"] = "0" * 64
    card.write_text(json.dumps(body), encoding="utf-8")


@pytest.fixture
def own_models(models_dir: Path, tmp_path: Path) -> Path:
    import shutil

    copy = tmp_path / "own-models"
    shutil.copytree(models_dir, copy)
    return copy


def test_a_broken_shadow_never_stops_the_champion(lifecycle: Settings, own_models: Path) -> None:
    settings = lifecycle.model_copy(update={"models_dir": own_models})
    with TestClient(create_app(settings)) as client:
        admin, uploader = keys(client, Role.ADMIN), keys(client, Role.UPLOADER)
        assert client.post(f"/v1/models/{CHALLENGER}/shadow", headers=admin).status_code == 200
    break_card(own_models, CHALLENGER)
    # a process starting now cannot load the shadow: it serves the champion without it
    with TestClient(create_app(settings)) as client:
        uploader = keys(client, Role.UPLOADER)
        scored = client.post("/v1/videos/score", json=video("b1", **SPAM), headers=uploader)
        assert scored.status_code == 200
        assert scored.json()["model_version"] == REFERENCE
        admin = keys(client, Role.ADMIN)
        refused = client.post(f"/v1/models/{CHALLENGER}/activate", headers=admin)
        assert refused.status_code == 409
        assert client.get("/v1/models", headers=admin).json()["champion"] == REFERENCE
        assert client.delete("/v1/models/shadow", headers=admin).json()["shadow"] is None


def test_the_cli_rolls_back_from_a_broken_champion(
    lifecycle: Settings, own_models: Path, tmp_path: Path
) -> None:
    settings = lifecycle.model_copy(update={"models_dir": own_models})
    env = {
        "PATH": "/usr/bin:/bin",
        "MIZAN_DATABASE_URL": settings.effective_database_url(),
        "MIZAN_MODELS_DIR": str(own_models),
        "MIZAN_STATE_DIR": str(tmp_path / "cli-state"),
    }
    with TestClient(create_app(settings)) as client:
        admin, uploader = keys(client, Role.ADMIN), keys(client, Role.UPLOADER)
        client.post(f"/v1/models/{CHALLENGER}/activate", headers=admin)
        break_card(own_models, CHALLENGER)  # the champion's folder breaks while it serves
        rollback = subprocess.run(
            [*CLI, "models", "activate", REFERENCE], env=env, capture_output=True, text=True
        )
        assert rollback.returncode == 0, rollback.stderr
        deadline = time.monotonic() + 10
        version = CHALLENGER
        while version != REFERENCE and time.monotonic() < deadline:
            time.sleep(0.1)
            body = video(f"rb{time.monotonic_ns()}")
            version = client.post("/v1/videos/score", json=body, headers=uploader).json()[
                "model_version"
            ]
        assert version == REFERENCE
