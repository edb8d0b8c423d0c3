"""The review queues' mechanics against a real Redis: order, leases, moves, RQ's view."""

from __future__ import annotations

import threading

import pytest
from redis import Redis
from rq import Queue, SimpleWorker
from rq.job import Job, JobStatus

from review_queue import (
    OTHER,
    Priority,
    QueuedItem,
    ReviewQueues,
    claimable_languages,
    priority_for,
    queue_language,
)

LEASE_S = 600.0


def item(n: int, language: str = "en", priority: Priority = Priority.NORMAL, since: float = 0.0):
    return QueuedItem(f"i{n}", f"v{n}", 1, language, priority, since or 1000.0 + n)


@pytest.fixture
def queues(redis: Redis) -> ReviewQueues:
    return ReviewQueues(redis)


def claimed(queues: ReviewQueues, holder: str, languages: list[str], now: float = 2000.0) -> str:
    lease = queues.claim(holder, languages, now, LEASE_S)
    assert lease is not None
    return lease.item_id


def test_claims_take_priority_then_age_then_language(queues: ReviewQueues) -> None:
    queues.enqueue(
        [
            item(1, "en", Priority.LOW, since=100),  # oldest, but low
            item(2, "ur", Priority.HIGH, since=300),
            item(3, "en", Priority.HIGH, since=200),
            item(4, "ur", Priority.NORMAL, since=150),
            item(5, "en", Priority.HIGH, since=300),  # same age as i2: language order decides
        ]
    )
    order = [claimed(queues, f"m{n}", ["en", "ur"]) for n in range(5)]
    assert order == ["i3", "i5", "i2", "i4", "i1"]
    assert queues.claim("m9", ["en", "ur"], 2000.0, LEASE_S) is None


def test_a_moderator_only_gets_their_languages(queues: ReviewQueues) -> None:
    queues.enqueue([item(1, "ur"), item(2, OTHER)])
    assert queues.claim("m1", ["en"], 2000.0, LEASE_S) is None
    assert claimed(queues, "m2", ["ur"]) == "i1"
    assert claimed(queues, "m3", [OTHER]) == "i2"


def test_a_holder_gets_their_lease_back_instead_of_a_second_item(queues: ReviewQueues) -> None:
    queues.enqueue([item(1), item(2)])
    first = queues.claim("m1", ["en"], 2000.0, LEASE_S)
    again = queues.claim("m1", ["en"], 2001.0, LEASE_S)
    assert first is not None
    assert again is not None
    assert (again.item_id, again.is_new, again.expires_at) == (first.item_id, False, 2600.0)


def test_an_expired_lease_returns_the_item_to_the_front(queues: ReviewQueues) -> None:
    queues.enqueue([item(1), item(2), item(3)])
    assert claimed(queues, "m1", ["en"], now=2000.0) == "i1"
    assert claimed(queues, "m2", ["en"], now=2000.0) == "i2"
    assert queues.expire(2599.0) == []  # not yet: a lease is live until its expiry
    expired = queues.expire(2600.0)
    assert sorted((e.item_id, e.holder) for e in expired) == [("i1", "m1"), ("i2", "m2")]
    assert queues.release("i1", "m1", 2601.0) is False  # gone with the lease
    assert claimed(queues, "m3", ["en"], now=2601.0) in {"i1", "i2"}
    assert queues.placements()["i3"].holder is None


def test_release_needs_the_live_lease(queues: ReviewQueues) -> None:
    queues.enqueue([item(1), item(2)])
    assert claimed(queues, "m1", ["en"]) == "i1"
    assert queues.release("i1", "m2", 2001.0) is False
    assert queues.release("i1", "m1", 2001.0) is True
    assert claimed(queues, "m2", ["en"]) == "i1"  # back at the front


def test_a_move_keeps_age_order_in_the_new_queue(queues: ReviewQueues, redis: Redis) -> None:
    queues.enqueue([item(1, since=100), item(2, since=300), item(3, Priority.LOW, since=200)])
    assert queues.move("i3", "en", Priority.NORMAL) is True
    assert queues.move("i3", "en", Priority.NORMAL) is False
    assert redis.lrange("rq:queue:review:en:normal", 0, -1) == [b"i1", b"i3", b"i2"]
    assert redis.llen("rq:queue:review:en:low") == 0


def test_finish_takes_the_item_out_and_rq_sees_it_finished(
    queues: ReviewQueues, redis: Redis
) -> None:
    queues.enqueue([item(1), item(2)])
    assert claimed(queues, "m1", ["en"]) == "i1"
    assert queues.finish("i1", 2100.0) is True
    assert queues.finish("i1", 2100.0) is False
    assert queues.finish("i2", 2100.0, canceled=True) is True
    assert queues.placements() == {}
    assert Job.fetch("i1", connection=redis).get_status() == JobStatus.FINISHED
    assert Job.fetch("i2", connection=redis).get_status() == JobStatus.CANCELED
    assert queues.claim("m2", ["en"], 2200.0, LEASE_S) is None


