--[[ copy_prepare: make the target thread of copy_thread ready to receive checkpoints.

  copy_thread reads the source with export_thread-1.lua, then writes the target in one
  MULTI/EXEC (two slots in a cluster, so not one script). This script runs first inside that
  transaction: it does for the target what a put does before it writes.

  KEYS[1]  target thread namespaces   checkpoint_ns:{T}

  ARGV[1..6]  the target's thread block (common.lua's thread): prefixes, T, cross-thread, TTL, flags
  ARGV[7 ..]  N, C pairs: the encoded namespace and id of each checkpoint about to be copied

  A target that expired and left its ledger behind loses those leftovers (put_checkpoint-7.lua
  does the same). A checkpoint the target already has is prepared as for a re-put: its filter
  fields and cross-thread index entries go, so the copy's replace them instead of adding to
  them; its writes stay (the copy merges into them).

  Returns the number of checkpoints the target already had.
]]
--@include common
--@include chain
--@include delete
local B, G = thread(1)
if G.on and redis.call('EXISTS', KEYS[1]) == 0 and redis.call('EXISTS', B.xref) == 1 then
  forget_thread(B, G)
end
local existing = 0
for i = 7, #ARGV, 2 do
  if clear_for_reput(B, G, ARGV[i], ARGV[i + 1]) then existing = existing + 1 end
end
return existing
