"""Appeals against a real Redis and database: the window, once per removal, separation of
duties, restore, uphold, no re-removal, reconcile, the webhooks, and the whole path over HTTP."""

from __future__ import annotations

import datetime as dt
import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from redis import Redis
from rq import Queue, SimpleWorker

from classifier.dataset import load_examples
from service import jobs, wiring
from service.app import create_app
from service.domain import AppealVerdict, EventType, Role, Status, Verdict
from service.errors import ConflictError, NotFoundError
from service.keys import KeyStore
from service.labels import export
from service.model_registry import fixed_lineup
from service.moderation import Moderation
from service.settings import Settings
from service.webhooks import EFFECTS_QUEUE
from tests.service.conftest import MISINFORMATION, SPAM, Clock, upload, video
from tests.service.receiver import SECRET, Receiver


def removed_by_model(moderation: Moderation, video_id: str = "v1") -> None:
    [result] = moderation.score([upload(video_id, **SPAM)])
    assert result.decision.action.value == "remove"


def removed_by_person(parts: wiring.Parts, moderation: Moderation, who: str) -> str:
    moderation.score([upload("h1", **MISINFORMATION)])
    view = parts.review.claim(who, ["en"])
    assert view is not None
    parts.review.decide(view.item.item_id, who, Verdict.REMOVE, "misinformation", None)
    return view.item.video_id


def status(parts: wiring.Parts, video_id: str) -> tuple[str, str]:
    state = parts.decision_log.current(video_id)
    assert state is not None
    return state.status.value, state.visibility.value


def types(parts: wiring.Parts, video_id: str) -> list[EventType]:
    return [event.type for event in parts.decision_log.history(video_id)]


def test_an_automated_removal_is_appealed_and_restored(
    parts: wiring.Parts, moderation: Moderation
) -> None:
    removed_by_model(moderation)
    appeal = parts.appeals.submit("v1", "it is a real giveaway from my shop", "pipeline")
    assert (appeal.automated, appeal.removed_by, appeal.label) == (True, "model:1.0.2", "spam")
    assert status(parts, "v1") == ("appealed", "removed")
    [stats] = parts.appeals.stats(86_400)
    assert (stats.queue, stats.waiting) == ("appeals:en:normal", 1)

    view = parts.appeals.claim("senior-a", ["en"])
    assert view is not None
    assert view.appeal.statement == "it is a real giveaway from my shop"
    assert view.removal.type is EventType.AUTO_REMOVED
    assert view.removal.actor == "model:1.0.2"
    assert view.decision.scores["spam"] > 0.9
    assert view.decision.evidence[0].label == "spam"
    assert view.content is not None

    decided = parts.appeals.decide(appeal.item_id, "senior-a", AppealVerdict.RESTORE, "shop")
    assert decided.appeal.verdict is AppealVerdict.RESTORE
    assert status(parts, "v1") == ("restored", "public")
    assert types(parts, "v1")[-3:] == [
        EventType.APPEAL_SUBMITTED,
        EventType.CLAIMED,
        EventType.RESTORED,
    ]
    assert parts.appeal_queues.placements() == {}


def test_an_upheld_removal_stays_removed(parts: wiring.Parts, moderation: Moderation) -> None:
    removed_by_model(moderation)
    appeal = parts.appeals.submit("v1", "please", "pipeline")
    view = parts.appeals.claim("senior-a", [])
    assert view is not None
    parts.appeals.decide(appeal.item_id, "senior-a", AppealVerdict.UPHOLD, None)
    assert status(parts, "v1") == ("removed", "removed")
    assert types(parts, "v1")[-1] is EventType.APPEAL_UPHELD


def test_only_a_removed_video_can_be_appealed(parts: wiring.Parts, moderation: Moderation) -> None:
    moderation.score([upload("live")])
    moderation.score([upload("pending", **MISINFORMATION)])
    before = parts.decision_log.count_rows()
    for video_id in ("live", "pending"):
        with pytest.raises(ConflictError, match="only a removed video"):
            parts.appeals.submit(video_id, "why", "pipeline")
    with pytest.raises(NotFoundError):
        parts.appeals.submit("nope", "why", "pipeline")
    assert parts.decision_log.count_rows() == before
    assert parts.appeal_log.appeals_of("live") == []


def test_a_removal_is_appealed_once(parts: wiring.Parts, moderation: Moderation) -> None:
    removed_by_model(moderation)
    appeal = parts.appeals.submit("v1", "first", "pipeline")
    with pytest.raises(ConflictError, match="already under appeal"):
        parts.appeals.submit("v1", "second", "pipeline")
    assert parts.appeals.claim("senior-a", []) is not None
    parts.appeals.decide(appeal.item_id, "senior-a", AppealVerdict.UPHOLD, None)
    before = parts.decision_log.count_rows()
    with pytest.raises(ConflictError, match="appealed already"):
        parts.appeals.submit("v1", "third", "pipeline")
    assert parts.decision_log.count_rows() == before


