"""Audits of automation against a real Redis and database: sampling at its configured rate,
confirm and overturn (restore a removal, remove an allowed video, or only record the verdict
when the video moved on), the API, reconcile, the labels export, and the measured precision
equal to the hand-computed one on a constructed log."""

from __future__ import annotations

import io
import json
import math
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from redis import Redis

from classifier import OnnxScorer
from service import wiring
from service.app import create_app
from service.audit_report import DecidedAudit, measure
from service.domain import Action, AppealVerdict, AuditVerdict, EventType, Role, Verdict
from service.errors import InvalidRequestError
from service.labels import export
from service.model_registry import fixed_lineup
from service.moderation import Moderation
from service.report import enforcement_report, parse_period
from service.settings import Settings
from service.tables import audits, decisions
from tests.service.conftest import MISINFORMATION, SPAM, Clock, upload, video

QUARTER = "2026Q4"  # the tests' clock starts on 2026-11-25


@pytest.fixture
def audited(settings: Settings, clock: Clock) -> Iterator[wiring.Parts]:
    built = wiring.build(
        settings.model_copy(update={"audit_share": 1.0}), clock=clock, migrate_schema=True
    )
    yield built
    built.close()


@pytest.fixture
def scoring(audited: wiring.Parts, scorer: OnnxScorer) -> Moderation:
    return Moderation(
        audited.decision_log,
        fixed_lineup(scorer),
        audited.policy,
        clock=audited.clock,
        dispatch=audited.dispatcher.apply,
    )


def claim(parts: wiring.Parts, who: str = "auditor") -> str:
    view = parts.audits.claim(who, ["en"])
    assert view is not None
    return view.item.item_id


def state(parts: wiring.Parts, video_id: str) -> tuple[str, str]:
    current = parts.decision_log.current(video_id)
    assert current is not None
    return current.status.value, current.visibility.value


def types(parts: wiring.Parts, video_id: str) -> list[EventType]:
    return [event.type for event in parts.decision_log.history(video_id)]


def test_sampling_rate_is_within_its_statistical_bounds(
    settings: Settings, clock: Clock, scorer: OnnxScorer
) -> None:
    share, videos = 0.1, 32 * 64
    parts = wiring.build(
        settings.model_copy(update={"audit_share": share}), clock=clock, migrate_schema=True
    )
    try:
        moderation = Moderation(
            parts.decision_log,
            fixed_lineup(scorer),
            parts.policy,
            clock=clock,
        )
        contents = [SPAM, {}, MISINFORMATION, {"title": "my trip to Hunza valley"}]
        for begin in range(0, videos, 64):
            moderation.score([upload(f"s{n}", **contents[n % 4]) for n in range(begin, begin + 64)])
        with parts.engine.connect() as connection:
            automated = connection.scalar(
                sa.select(sa.func.count())
                .select_from(decisions)
                .where(decisions.c.action.in_(["remove", "allow"]))
            )
            sampled = dict(
                connection.execute(
                    sa.select(audits.c.action, sa.func.count()).group_by(audits.c.action)
                ).all()
            )
    finally:
        parts.close()
    assert automated == videos * 3 // 4  # misinformation is reviewed, never audited
    assert set(sampled) <= {"remove", "allow"}
    total = sum(sampled.values())
    spread = math.sqrt(automated * share * (1 - share))
    # four standard deviations: a correct sampler fails this about once in 16,000 runs
    assert abs(total - automated * share) <= 4 * spread, (total, automated)
    assert sampled.get("remove", 0) > 0
    assert sampled.get("allow", 0) > 0


def test_an_overturned_removal_is_restored(audited: wiring.Parts, scoring: Moderation) -> None:
    scoring.score([upload("r1", **SPAM)])
    item_id = claim(audited)
    decided = audited.audits.decide(item_id, "auditor", AuditVerdict.OVERTURN, None, "a shop")
    assert decided.item.applied is True
    assert state(audited, "r1") == ("restored", "public")
    assert types(audited, "r1")[-1] is EventType.AUDIT_OVERTURNED
    # a restoration after an audit is not an appeal's: the report's restorations stay 0
    report = enforcement_report(audited.engine, parse_period(QUARTER))
    assert report.total[0].counts.get("restorations", 0) == 0


def test_a_confirmed_decision_changes_nothing(audited: wiring.Parts, scoring: Moderation) -> None:
    scoring.score([upload("c1", **SPAM), upload("c2")])
    for _ in range(2):
        audited.audits.decide(claim(audited), "auditor", AuditVerdict.CONFIRM, None, None)
    assert state(audited, "c1") == ("removed", "removed")
    assert state(audited, "c2") == ("live", "public")
    assert types(audited, "c2")[-1] is EventType.AUDIT_CONFIRMED


