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


_PRELUDE = """
local p = ARGV[1]
local function item_key(id) return p .. ':item:' .. id end
local function waiting_key(q) return p .. ':waiting:' .. q end
local function leased_key(q) return p .. ':leased:' .. q end
local function holder_key(h) return p .. ':holder:' .. h end
local function list_key(q) return 'rq:queue:' .. q end
local function job_key(id) return 'rq:job:' .. id end

local function register(q)
  redis.call('SADD', p .. ':queues', q)
  redis.call('SADD', 'rq:queues', list_key(q))
end

-- a waiting item goes into its queue in age order (oldest at the head)
local function insert_waiting(q, id, since)
  local zkey = waiting_key(q)
  redis.call('ZADD', zkey, since, id)
  local rank = redis.call('ZRANK', zkey, id)
  local count = redis.call('ZCARD', zkey)
  if rank == count - 1 then
    redis.call('RPUSH', list_key(q), id)
  elseif rank == 0 then
    redis.call('LPUSH', list_key(q), id)
  else
    local before = redis.call('ZRANGE', zkey, rank - 1, rank - 1)[1]
    if redis.call('LINSERT', list_key(q), 'AFTER', before, id) < 0 then
      redis.call('RPUSH', list_key(q), id)
    end
  end
  register(q)
  redis.call('HSET', job_key(id), 'status', 'queued', 'origin', q)
end

-- a leased item goes back to the front of its queue; returns its holder
local function unlease(id)
  local item = item_key(id)
  local q = redis.call('HGET', item, 'queue')
  local holder = redis.call('HGET', item, 'holder')
  redis.call('ZREM', leased_key(q), id)
  redis.call('LPUSH', list_key(q), id)
  redis.call('ZADD', waiting_key(q), redis.call('HGET', item, 'since'), id)
  redis.call('HDEL', item, 'holder', 'expires')
  if holder and redis.call('GET', holder_key(holder)) == id then
    redis.call('DEL', holder_key(holder))
  end
  redis.call('HSET', job_key(id), 'status', 'queued')
  return holder
end

local function lease(q, id, holder, expires, now)
  redis.call('ZADD', leased_key(q), expires, id)
  redis.call('HSET', item_key(id), 'holder', holder, 'expires', expires)
  redis.call('HSET', job_key(id), 'status', 'started')
  local ttl_ms = math.max(1, math.ceil((tonumber(expires) - now) * 1000))
  redis.call('SET', holder_key(holder), id, 'PX', ttl_ms)
end
"""

# ARGV: p, id, queue, since, video_id, revision, holder or '', expires or '', now,
#       excluded holder or '', job fields...
_ENQUEUE = """
local id, q, since = ARGV[2], ARGV[3], ARGV[4]
if redis.call('EXISTS', item_key(id)) == 1 then return 0 end
redis.call('HSET', item_key(id), 'queue', q, 'since', since, 'video_id', ARGV[5],
           'revision', ARGV[6])
if ARGV[10] ~= '' then
  redis.call('HSET', item_key(id), 'excluded', ARGV[10])
  redis.call('SADD', p .. ':excluded:' .. ARGV[10], id)
end
if #ARGV > 10 then redis.call('HSET', job_key(id), unpack(ARGV, 11)) end
if ARGV[7] ~= '' then
  register(q)
  redis.call('HSET', job_key(id), 'origin', q)
  lease(q, id, ARGV[7], ARGV[8], tonumber(ARGV[9]))
else
  insert_waiting(q, id, since)
end
return 1
"""

# ARGV: p, holder, now, expires, queue names with '|' between priority bands
_CLAIM = """
local holder, now, expires = ARGV[2], tonumber(ARGV[3]), ARGV[4]
local held = redis.call('GET', holder_key(holder))
if held then
  local item = item_key(held)
  local until_ = tonumber(redis.call('HGET', item, 'expires') or '0')
  if redis.call('HGET', item, 'holder') == holder and until_ > now then
    return {held, redis.call('HGET', item, 'queue'), redis.call('HGET', item, 'expires'), 0}
  end
end
-- items this holder may not take (appeals of their own removals) are passed over
local excluded = p .. ':excluded:' .. holder
local checks = redis.call('EXISTS', excluded) == 1
local best_id, best_q, best_since, best_index = nil, nil, nil, nil
for i = 5, #ARGV do
  local q = ARGV[i]
  if q == '|' then
    if best_id then break end
  else
    local head = redis.call('LINDEX', list_key(q), 0)
    while head and redis.call('EXISTS', item_key(head)) == 0 do  -- a stray id: drop it
      redis.call('LPOP', list_key(q))
      redis.call('ZREM', waiting_key(q), head)
      head = redis.call('LINDEX', list_key(q), 0)
    end
    local index = 0
    while checks and head and redis.call('SISMEMBER', excluded, head) == 1 and index < 100 do
      index = index + 1
      head = redis.call('LINDEX', list_key(q), index)
    end
    if head and index < 100 then
      local since = tonumber(redis.call('HGET', item_key(head), 'since'))
      if since and (best_since == nil or since < best_since) then
        best_id, best_q, best_since, best_index = head, q, since, index
      end
    end
  end
end
if not best_id then return false end
if best_index == 0 then
  redis.call('LPOP', list_key(best_q))
else
  redis.call('LREM', list_key(best_q), 1, best_id)
end
redis.call('ZREM', waiting_key(best_q), best_id)
lease(best_q, best_id, holder, expires, now)
return {best_id, best_q, expires, 1}
"""

