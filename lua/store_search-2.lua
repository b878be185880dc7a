--[[ store_search: the live items under a namespace prefix, for SearchOp, in one call; and,
  when this call can know which items the search returns, their TTLs re-armed in it.

  KEYS[1]  namespaces         store_ns<b>     (ZSET, score 0, lexical; read through
                                               includes/store.lua's under(), with store_nsseq<b>;
                                               <b> the bucket suffix, "" on one server)
  KEYS[2]  the fence          store_fence<b>  never written: declared so that while the
                                               bucket's slot migrates the server answers
                                               TRYAGAIN/ASK before the script starts
                                               (includes/store.lua: Buckets)
  ARGV[1]  the store prefix   ("store")
  ARGV[2]  P, the encoded namespace prefix (labels joined by ":"), "" for every namespace
  ARGV[3]  mode: "page" for a search without a query (the matches in order, a page of them
           decided here when every verdict is sure), "rank" for a query (every candidate with
           its vectors, for the client to score), "verify" as "rank" but checking that every
           candidate's item exists (a key evicted under maxmemory leaves its entries, and
           the client asks so after it found one)
  ARGV[4]  the search's offset
  ARGV[5]  the search's limit
  ARGV[6]  "1" to re-arm the TTLs of the items the search returns (SearchOp.refresh_ttl)
  ARGV[7]  "1" to stop at offset + limit sure matches (page mode), "0" to walk every item
  ARGV[8]  "1" when the triples below are the whole filter, "0" when the client checks more
  ARGV[9]  V, the number of cached namespaces that follow (rank mode), then V pairs
           (N, version): the namespaces whose vectors the client holds, and under which version
  ARGV[10 + 2V ..]  filter triples (op, key, operand): op "eq", "ne", "gt", "gte", "lt", "lte" or
              "no" (a range operand Python's float() refuses: never true); key a top-level key
              of the value; operand "s<string>" or "n<number>"

  Namespaces are N == P or N starting with P .. ":" (a label boundary: ("a",) is a prefix of
  ("a", "b"), not of ("ab",)). They are walked in the order of their first item and each one's
  items in insertion order: InMemoryStore's order, so a search without a query can stop early.

  The filter is judged here as InMemoryStore judges it (langgraph.store.memory: == for $eq and
  $ne, float() on both sides for the ranges) wherever a decoded msgpack value makes that
  certain: an item is dropped when it cannot match, counted sure when the whole filter holds,
  and returned unsure otherwise (a string under a range operator, whose float() parsing is
  Python's; an integer beyond 2^53 under $eq/$ne; other serde types; msgpack extension types;
  a server without cmsgpack). The client re-checks every item with InMemoryStore's comparison.
  The one blur left is msgpack's: cmsgpack decodes bytes as strings, so a "sure" string match
  can be a bytes value the client rejects (then it asks again, with ARGV[7] = "0").

  Re-arming: the page is known here when every returned row is sure. Page mode: rows offset+1 ..
  offset+limit. Rank mode: only when every candidate is returned (offset 0, at most limit of
  them); then their values come back too, so such a search is one call. Otherwise the client
  scores, then fetches the winners with store_get-3.lua, which re-arms them as it reads them.
  Expired items are removed on the way, with their entries (includes/store.lua). The items
  of a namespace share its hash tag; different namespaces are different slots, so on a
  cluster this script reads one bucket (the namespaces of one slot) and the client calls it
  for every bucket that exists, merging the replies in the same order (ops.StoreOps, with
  re-arming left to the client: only the merge knows the page).

  Returns { rows, stopped, armed, dims }: dims, the dimensions of the store's vectors
  (store_dims, set by the first put of a vector), or false.
  Page mode: rows = { {N, nsseq, K, seq, {y, v}, c, u, ttl ms or false, verdict (1 sure,
  2 unsure)}, ... }, the matches in walk order.
  Rank mode: rows = { {N, nsseq, version or false, order or false, vectors or false,
  candidates or false, data, stride, delta or false}, ... }, one block per namespace in walk
  order. order (every key, in order) and vectors (HGETALL of the vectors hash) are false when
  the client holds them under the current version, or under an older one the namespace's log
  still holds: then delta = {that version, keys gone, keys updated, their vectors, keys new
  since (in order), their vectors} brings the client's copy up to date (includes/store.lua).
  candidates: the keys a filter kept, in order, or false without a filter (every key is one). data: stride values per candidate: 0 (nothing), 2 (y, v:
  a filter, for the client's check) or 5 (y, v, c, u, ttl ms or false: every candidate is
  returned, and this call re-armed them; candidates is then always given).
  stopped = 1 when the walk ended at offset + limit sure
  matches; armed = 1 when this call decided the page and re-armed it (as asked), so the client
  re-arms nothing. (When the client's check then rejects a bytes value counted sure here, the
  page this call re-armed was off by that item: the one over-refresh left.)
]]
--@include store
local prefix, p, mode = ARGV[1], ARGV[2], ARGV[3]
bucket(prefix, KEYS[1])
local offset, limit, refresh = tonumber(ARGV[4]), tonumber(ARGV[5]), ARGV[6] == '1'
local rank, whole = mode == 'rank' or mode == 'verify', ARGV[8] == '1'
local check = mode == 'verify'
local stop = (not rank and ARGV[7] == '1') and offset + limit or 0
local EXACT = 9007199254740992  -- 2^53: integers beyond it are not exact as doubles
local held = {}
local nheld = tonumber(ARGV[9])
for i = 10, 9 + 2 * nheld, 2 do held[ARGV[i]] = ARGV[i + 1] end
local conds = {}
for i = 10 + 2 * nheld, #ARGV, 3 do
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

local order = under(prefix, p)
local now = now_ms()

local function rearm(nk, k, ttl)
  if refresh and ttl then arm(nk, k, tonumber(ttl), now) end
end

-- page mode: the matches in order, up to offset + limit sure ones
local function page()
  local out, where, sure, unsure = {}, {}, 0, 0
  for _, entry in ipairs(order) do
    local ns = entry[1]
    local nk = ns_keys(prefix, ns)
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
    local nk = ns_keys(prefix, ns)
    expire(nk, now)
    local version = redis.call('HGET', nk.versions, ns)
    local hit = version and held[ns] == version
    local members, vecs, delta = false, false, false
    local from = not hit and version and held[ns] and since(nk, held[ns])
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
for _, b in ipairs(blocks) do b[10] = nil end
return {blocks, 0, armed, redis.call('GET', prefix .. '_dims' .. SFX)}
