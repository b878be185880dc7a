--[[ store.lua: one namespace of RedisStore, for the store_* scripts.

  ns_keys(N, b)       the keys of namespace N in bucket b (nk.b), all in its hash tag {N}
                      (ops.StoreOps names them the same way):
      items      prefix:{N}:<K>    HASH  y serde type, v serde bytes, c created ms, u updated
                                         ms, s seq, t TTL ms (items with a TTL only)
      index      prefix_keys:{N}   ZSET  K by insertion seq (InMemoryStore's order)
      vectors    prefix_vec:{N}    HASH  K -> its vectors, float32s one after another (of
                                         store_dims each): one HGETALL gives a query every
                                         candidate's vectors
      deadlines  prefix_exp:{N}    ZSET  K by its item's expiry (ms): the item's own PEXPIREAT,
                                         mirrored so that expired items leave the index and the
                                         vectors before anyone reads them
      version    prefix_nsver      HASH  N -> a stamp that changes whenever N's keys, order or
                                         vectors may have: a client caches a namespace's
                                         vectors under it and is sent them again only after a
                                         change (store_search-0.lua). seq@time: unique even after
                                         a failover or a restore rewinds the counter.
      log        prefix_log:{N}    ZSET  what changed, by the seq of the version that changed
                                         it: "k:"K for a key put or forgotten, "v:"version for
                                         each version. Only in a store that holds vectors
                                         (prefix_dims), trimmed to the last LOG entries: a
                                         client holding a version still in it is sent only the
                                         keys changed since (store_search-0.lua). Trimming drops
                                         the lowest seqs first, so a version still present has
                                         every later change present too.
      docs       prefix_fv:{N}:K:i HASH  one per vector of K, for the server's vector index,
                                         only once setup() set prefix_fvon (its dimensions):
                                         v the float32 vector, p tags of N's prefixes, s K's
                                         seq, o N's first seq (src/langgraph/store/redis/
                                         ftindex.py). Written, re-armed and removed with K.
                                         A zero vector gets none (the index scores it NaN and
                                         a filtered KNN drops it): N goes in prefix_fvzero
                                         instead, and queries under N scan until N empties.
      due        prefix_nsdue      ZSET  N by a time at or before its earliest deadline (ZADD LT
                                         when an item is armed; a re-arm or a PERSIST leaves it
                                         early), so a listing expires only the namespaces that
                                         may hold an expired item (store_namespaces-0.lua)
  Buckets (Redis Cluster). The keys above without {N} (prefix_ns, prefix_nsseq, prefix_nsver,
  prefix_nsdue, prefix_seq, prefix_dims, prefix_fvzero) are one each on one server. On a
  cluster each namespace's entries go to the bucket of its slot instead: the same names with
  the suffix ":{b}", b the tag of the first slot of the group of 16 that N's slot is in
  (keys.py's group_tag), and N's own keys are named with "{b}N" for "{N}" (prefix:{b}N:K, ...),
  so every key a script touches is in the slot of b. The namespaces spread over 1,024 slots,
  and a master holds ~341 of their buckets (on 3 masters), not 5,461.
  The fence, prefix_fence<suffix>, is never written. A script of one item (store_get, store_put)
  declares it with the item: the scripts read and write keys they do not declare, and while
  the slot migrates some of those may already be on the other node. With a declared key that
  never exists the server answers TRYAGAIN or ASK (then TRYAGAIN) before the script starts, and
  the driver retries until the slot has settled, so a script never runs half on a moving slot.
  Such a script learns the prefix and the suffix from the fence's name (FENCE below); on one
  server it declares prefix_fence, useless there and as cheap as any other key in its place.
  The fan-outs (store_search, store_namespaces) declare no keys: each is called once per
  master with the suffixes of that master's buckets (F.live() below), and touches the fence of
  every bucket it goes on to read before it changes anything, which a migrating slot refuses
  in the same way ("non local key": the driver retries the whole fan-out).
  The cluster's seq is per bucket, and comes from the client's stamp (next_seq): the puts of
  one batch go to several masters at once, so only the client knows their order. Namespaces
  of different slots are ordered by when their first item was put, as InMemoryStore orders
  them: exactly for one process, to within the clients' clock skew across machines.
  A namespace is listed (prefix_ns) exactly while its index holds a key: the forget() that
  empties the index drops it from prefix_ns, prefix_nsver, prefix_fvzero and prefix_nsdue.
  This file runs at every call of a script that includes it: each function defined here, and
  each table or string built, costs the server time per call (a table ~2,000 instructions, a
  function or a concatenation ~500: measured with callgrind), so it defines no table at its
  top, only what every script needs (spans() makes the rest), and a bucket's names are built
  when first used.
  bucket(prefix, sfx) the bucket of suffix sfx ("" on one server); bk(b, part) its key named
                      prefix .. part .. sfx (part '_ns', '_nsseq', '_nsver', '_nsdue', '_seq',
                      '_dims', '_fvzero' or '_fence'), built once per call.
  bucket(string.match(F, FENCE))  the bucket of a declared fence F = prefix .. '_fence' ..
                      sfx (a suffix holds no "_": the last "_fence" in F ends the prefix).
  listed(L, P, own)   the names in listing L (a bucket's prefix_ns<b>) that are P or under
                      P .. ":" (a label boundary; all for P ""), lexical; P itself only when
                      `own` (P's bucket: N == P can be listed in no other).
  next_seq(nk)        the bucket's next seq, as a string: INCR on one server; on a cluster the
                      put's stamp (STAMP: the client's clock in microseconds, increasing in
                      the order of its puts), kept increasing within the bucket.
  now_ms()            the server's clock.
  bump(nk, K)         a new version for the namespace (its seq @ the TIME now_ms() read, or
                      TIME), K's change in its log.
  arm(nk, K, ttl, now)   the item's deadline now + ttl, on the key (and its documents) and in
                      the mirror, together.
  disarm(nk, K)       no deadline: PERSIST and out of the mirror.
  docs(nk)            nil, or (with the server's vector index) D: D.write(nk, K, vectors, at)
                      makes K's documents from its vectors (deadline `at` or none), and
                      D.each(nk, K, cmd[, at]) gives each of them to UNLINK (before K's vectors
                      change or go), PERSIST or PEXPIREAT.
  forget(nk, K)       K out of the index, the vectors and the deadlines (the item key itself is
                      the caller's); a new version when that removed anything, and the
                      namespace unlisted when that emptied it.
  expire(nk, now, n)  removes the items whose deadline has passed (at most n, all when n is nil):
                      the key too, because a script may still see a key in its last millisecond;
                      returns how many.
  settle(nk, now)     expire(nk, now) whole, then the namespace's place in the bucket's due set
                      moved to its next deadline (or out): what a reader that found it due
                      does (store_namespaces, store_sweep); returns how many items it removed.
  spans()             the helpers of the scripts that read many namespaces, as a table F (made by
                      the scripts that need them: see above):
  F.live(prefix, list, P, pb)  the buckets a fan-out reads, as {b, listed(...)}: one server's
                      for list "", else those of the master's suffixes (list: joined by ",")
                      that list a namespace under P (pb: P's bucket suffix), each fenced
                      before the script changes anything.
  F.under(found)      the namespaces of F.live()'s buckets, as {N, its first seq, its bucket},
                      by first seq (then by N's bytes, for two buckets' equal stamps):
                      InMemoryStore's order of namespaces, which ops.StoreOps merges across
                      masters with the same key.
  F.since(nk, version)  the seq of `version` (its score, as a string) while the log still holds
                      it, else false.
]]
local FENCE = '^(.*)_fence(.*)$'

local function bucket(prefix, sfx)
  return {prefix = prefix, sfx = sfx}
end

-- a name of bucket b (part: '_ns', '_nsseq', '_nsver', '_nsdue', '_seq', '_dims', '_fvzero'
-- or '_fence'), built when the call first needs it
local function bk(b, part)
  local name = b[part]
  if not name then
    name = b.prefix .. part .. b.sfx
    b[part] = name
  end
  return name
end

local function listed(key, p, own)
  if p == '' then return redis.call('ZRANGE', key, 0, -1) end
  local names = redis.call('ZRANGEBYLEX', key, '[' .. p .. ':', '(' .. p .. ';')
  if own and redis.call('ZSCORE', key, p) then table.insert(names, 1, p) end
  return names
end

local function ns_keys(ns, b)
  local prefix = b.prefix
  -- one server: {N}; a cluster: {b}N, b the bucket's tag (its suffix is ":{b}")
  local tag = b.sfx == '' and ('{' .. ns .. '}') or (string.sub(b.sfx, 2) .. ns)
  return {
    prefix = prefix,
    ns = ns,
    b = b,
    docs = prefix .. '_fv:' .. tag .. ':',
    items = prefix .. ':' .. tag .. ':',
    index = prefix .. '_keys:' .. tag,
    vectors = prefix .. '_vec:' .. tag,
    deadlines = prefix .. '_exp:' .. tag,
    log = prefix .. '_log:' .. tag,
  }
end

local STAMP = 0  -- a put's order stamp from the client (store_put's ARGV[8]); 0: none

local function next_seq(nk)
  local key = bk(nk.b, '_seq')
  if nk.b.sfx == '' then return tostring(redis.call('INCR', key)) end
  local n = tonumber(redis.call('GET', key) or '0') + 1
  if STAMP > n then n = STAMP end
  local s = string.format('%.0f', n)
  redis.call('SET', key, s)
  return s
end

local TIME = nil  -- the server's TIME as now_ms() read it: bump() stamps versions with it
local function now_ms()
  TIME = redis.call('TIME')
  return tonumber(TIME[1]) * 1000 + math.floor(tonumber(TIME[2]) / 1000)
end

-- the server's vector index's documents: kept only once setup() set prefix_fvon, on one server
-- (a cluster has no vector index, and _fvon is in no namespace's slot). docs(nk) is nil
-- without them (asked once per call), else the functions below, made when a call first needs
-- them (see the top: most calls never do)
local fv_read, fv_dims, DOCS = false, nil, nil
local function docs(nk)
  if nk.b.sfx ~= '' then return nil end
  if not fv_read then
    fv_dims = tonumber(redis.call('GET', nk.prefix .. '_fvon') or '')
    fv_read = true
  end
  if not fv_dims or DOCS then return fv_dims and DOCS end
  local D, dims = {}, fv_dims

  -- each document of K (as many as its stored vectors hold) given to command `cmd` (UNLINK,
  -- PERSIST, or PEXPIREAT with `at`)
  function D.each(nk, k, cmd, at)
    local n = math.floor(redis.call('HSTRLEN', nk.vectors, k) / (4 * dims))
    for i = 1, n do
      local d = nk.docs .. k .. ':' .. i
      if at then redis.call(cmd, d, at) else redis.call(cmd, d) end
    end
  end

  -- a hex tag per namespace prefix at a label boundary (ftindex.tags)
  local function tags(ns)
    local out, pos = {}, 1
    while true do
      local i = string.find(ns, ':', pos, true)
      out[#out + 1] = string.sub(redis.sha1hex(i and string.sub(ns, 1, i - 1) or ns), 1, 24)
      if not i then break end
      pos = i + 1
    end
    return table.concat(out, ',')
  end

  function D.write(nk, k, raw, at)
    if not raw or raw == '' then return end
    local w = 4 * dims
    if #raw % w ~= 0 then return end  -- another embedding's vectors: never in the index
    local seq = redis.call('HGET', nk.items .. k, 's')
    local o = redis.call('HGET', bk(nk.b, '_nsseq'), nk.ns)
    local p = tags(nk.ns)
    for i = 1, #raw / w do
      local v = string.sub(raw, (i - 1) * w + 1, i * w)
      if string.find(v, '^[%z\128]*$') then
        -- +0 and -0 only (and some denormals: scanning them too is merely slower)
        redis.call('ZADD', bk(nk.b, '_fvzero'), 0, nk.ns)
      else
        local d = nk.docs .. k .. ':' .. i
        redis.call('HSET', d, 'v', v, 'p', p, 's', seq, 'o', o)
        if at then redis.call('PEXPIREAT', d, at) end
      end
    end
  end

  DOCS = D
  return D
end

local LOG = 64  -- log entries kept per namespace: the last 32 to 63 changes
local function bump(nk, k)
  local seq = next_seq(nk)
  local t = TIME or redis.call('TIME')
  local version = seq .. '@' .. t[1] .. '.' .. t[2]
  local b = nk.b
  redis.call('HSET', bk(b, '_nsver'), nk.ns, version)
  -- whether the bucket holds vectors, asked once per call
  if b.vec == nil then b.vec = redis.call('EXISTS', bk(b, '_dims')) == 1 end
  if b.vec then
    redis.call('ZADD', nk.log, seq, 'k:' .. k, seq, 'v:' .. version)
    redis.call('ZREMRANGEBYRANK', nk.log, 0, -(LOG + 1))
  end
end

local function arm(nk, k, ttl, now)
  redis.call('PEXPIREAT', nk.items .. k, now + ttl)
  redis.call('ZADD', nk.deadlines, now + ttl, k)
  redis.call('ZADD', bk(nk.b, '_nsdue'), 'LT', now + ttl, nk.ns)
  local D = docs(nk)
  if D then D.each(nk, k, 'PEXPIREAT', now + ttl) end
end

local function disarm(nk, k)
  redis.call('PERSIST', nk.items .. k)
  redis.call('ZREM', nk.deadlines, k)
  local D = docs(nk)
  if D then D.each(nk, k, 'PERSIST') end
end

local function forget(nk, k)
  local D = docs(nk)
  if D then D.each(nk, k, 'UNLINK') end
  local gone = redis.call('ZREM', nk.index, k) + redis.call('HDEL', nk.vectors, k)
  redis.call('ZREM', nk.deadlines, k)
  if gone > 0 then
    bump(nk, k)
    if redis.call('ZCARD', nk.index) == 0 then
      -- emptied: unlisted now, its place in the search order (prefix_nsseq) kept for good
      local b = nk.b
      redis.call('ZREM', bk(b, '_ns'), nk.ns)
      redis.call('HDEL', bk(b, '_nsver'), nk.ns)
      redis.call('UNLINK', nk.log)
      redis.call('ZREM', bk(b, '_fvzero'), nk.ns)
      redis.call('ZREM', bk(b, '_nsdue'), nk.ns)
    end
  end
end

local function expire(nk, now, n)
  local due
  if n then
    due = redis.call('ZRANGEBYSCORE', nk.deadlines, '-inf', now, 'LIMIT', 0, n)
  else
    due = redis.call('ZRANGEBYSCORE', nk.deadlines, '-inf', now)
  end
  for _, k in ipairs(due) do
    redis.call('UNLINK', nk.items .. k)
    forget(nk, k)
  end
  return #due
end

local function settle(nk, now)
  local removed = expire(nk, now)
  local next = redis.call('ZRANGE', nk.deadlines, 0, 0, 'WITHSCORES')
  if next[2] then
    redis.call('ZADD', bk(nk.b, '_nsdue'), next[2], nk.ns)
  else
    redis.call('ZREM', bk(nk.b, '_nsdue'), nk.ns)
  end
  return removed
end

-- the helpers of the scripts that read many namespaces (store_search, store_namespaces,
-- store_knn), made only when one of them asks: every function this file defines costs every
-- script that includes it, at every call (see the top)
local function spans()
  local F = {}
  function F.live(prefix, list, p, pb)
    if list == '' then
      local b = bucket(prefix, '')
      return {{b, listed(bk(b, '_ns'), p, true)}}
    end
    -- one read per bucket, most of which hold nothing under P (or nothing at all): the
    -- cheapest there is (~2 us a bucket; a master has ~341)
    local out, base, lo, hi = {}, prefix .. '_ns', '[' .. p .. ':', '(' .. p .. ';'
    for sfx in string.gmatch(list, '[^,]+') do
      local key, names = base .. sfx, nil
      if p == '' then
        names = redis.call('ZRANGE', key, 0, -1)
      else
        names = redis.call('ZRANGEBYLEX', key, lo, hi)
        if sfx == pb and redis.call('ZSCORE', key, p) then table.insert(names, 1, p) end
      end
      if #names > 0 then
        local b = bucket(prefix, sfx)
        -- refused ("non local key") while the slot migrates, before anything was changed
        redis.call('EXISTS', bk(b, '_fence'))
        out[#out + 1] = {b, names}
      end
    end
    return out
  end

  function F.under(found)
    local order = {}
    for _, pair in ipairs(found) do
      local b, namespaces = pair[1], pair[2]
      -- first seqs, 1,000 namespaces per HMGET (unpack's stack)
      for at = 1, #namespaces, 1000 do
        local last = math.min(at + 999, #namespaces)
        local seqs = redis.call('HMGET', bk(b, '_nsseq'), unpack(namespaces, at, last))
        for i = at, last do
          order[#order + 1] = {namespaces[i], tonumber(seqs[i - at + 1] or '0'), b}
        end
      end
    end
    table.sort(order, function(x, y)
      if x[2] ~= y[2] then return x[2] < y[2] end
      -- memcmp order (Lua's < on strings follows the server's locale)
      local a, c = x[1], y[1]
      for i = 1, math.min(#a, #c) do
        local u, v = string.byte(a, i), string.byte(c, i)
        if u ~= v then return u < v end
      end
      return #a < #c
    end)
    return order
  end

  function F.since(nk, version)
    return redis.call('ZSCORE', nk.log, 'v:' .. version)
  end
  return F
end
