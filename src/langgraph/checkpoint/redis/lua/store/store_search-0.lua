--[[ store_search: the live items under a namespace prefix, for SearchOp, in one call; and,
  when this call can know which items the search returns, their TTLs re-armed in it.

  No KEYS: a fan-out. On one server it reads the store's one listing; on a cluster the client
  calls it once per master (with `#!lua flags=allow-cross-slot-keys`, scripts.py), with the
  suffixes of that master's buckets, and it reads every bucket of them that lists a namespace
  under the prefix, after touching each one's fence (includes/store.lua: F.live, Buckets): on a
  migrating slot the server refuses the call before it changed anything, and the client sends
  it again.

  ARGV[1]  prefix: the store prefix ("store"): the listings are store_ns<b> (ZSET, score 0,
           lexical; read through includes/store.lua's F.live() and F.under(), with
           store_nsseq<b>; <b> the bucket suffix, "" on one server)
  ARGV[2]  buckets: "" on one server; on a cluster the master's bucket suffixes joined by
           "," ("," for none)
  ARGV[3]  ns_prefix: P, the encoded namespace prefix (labels joined by ":"), "" for every
           namespace
  ARGV[4]  prefix_bucket: P's bucket suffix on a cluster (the only bucket that can list
           N == P), else ""
  ARGV[5]  mode: "page" for a search without a query (the matches in order, a page of them
           decided here when every verdict is sure), "rank" for a query (every candidate with
           its vectors, for the client to score), "verify" as "rank" but checking that every
           candidate's item exists (a key evicted under maxmemory leaves its entries, and
           the client asks so after it found one)
  ARGV[6]  offset: the search's offset
  ARGV[7]  limit: the search's limit
  ARGV[8]  refresh: "1" to re-arm the TTLs of the items the search returns
           (SearchOp.refresh_ttl); on a cluster always "0" (one master cannot know the page:
           the client re-arms it)
  ARGV[9]  stop: "1" to stop at offset + limit sure matches (page mode), "0" to walk every
           item
  ARGV[10] whole: "1" when the triples below are the whole filter, "0" when the client
           checks more
  ARGV[11] ncached: V, the number of cached namespaces that follow (rank mode)
  ARGV[12 .. 11+2V]  cached: V pairs (N, version), the namespaces whose vectors the client
           holds, and under which version
  ARGV[12 + 2V ..]  filter triples (op, key, operand): op "eq", "ne", "gt", "gte", "lt", "lte" or
              "no" (a range operand Python's float() refuses: never true); key a top-level key
              of the value; operand "s<string>" or "n<number>"

  Namespaces are N == P or N starting with P .. ":" (a label boundary: ("a",) is a prefix of
  ("a", "b"), not of ("ab",)). They are walked in the order of their first item and each one's
  items in insertion order: InMemoryStore's order, so a search without a query can stop early.
  On a cluster the namespaces of all the master's buckets are walked in that order together
  (includes/store.lua: under), and the client merges the masters' replies by the same key.

  The filter is judged here as InMemoryStore judges it (langgraph.store.memory: == for $eq and
  $ne, float() on both sides for the ranges) wherever a decoded msgpack value makes that
  certain: an item is dropped when it cannot match, counted sure when the whole filter holds,
  and returned unsure otherwise (a string under a range operator, whose float() parsing is
  Python's; an integer beyond 2^53 under $eq/$ne; other serde types; msgpack extension types;
  a server without cmsgpack). The client re-checks every item with InMemoryStore's comparison.
  The one blur left is msgpack's: cmsgpack decodes bytes as strings, so a "sure" string match
  can be a bytes value the client rejects (then it asks again, with ARGV[9] = "0").

  Re-arming: the page is known here when every returned row is sure. Page mode: rows offset+1 ..
  offset+limit. Rank mode: only when every candidate is returned (offset 0, at most limit of
  them); then their values come back too, so such a search is one call. Otherwise the client
  scores, then fetches the winners with store_get-2.lua, which re-arms them as it reads them.
  Expired items are removed on the way, with their entries (includes/store.lua). On a cluster
  each master stops at its own offset + limit sure matches (the page is among the first
  offset + limit of the merge), re-arms nothing (ARGV[8] "0": only the merge knows the page,
  and the client re-arms what it returns: ops.StoreOps._search) and completes a rank page
  (below) without re-arming it.

  Returns { rows, stopped, armed, dims }: dims, the dimensions of the store's vectors
  (store_dims<b>, set by the first put of a vector into the bucket; on a cluster, of the
  buckets that hold a candidate), or false; -1 when those buckets hold vectors of different
  dimensions.
  Page mode: rows = { {N, nsseq, K, seq, {y, v}, c, u, ttl ms or false, verdict (1 sure,
  2 unsure)}, ... }, the matches in walk order.
  Rank mode: rows = { {N, nsseq, version or false, order or false, vectors or false,
  candidates or false, data, stride, delta or false}, ... }, one block per namespace in walk
  order. order (every key, in order) and vectors (HGETALL of the vectors hash) are false when
  the client holds them under the current version, or under an older one the namespace's log
  still holds: then delta = {that version, keys gone, keys updated, their vectors, keys new
  since (in order), their vectors} brings the client's copy up to date (includes/store.lua).
  candidates: the keys a filter kept, in order, or false without a filter (every key is one).
  data: stride values per candidate: 0 (nothing), 2 (y, v: a filter, for the client's check)
  or 5 (y, v, c, u, ttl ms or false: every candidate is returned, and this call re-armed them
  as asked; candidates is then always given).
  stopped = 1 when the walk ended at offset + limit sure
  matches; armed = 1 when this call decided the page and re-armed it (as asked), so the client
  re-arms nothing. (When the client's check then rejects a bytes value counted sure here, the
  page this call re-armed was off by that item: the one over-refresh left.)
]]
--@include store
local prefix, p, mode = ARGV[1], ARGV[3], ARGV[5]
local offset, limit, refresh = tonumber(ARGV[6]), tonumber(ARGV[7]), ARGV[8] == '1'
local rank, whole = mode == 'rank' or mode == 'verify', ARGV[10] == '1'
local check = mode == 'verify'
local stop = (not rank and ARGV[9] == '1') and offset + limit or 0
local EXACT = 9007199254740992  -- 2^53: integers beyond it are not exact as doubles
local held = {}
local nheld = tonumber(ARGV[11])
for i = 12, 11 + 2 * nheld, 2 do held[ARGV[i]] = ARGV[i + 1] end
local conds = {}
for i = 12 + 2 * nheld, #ARGV, 3 do
  local raw = ARGV[i + 2]
  local operand = string.sub(raw, 2)
  if string.sub(raw, 1, 1) == 'n' then operand = tonumber(operand) end
  conds[#conds + 1] = {ARGV[i], ARGV[i + 1], operand}
end

-- one condition on a decoded value, as Python judges it: true, false, or nil when unsure
local function judge(op, v, x)
  if op == 'no' then return false end
  local tv = type(v)
  if tv == 'boolean' then v, tv = (v and 1 or 0), 'number' end  -- True == 1, float(True) == 1.0
  if op == 'eq' or op == 'ne' then
    local same
    if tv ~= type(x) then
      same = false  -- str vs number, None or a container vs a scalar: never equal
    elseif tv == 'number' and math.abs(v) >= EXACT then
      return nil  -- a big integer was rounded on decoding
    else
      same = v == x
    end
    if op == 'eq' then return same end
    return not same
  end
  -- a range compares float(value) with float(operand); the operand is a number here
  if tv == 'string' then return nil end  -- float("5") == 5.0: Python's parsing decides
  if tv ~= 'number' then return false end  -- float(None), float([]): no match
  if op == 'gt' then return v > x end
  if op == 'gte' then return v >= x end
  if op == 'lt' then return v < x end
  return v <= x
end

-- 0: cannot match; 1: surely matches; 2: unsure (the client decides)
local function verdict(vtype, packed)
  if #conds == 0 then return whole and 1 or 2 end
  if not cmsgpack or vtype ~= 'msgpack' then return 2 end
  local ok, t = pcall(cmsgpack.unpack, packed)
  if not ok or type(t) ~= 'table' then return 2 end
  local sure = whole
  for _, c in ipairs(conds) do
    local j = judge(c[1], t[c[2]], c[3])
    if j == false then return 0 end
    if j == nil then sure = false end
  end
  return sure and 1 or 2
end

local F = spans()
local found = F.live(prefix, ARGV[2], p, ARGV[4])
local order = F.under(found)
local now = now_ms()

local function rearm(nk, k, ttl)
  if refresh and ttl then arm(nk, k, tonumber(ttl), now) end
end

-- page mode: the matches in order, up to offset + limit sure ones
local function page()
  local out, where, sure, unsure = {}, {}, 0, 0
  for _, entry in ipairs(order) do
    local ns = entry[1]
    local nk = ns_keys(ns, entry[3])
    expire(nk, now)
    local members = redis.call('ZRANGE', nk.index, 0, -1, 'WITHSCORES')
    for i = 1, #members, 2 do
      local k = members[i]
      local h = redis.call('HMGET', nk.items .. k, 'y', 'v', 'c', 'u', 't')
      if not h[1] then
        forget(nk, k)
      else
        local v = verdict(h[1], h[2])
        if v > 0 then
          out[#out + 1] = {ns, entry[2], k, members[i + 1], {h[1], h[2]}, h[3], h[4],
                           h[5] or false, v}
          where[#where + 1] = {nk, k}
          if v == 1 then sure = sure + 1 else unsure = unsure + 1 end
          if stop > 0 and sure >= stop then return out, where, unsure, 1 end
        end
      end
    end
  end
  return out, where, unsure, 0
end

-- what changed in a namespace since the client's version (of seq `from`, as Redis wrote the
-- score: exact in a range bound): the keys gone, the keys updated in place (seq below `from`:
-- they were there) with their vectors, and the keys new since (seq above `from`, put's bump
-- comes after the seq) in order, with their vectors
local function changed(nk, base, score)
  local from = tonumber(score)
  local gone, updated = {}, {}
  local fresh = redis.call('ZRANGEBYSCORE', nk.index, '(' .. score, '+inf')
  for _, m in ipairs(redis.call('ZRANGEBYSCORE', nk.log, '(' .. score, '+inf')) do
    if string.sub(m, 1, 2) == 'k:' then
      local k = string.sub(m, 3)
      local seq = redis.call('ZSCORE', nk.index, k)
      if not seq then
        gone[#gone + 1] = k
      elseif tonumber(seq) < from then
        updated[#updated + 1] = k
      end
    end
  end
  local function vectors(ks)
    if #ks == 0 then return {} end
    return redis.call('HMGET', nk.vectors, unpack(ks))
  end
  return {base, gone, updated, vectors(updated), fresh, vectors(fresh)}
end

-- rank mode: every candidate, with its vectors unless the client holds them
local function candidates()
  local blocks, count, unsure = {}, 0, 0
  local filtered = #conds > 0 or not whole
  for _, entry in ipairs(order) do
    local ns = entry[1]
    local nk = ns_keys(ns, entry[3])
    expire(nk, now)
    local version = redis.call('HGET', bk(nk.b, '_nsver'), ns)
    local hit = version and held[ns] == version
    local members, vecs, delta = false, false, false
    local from = not hit and version and held[ns] and F.since(nk, held[ns])
    if from then
      delta = changed(nk, held[ns], from)
    elseif not hit then
      members = redis.call('ZRANGE', nk.index, 0, -1)
      vecs = redis.call('HGETALL', nk.vectors)
    end
    local cands, data = false, {}
    if filtered or check then
      cands = {}
      for _, k in ipairs(members or redis.call('ZRANGE', nk.index, 0, -1)) do
        local h = redis.call('HMGET', nk.items .. k, 'y', 'v')
        if not h[1] then
          forget(nk, k)
        else
          local v = verdict(h[1], h[2])
          if v > 0 then
            cands[#cands + 1] = k
            if filtered then
              data[#data + 1] = h[1]
              data[#data + 1] = h[2]
            end
            if v == 2 then unsure = unsure + 1 end
          end
        end
      end
      count = count + #cands
    else
      count = count + (members and #members or redis.call('ZCARD', nk.index))
    end
    blocks[#blocks + 1] = {ns, entry[2], version or false, members, vecs, cands, data,
                           filtered and 2 or 0, delta, nk}
  end
  return blocks, count, unsure
end

if not rank then
  local out, where, unsure, stopped = page()
  local armed = 0
  if unsure == 0 then
    for i = offset + 1, math.min(offset + limit, #out) do
      rearm(where[i][1], where[i][2], out[i][8])
    end
    armed = 1
  end
  return {out, stopped, armed, false}
end

local blocks, count, unsure = candidates()
local armed = 0
if unsure == 0 and offset == 0 and count <= limit then
  -- every candidate is returned: complete them and re-arm them here, so the search is one call
  for _, b in ipairs(blocks) do
    local nk, ks, data = b[10], {}, {}
    for _, k in ipairs(b[6] or b[4] or redis.call('ZRANGE', nk.index, 0, -1)) do
      local h = redis.call('HMGET', nk.items .. k, 'y', 'v', 'c', 'u', 't')
      if not h[1] then
        forget(nk, k)
      else
        ks[#ks + 1] = k
        for x = 1, 5 do data[#data + 1] = h[x] or false end
        rearm(nk, k, h[5])
      end
    end
    b[6], b[7], b[8] = ks, data, 5
  end
  armed = 1
end
-- the dimensions of the buckets read: one server's; on a cluster those holding a candidate
local read, seen = {}, {}
for _, b in ipairs(blocks) do
  local owner = b[10].b
  if not seen[owner] then
    seen[owner] = true
    read[#read + 1] = owner
  end
  b[10] = nil
end
if ARGV[2] == '' then read = {found[1][1]} end
local dims = false
for _, b in ipairs(read) do
  local d = redis.call('GET', bk(b, '_dims'))
  if d then
    if dims and d ~= dims then
      dims = -1
      break
    end
    dims = d
  end
end
return {blocks, 0, armed, dims}
