--[[ prune_thread: keep only the latest checkpoints of each namespace of one thread.

  KEYS[1]  thread namespaces      checkpoint_ns:{T}
  KEYS[2]  cross-thread index     checkpoint_all    (cross-thread mode)
  KEYS[3]  the thread's fence     checkpoint_fence:{T}  (never exists: keys.py)

  ARGV[1..6]  thread: the thread block (common.lua's thread): prefixes, T, cross-thread, TTL, flags
  ARGV[7]  keep_last: how many of the latest checkpoints each namespace keeps (1 or more;
           keep_last=0 and strategy="delete" are delete_thread-3.lua)

  The kept checkpoints keep their pending writes (a pending interrupt or resume survives), and
  so do the ancestors their DeltaChannels replay (prune.lua); every other checkpoint with its
  writes, every write-only id (writes whose checkpoint was never stored), and every blob no
  kept checkpoint references are removed.
  Returns the number of checkpoints removed.
]]
--@include common
--@include prune
local B, G = thread(1)
local n = tonumber(ARGV[7])
local removed = 0
for _, ns in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local ids = redis.call('ZREVRANGE', B.idx .. ns, 0, n - 1)
  removed = removed + prune_namespace(B, G, ns, with_history(B, ns, ids), nil)
end
return removed
