--[[ delete_checkpoints: remove chosen checkpoints of one thread (delete_for_runs).

  KEYS[1]  thread namespaces      checkpoint_ns:{T}
  KEYS[2]  cross-thread index     checkpoint_all    (cross-thread mode)
  KEYS[3]  the thread's fence     checkpoint_fence:{T}  (never exists: keys.py)

  ARGV[1..6]  thread: the thread block (common.lua's thread): prefixes, T, cross-thread, TTL, flags
  ARGV[7 ..]  pairs: N, C pairs, the encoded namespace and id of each checkpoint to remove

  Each checkpoint goes with its writes and index entries; then each namespace touched keeps
  only the blobs a remaining checkpoint references, and disappears when it is empty (the
  thread's own keys too, when it was the last).
  Returns the number of checkpoints that existed and were removed.
]]
--@include common
--@include delete
local B, G = thread(1)
local touched, removed = {}, 0
for i = 7, #ARGV, 2 do
  local ns, cid = ARGV[i], ARGV[i + 1]
  if redis.call('EXISTS', B.cp .. ns .. ':' .. cid) == 1 then removed = removed + 1 end
  delete_checkpoint(B, G, ns, cid)
  touched[ns] = true
end
for ns in pairs(touched) do gc_namespace(B, G, ns) end
return removed
