"""The scoring thread: waiting requests decided together, each still answered as its own.

The real Moderation (committed model, SQLite file and PostgreSQL) decides; the only thing
added is a gate in front of it, so a test can hold the thread while requests queue up and
then see which uploads each call of the model and the log received.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence

import pytest
from fastapi.testclient import TestClient

from classifier import OnnxScorer
from service import metrics, wiring
from service.coalescer import ScoringCoalescer
from service.domain import Action, Decision, EventType, Upload
from service.errors import ConflictError, ServiceUnavailableError
from service.model_registry import fixed_lineup
from service.moderation import Moderation, Scored
from service.scoring_write import ScoringRecord
from tests.service.conftest import SPAM, upload, video

TRANSCRIPT = "we cook karahi " * 400  # 6,000 characters


class GatedDecide:
    """Moderation's two steps, the model run behind a gate: the first waits until the test
    opens it. Records which videos each model run (``assessed``) and write (``calls``) got."""

    def __init__(self, moderation: Moderation) -> None:
        self._moderation = moderation
        self.assessed: list[list[str]] = []
        self.calls: list[list[str]] = []
        self.entered = threading.Event()
        self.gate = threading.Event()

    def assess(self, uploads: Sequence[Upload]) -> list[ScoringRecord]:
        self.assessed.append([u.video_id for u in uploads])
        self.entered.set()
        self.gate.wait(30)
        return self._moderation.assess(uploads)

    def record(self, records: Sequence[ScoringRecord]) -> list[Scored]:
        self.calls.append([r.upload.video_id for r in records])
        return self._moderation.record(records)


async def _queued_behind_first(
    coalescer: ScoringCoalescer,
    decide: GatedDecide,
    first: Upload,
    waiting: list[tuple[list[Upload], bool]],
) -> list[list[Scored] | BaseException]:
    """Submit ``first``; once the thread holds it, queue ``waiting``; open the gate."""
    tasks = [asyncio.create_task(coalescer.score([first], all_or_none=False))]
    await asyncio.to_thread(decide.entered.wait, 30)
    for uploads, all_or_none in waiting:
        tasks.append(asyncio.create_task(coalescer.score(uploads, all_or_none=all_or_none)))
        await asyncio.sleep(0)  # each one queued before the next, so arrival order is known
    decide.gate.set()
    return list(await asyncio.gather(*tasks, return_exceptions=True))


def _run(
    moderation: Moderation,
    first: Upload,
    waiting: list[tuple[list[Upload], bool]],
    *,
    decide_type: type[GatedDecide] = GatedDecide,
    max_videos: int = 16,
    max_chars: int = 200_000,
) -> tuple[GatedDecide, list[list[Scored] | BaseException]]:
    decide = decide_type(moderation)
    coalescer = ScoringCoalescer(
        decide.assess, decide.record, max_videos=max_videos, max_chars=max_chars
    )
    coalescer.start()
    try:
        outcomes = asyncio.run(_queued_behind_first(coalescer, decide, first, waiting))
    finally:
        coalescer.close()
    return decide, outcomes


def _single(video_id: str, **fields: object) -> tuple[list[Upload], bool]:
    return [upload(video_id, **fields)], False


def test_requests_waiting_are_decided_in_one_call_and_each_gets_its_own_decision(
    moderation: Moderation, parts: wiring.Parts
) -> None:
    decide, outcomes = _run(
        moderation,
        upload("first"),
        [_single(f"w{i}") for i in range(5)] + [_single("spam", **SPAM)],
    )
    assert decide.calls == [["first"], ["w0", "w1", "w2", "w3", "w4", "spam"]]
    answered = [o[0] for o in outcomes if isinstance(o, list)]
    assert [s.decision.video_id for s in answered] == [
        "first",
        "w0",
        "w1",
        "w2",
        "w3",
        "w4",
        "spam",
    ]
    assert all(s.is_new for s in answered)
    assert answered[-1].decision.action is Action.REMOVE
    assert answered[1].decision.action is Action.ALLOW
    assert parts.decision_log.count_rows()["decisions"] == 7


def test_one_request_failing_in_a_merged_call_fails_alone(
    moderation: Moderation, parts: wiring.Parts
) -> None:
    moderation.score([upload("removed", **SPAM)])
    decide, outcomes = _run(
        moderation,
        upload("first"),
        [_single("ok-1"), _single("removed", title="an edit of a removed video"), _single("ok-2")],
    )
    # the merged write raised (all or none), so each was written again on its own, with the
    # scores of the one model run
    assert decide.assessed == [["first"], ["ok-1", "removed", "ok-2"]]
    assert decide.calls[1] == ["ok-1", "removed", "ok-2"]
    assert decide.calls[2:] == [["ok-1"], ["removed"], ["ok-2"]]
    ok_1, conflict, ok_2 = outcomes[1:]
    assert isinstance(conflict, ConflictError)
    assert isinstance(ok_1, list)
    assert ok_1[0].is_new
    assert ok_1[0].decision.video_id == "ok-1"
    assert isinstance(ok_2, list)
    assert ok_2[0].is_new
    assert ok_2[0].decision.video_id == "ok-2"
    history = parts.decision_log.history("removed")
    assert [e.type for e in history].count(EventType.SCORED) == 1  # the edit wrote nothing


def test_a_score_batch_call_is_never_merged(moderation: Moderation) -> None:
    batch = [upload("b1"), upload("b2")]
    decide, outcomes = _run(
        moderation, upload("first"), [_single("a"), (batch, True), _single("c"), _single("d")]
    )
    assert decide.calls == [["first"], ["a"], ["b1", "b2"], ["c", "d"]]
    assert isinstance(outcomes[2], list)
    assert [s.decision.video_id for s in outcomes[2]] == ["b1", "b2"]


def test_the_same_video_twice_is_answered_as_if_one_came_after_the_other(
    moderation: Moderation,
) -> None:
    decide, outcomes = _run(
        moderation, upload("first"), [_single("twice"), _single("twice"), _single("other")]
    )
    assert decide.calls == [["first"], ["twice"], ["twice", "other"]]
    first_answer, replay = outcomes[1], outcomes[2]
    assert isinstance(first_answer, list)
    assert isinstance(replay, list)
    assert first_answer[0].is_new
    assert not replay[0].is_new
    assert replay[0].decision.decision_id == first_answer[0].decision.decision_id


def test_limits_of_a_merged_call(moderation: Moderation) -> None:
    decide, _ = _run(
        moderation, upload("first"), [_single(f"w{i}") for i in range(5)], max_videos=2
    )
    assert decide.calls == [["first"], ["w0", "w1"], ["w2", "w3"], ["w4"]]

    long = {"transcript": TRANSCRIPT}
    decide, _ = _run(
        moderation,
        upload("first-2"),
        [_single("long-1", **long), _single("long-2", **long), _single("short")],
        max_chars=10_000,
    )
    # a second long transcript would pass the limit: it waits for the next call
    assert decide.calls == [["first-2"], ["long-1"], ["long-2", "short"]]


def test_closing_decides_what_is_queued_then_refuses(moderation: Moderation) -> None:
    coalescer = ScoringCoalescer(
        moderation.assess, moderation.record, max_videos=16, max_chars=200_000
    )
    coalescer.start()

    async def submit_then_close() -> list[list[Scored]]:
        tasks = [
            asyncio.create_task(coalescer.score([upload(f"q{i}")], all_or_none=False))
            for i in range(4)
        ]
        await asyncio.sleep(0)  # all four queued
        assert await asyncio.to_thread(coalescer.close)
        return await asyncio.gather(*tasks)

    outcomes = asyncio.run(submit_then_close())
    assert [o[0].decision.video_id for o in outcomes] == ["q0", "q1", "q2", "q3"]
    with pytest.raises(ServiceUnavailableError, match="stopped"):
        asyncio.run(coalescer.score([upload("late")], all_or_none=False))


def test_a_request_that_stops_waiting_is_still_decided_and_the_rest_answered(
    moderation: Moderation, parts: wiring.Parts
) -> None:
    """A handler cancelled mid-wait (its client gone) cancels its wait, not its decision: the
    thread logs it and answers the others of the same round."""
    decide = GatedDecide(moderation)
    coalescer = ScoringCoalescer(decide.assess, decide.record, max_videos=16, max_chars=200_000)
    coalescer.start()

    async def one_gives_up() -> list[list[Scored] | BaseException]:
        tasks = [asyncio.create_task(coalescer.score([upload("first")], all_or_none=False))]
        await asyncio.to_thread(decide.entered.wait, 30)
        for video_id in ("gone", "stays"):
            tasks.append(
                asyncio.create_task(coalescer.score([upload(video_id)], all_or_none=False))
            )
            await asyncio.sleep(0)
        tasks[1].cancel()
        decide.gate.set()
        return list(await asyncio.gather(*tasks, return_exceptions=True))

    try:
        first, gone, stays = asyncio.run(one_gives_up())
    finally:
        coalescer.close()
    assert isinstance(gone, asyncio.CancelledError)
    assert isinstance(first, list)
    assert isinstance(stays, list)
    assert stays[0].decision.video_id == "stays"
    assert decide.calls == [["first"], ["gone", "stays"]]
    logged = parts.decision_log.current("gone")
    assert logged is not None
    assert logged.revision == 1


class FailingWrite(GatedDecide):
    """The write step raises what a writer-lock timeout raises, every time."""

    def record(self, records: Sequence[ScoringRecord]) -> list[Scored]:
        self.calls.append([r.upload.video_id for r in records])
        raise ServiceUnavailableError("another process has held the database's writer lock")


def test_a_database_that_is_not_answering_fails_the_merged_requests_at_once(
    moderation: Moderation, parts: wiring.Parts
) -> None:
    decide, outcomes = _run(
        moderation, upload("first"), [_single("a"), _single("b")], decide_type=FailingWrite
    )
    assert decide.calls == [["first"], ["a", "b"]]  # not tried again one by one
    assert all(isinstance(outcome, ServiceUnavailableError) for outcome in outcomes)
    assert parts.decision_log.count_rows()["decisions"] == 0


class DyingAssess(GatedDecide):
    """The model step ends the scoring thread (SystemExit) when it meets video "fatal"."""

    def assess(self, uploads: Sequence[Upload]) -> list[ScoringRecord]:
        records = super().assess(uploads)
        if any(u.video_id == "fatal" for u in uploads):
            raise SystemExit("the thread is ending")
        return records


def test_a_scoring_thread_that_dies_leaves_nobody_waiting(moderation: Moderation) -> None:
    decide = DyingAssess(moderation)
    coalescer = ScoringCoalescer(decide.assess, decide.record, max_videos=1, max_chars=200_000)
    coalescer.start()
    outcomes = asyncio.run(
        _queued_behind_first(coalescer, decide, upload("fatal"), [_single("a"), _single("b")])
    )
    # the job it died on, and those queued behind it, are answered 503, not left to hang
    assert all(isinstance(outcome, ServiceUnavailableError) for outcome in outcomes)
    coalescer.close(timeout_s=5)
    assert not coalescer.alive
    with pytest.raises(ServiceUnavailableError, match="stopped"):
        asyncio.run(coalescer.score([upload("late")], all_or_none=False))


def test_a_fault_after_the_commit_does_not_take_the_decision_back(
    parts: wiring.Parts, scorer: OnnxScorer
) -> None:
    def broken_metrics(decision: Decision) -> None:
        raise RuntimeError("metrics are broken")

    moderation = Moderation(
        parts.decision_log,
        fixed_lineup(scorer),
        parts.policy,
        clock=parts.clock,
        on_decision=broken_metrics,
    )
    (scored,) = moderation.score([upload("v1")])
    assert scored.is_new
    assert parts.decision_log.count_rows()["decisions"] == 1


def test_a_worker_whose_scoring_thread_stopped_is_not_ready_and_answers_503(
    client: TestClient, uploader: dict[str, str]
) -> None:
    assert (
        client.post("/v1/videos/score", json=video("before"), headers=uploader).status_code == 200
    )
    assert client.app.state.coalescer.close()  # type: ignore[attr-defined]
    ready = client.get("/readyz")
    assert ready.status_code == 503
    assert ready.headers["content-type"] == "application/problem+json"
    answer = client.post("/v1/videos/score", json=video("after"), headers=uploader)
    assert answer.status_code == 503
    assert "scoring thread is stopped" in answer.json()["detail"]
    assert client.get("/v1/videos/after", headers=uploader).status_code == 404


def _sample(metric: object, name: str) -> float:
    """A sample of a metric of this process (tests run without multiprocess mode)."""
    (family,) = metric.collect()  # type: ignore[attr-defined]
    return float(next(sample.value for sample in family.samples if sample.name == name))


def _wait_totals() -> tuple[float, float, float]:
    return (
        _sample(metrics.SCORING_WAIT, "mizan_scoring_wait_seconds_count"),
        _sample(metrics.SCORING_WAIT, "mizan_scoring_wait_seconds_sum"),
        _sample(metrics.SCORING_WAITING, "mizan_scoring_waiting_videos"),
    )


def test_how_long_requests_waited_and_how_many_wait_are_measured(
    moderation: Moderation,
) -> None:
    """Each request's wait is observed once, from its arrival, also when it is carried over
    to a later round (the same video twice); the waiting gauge counts the line."""
    count_before, sum_before, waiting_before = _wait_totals()
    decide = GatedDecide(moderation)
    coalescer = ScoringCoalescer(decide.assess, decide.record, max_videos=16, max_chars=200_000)
    coalescer.start()
    held: list[float] = []

    async def held_behind_first() -> None:
        first = asyncio.create_task(coalescer.score([upload("first")], all_or_none=False))
        await asyncio.to_thread(decide.entered.wait, 30)
        waiting = [
            asyncio.create_task(coalescer.score([upload(f"w{i}")], all_or_none=False))
            for i in range(2)
        ]
        # the same video again, edited: decided in the round after the others
        waiting.append(
            asyncio.create_task(coalescer.score([upload("w1", title="edited")], all_or_none=False))
        )
        await asyncio.sleep(0.2)  # the three are queued at once, then held this long
        held.append(_wait_totals()[2] - waiting_before)
        decide.gate.set()
        await asyncio.gather(first, *waiting)

    try:
        asyncio.run(held_behind_first())
    finally:
        coalescer.close()
    assert decide.calls == [["first"], ["w0", "w1"], ["w1"]]
    count, total, waiting_after = _wait_totals()
    assert held == [3]
    assert waiting_after == waiting_before
    assert count - count_before == 4
    assert total - sum_before >= 3 * 0.2