# ARGV: p, id, holder, now
_RELEASE = """
local item = item_key(ARGV[2])
local until_ = tonumber(redis.call('HGET', item, 'expires') or '0')
if redis.call('HGET', item, 'holder') ~= ARGV[3] or until_ <= tonumber(ARGV[4]) then
  return 0
end
unlease(ARGV[2])
return 1
"""

# ARGV: p, now
_EXPIRE = """
local out = {}
for _, q in ipairs(redis.call('SMEMBERS', p .. ':queues')) do
  for _, id in ipairs(redis.call('ZRANGEBYSCORE', leased_key(q), '-inf', ARGV[2])) do
    if redis.call('HGET', item_key(id), 'queue') == q then
      local holder = unlease(id)
      table.insert(out, id)
      table.insert(out, q)
      table.insert(out, holder or '')
    else
      redis.call('ZREM', leased_key(q), id)
    end
  end
end
return out
"""

# ARGV: p, id, new queue
_MOVE = """
local id, new = ARGV[2], ARGV[3]
local item = item_key(id)
local q = redis.call('HGET', item, 'queue')
if not q or q == new then return 0 end
if redis.call('HEXISTS', item, 'holder') == 1 then
  local expires = redis.call('ZSCORE', leased_key(q), id)
  redis.call('ZREM', leased_key(q), id)
  if expires then redis.call('ZADD', leased_key(new), expires, id) end
  register(new)
  redis.call('HSET', job_key(id), 'origin', new)
else
  redis.call('LREM', list_key(q), 0, id)
  redis.call('ZREM', waiting_key(q), id)
  insert_waiting(new, id, redis.call('HGET', item, 'since'))
end
redis.call('HSET', item, 'queue', new)
return 1
"""

# ARGV: p, id, ended_at (ISO), registry expiry (epoch), result ttl, status, registry
_FINISH = """
local id = ARGV[2]
local item = item_key(id)
local q = redis.call('HGET', item, 'queue')
if not q then return 0 end
if redis.call('ZSCORE', waiting_key(q), id) then
  redis.call('LREM', list_key(q), 0, id)
  redis.call('ZREM', waiting_key(q), id)
end
redis.call('ZREM', leased_key(q), id)
local holder = redis.call('HGET', item, 'holder')
if holder and redis.call('GET', holder_key(holder)) == id then
  redis.call('DEL', holder_key(holder))
end
local excluded = redis.call('HGET', item, 'excluded')
if excluded then redis.call('SREM', p .. ':excluded:' .. excluded, id) end
redis.call('DEL', item)
if redis.call('EXISTS', job_key(id)) == 1 then
  redis.call('HSET', job_key(id), 'status', ARGV[6], 'ended_at', ARGV[3])
  redis.call('ZADD', 'rq:' .. ARGV[7] .. ':' .. q, ARGV[4], id)
  redis.call('EXPIRE', job_key(id), ARGV[5])
end
return 1
"""


class ReviewQueues:
    """The queues of one kind (``review`` or ``appeals``) in one Redis."""

    def __init__(self, redis: Redis, kind: str = "review") -> None:
        self._redis = redis
        self.kind = kind
        self._prefix = f"mod:{kind}"
        self._enqueue = redis.register_script(_PRELUDE + _ENQUEUE)
        self._claim = redis.register_script(_PRELUDE + _CLAIM)
        self._release = redis.register_script(_PRELUDE + _RELEASE)
        self._expire = redis.register_script(_PRELUDE + _EXPIRE)
        self._move = redis.register_script(_PRELUDE + _MOVE)
        self._finish = redis.register_script(_PRELUDE + _FINISH)

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

    def holds(self, item_id: str, holder: str, now: float) -> bool:
        item = f"{self._prefix}:item:{item_id}"
        holder_now, expires = self._redis.hmget(item, "holder", "expires")
        if holder_now is None or expires is None:
            return False
        return _text(holder_now) == holder and float(expires) > now

    def placements(self) -> dict[str, Placement]:
        """Every item Redis has, and where (for reconcile)."""
        queues = self.queue_names()
        with self._redis.pipeline(transaction=False) as pipe:
            for queue in queues:
                pipe.lrange(f"rq:queue:{queue}", 0, -1)
                pipe.zrange(f"{self._prefix}:leased:{queue}", 0, -1, withscores=True)
            replies = pipe.execute()
        found: dict[str, Placement] = {}
        for queue, waiting, leased in zip(queues, replies[::2], replies[1::2], strict=True):
            for raw in waiting:
                found[_text(raw)] = Placement(queue, None, None)
            for raw, expires in leased:
                item_id = _text(raw)
                holder = self._redis.hget(f"{self._prefix}:item:{item_id}", "holder")
                found[item_id] = Placement(queue, _text(holder) if holder else None, expires)
        return found

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
        result = []
        for index, queue in enumerate(queues):
            count, oldest, past, leased = replies[index * 4 : index * 4 + 4]
            # a leased item's age comes from its item (leases are few: one per moderator)
            leased_since = [
                float(since)
                for since in (
                    self._redis.hmget(f"{self._prefix}:item:{_text(item)}", "since")[0]
                    for item in leased
                )
                if since is not None
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
