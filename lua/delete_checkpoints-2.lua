--[[ delete_checkpoints: remove chosen checkpoints of one thread (delete_for_runs).

  KEYS[1]  thread namespaces      checkpoint_ns:{T}
  KEYS[2]  cross-thread index     checkpoint_all    (used when ARGV[8] == "1")

  ARGV[1..5]  the thread's key bases: cp, write, blob, idx, wo
  ARGV[6]  T, the encoded thread id
  ARGV[7]  the run index prefix   checkpoint_run:
  ARGV[8]  "1" when the cross-thread indexes are maintained
  ARGV[9 ..]  N, C pairs: the encoded namespace and id of each checkpoint to remove

  Each checkpoint goes with its writes and index entries; then each namespace touched keeps
  only the blobs a remaining checkpoint references, and disappears when it is empty.
  Returns the number of checkpoints that existed and were removed.
]]
--@include common
--@include chain
--@include delete
local B = bases(1)
local G = {on = ARGV[8] == '1', all = KEYS[2], run_base = ARGV[7], tag = ARGV[6]}
local touched, removed = {}, 0
for i = 9, #ARGV, 2 do
  local ns, cid = ARGV[i], ARGV[i + 1]
  if redis.call('EXISTS', B.cp .. ns .. ':' .. cid) == 1 then removed = removed + 1 end
  delete_checkpoint(B, G, ns, cid)
  touched[ns] = true
end
for ns in pairs(touched) do gc_namespace(B, KEYS[1], ns) end
return removed