@pytest.mark.parametrize(("days", "accepted"), [(179, True), (180, True), (181, False)])
def test_the_appeal_window(
    parts: wiring.Parts, moderation: Moderation, clock: Clock, days: int, accepted: bool
) -> None:
    removed_by_model(moderation)
    clock.advance(days * 86_400)
    if accepted:
        parts.appeals.submit("v1", "late but in time", "pipeline")
        return
    with pytest.raises(ConflictError, match="window of 180 days closed"):
        parts.appeals.submit("v1", "too late", "pipeline")
    assert status(parts, "v1") == ("removed", "removed")


def test_the_remover_never_decides_the_appeal(
    parts: wiring.Parts, moderation: Moderation, clock: Clock
) -> None:
    video_id = removed_by_person(parts, moderation, "mod-a")
    appeal = parts.appeals.submit(video_id, "this is satire", "pipeline")
    assert appeal.removed_by == "mod-a"
    assert parts.appeals.claim("mod-a", ["en"]) is None  # passed over: it is theirs
    # even holding it (say Redis lost the exclusion), the log refuses their decision
    now = clock()
    parts.appeal_log.claim(appeal.item_id, "mod-a", now + dt.timedelta(minutes=10), now)
    with pytest.raises(ConflictError, match="who removed"):
        parts.appeals.decide(appeal.item_id, "mod-a", AppealVerdict.UPHOLD, None)
    view = parts.appeals.claim("senior-b", ["en"])
    assert view is not None
    assert view.removal.type is EventType.HUMAN_REMOVED
    parts.appeals.decide(appeal.item_id, "senior-b", AppealVerdict.UPHOLD, None)
    assert status(parts, video_id) == ("removed", "removed")


def test_a_restored_video_is_not_removed_again_for_the_same_content(
    parts: wiring.Parts, moderation: Moderation
) -> None:
    removed_by_model(moderation)
    appeal = parts.appeals.submit("v1", "mine", "pipeline")
    assert parts.appeals.claim("senior-a", []) is not None
    parts.appeals.decide(appeal.item_id, "senior-a", AppealVerdict.RESTORE, None)
    [again] = moderation.score([upload("v1", **SPAM)])  # the pipeline sends it once more
    assert not again.is_new
    assert (again.decision.status, again.decision.visibility.value) == (Status.RESTORED, "public")
    assert status(parts, "v1") == ("restored", "public")
    assert types(parts, "v1").count(EventType.AUTO_REMOVED) == 1


def test_reconcile_puts_appeals_back_after_flushdb(
    parts: wiring.Parts, moderation: Moderation, redis: Redis
) -> None:
    for n in range(3):
        removed_by_model(moderation, f"v{n}")
        parts.appeals.submit(f"v{n}", "please", "pipeline")
    redis.flushdb()
    report = parts.reconcile()
    assert (report["appeals_open"], report["appeals_restored"]) == (3, 3)
    assert len(parts.appeal_queues.placements()) == 3


def test_appeal_outcomes_are_delivered_as_webhooks(
    settings: Settings, scorer: object, redis: Redis
) -> None:
    receiver = Receiver(fail_first=1)
    configured = settings.model_copy(
        update={
            "webhook_url": receiver.url,
            "webhook_secret": SecretStr(SECRET),
            "webhook_retry_intervals_s": [0, 0],
        }
    )
    parts = wiring.build(configured, clock=Clock(), migrate_schema=True)
    jobs.use_settings(configured)
    try:
        moderation = Moderation(
            parts.decision_log,
            fixed_lineup(scorer),
            parts.policy,
            clock=parts.clock,
            dispatch=parts.dispatcher.apply,
        )
        removed_by_model(moderation, "a")
        removed_by_model(moderation, "b")
        for video_id, verdict in (("a", AppealVerdict.RESTORE), ("b", AppealVerdict.UPHOLD)):
            appeal = parts.appeals.submit(video_id, "please", "pipeline")
            assert parts.appeals.claim("senior-a", []) is not None
            parts.appeals.decide(appeal.item_id, "senior-a", verdict, None)
        SimpleWorker([Queue(EFFECTS_QUEUE, connection=redis)], connection=redis).work(burst=True)
        got = sorted((p["video_id"], p["type"]) for p in receiver.payloads.values())
        assert got == [
            ("a", "removed"),
            ("a", "restored"),
            ("b", "appeal_upheld"),
            ("b", "removed"),
        ]
        assert all(count == 1 for count in receiver.accepted.values())
        restored = next(p for p in receiver.payloads.values() if p["type"] == "restored")
        assert (restored["status"], restored["visibility"]) == ("restored", "public")
        assert restored["removed_by"] == "model"
    finally:
        jobs.use_settings(None)
        parts.close()
        receiver.close()


