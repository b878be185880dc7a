--[[ sweep.lua: take expired threads out of the cross-thread indexes.

  Redis expires a thread's keys by itself (ttl.lua); what it cannot do is remove the thread's
  members from the shared indexes (checkpoint_all, checkpoint_run:*, checkpoint_by:*). The
  expiry index `checkpoint_exp` (ZSET, member T, score = the thread's deadline) says which
  threads are due, and each thread's ledger (delete.lua) says which entries it holds.

  sweep_thread(G, t, budget) -> ledger fields processed. A thread that is still there (its
    deadline moved, or it was written again after expiring) gets its score corrected; a
    thread that is gone loses up to `budget` index entries, and leaves the expiry index
    when its ledger is empty.
  sweep_due(G, threads, budget) -> fields processed, for at most `threads` due threads.

  Scripts that write the cross-thread indexes call sweep_due with small bounds, so expired
  threads are cleaned up by the traffic that made them, with no job to run; sweep_buckets-0.lua is the
  same as one call, for a caller that wants everything due cleaned now.
]]
--@include common
--@include delete
--@include ttl
local function sweep_thread(G, t, budget)
  local B = thread_of(G.prefix, G.wprefix, t, G.sfx)
  local at = deadline(B)
  if at ~= -2 then
    if at == -1 then redis.call('ZREM', G.exp, t) else redis.call('ZADD', G.exp, at, t) end
    return 0
  end
  local fields = redis.call('HRANDFIELD', B.xref, budget)
  if type(fields) ~= 'table' then fields = {} end -- fakeredis: nil for a missing key
  drop_ledger(B, G, fields)
  if redis.call('EXISTS', B.xref) == 0 then
    redis.call('ZREM', G.exp, t)
    redis.call('UNLINK', B.pin)
  end
  return #fields
end

local function sweep_due(G, threads, budget)
  local first = redis.call('ZRANGE', G.exp, 0, 0, 'WITHSCORES')
  if #first == 0 then return 0 end
  local now = now_ms()
  if tonumber(first[2]) > now then return 0 end
  local done = 0
  for _, t in ipairs(redis.call('ZRANGEBYSCORE', G.exp, '-inf', now, 'LIMIT', 0, threads)) do
    done = done + sweep_thread(G, t, budget)
  end
  return done
end
