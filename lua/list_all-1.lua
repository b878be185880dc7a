--[[ list_all: one page of list(None): checkpoints of every thread, newest first, filtered.

  This replaces a RediSearch query with sorted sets. KEYS[1] is the index to walk: the
  cross-thread index `checkpoint_all`, or, when the filter names an indexed metadata value,
  that value's index `checkpoint_by:<key>:<value>` (the caller picks the smallest). Members of
  both are "C\nT\nN", in lexical (= time) order of C.

  KEYS[1]  the index to walk (sorted set, score 0)

  ARGV[1]  the checkpoint key prefix        ("checkpoint")
  ARGV[2]  the writes key prefix            ("checkpoint_write")
  ARGV[3]  the upper bound: "+" or "(<member>" (exclusive)
  ARGV[4]  page size: at most this many checkpoints are returned
  ARGV[5]  scan budget: at most this many index members are examined in this call
  ARGV[6]  "1" for a shallow saver: a member counts only when it is the latest of its
           namespace (the ancestors kept for DeltaChannel replay are not listed)
  ARGV[7 ..]  filter pairs ("f:<key>", encoded value), checked on each candidate's hash

  The per-thread keys of each member are built from its tag, as keys.py builds them. They are
  outside KEYS and outside any one slot: like the cross-thread index itself, this script is
  for standalone servers (the savers' `cross_thread` switch; a cluster lists per shard).
  A member whose checkpoint is gone (its thread expired) is skipped and removed from the index;
  when its whole thread is gone, the thread's other index entries go too (sweep.lua, up to
  2,000 ledger fields per call, to keep one call short), so list(None) never returns an
  expired thread and cleans up behind it.

  Returns { rows, next }: rows = { {T, N, tuple}, ... } with tuple as in load_tuple; next = the
  upper bound to continue from, or "" when the index is exhausted.
]]
--@include common
--@include filter
--@include chain
--@include load_tuple
--@include delete
--@include ttl
--@include sweep
local prefix, wprefix = ARGV[1], ARGV[2]
local G = globals(prefix, wprefix, true)
local upper, page, budget = ARGV[3], tonumber(ARGV[4]), tonumber(ARGV[5])
local names, expected = read_filter(7)
local shallow = ARGV[6] == '1'

local rows, scanned, sweep_left = {}, 0, 2000
local chunk = math.max(page, 64)
while #rows < page and scanned < budget do
  local members = redis.call('ZREVRANGEBYLEX', KEYS[1], upper, '-', 'LIMIT', 0, chunk)
  for _, m in ipairs(members) do
    scanned = scanned + 1
    upper = '(' .. m
    local parts = split(m)
    local cid, t, ns = parts[1], parts[2], parts[3]
    local B = thread_of(prefix, wprefix, t)
    if redis.call('HEXISTS', B.cp .. ns .. ':' .. cid, 'd') == 0 then
      redis.call('ZREM', KEYS[1], m)
      redis.call('ZREM', G.all, m)
      if sweep_left > 0 and redis.call('EXISTS', B.ns_set) == 0 then
        sweep_left = sweep_left - sweep_thread(G, t, math.min(256, sweep_left))
      end
    elseif shallow and redis.call('ZREVRANGE', B.idx .. ns, 0, 0)[1] ~= cid then
      -- kept for DeltaChannel replay only
    elseif matches(B.cp .. ns .. ':' .. cid, names, expected) then
      local tup = load_tuple(B, ns, cid)
      if tup then rows[#rows + 1] = {t, ns, tup} end
    end
    if #rows >= page or scanned >= budget then break end
  end
  if #members < chunk and (#rows < page and scanned < budget) then return {rows, ''} end
end
return {rows, upper}