def test_human_outcomes_export_as_training_data(
    parts: wiring.Parts, moderation: Moderation, tmp_path: Path
) -> None:
    removed_by_model(moderation, "fp")  # auto-removed, then restored: a false positive
    appeal = parts.appeals.submit("fp", "mine", "pipeline")
    assert parts.appeals.claim("senior-a", []) is not None
    parts.appeals.decide(appeal.item_id, "senior-a", AppealVerdict.RESTORE, None)
    removed_by_person(parts, moderation, "mod-a")  # h1: misinformation
    removed_by_model(moderation, "auto")  # no person involved: not exported
    sink = io.StringIO()
    counts = export(parts.engine, sink)
    assert counts == {"examples": 2, "violations": 1, "benign": 1, "false_positives": 1}
    path = tmp_path / "labels.jsonl"
    path.write_text(sink.getvalue(), encoding="utf-8")
    examples = {example.id: example for example in load_examples(path)}  # the training loader
    assert examples["mizan:fp:1"].labels == ()
    assert examples["mizan:h1:1"].labels == ("misinformation",)
    assert "garlic water" in examples["mizan:h1:1"].text
    rows = [json.loads(line) for line in sink.getvalue().splitlines()]
    assert {row["source_label"] for row in rows} == {"restored", "human_removed"}
    assert all(row["source"] == "mizan" and row["lang"] == "en" for row in rows)


@pytest.fixture
def http(settings: Settings, redis: Redis) -> Iterator[tuple[TestClient, Receiver, Settings]]:
    receiver = Receiver(fail_first=0)
    configured = settings.model_copy(
        update={
            "webhook_url": receiver.url,
            "webhook_secret": SecretStr(SECRET),
            "webhook_retry_intervals_s": [0],
        }
    )
    jobs.use_settings(configured)
    with TestClient(create_app(configured)) as client:
        yield client, receiver, configured
    jobs.use_settings(None)
    receiver.close()


def test_the_whole_path_over_http(
    http: tuple[TestClient, Receiver, Settings], redis: Redis
) -> None:
    client, receiver, _ = http
    store: KeyStore = client.app.state.keys  # type: ignore[attr-defined]

    def key(name: str, *roles: Role) -> dict[str, str]:
        _, plaintext = store.create(name, roles, ["en"], dt.datetime.now(dt.UTC))
        return {"Authorization": f"Bearer {plaintext}"}

    pipeline = key("pipeline", Role.UPLOADER)
    senior_moderator = key("amna", Role.MODERATOR, Role.APPEALS_REVIEWER)
    senior = key("bilal", Role.APPEALS_REVIEWER)

    # score -> auto-removed -> appeal -> restored
    assert (
        client.post("/v1/videos/score", json=video("auto", **SPAM), headers=pipeline).json()[
            "action"
        ]
        == "remove"
    )
    appeal = client.post(
        "/v1/videos/auto/appeals", json={"statement": "my own shop"}, headers=pipeline
    )
    assert appeal.status_code == 201, appeal.text
    again = client.post("/v1/videos/auto/appeals", json={"statement": "again"}, headers=pipeline)
    assert again.status_code == 409
    assert again.headers["content-type"] == "application/problem+json"
    claim = client.post("/v1/appeals/claim", headers=senior).json()
    assert claim["appeal"]["statement"] == "my own shop"
    assert claim["removal"]["type"] == "auto_removed"
    appeal_id = claim["appeal"]["appeal_id"]
    restored = client.post(
        f"/v1/appeals/{appeal_id}/decision", json={"verdict": "restore"}, headers=senior
    )
    assert restored.json()["video"]["status"] == "restored"

    # score -> review -> human removal -> appeal decided by someone else -> upheld
    client.post("/v1/videos/score", json=video("rev", **MISINFORMATION), headers=pipeline)
    item = client.post("/v1/review/claim", headers=senior_moderator).json()["item"]
    removal = {"verdict": "remove", "label": "misinformation"}
    client.post(
        f"/v1/review/items/{item['item_id']}/decision", json=removal, headers=senior_moderator
    )
    assert (
        client.post(
            "/v1/videos/rev/appeals", json={"statement": "it is true"}, headers=pipeline
        ).status_code
        == 201
    )
    assert client.post("/v1/appeals/claim", headers=senior_moderator).status_code == 204
    claim = client.post("/v1/appeals/claim", headers=senior).json()
    assert claim["removal"]["type"] == "human_removed"
    upheld = client.post(
        f"/v1/appeals/{claim['appeal']['appeal_id']}/decision",
        json={"verdict": "uphold", "note": "a false cure"},
        headers=senior,
    )
    assert upheld.json()["video"]["status"] == "removed"

    shown = client.get("/v1/videos/rev", headers=pipeline).json()
    assert [a["verdict"] for a in shown["appeals"]] == ["uphold"]
    assert [r["verdict"] for r in shown["reviews"]] == ["remove"]
    assert [e["type"] for e in shown["history"]][-3:] == [
        "appeal_submitted",
        "claimed",
        "appeal_upheld",
    ]
    assert client.get("/v1/videos/auto", headers=pipeline).json()["appeals"][0]["verdict"] == (
        "restore"
    )
    SimpleWorker([Queue(EFFECTS_QUEUE, connection=redis)], connection=redis).work(burst=True)
    got = sorted((p["video_id"], p["type"], p["decided_by"]) for p in receiver.payloads.values())
    assert got == [
        ("auto", "removed", "model"),
        ("auto", "restored", "human"),
        ("rev", "appeal_upheld", "human"),
        ("rev", "removed", "human"),
    ]