def test_an_overturned_allow_is_removed_by_the_auditor(
    audited: wiring.Parts, scoring: Moderation
) -> None:
    scoring.score([upload("a1", title="all of them are subhuman filth, wipe them out")])
    assert state(audited, "a1") == ("live", "public")
    item_id = claim(audited)
    with pytest.raises(InvalidRequestError):  # an overturned allow names the label broken
        audited.audits.decide(item_id, "auditor", AuditVerdict.OVERTURN, None, None)
    decided = audited.audits.decide(item_id, "auditor", AuditVerdict.OVERTURN, "hate_speech", None)
    assert decided.item.applied is True
    assert state(audited, "a1") == ("removed", "removed")
    removal = audited.decision_log.history("a1")[-1]
    assert (removal.type, removal.label, removal.actor) == (
        EventType.HUMAN_REMOVED,
        "hate_speech",
        "auditor",
    )
    report = enforcement_report(audited.engine, parse_period(QUARTER))
    counts = report.total[0].counts
    assert (counts["removals"], counts.get("removals_automated", 0)) == (1, 0)


def test_a_video_that_moved_on_only_records_the_verdict(
    audited: wiring.Parts, scoring: Moderation
) -> None:
    scoring.score([upload("m1")])
    item_id = claim(audited)
    scoring.score([upload("m1", title="edited title, still about cooking")])  # revision 2
    decided = audited.audits.decide(item_id, "auditor", AuditVerdict.OVERTURN, "spam", None)
    assert decided.item.applied is False
    assert state(audited, "m1") == ("live", "public")
    assert types(audited, "m1")[-1] is EventType.AUDIT_OVERTURNED


def test_an_audit_never_undoes_a_persons_decision(
    audited: wiring.Parts, scoring: Moderation
) -> None:
    """A removal upheld on appeal, and an allow a moderator approved after a report, stay as
    the people decided: the overturn is only recorded."""
    scoring.score([upload("up", **SPAM), upload("ok")])
    appeal = audited.appeals.submit("up", "please", "pipeline")
    assert audited.appeals.claim("senior", []) is not None
    audited.appeals.decide(appeal.item_id, "senior", AppealVerdict.UPHOLD, None)
    scoring.record_report("ok", "u1", "spam", "pipeline")
    review = audited.review.claim("amna", ["en"])
    assert review is not None
    audited.review.decide(review.item.item_id, "amna", Verdict.APPROVE, None, None)
    for _ in range(2):
        view = audited.audits.claim("auditor", ["en"])
        assert view is not None
        label = "spam" if view.item.action is Action.ALLOW else None
        decided = audited.audits.decide(
            view.item.item_id, "auditor", AuditVerdict.OVERTURN, label, None
        )
        assert decided.item.applied is False
    assert state(audited, "up") == ("removed", "removed")
    assert state(audited, "ok") == ("live", "public")


def test_review_decisions_are_never_audited(audited: wiring.Parts, scoring: Moderation) -> None:
    scoring.score([upload("rv", **MISINFORMATION)])
    assert audited.audits.claim("auditor", ["en"]) is None


def test_reconcile_puts_audits_back_after_flushdb(
    audited: wiring.Parts, scoring: Moderation, redis: Redis
) -> None:
    scoring.score([upload(f"f{n}") for n in range(3)])
    redis.flushdb()
    report = audited.reconcile()
    assert (report["audits_open"], report["audits_restored"]) == (3, 3)
    assert len(audited.audit_queues.placements()) == 3


def test_audit_verdicts_are_exported_as_human_labels(
    audited: wiring.Parts, scoring: Moderation
) -> None:
    scoring.score([upload("e1", **SPAM), upload("e2", **SPAM)])
    first, second = claim(audited), claim(audited, "other")
    audited.audits.decide(first, "auditor", AuditVerdict.CONFIRM, None, None)
    audited.audits.decide(second, "other", AuditVerdict.OVERTURN, None, None)
    sink = io.StringIO()
    counts = export(audited.engine, sink)
    rows = [json.loads(line) for line in sink.getvalue().splitlines()]
    assert sorted(row["labels"] for row in rows) == [[], ["spam"]]
    assert counts["false_positives"] == 1  # the overturned automated removal


def wilson(hits: int, n: int) -> tuple[float, float]:
    z = 1.959964
    p = hits / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return centre - half, centre + half


