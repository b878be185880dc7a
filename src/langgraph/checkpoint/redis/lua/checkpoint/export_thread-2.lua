--[[ export_thread: every stored field of one thread, for copy_thread.

  KEYS[1]  thread namespaces      checkpoint_ns:{T}
  KEYS[2]  the thread's fence     checkpoint_fence:{T}  (never exists: keys.py)
  ARGV[1..6]  thread: the thread block (common.lua's thread): prefixes, T, cross-thread, TTL, flags

  A thread and its copy live under different hash tags (different slots in a cluster), so a
  copy is this atomic read plus one atomic write on the target (import_thread-2.lua).

  Returns { {N, blob hash (flat), {C, checkpoint hash (flat), {K, writes hash (flat), ...},
            ledger value or false}..., write-only ids, {log id, log bytes, ...} }, ... }
  (the ledger: delete.lua; the logs: logs.lua)
]]
--@include common
--@include logs
local B = thread(1)
local out = {}
for _, ns in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local ids = redis.call('ZRANGE', B.idx .. ns, 0, -1)
  local wo = redis.call('SMEMBERS', B.wo .. ns)
  for _, cid in ipairs(wo) do ids[#ids + 1] = cid end
  local cps = {}
  for _, cid in ipairs(ids) do
    local h = redis.call('HGETALL', B.cp .. ns .. ':' .. cid)
    local ws = {}
    for i = 1, #h, 2 do
      if string.sub(h[i], 1, 2) == 'w:' then
        local k = string.sub(h[i], 3)
        ws[#ws + 1] = k
        ws[#ws + 1] = redis.call('HGETALL', B.write .. ns .. ':' .. cid .. ':' .. k)
      end
    end
    cps[#cps + 1] = {cid, h, ws, redis.call('HGET', B.xref, ns .. '\n' .. cid)}
  end
  local logs = {}
  for _, id in ipairs(logs_of(B.blob .. ns)) do
    logs[#logs + 1] = id
    logs[#logs + 1] = redis.call('GET', B.blob .. ns .. ':' .. id)
  end
  out[#out + 1] = {ns, redis.call('HGETALL', B.blob .. ns), cps, wo, logs}
end
return out
