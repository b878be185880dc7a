--[[ put_writes: store the writes of one task on one checkpoint, deciding per item.

  KEYS[1]  checkpoint hash        checkpoint:{T}:N:C
  KEYS[2]  writes hash            checkpoint_write:{T}:N:C:K   (field = idx)
  KEYS[3]  thread namespaces      checkpoint_ns:{T}
  KEYS[4]  write-only set         checkpoint_wo:{T}:N

  ARGV[1]  C, the encoded checkpoint id
  ARGV[2]  N, the encoded namespace
  ARGV[3]  "w:<K>", the checkpoint-hash field that lists this task (K = encoded task id)
  ARGV[4]  task info: msgpack [task_id, task_path], opaque here
  ARGV[5 ..]  idx, value pairs; idx is LangGraph's WRITES_IDX_MAP.get(channel, position)

  Rule (per item, not per call): a special write (negative idx: __error__, __scheduled__,
  __interrupt__, __resume__) replaces what is stored; an ordinary write is stored only if its
  (task, idx) is absent, so a retried task cannot change what the first attempt recorded.
  A resume sends ["__resume__", "answer"] in one call: the first is replaced, the second kept.

  When C has no checkpoint yet, C is remembered in the write-only set so delete_thread and
  prune still find these writes.

  Returns the number of items stored.
]]
--@include common
local cp, wkey, ns_set, wo = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local stored = 0
for i = 5, #ARGV, 2 do
  if tonumber(ARGV[i]) < 0 then
    redis.call('HSET', wkey, ARGV[i], ARGV[i + 1])
    stored = stored + 1
  else
    stored = stored + redis.call('HSETNX', wkey, ARGV[i], ARGV[i + 1])
  end
end
if redis.call('HEXISTS', cp, 'd') == 0 then
  redis.call('SADD', wo, ARGV[1])
  redis.call('SADD', ns_set, ARGV[2])
end
redis.call('HSET', cp, ARGV[3], ARGV[4])
return stored
