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

from service import wiring
from service.coalescer import ScoringCoalescer
from service.domain import Action, EventType, Upload
from service.errors import ConflictError
from service.moderation import Moderation, Scored
from tests.service.conftest import SPAM, upload

TRANSCRIPT = "we cook karahi " * 400  # 6,000 characters


class GatedDecide:
    """Moderation.score behind a gate: the first call waits until the test opens it."""

    def __init__(self, moderation: Moderation) -> None:
        self._moderation = moderation
        self.calls: list[list[str]] = []
        self.entered = threading.Event()
        self.gate = threading.Event()

    def __call__(self, uploads: Sequence[Upload]) -> list[Scored]:
        self.calls.append([u.video_id for u in uploads])
        self.entered.set()
        self.gate.wait(30)
        return self._moderation.score(uploads)


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
    max_videos: int = 16,
    max_chars: int = 200_000,
) -> tuple[GatedDecide, list[list[Scored] | BaseException]]:
    decide = GatedDecide(moderation)
    coalescer = ScoringCoalescer(decide, max_videos=max_videos, max_chars=max_chars)
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
    # the merged call raised (all or none), so each was decided again on its own
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
    coalescer = ScoringCoalescer(moderation.score, max_videos=16, max_chars=200_000)
    coalescer.start()

    async def submit_then_close() -> list[list[Scored]]:
        tasks = [
            asyncio.create_task(coalescer.score([upload(f"q{i}")], all_or_none=False))
            for i in range(4)
        ]
        await asyncio.sleep(0)  # all four queued
        await asyncio.to_thread(coalescer.close)
        assert all(task.done() or not task.cancelled() for task in tasks)
        return await asyncio.gather(*tasks)

    outcomes = asyncio.run(submit_then_close())
    assert [o[0].decision.video_id for o in outcomes] == ["q0", "q1", "q2", "q3"]
    with pytest.raises(RuntimeError, match="stopped"):
        asyncio.run(coalescer.score([upload("late")], all_or_none=False))
