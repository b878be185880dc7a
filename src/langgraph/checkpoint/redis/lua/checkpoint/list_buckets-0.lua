--[[ list_buckets: one page of list(None) from the buckets of one server (or one master).

  This replaces a RediSearch query with sorted sets. Each bucket (keys.py: "" on one server,
  ":{g}" per group of 16 slots on a cluster) has its cross-thread index `checkpoint_all<sfx>`,
  members "C\nT\nN" in lexical (= time) order of C, and per metadata key
  `checkpoint_by<sfx>:<key>`, members "<value>\nC\nT\nN": one value's checkpoints are one
  lexical range of it, in time order. The script merges the buckets newest first: a heap of
  bucket heads (members without their value prefix), compared byte by byte as Redis orders
  them (Lua's `<` follows the server's locale). In each bucket it walks the smallest range the
  filter names (ZLEXCOUNT, when it names several), or `checkpoint_all` with no indexed value;
  a bucket missing one of the filter's values holds no match and is skipped.

  No KEYS: the keys are built from the suffixes. On a cluster the driver sends the variant with
  `#!lua flags=allow-cross-slot-keys` to each master, with the buckets of the groups whose
  first slot it owns; all of them are on that node, where the script reads them (and removes
  stale entries).

  ARGV[1]  prefix: the checkpoint key prefix     ("checkpoint")
  ARGV[2]  write_prefix: the writes key prefix   ("checkpoint_write")
  ARGV[3]  upper: the upper bound, "+" or "(<member>" (exclusive), the same for every bucket
  ARGV[4]  page: the page size, at most this many checkpoints are returned
  ARGV[5]  budget: the scan budget, at most this many index members are examined in this call
  ARGV[6]  shallow: "1" for a shallow saver: a member counts only when it is the latest of its
           namespace (the ancestors kept for DeltaChannel replay are not listed)
  ARGV[7]  nb: the number of buckets
  ARGV[8]  buckets: their suffixes, joined by "," (one argument: a master of a 3-master
           cluster has ~341 buckets, and one long argument costs the client and the server
           less than 341 short ones); "" with nb = 1 on one server
  ARGV[9]  ny: the number of indexed filter values
  ARGV[10 ..]  by: ny names "<key>\t<value>" (encoded)
  then     filter pairs ("f:<key>", encoded value), checked on each candidate's hash

  A member whose checkpoint is gone (its thread expired) is skipped and removed from the
  index; when its whole thread is gone, the thread's other index entries go too (sweep.lua, up
  to 2,000 ledger fields per call), so list(None) never returns an expired thread.

  Returns { rows, next }: rows = { {T, N, tuple}, ... } with tuple as in load_tuple; next = the
  upper bound to continue from (every member above it was examined), or "" when every bucket
  is exhausted.
]]
--@include common
--@include filter
--@include load_tuple
--@include sweep
local prefix, wprefix = ARGV[1], ARGV[2]
local upper, page, budget = ARGV[3], tonumber(ARGV[4]), tonumber(ARGV[5])
local shallow = ARGV[6] == '1'
local nb = tonumber(ARGV[7])
local sfxs = {}
if nb == 1 then
  sfxs[1] = ARGV[8]
