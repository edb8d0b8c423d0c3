"""The Lua scripts behind review_queue.queues: each change to a queue is one script, so it is
atomic in Redis. Key names are computed inside the scripts from the prefix ``p`` (``mod:review``)
and RQ's own names (``rq:queue:<name>``, ``rq:job:<id>``); see queues.py for the layout.
"""

from __future__ import annotations

PRELUDE = """
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
    if redis.call('LINSERT', list_key(q), 'AFTER', before, id) <= 0 then  -- no pivot, no list
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
ENQUEUE = """
local id, q, since = ARGV[2], ARGV[3], ARGV[4]
if redis.call('EXISTS', item_key(id)) == 1 then
  local cur = redis.call('HGET', item_key(id), 'queue')
  local placed = cur and (redis.call('ZSCORE', leased_key(cur), id)
                         or redis.call('LPOS', list_key(cur), id))
  if placed then return 0 end  -- in its queue or leased: leave it as it is
  -- its hash outlived its place (an RQ worker popped the job, `rq empty`): place it again
  if cur then redis.call('ZREM', waiting_key(cur), id) end
  redis.call('DEL', item_key(id))
end
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
CLAIM = """
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
RELEASE = """
local item = item_key(ARGV[2])
local until_ = tonumber(redis.call('HGET', item, 'expires') or '0')
if redis.call('HGET', item, 'holder') ~= ARGV[3] or until_ <= tonumber(ARGV[4]) then
  return 0
end
unlease(ARGV[2])
return 1
"""

# ARGV: p, now
EXPIRE = """
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
MOVE = """
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
FINISH = """
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