def test_rq_sees_the_queues_as_they_are(queues: ReviewQueues, redis: Redis) -> None:
    queues.enqueue([item(1, "ur", Priority.HIGH), item(2, "ur", Priority.HIGH), item(3)])
    names = {queue.name for queue in Queue.all(connection=redis)}
    assert {"review:ur:high", "review:en:normal"} <= names
    rq_queue = Queue("review:ur:high", connection=redis)
    assert rq_queue.count == 2
    job = Job.fetch("i1", connection=redis)
    assert (job.func_name, job.args, job.get_status()) == (
        "review_queue.jobs.human_review",
        ("v1", 1),
        JobStatus.QUEUED,
    )
    claimed(queues, "m1", ["ur"])
    assert rq_queue.count == 1
    assert Job.fetch("i1", connection=redis).get_status() == JobStatus.STARTED


def test_an_rq_worker_refuses_review_jobs(queues: ReviewQueues, redis: Redis) -> None:
    queues.enqueue([item(1)])
    SimpleWorker([Queue("review:en:normal", connection=redis)], connection=redis).work(burst=True)
    assert Job.fetch("i1", connection=redis).get_status() == JobStatus.FAILED


def test_enqueue_is_idempotent_and_can_restore_a_lease(queues: ReviewQueues) -> None:
    assert queues.enqueue([item(1), item(2)]) == [True, True]
    assert queues.enqueue([item(1), item(3)]) == [False, True]
    assert queues.enqueue([item(4)], leases={"i4": ("m1", 2500.0)}, now=2000.0) == [True]
    placements = queues.placements()
    assert placements["i4"].holder == "m1"
    assert placements["i4"].expires_at == 2500.0
    again = queues.claim("m1", ["en"], 2001.0, LEASE_S)
    assert again is not None
    assert (again.item_id, again.is_new) == ("i4", False)


def test_stats_count_waiting_leased_and_past_target(queues: ReviewQueues) -> None:
    queues.enqueue([item(1, since=100), item(2, since=5000), item(3, since=50)])
    claimed(queues, "m1", ["en"], now=6000.0)  # takes i3, the oldest
    [stats] = queues.stats(now=6000.0, target_s=3000.0)
    assert (stats.queue, stats.waiting, stats.leased) == ("review:en:normal", 2, 1)
    assert stats.oldest_since == 50.0
    assert stats.past_target == 2  # i1 waiting and i3 leased; i2 is young


def test_concurrent_claims_never_hand_out_an_item_twice(redis: Redis) -> None:
    ReviewQueues(redis).enqueue([item(n, since=float(n + 1)) for n in range(500)])
    taken: list[str] = []
    lock = threading.Lock()

    def moderator(name: str) -> None:
        queues = ReviewQueues(Redis(connection_pool=redis.connection_pool))
        while (lease := queues.claim(name, ["en"], 2000.0, LEASE_S)) is not None:
            with lock:
                taken.append(lease.item_id)
            queues.finish(lease.item_id, 2000.0)

    threads = [threading.Thread(target=moderator, args=(f"m{n}",)) for n in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(taken) == 500
    assert len(set(taken)) == 500


@pytest.mark.parametrize(
    ("score", "views", "reports", "expected"),
    [
        (0.3, 0, 0, Priority.LOW),
        (0.8, 0, 0, Priority.NORMAL),
        (0.8, 1_000, 0, Priority.HIGH),
        (0.05, 0, 1, Priority.NORMAL),
        (0.05, 0, 3, Priority.HIGH),
        (0.0, 10**9, 0, Priority.HIGH),
    ],
)
def test_priority_grows_with_score_views_and_reports(
    score: float, views: int, reports: int, expected: Priority
) -> None:
    assert priority_for(score, views, reports) is expected


@pytest.mark.parametrize(
    ("tag", "expected"),
    [("ur", "ur"), ("ur-PK", "ur"), ("ur-Latn", "ur-Latn"), ("EN-gb", "en"), ("pa", OTHER)],
)
def test_a_video_language_picks_the_most_specific_queue(tag: str, expected: str) -> None:
    assert queue_language(tag, ["en", "ur", "ur-Latn"]) == expected


def test_language_ranges_cover_their_subtags() -> None:
    languages = ["en", "ur", "ur-Latn"]
    assert claimable_languages(["ur"], languages) == ["ur", "ur-Latn"]
    assert claimable_languages(["ur-Latn", "en"], languages) == ["ur-Latn", "en"]
    assert claimable_languages([], languages) == [*languages, OTHER]


def test_a_holder_is_passed_over_for_items_they_may_not_take(
    queues: ReviewQueues, redis: Redis
) -> None:
    own = QueuedItem("i1", "v1", 1, "en", Priority.NORMAL, 100.0, excluded="m1")
    queues.enqueue([own, item(2, since=200.0)])
    assert claimed(queues, "m1", ["en"]) == "i2"  # the older i1 is m1's own removal
    assert queues.claim("m3", ["en"], 2000.0, LEASE_S) is not None  # others may take i1
    assert queues.finish("i1", 2100.0) is True
    assert redis.smembers("mod:review:excluded:m1") == set()


def test_an_item_whose_job_was_popped_is_placed_again(queues: ReviewQueues, redis: Redis) -> None:
    queues.enqueue([item(1)])
    redis.lpop("rq:queue:review:en:normal")  # as an RQ worker (or `rq empty`) would
    assert queues.placements() == {}
    assert queues.enqueue([item(1)]) == [True]  # reconcile's enqueue puts it back
    assert claimed(queues, "m1", ["en"]) == "i1"