else
  for b in string.gmatch(ARGV[8], '[^,]+') do sfxs[#sfxs + 1] = b end
end
local ny = tonumber(ARGV[9])
local names, expected = read_filter(10 + ny)

-- memcmp order, as sorted sets keep members
local function before(a, b)
  if a == b then return false end
  local n = math.min(#a, #b)
  local i = 1
  while i + 7 <= n and string.sub(a, i, i + 7) == string.sub(b, i, i + 7) do i = i + 8 end
  while i <= n do
    local x, y = string.byte(a, i), string.byte(b, i)
    if x ~= y then return x < y end
    i = i + 1
  end
  return #a < #b
end

-- A cursor's head weighed: its first 18 bytes as three exact numbers (6 bytes each, base 257,
-- 0 past the end), so that most comparisons of heads are three numeric ones; only heads that
-- share 18 bytes are compared byte by byte (`before`). Creating substrings, as `before` does,
-- is what a Lua comparison of strings costs here.
local function weigh(s)
  local b = {string.byte(s.buf[s.pos], s.cut, s.cut + 17)}
  local x1, x2, x3 = 0, 0, 0
  for i = 1, 6 do x1 = x1 * 257 + (b[i] or -1) + 1 end
  for i = 7, 12 do x2 = x2 * 257 + (b[i] or -1) + 1 end
  for i = 13, 18 do x3 = x3 * 257 + (b[i] or -1) + 1 end
  s.k1, s.k2, s.k3 = x1, x2, x3
end

local function below(s, t)  -- s's head sorts before t's (memcmp order)
  if s.k1 ~= t.k1 then return s.k1 < t.k1 end
  if s.k2 ~= t.k2 then return s.k2 < t.k2 end
  if s.k3 ~= t.k3 then return s.k3 < t.k3 end
  return before(string.sub(s.buf[s.pos], s.cut), string.sub(t.buf[t.pos], t.cut))
end

-- one bucket's cursor: a buffer of members fetched `chunk` at a time, newest first
local function refill(s)
  local got = redis.call('ZREVRANGEBYLEX', s.key, s.upper, s.lower, 'LIMIT', 0, s.chunk)
  s.buf, s.pos = got, 1
  s.done = #got < s.chunk
  if #got > 0 then s.upper = '(' .. got[#got] end
  s.chunk = math.min(s.chunk * 2, 256)
  return #got > 0
end

-- the lexical range of one value's members in a metadata index ("<value>\n..."): its bounds
-- for ZLEXCOUNT and for a newest-first walk below `upper` ("+" or "(<member>")
local function value_range(pre)
  local stem = string.sub(pre, 1, -2)
  local top = upper == '+' and ('(' .. stem .. '\v') or ('(' .. pre .. string.sub(upper, 2))
  return '[' .. pre, '(' .. stem .. '\v', top
end

local heap = {}
local first_chunk = nb == 1 and math.max(page, 64) or 1
local all_base, by_base = prefix .. '_all', prefix .. '_by'
for i = 1, #sfxs do
  local sfx = sfxs[i]
  local key, pre = all_base .. sfx, ''
  if ny == 1 then  -- one indexed value: its range is the walk (an empty one reads as empty)
    key, pre = by_entry(by_base .. sfx .. ':' .. ARGV[10])
  elseif ny > 1 then
    key = nil
    local size
    for j = 1, ny do
      local k, p = by_entry(by_base .. sfx .. ':' .. ARGV[9 + j])
      local lo, hi = value_range(p)
      local n = redis.call('ZLEXCOUNT', k, lo, hi)
      if n == 0 then key = nil break end
      if size == nil or n < size then key, pre, size = k, p, n end
    end
  end
  if key then  -- (a cursor only where there are members; a missing key reads as empty)
    local lower, hi = '-', upper
    if pre ~= '' then
      local lo, _, top = value_range(pre)
      lower, hi = lo, top
    end
    local got = redis.call('ZREVRANGEBYLEX', key, hi, lower, 'LIMIT', 0, first_chunk)
    if #got > 0 then
      local s = {key = key, sfx = sfx, buf = got, pos = 1, done = #got < first_chunk,
        upper = '(' .. got[#got], lower = lower, cut = #pre + 1,
        chunk = math.min(first_chunk * 2, 256)}
      weigh(s)
      heap[#heap + 1] = s
    end
  end
end

local function sift(i)
  local n = #heap
  while true do
    local l, r, m = 2 * i, 2 * i + 1, i
    if l <= n and below(heap[m], heap[l]) then m = l end
    if r <= n and below(heap[m], heap[r]) then m = r end
    if m == i then return end
    heap[i], heap[m] = heap[m], heap[i]
    i = m
  end
end
for i = math.floor(#heap / 2), 1, -1 do sift(i) end

local rows, scanned, sweep_left, last = {}, 0, 2000, nil
while #heap > 0 and #rows < page and scanned < budget do
  local s = heap[1]
  local full = s.buf[s.pos]
  local m = string.sub(full, s.cut)
  scanned = scanned + 1
  last = m
  local parts = split(m)
  local cid, t, ns = parts[1], parts[2], parts[3]
  local B = thread_of(prefix, wprefix, t, s.sfx)
  if redis.call('HEXISTS', B.cp .. ns .. ':' .. cid, 'd') == 0 then
    local G = globals(prefix, wprefix, true, s.sfx)
    redis.call('ZREM', s.key, full)
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
  s.pos = s.pos + 1
  if s.pos > #s.buf and (s.done or not refill(s)) then
    heap[1] = heap[#heap]
    heap[#heap] = nil
  else
    weigh(s)
  end
  if #heap > 0 then sift(1) end
end
if #heap == 0 then return {rows, ''} end
return {rows, '(' .. last}