def test_measured_precision_equals_the_hand_computed_one(
    audited: wiring.Parts, scoring: Moderation
) -> None:
    """Ten automated spam removals (7 confirmed, 3 overturned) and six allows (one overturned
    as harassment): precision 7/10, one allow in six found violating."""
    scoring.score([upload(f"r{n}", **SPAM) for n in range(10)])
    scoring.score([upload(f"k{n}") for n in range(6)])
    verdicts = {f"r{n}": AuditVerdict.CONFIRM for n in range(7)}
    verdicts |= {f"r{n}": AuditVerdict.OVERTURN for n in range(7, 10)}
    verdicts |= {f"k{n}": AuditVerdict.CONFIRM for n in range(5)} | {"k5": AuditVerdict.OVERTURN}
    for _ in range(16):
        view = audited.audits.claim("auditor", ["en"])
        assert view is not None
        verdict = verdicts[view.item.video_id]
        label = "harassment" if view.item.video_id == "k5" else None
        audited.audits.decide(view.item.item_id, "auditor", verdict, label, None)

    report = enforcement_report(audited.engine, parse_period(QUARTER)).to_json()
    figures = report["audits"]
    assert isinstance(figures, dict)
    spam = figures["automated_removal_precision"]["spam"]
    low, high = wilson(7, 10)
    assert (spam["audited"], spam["hits"], spam["share"]) == (10, 7, 0.7)
    assert spam["ci95"] == [round(low, 4), round(high, 4)]
    # the six allows share the model's top label: one population, 1 of 6 found violating
    [allowed] = figures["allowed_found_violating"].values()
    assert (allowed["audited"], allowed["hits"], allowed["share"]) == (6, 1, round(1 / 6, 4))
    assert figures["open_audits"] == 0


def test_measure_counts_by_label_and_verdict() -> None:
    decided = [
        DecidedAudit(Action.REMOVE, "spam", AuditVerdict.CONFIRM, None),
        DecidedAudit(Action.REMOVE, "spam", AuditVerdict.OVERTURN, None),
        DecidedAudit(Action.REMOVE, "hate_speech", AuditVerdict.CONFIRM, None),
        DecidedAudit(Action.ALLOW, "spam", AuditVerdict.OVERTURN, "harassment"),
        DecidedAudit(Action.ALLOW, "spam", AuditVerdict.CONFIRM, None),
    ]
    figures = measure(decided)
    assert {k: (m.audited, m.hits) for k, m in figures.removal_precision.items()} == {
        "spam": (2, 1),
        "hate_speech": (1, 1),
    }
    assert {k: (m.audited, m.hits) for k, m in figures.allowed_violating.items()} == {
        "spam": (2, 1),  # by the audited (top) label, whatever label the auditor named
    }
    assert measure([]).removal_precision == {}


def test_the_audit_api(settings: Settings) -> None:
    with TestClient(create_app(settings.model_copy(update={"audit_share": 1.0}))) as client:
        store = client.app.state.keys  # type: ignore[attr-defined]
        import datetime as dt

        now = dt.datetime.now(dt.UTC)
        uploader = {"Authorization": f"Bearer {store.create('p', [Role.UPLOADER], [], now)[1]}"}
        moderator = {
            "Authorization": f"Bearer {store.create('m', [Role.MODERATOR], ['en'], now)[1]}"
        }
        client.post("/v1/videos/score", json=video("h1", **SPAM), headers=uploader)
        queues = client.get("/v1/audits/queues", headers=moderator).json()
        assert queues["waiting"] == 1
        claimed = client.post("/v1/audits/claim", headers=moderator).json()
        audit = claimed["audit"]
        assert (audit["audited_action"], audit["label"], audit["video_id"]) == (
            "remove",
            "spam",
            "h1",
        )
        assert claimed["decision"]["action"] == "remove"
        url = f"/v1/audits/{audit['audit_id']}/decision"
        refused = client.post(url, json={"verdict": "confirm", "label": "spam"}, headers=moderator)
        assert refused.status_code == 422
        assert refused.headers["content-type"] == "application/problem+json"
        done = client.post(url, json={"verdict": "overturn"}, headers=moderator)
        assert done.status_code == 200
        body = done.json()
        assert (body["audit"]["verdict"], body["audit"]["applied"]) == ("overturn", True)
        assert body["video"]["status"] == "restored"
        again = client.post(url, json={"verdict": "confirm"}, headers=moderator)
        assert again.status_code == 409
        assert client.post("/v1/audits/claim", headers=moderator).status_code == 204


def test_a_sampled_removal_announces_its_removal(
    settings: Settings, clock: Clock, scorer: OnnxScorer
) -> None:
    from pydantic import SecretStr

    from service.outbox import Outbox

    configured = settings.model_copy(
        update={
            "audit_share": 1.0,
            "webhook_url": "http://127.0.0.1:9/none",
            "webhook_secret": SecretStr("s" * 20),
        }
    )
    parts = wiring.build(configured, clock=clock, migrate_schema=True)
    try:
        Moderation(parts.decision_log, fixed_lineup(scorer), parts.policy, clock=clock).score(
            [upload("wh", **SPAM)]
        )
        [event_id] = Outbox(parts.engine).pending()
        delivery = Outbox(parts.engine).get(event_id)
        assert delivery is not None
        announced = parts.decision_log.event(event_id)
        assert announced.type is EventType.AUTO_REMOVED
        assert delivery.payload["actor"] == "model:1.0.2"
    finally:
        parts.close()
