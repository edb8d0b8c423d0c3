"""Human review against a real Redis and database: claims, leases, decisions, reports,
reconcile, and the 409s that change nothing."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from redis import Redis

from review_queue import Priority
from service import wiring
from service.app import create_app
from service.domain import EventType, ItemState, Role, Verdict
from service.errors import ConflictError, InvalidRequestError
from service.keys import KeyStore
from service.moderation import Moderation
from service.settings import Settings
from service.tables import events, review_items
from tests.service.conftest import MISINFORMATION, SPAM, START, Clock, upload, video


def queued(moderation: Moderation, *video_ids: str, **fields: object) -> None:
    """Score videos the model sends to review."""
    results = moderation.score([upload(v, **{**MISINFORMATION, **fields}) for v in video_ids])
    assert all(r.decision.action.value == "review" for r in results)


def event_types(parts: wiring.Parts, video_id: str) -> list[EventType]:
    return [event.type for event in parts.decision_log.history(video_id)]


def snapshot(parts: wiring.Parts) -> tuple[object, ...]:
    """Everything a refused request must leave as it was."""
    with parts.engine.connect() as connection:
        items = connection.execute(sa.select(review_items).order_by(review_items.c.item_id))
        return (
            parts.decision_log.count_rows(),
            [tuple(row) for row in items],
            parts.queues.placements(),
        )


def test_a_review_decision_is_queued_claimed_and_decided(
    parts: wiring.Parts, moderation: Moderation, redis: Redis
) -> None:
    queued(moderation, "v1")
    [stats] = parts.review.stats(target_s=86_400)
    assert (stats.queue, stats.waiting) == ("review:en:normal", 1)
    assert redis.llen("rq:queue:review:en:normal") == 1  # what `rq info` counts

    view = parts.review.claim("mod-a", ["en"])
    assert view is not None
    assert view.item.claimed_by == "mod-a"
    assert view.content is not None
    assert view.content.title == "The truth they hide"
    assert view.decision.label == "misinformation"

    decided = parts.review.decide(
        view.item.item_id, "mod-a", Verdict.REMOVE, "misinformation", None
    )
    assert decided.item.state is ItemState.DECIDED
    assert (decided.video.status.value, decided.video.visibility.value) == ("removed", "removed")
    assert decided.video.removed_at == START
    assert event_types(parts, "v1")[-2:] == [EventType.CLAIMED, EventType.HUMAN_REMOVED]
    assert parts.queues.placements() == {}
    assert parts.review.claim("mod-b", ["en"]) is None


def test_approval_makes_the_video_live_and_public(
    parts: wiring.Parts, moderation: Moderation
) -> None:
    queued(moderation, "v1")
    view = parts.review.claim("mod-a", [])
    assert view is not None
    decided = parts.review.decide(view.item.item_id, "mod-a", Verdict.APPROVE, None, "satire")
    assert (decided.video.status.value, decided.video.visibility.value) == ("live", "public")
    assert decided.item.note == "satire"
    assert event_types(parts, "v1")[-1] is EventType.HUMAN_APPROVED


def test_a_lease_that_runs_out_returns_the_item(
    parts: wiring.Parts, moderation: Moderation, clock: Clock
) -> None:
    queued(moderation, "v1", "v2")
    first = parts.review.claim("mod-a", ["en"])
    assert first is not None
    clock.advance(parts.settings.review_lease_s)  # the lease ends now
    again = parts.review.claim("mod-b", ["en"])
    assert again is not None
    assert again.item.item_id == first.item.item_id
    assert EventType.LEASE_EXPIRED in event_types(parts, first.item.video_id)
    with pytest.raises(ConflictError, match="lease"):
        parts.review.decide(first.item.item_id, "mod-a", Verdict.APPROVE, None, None)
    parts.review.decide(again.item.item_id, "mod-b", Verdict.APPROVE, None, None)


def test_a_decision_after_the_lease_ran_out_is_refused_before_any_sweep(
    parts: wiring.Parts, moderation: Moderation, clock: Clock
) -> None:
    queued(moderation, "v1")
    view = parts.review.claim("mod-a", ["en"])
    assert view is not None
    clock.advance(parts.settings.review_lease_s + 1)
    before = snapshot(parts)
    with pytest.raises(ConflictError):
        parts.review.decide(view.item.item_id, "mod-a", Verdict.APPROVE, None, None)
    assert snapshot(parts) == before


@pytest.mark.parametrize("case", ["not-holder", "decided", "superseded", "released"])
def test_refused_decisions_are_409_and_change_nothing(
    parts: wiring.Parts, moderation: Moderation, case: str
) -> None:
    queued(moderation, "v1")
    view = parts.review.claim("mod-a", ["en"])
    assert view is not None
    item_id = view.item.item_id
    holder = "mod-a"
    if case == "not-holder":
        holder = "mod-b"
    elif case == "decided":
        parts.review.decide(item_id, "mod-a", Verdict.APPROVE, None, None)
    elif case == "superseded":
        moderation.score([upload("v1", title="An edited title", transcript="cooking rice")])
    elif case == "released":
        parts.review.release(item_id, "mod-a")
    before = snapshot(parts)
    with pytest.raises(ConflictError):
        parts.review.decide(item_id, holder, Verdict.REMOVE, "misinformation", None)
    with pytest.raises(ConflictError):
        parts.review.release(item_id, holder)
    assert snapshot(parts) == before


def test_a_removal_needs_a_policy_label(parts: wiring.Parts, moderation: Moderation) -> None:
    queued(moderation, "v1")
    view = parts.review.claim("mod-a", ["en"])
    assert view is not None
    for verdict, label in [(Verdict.REMOVE, None), (Verdict.REMOVE, "rudeness")]:
        with pytest.raises(InvalidRequestError):
            parts.review.decide(view.item.item_id, "mod-a", verdict, label, None)
    with pytest.raises(InvalidRequestError):
        parts.review.decide(view.item.item_id, "mod-a", Verdict.APPROVE, "spam", None)


def test_an_edit_supersedes_the_pending_item(parts: wiring.Parts, moderation: Moderation) -> None:
    queued(moderation, "v1")
    [old] = parts.review_log.items_of("v1")
    moderation.score([upload("v1", title="Cooking rice", transcript="rice and lentils")])
    [old_now] = parts.review_log.items_of("v1")
    assert (old_now.item_id, old_now.state) == (old.item_id, ItemState.SUPERSEDED)
    assert parts.queues.placements() == {}
    assert EventType.SUPERSEDED in event_types(parts, "v1")


def test_reports_open_one_item_and_raise_its_priority(
    parts: wiring.Parts, moderation: Moderation
) -> None:
    moderation.score([upload("v1")])  # allowed: live
    for n in range(4):
        moderation.record_report("v1", f"user-{n}", "this is fake", "pipeline")
    moderation.record_report("v1", "user-0", "again", "pipeline")  # counted once
    [item] = parts.review_log.items_of("v1")
    assert item.reason.value == "report"
    state = parts.decision_log.current("v1")
    assert state is not None
    assert state.reports == 4
    assert (state.status.value, state.visibility.value) == ("pending_review", "public")
    [placement] = parts.queues.placements().values()
    assert placement.queue == "review:en:high"  # four reports: 2.0 of urgency
    assert event_types(parts, "v1").count(EventType.QUEUED_FOR_REVIEW) == 1


def test_a_reviewed_revision_is_not_queued_again_by_reports(
    parts: wiring.Parts, moderation: Moderation
) -> None:
    moderation.score([upload("v1")])
    moderation.record_report("v1", "user-1", "fake", "pipeline")
    view = parts.review.claim("mod-a", ["en"])
    assert view is not None
    parts.review.decide(view.item.item_id, "mod-a", Verdict.APPROVE, None, None)
    moderation.record_report("v1", "user-2", "still fake", "pipeline")
    assert len(parts.review_log.items_of("v1")) == 1
    assert parts.queues.placements() == {}


def test_reports_on_a_removed_video_are_only_counted(
    parts: wiring.Parts, moderation: Moderation
) -> None:
    moderation.score([upload("v1", **SPAM)])
    state, counted = moderation.record_report("v1", "user-1", "spam", "pipeline")
    assert counted
    assert state.status.value == "removed"
    assert parts.review_log.items_of("v1") == []


def test_views_raise_a_waiting_item_to_a_higher_queue(
    parts: wiring.Parts, moderation: Moderation
) -> None:
    queued(moderation, "v1")
    assert {p.queue for p in parts.queues.placements().values()} == {"review:en:normal"}
    moderation.record_views("v1", 50_000, "pipeline")
    assert {p.queue for p in parts.queues.placements().values()} == {"review:en:high"}


def test_reconcile_after_flushdb_restores_every_pending_item(
    parts: wiring.Parts, moderation: Moderation, redis: Redis
) -> None:
    queued(moderation, *[f"v{n}" for n in range(30)])
    held = parts.review.claim("mod-a", ["en"])
    assert held is not None
    before = parts.queues.placements()
    redis.flushdb()
    report = parts.review.reconcile()
    assert (report.open_items, report.restored) == (30, 30)
    assert parts.queues.placements() == before  # the live lease is restored to its holder
    again = parts.review.claim("mod-a", ["en"])
    assert again is not None
    assert again.item.item_id == held.item.item_id
    assert parts.review.reconcile().restored == 0  # nothing left to repair


def test_reconcile_repairs_a_crash_between_the_log_and_redis(
    parts: wiring.Parts, moderation: Moderation
) -> None:
    queued(moderation, "v1", "v2")
    view = parts.review.claim("mod-a", ["en"])
    assert view is not None
    # the log records a decision, then the process dies before Redis hears of it
    parts.review_log.decide(view.item.item_id, "mod-a", Verdict.APPROVE, None, None, parts.clock())
    assert view.item.item_id in parts.queues.placements()
    report = parts.review.reconcile()
    assert report.finished == 1
    assert view.item.item_id not in parts.queues.placements()
    assert len(parts.queues.placements()) == 1


def test_claims_skip_items_decided_while_redis_did_not_know(
    parts: wiring.Parts, moderation: Moderation
) -> None:
    queued(moderation, "v1")
    [item] = parts.review_log.items_of("v1")
    with parts.engine.begin() as connection:  # decided elsewhere; Redis not told
        connection.execute(
            review_items.update()
            .where(review_items.c.item_id == item.item_id)
            .values(state=ItemState.DECIDED.value)
        )
    assert parts.review.claim("mod-a", ["en"]) is None
    assert parts.queues.placements() == {}


def test_twenty_moderators_decide_two_thousand_items_exactly_once(
    parts: wiring.Parts, moderation: Moderation
) -> None:
    count = 2_000
    ids = [f"bulk-{n}" for n in range(count)]
    for start in range(0, count, 64):
        queued(moderation, *ids[start : start + 64])
    claims: dict[str, list[str]] = {}
    lock = threading.Lock()
    errors: list[BaseException] = []

    def moderator(name: str) -> None:
        try:
            while (view := parts.review.claim(name, ["en"])) is not None:
                with lock:
                    claims.setdefault(view.item.item_id, []).append(name)
                verdict = Verdict.REMOVE if len(view.item.item_id) % 2 else Verdict.APPROVE
                label = "misinformation" if verdict is Verdict.REMOVE else None
                parts.review.decide(view.item.item_id, name, verdict, label, None)
        except BaseException as exc:  # surfaced below; a thread's exception is otherwise lost
            errors.append(exc)

    threads = [threading.Thread(target=moderator, args=(f"mod-{n}",)) for n in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(claims) == count
    assert all(len(holders) == 1 for holders in claims.values())  # never held twice
    with parts.engine.connect() as connection:
        states = connection.execute(
            sa.select(review_items.c.state, sa.func.count()).group_by(review_items.c.state)
        ).all()
        decisions = connection.scalar(
            sa.select(sa.func.count())
            .select_from(events)
            .where(events.c.type.in_(["human_removed", "human_approved"]))
        )
    assert dict(states) == {"decided": count}
    assert decisions == count  # each decided exactly once
    assert parts.queues.placements() == {}


def test_the_oldest_item_in_the_highest_band_comes_first(
    parts: wiring.Parts, moderation: Moderation, clock: Clock
) -> None:
    queued(moderation, "old-normal")
    clock.advance(60)
    queued(moderation, "young-normal")
    clock.advance(60)
    moderation.score([upload("reported")])
    for n in range(3):
        moderation.record_report("reported", f"u{n}", "fake", "pipeline")
    order = []
    while (view := parts.review.claim("mod-a", ["en"])) is not None:
        order.append(view.item.video_id)
        parts.review.decide(view.item.item_id, "mod-a", Verdict.APPROVE, None, None)
    assert order == ["reported", "old-normal", "young-normal"]
    assert Priority.HIGH.value == "high"


def test_scoring_goes_on_while_redis_is_down_and_reconcile_catches_up(
    settings: Settings, redis: Redis
) -> None:
    down = settings.model_copy(update={"redis_url": "redis://127.0.0.1:1/0"})  # nothing there
    with TestClient(create_app(down)) as client:
        store: KeyStore = client.app.state.keys  # type: ignore[attr-defined]
        roles = [Role.UPLOADER, Role.MODERATOR]
        _, key = store.create("ops", roles, [], dt.datetime.now(dt.UTC))
        headers = {"Authorization": f"Bearer {key}"}
        scored = client.post(
            "/v1/videos/score", json=video("v1", **MISINFORMATION), headers=headers
        )
        assert scored.status_code == 200  # the decision is logged: that is the promise
        assert scored.json()["action"] == "review"
        claim = client.post("/v1/review/claim", headers=headers)
        assert claim.status_code == 503
        assert claim.headers["content-type"] == "application/problem+json"
    parts = wiring.build(settings)
    try:
        assert parts.queues.placements() == {}
        assert parts.review.reconcile().restored == 1
        view = parts.review.claim("mod-a", [])
        assert view is not None
        assert view.item.video_id == "v1"
    finally:
        parts.close()
