"""Review queues on RQ: enqueue, claim (a lease), release, expire, move, finish.

Redis layout (``p`` is ``mod:<kind>``, e.g. ``mod:review``):

- ``rq:queue:<queue>``: RQ's own list of job ids, oldest first, and ``rq:job:<id>``: a real RQ
  job (status queued/started/finished), so ``rq info`` and rq-dashboard show the queues.
- ``p:item:<id>``: the item (queue, since, video_id, revision; holder and expires while leased).
- ``p:waiting:<queue>``: sorted set of waiting ids scored by ``since``, for ages and for
  putting an item back in age order.
- ``p:leased:<queue>``: sorted set of leased ids scored by lease expiry, the way RQ keeps its
  own registries; the sweep returns expired ones to the front of their queue.
- ``p:holder:<holder>``: the one item a moderator holds (a claim while holding returns it).
- ``p:queues``: every queue name used.

Every change is one Lua script, so two moderators never get the same item and a crash never
leaves an item half-moved. The scripts compute key names, so this runs on one Redis server
(with Sentinel for fail-over), not on Redis Cluster. Times are epoch seconds passed in by the
caller, so tests and simulations can run on their own clock.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from redis import Redis
from rq.job import Job, JobStatus

from review_queue.jobs import HUMAN_REVIEW
from review_queue.names import claim_order, queue_name, split_queue_name
from review_queue.priority import Priority
from review_queue.scripts import CLAIM, ENQUEUE, EXPIRE, FINISH, MOVE, PRELUDE, RELEASE

RESULT_TTL_S = 86_400  # how long a decided item stays visible in RQ's finished registry


@dataclass(frozen=True, slots=True)
class QueuedItem:
    item_id: str  # also the RQ job id: [A-Za-z0-9_-] only
    video_id: str
    revision: int
    language: str  # a queue language (review_queue.names.queue_language)
    priority: Priority
    since: float  # epoch seconds it entered review: its age, and the order within a queue
    excluded: str | None = None  # a holder who may not take it (who removed what is appealed)


@dataclass(frozen=True, slots=True)
class Lease:
    item_id: str
    queue: str
    holder: str
    expires_at: float
    is_new: bool  # False: the holder already held this item and got it back


@dataclass(frozen=True, slots=True)
class ExpiredLease:
    item_id: str
    queue: str
    holder: str


@dataclass(frozen=True, slots=True)
class Placement:
    """Where Redis has an item: waiting in a queue, or leased to a holder."""

    queue: str
    holder: str | None
    expires_at: float | None


@dataclass(frozen=True, slots=True)
class QueueStats:
    queue: str
    language: str
    priority: Priority
    waiting: int
    leased: int
    oldest_since: float | None  # of waiting and leased items
    past_target: int  # waiting or leased items older than the target age


class ReviewQueues:
    """The queues of one kind (``review`` or ``appeals``) in one Redis."""

    def __init__(self, redis: Redis, kind: str = "review") -> None:
        self._redis = redis
        self.kind = kind
        self._prefix = f"mod:{kind}"
        self._enqueue = redis.register_script(PRELUDE + ENQUEUE)
        self._claim = redis.register_script(PRELUDE + CLAIM)
        self._release = redis.register_script(PRELUDE + RELEASE)
        self._expire = redis.register_script(PRELUDE + EXPIRE)
        self._move = redis.register_script(PRELUDE + MOVE)
        self._finish = redis.register_script(PRELUDE + FINISH)

    def queue_for(self, language: str, priority: Priority) -> str:
        return queue_name(self.kind, language, priority)

    def enqueue(
        self,
        items: Sequence[QueuedItem],
        *,
        leases: Mapping[str, tuple[str, float]] | None = None,
        now: float = 0.0,
    ) -> list[bool]:
        """Put items in their queues (or, for ids in ``leases``, leased to the given holder
        until the given time). Items already in Redis are left as they are: False for those."""
        leases = leases or {}
        calls = []
        for item in items:
            queue = self.queue_for(item.language, item.priority)
            holder, expires = leases.get(item.item_id, ("", 0.0))
            calls.append(
                [
                    self._prefix,
                    item.item_id,
                    queue,
                    repr(item.since),
                    item.video_id,
                    item.revision,
                    holder,
                    repr(expires) if holder else "",
                    repr(now),
                    item.excluded or "",
                    *self._job_fields(item, queue),
                ]
            )
        if len(calls) == 1:  # the common case (one scored video): one round trip, no pipeline
            return [bool(self._enqueue(args=calls[0]))]
        with self._redis.pipeline(transaction=False) as pipe:
            for args in calls:
                self._enqueue(args=args, client=pipe)
            return [bool(result) for result in pipe.execute()]

    def _job_fields(self, item: QueuedItem, queue: str) -> list[Any]:
        job = Job.create(
            HUMAN_REVIEW,
            args=(item.video_id, item.revision),
            connection=self._redis,
            id=item.item_id,
            origin=queue,
            description=f"{self.kind} of video {item.video_id} revision {item.revision}",
            result_ttl=RESULT_TTL_S,
            meta={"video_id": item.video_id, "revision": item.revision},
        )
        job.enqueued_at = dt.datetime.fromtimestamp(item.since, dt.UTC).replace(tzinfo=None)
        job._status = JobStatus.QUEUED
        fields: list[Any] = []
        for name, value in job.to_dict().items():
            fields += [name, value]
        return fields

    def claim(
        self, holder: str, languages: Sequence[str], now: float, lease_s: float
    ) -> Lease | None:
        """Lease the highest-priority, oldest item of the queues of these languages (the first
        language wins a tie). A holder who already holds a live lease gets that item back."""
        args: list[Any] = [self._prefix, holder, repr(now), repr(now + lease_s)]
        for band in claim_order(self.kind, languages):
            args += [*band, "|"]
        result = self._claim(args=args)
        if not result:
            return None
        item_id, queue, expires, is_new = result
        return Lease(_text(item_id), _text(queue), holder, float(expires), bool(is_new))

    def release(self, item_id: str, holder: str, now: float) -> bool:
        """Give a held item back to the front of its queue; False if ``holder`` has no live
        lease on it."""
        return bool(self._release(args=[self._prefix, item_id, holder, repr(now)]))

    def expire(self, now: float) -> list[ExpiredLease]:
        """Return every lease that ran out by ``now`` to the front of its queue."""
        flat = [_text(value) for value in self._expire(args=[self._prefix, repr(now)])]
        return [ExpiredLease(flat[i], flat[i + 1], flat[i + 2]) for i in range(0, len(flat), 3)]

    def move(self, item_id: str, language: str, priority: Priority) -> bool:
        """Move an item to the queue of another priority (a waiting item in age order; a
        leased one returns there). False if it is not in Redis or already there."""
        queue = self.queue_for(language, priority)
        return bool(self._move(args=[self._prefix, item_id, queue]))

    def finish(self, item_id: str, now: float, *, canceled: bool = False) -> bool:
        """Take an item out of its queue or lease and mark its job finished (decided) or
        canceled (no longer needs a decision). False if Redis did not have it."""
        ended = dt.datetime.fromtimestamp(now, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        status, registry = ("canceled", "canceled") if canceled else ("finished", "finished")
        return bool(
            self._finish(
                args=[
                    self._prefix,
                    item_id,
                    ended,
                    repr(now + RESULT_TTL_S),
                    RESULT_TTL_S,
                    status,
                    registry,
                ]
            )
        )

    def placements(self) -> dict[str, Placement]:
        """Every item Redis has, and where (for reconcile)."""
        queues = self.queue_names()
        with self._redis.pipeline(transaction=False) as pipe:
            for queue in queues:
                pipe.lrange(f"rq:queue:{queue}", 0, -1)
                pipe.zrange(f"{self._prefix}:leased:{queue}", 0, -1, withscores=True)
            replies = pipe.execute()
        found: dict[str, Placement] = {}
        leased: list[tuple[str, str, float]] = []
        for queue, waiting, held in zip(queues, replies[::2], replies[1::2], strict=True):
            for raw in waiting:
                found[_text(raw)] = Placement(queue, None, None)
            leased += [(_text(raw), queue, expires) for raw, expires in held]
        holders = self._item_fields([item_id for item_id, _, _ in leased], "holder")
        for (item_id, queue, expires), holder in zip(leased, holders, strict=True):
            found[item_id] = Placement(queue, holder, expires)
        return found

    def _item_fields(self, item_ids: Sequence[str], name: str) -> list[str | None]:
        """One field of each item, in one round trip."""
        with self._redis.pipeline(transaction=False) as pipe:
            for item_id in item_ids:
                pipe.hget(f"{self._prefix}:item:{item_id}", name)
            return [_text(value) if value is not None else None for value in pipe.execute()]

    def queue_names(self) -> list[str]:
        return sorted(_text(name) for name in self._redis.smembers(f"{self._prefix}:queues"))

    def stats(self, now: float, target_s: float) -> list[QueueStats]:
        """Per queue: waiting and leased items, the oldest one's age, and how many are older
        than ``target_s``."""
        queues = self.queue_names()
        cutoff = now - target_s
        with self._redis.pipeline(transaction=False) as pipe:
            for queue in queues:
                waiting = f"{self._prefix}:waiting:{queue}"
                pipe.zcard(waiting)
                pipe.zrange(waiting, 0, 0, withscores=True)
                pipe.zcount(waiting, "-inf", repr(cutoff))
                pipe.zrange(f"{self._prefix}:leased:{queue}", 0, -1)
            replies = pipe.execute()
        # a leased item's age comes from its item
        leased_ids = [[_text(item) for item in replies[i * 4 + 3]] for i in range(len(queues))]
        since_of = dict(
            zip(
                (item for ids in leased_ids for item in ids),
                self._item_fields([item for ids in leased_ids for item in ids], "since"),
                strict=True,
            )
        )
        result = []
        for index, queue in enumerate(queues):
            count, oldest, past, leased = replies[index * 4 : index * 4 + 4]
            leased_since = [
                float(since) for item in leased_ids[index] if (since := since_of[item]) is not None
            ]
            ages = [oldest[0][1]] if oldest else []
            ages += leased_since
            _, language, priority = split_queue_name(queue)
            result.append(
                QueueStats(
                    queue=queue,
                    language=language,
                    priority=priority,
                    waiting=int(count),
                    leased=len(leased),
                    oldest_since=min(ages) if ages else None,
                    past_target=int(past) + sum(since <= cutoff for since in leased_since),
                )
            )
        return result


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
