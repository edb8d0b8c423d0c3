"""Webhooks: signed deliveries to a real local HTTP receiver that fails the first attempts,
run by a real RQ worker; every event arrives once by event id."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterator

import pytest
from pydantic import SecretStr
from redis import Redis
from rq import Queue, SimpleWorker
from rq.registry import FailedJobRegistry

from classifier import OnnxScorer
from service import jobs, wiring
from service.domain import Verdict
from service.model_registry import fixed_lineup
from service.moderation import Moderation
from service.settings import Settings
from service.webhooks import (
    EFFECTS_QUEUE,
    RETRY_QUEUE,
    SignatureError,
    body_bytes,
    sign,
    verify,
)
from tests.service.conftest import MISINFORMATION, SPAM, Clock, upload
from tests.service.receiver import SECRET, Receiver


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver(fail_first=2)
    yield server
    server.close()


def with_webhooks(settings: Settings, url: str, retries: list[int]) -> Settings:
    return settings.model_copy(
        update={
            "webhook_url": url,
            "webhook_secret": SecretStr(SECRET),
            "webhook_retry_intervals_s": retries,
        }
    )


@pytest.fixture
def hooked(
    settings: Settings, receiver: Receiver, scorer: OnnxScorer
) -> Iterator[tuple[wiring.Parts, Moderation]]:
    configured = with_webhooks(settings, receiver.url, [0, 0, 0])
    parts = wiring.build(configured, clock=Clock(), migrate_schema=True)
    jobs.use_settings(configured)
    moderation = Moderation(
        parts.decision_log,
        fixed_lineup(scorer),
        parts.policy,
        clock=parts.clock,
        dispatch=parts.dispatcher.apply,
    )
    yield parts, moderation
    jobs.use_settings(None)
    parts.close()


def work(redis: Redis) -> None:
    queues = [Queue(name, connection=redis) for name in (EFFECTS_QUEUE, RETRY_QUEUE)]
    SimpleWorker(queues, connection=redis).work(burst=True)


def outcomes(parts: wiring.Parts, moderation: Moderation) -> list[tuple[str, str, str]]:
    """An automated removal, a human removal and a human approval: (video, type, by)."""
    moderation.score([upload("auto", **SPAM), upload("h1", **MISINFORMATION)])
    moderation.score([upload("h2", **MISINFORMATION)])
    expected = [("auto", "removed", "model")]
    for verdict, label in [(Verdict.REMOVE, "misinformation"), (Verdict.APPROVE, None)]:
        view = parts.review.claim("mod-a", ["en"])
        assert view is not None
        parts.review.decide(view.item.item_id, "mod-a", verdict, label, None)
        kind = "removed" if verdict is Verdict.REMOVE else "approved"
        expected.append((view.item.video_id, kind, "human"))
    return sorted(expected)


def test_every_outcome_is_delivered_once_despite_failures(
    hooked: tuple[wiring.Parts, Moderation], receiver: Receiver, redis: Redis
) -> None:
    parts, moderation = hooked
    expected = outcomes(parts, moderation)
    work(redis)
    deliveries = parts.outbox.all()
    assert len(deliveries) == 3
    assert all(d.delivered_at is not None for d in deliveries)
    assert receiver.accepted == Counter({d.event_id: 1 for d in deliveries})
    assert receiver.attempts == Counter({d.event_id: 3 for d in deliveries})
    assert all(d.attempts == 3 for d in deliveries)
    assert receiver.bad_signatures == 0
    kinds = sorted((p["video_id"], p["type"], p["decided_by"]) for p in receiver.payloads.values())
    assert kinds == expected
    # a late duplicate job (reconcile, an operator's requeue) sends nothing twice
    assert parts.review.reconcile().webhooks == 0
    assert jobs.deliver_webhook(deliveries[0].event_id) == "already delivered"
    assert sum(receiver.accepted.values()) == 3


def test_a_delivery_that_keeps_failing_waits_in_rqs_failed_registry_for_reconcile(
    settings: Settings, scorer: OnnxScorer, redis: Redis
) -> None:
    always_down = Receiver(fail_first=1_000)
    configured = with_webhooks(settings, always_down.url, [0, 0])
    parts = wiring.build(configured, clock=Clock(), migrate_schema=True)
    jobs.use_settings(configured)
    try:
        moderation = Moderation(
            parts.decision_log, fixed_lineup(scorer), parts.policy, dispatch=parts.dispatcher.apply
        )
        moderation.score([upload("auto", **SPAM)])
        work(redis)
        [delivery] = parts.outbox.all()
        assert delivery.delivered_at is None
        assert delivery.attempts == 3  # the first try and two retries
        failed = FailedJobRegistry(EFFECTS_QUEUE, connection=redis).get_job_ids()
        assert failed == [f"deliver-{delivery.event_id}"]
        # each reconcile gives it one more try, on the retry queue, never two at a time
        assert parts.review.reconcile().webhooks == 1
        assert parts.review.reconcile().webhooks == 0
        assert Queue(RETRY_QUEUE, connection=redis).job_ids == failed
        work(redis)
        [delivery] = parts.outbox.all()
        assert delivery.attempts == 4
        assert FailedJobRegistry(RETRY_QUEUE, connection=redis).get_job_ids() == failed
        assert parts.review.reconcile().webhooks == 1  # and again at the next pass
    finally:
        jobs.use_settings(None)
        parts.close()
        always_down.close()


def test_webhooks_lost_with_redis_are_sent_after_reconcile(
    hooked: tuple[wiring.Parts, Moderation], receiver: Receiver, redis: Redis
) -> None:
    parts, moderation = hooked
    outcomes(parts, moderation)
    redis.flushdb()  # Redis restarted empty before the worker ran
    work(redis)
    assert sum(receiver.accepted.values()) == 0
    assert parts.review.reconcile().webhooks == 3
    work(redis)
    assert receiver.accepted == Counter({d.event_id: 1 for d in parts.outbox.all()})


def test_backoff_intervals_travel_with_the_job(
    settings: Settings, scorer: OnnxScorer, redis: Redis
) -> None:
    configured = with_webhooks(settings, "http://127.0.0.1:9/unused", [10, 60, 300])
    parts = wiring.build(configured, clock=Clock(), migrate_schema=True)
    try:
        moderation = Moderation(
            parts.decision_log, fixed_lineup(scorer), parts.policy, dispatch=parts.dispatcher.apply
        )
        moderation.score([upload("auto", **SPAM)])
        [job] = Queue(EFFECTS_QUEUE, connection=redis).jobs
        assert (job.retries_left, job.retry_intervals) == (3, [10, 60, 300])
    finally:
        parts.close()


def test_signatures_verify_and_refuse_tampering_and_replays() -> None:
    body = body_bytes({"event_id": "e1", "type": "removed"})
    now = dt.datetime(2026, 11, 25, tzinfo=dt.UTC).timestamp()
    header = sign(SECRET, int(now), body)
    verify(SECRET, header, body, now)
    with pytest.raises(SignatureError):
        verify(SECRET, header, body.replace(b"removed", b"approved"), now)
    with pytest.raises(SignatureError):
        verify("another-secret-entirely", header, body, now)
    with pytest.raises(SignatureError):
        verify(SECRET, header, body, now + 301)
    with pytest.raises(SignatureError):
        verify(SECRET, "v1=deadbeef", body, now)
