--[[ put_writes: store the writes of one task on one checkpoint, deciding per item.

  KEYS[1]  checkpoint hash        checkpoint:{T}:N:C
  KEYS[2]  writes hash            checkpoint_write:{T}:N:C:K   (field = idx)
  KEYS[3]  thread namespaces      checkpoint_ns:{T}
  KEYS[4]  write-only set         checkpoint_wo:{T}:N
  KEYS[5]  the thread's fence     checkpoint_fence:{T}  (never exists: keys.py)

  ARGV[1..6]  thread: the thread block (common.lua's thread): prefixes, T, cross-thread, TTL, flags
  ARGV[7]  cid: C, the encoded checkpoint id
  ARGV[8]  ns: N, the encoded namespace
  ARGV[9]  task_field: "w:<K>", the checkpoint-hash field that lists this task (K =
           encoded task id)
  ARGV[10] task: task info, msgpack [task_id, task_path], opaque here
  ARGV[11 ..]  writes: idx, value pairs; idx is LangGraph's WRITES_IDX_MAP.get(channel, position)

  Rule (per item, not per call): a special write (negative idx: __error__, __scheduled__,
  __interrupt__, __resume__) replaces what is stored; an ordinary write is stored only if its
  (task, idx) is absent, so a retried task cannot change what the first attempt recorded.
  A resume sends ["__resume__", "answer"] in one call: the first is replaced, the second kept.

  When C has no checkpoint yet, C is remembered in the write-only set so delete_thread and
  prune still find these writes. A shallow saver drops writes for a C older than its latest
  checkpoint: C was replaced (LangGraph's background writes can land after the next put), and
  storing them would leave a second checkpoint's worth of keys. The keys written get the thread's deadline (ttl.lua), so
  writes never outlive their checkpoint.

  Returns the number of items stored (0 for a shallow saver's replaced checkpoint).
]]
--@include common
--@include delete
--@include ttl
local cp, wkey, ns_set, wo = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local B, G, TT = thread(1)
local has_d = redis.call('HEXISTS', cp, 'd') == 1
-- leftovers of an expired thread (put_checkpoint-8.lua); a stored checkpoint means a live one
if not has_d and G.on and redis.call('EXISTS', ns_set) == 0
    and redis.call('EXISTS', B.xref) == 1 then
  forget_thread(B, G)
end
if TT.shallow and not has_d then
  local top = redis.call('ZREVRANGE', B.idx .. ARGV[8], 0, 0)[1]
  if top and top > ARGV[7] then return 0 end
end
local stored = 0
for i = 11, #ARGV, 2 do
  if tonumber(ARGV[i]) < 0 then
    redis.call('HSET', wkey, ARGV[i], ARGV[i + 1])
    stored = stored + 1
  else
    stored = stored + redis.call('HSETNX', wkey, ARGV[i], ARGV[i + 1])
  end
end
if not has_d then
  redis.call('SADD', wo, ARGV[7])
  redis.call('SADD', ns_set, ARGV[8])
end
redis.call('HSET', cp, ARGV[9], ARGV[10])
after_write(B, G, TT, {cp, wkey, wo, ns_set})
return stored
