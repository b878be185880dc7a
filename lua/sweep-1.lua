--[[ sweep: take every due expired thread out of the cross-thread indexes (sweep.lua).

  The write and list scripts already do this a little at a time; this is the same work for a
  caller that wants it finished now (the savers' sweep()/asweep(), which call this until it
  returns 0).

  KEYS[1]  expiry index           checkpoint_exp
  ARGV[1]  the checkpoint key prefix        ("checkpoint")
  ARGV[2]  the writes key prefix            ("checkpoint_write")
  ARGV[3]  the most ledger fields to process in this call (keeps one call short)

  Returns { fields, due }: the ledger fields processed (index entries of expired checkpoints
  removed), and 1 when threads are still due (call again), else 0.
]]
--@include common
--@include chain
--@include delete
--@include ttl
--@include sweep
local G = globals(ARGV[1], ARGV[2], true)
local budget = tonumber(ARGV[3])
local done = sweep_due(G, 16, budget)
return {done, redis.call('ZCOUNT', G.exp, '-inf', now_ms()) > 0 and 1 or 0}
