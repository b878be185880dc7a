--[[ sweep_buckets: take every due expired thread of some buckets out of the cross-thread
  indexes (sweep.lua).

  The write and list scripts already do this a little at a time; this is the same work for a
  caller that wants it finished now (the savers' sweep()/asweep(), which call this until no
  bucket is due). No KEYS: on a cluster the driver sends it to each master with the buckets
  of its slots (the `allow-cross-slot-keys` variant), as list_buckets-0.lua.

  ARGV[1]  prefix: the checkpoint key prefix     ("checkpoint")
  ARGV[2]  write_prefix: the writes key prefix   ("checkpoint_write")
  ARGV[3]  budget: the most ledger fields to process in this call (keeps one call short)
  ARGV[4 ..]  buckets: the bucket suffixes ("" on one server)

  Returns { fields, due }: the ledger fields processed (index entries of expired checkpoints
  removed), and 1 when threads are still due (call again), else 0.
]]
--@include common
--@include ttl
--@include sweep
local left = tonumber(ARGV[3])
local done, due = 0, 0
local now = now_ms()
for i = 4, #ARGV do
  local G = globals(ARGV[1], ARGV[2], true, ARGV[i])
  if left > done then done = done + sweep_due(G, 16, left - done) end
  if due == 0 and redis.call('ZCOUNT', G.exp, '-inf', now) > 0 then due = 1 end
end
return {done, due}
