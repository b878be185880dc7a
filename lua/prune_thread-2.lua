--[[ prune_thread: keep only the latest checkpoint of each namespace of one thread.

  KEYS[1]  thread namespaces      checkpoint_ns:{T}
  KEYS[2]  cross-thread index     checkpoint_all    (used when ARGV[8] == "1")

  ARGV[1..5]  the thread's key bases: cp, write, blob, idx, wo
  ARGV[6]  T, the encoded thread id
  ARGV[7]  the run index prefix   checkpoint_run:
  ARGV[8]  "1" when the cross-thread indexes are maintained

  The latest checkpoint of a namespace keeps its pending writes (a pending interrupt or resume
  survives); every older checkpoint, every write-only id and every blob the latest does not
  reference is removed. (strategy="delete" is delete_thread.)
  Returns the number of checkpoints removed.
]]
--@include common
--@include chain
--@include delete
local B = bases(1)
local G = {on = ARGV[8] == '1', all = KEYS[2], run_base = ARGV[7], tag = ARGV[6]}
local removed = 0
for _, ns in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local ids = redis.call('ZRANGE', B.idx .. ns, 0, -2)
  for _, cid in ipairs(redis.call('SMEMBERS', B.wo .. ns)) do ids[#ids + 1] = cid end
  for _, cid in ipairs(ids) do
    delete_checkpoint(B, G, ns, cid)
    removed = removed + 1
  end
  gc_namespace(B, KEYS[1], ns)
end
return removed
