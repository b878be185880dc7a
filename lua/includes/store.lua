--[[ store.lua: one namespace of RedisStore, for the store_* scripts.

  ns_keys(prefix, N)  the keys of namespace N, all in its hash tag {N} (ops.StoreOps names them
                      the same way):
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
                                         change (store_search-2.lua). seq@time: unique even after
                                         a failover or a restore rewinds the counter.
      log        prefix_log:{N}    ZSET  what changed, by the seq of the version that changed
                                         it: "k:"K for a key put or forgotten, "v:"version for
                                         each version. Only in a store that holds vectors
                                         (prefix_dims), trimmed to the last LOG entries: a
                                         client holding a version still in it is sent only the
                                         keys changed since (store_search-2.lua). Trimming drops
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
                                         may hold an expired item (store_namespaces-2.lua)
  Buckets (Redis Cluster). The keys above without {N} (prefix_ns, prefix_nsseq, prefix_nsver,
  prefix_nsdue, prefix_seq, prefix_dims, prefix_fvzero) are one each on one server. On a
  cluster each namespace's entries go to the bucket of its slot instead: the same names with
  the suffix ":{b}", b the tag of the first slot of the group of 16 that N's slot is in
  (keys.py's group_tag), and N's own keys are named with "{b}N" for "{N}" (prefix:{b}N:K, ...),
  so every key a script touches is in the slot of b. The namespaces spread over 1,024 slots,
  and a listing asks each master for the ~341 buckets of its slots of them, not 5,461.
  Each script also declares the bucket's fence, prefix_fence<suffix>, which is never written:
  the scripts read and write keys they do not declare, and while the slot migrates some of
  those may already be on the other node. With a declared key that never exists the server
  answers TRYAGAIN or ASK (then TRYAGAIN) before the script starts, and the driver retries
  until the slot has settled, so a script never runs half on a moving slot. Each script learns the suffix from the bucket key it declares
  (bucket(prefix, key) below). The cluster's seq is then per bucket, and comes from the
  client's stamp (next_seq): the puts of one batch go to several masters at once, so only the
  client knows their order. Namespaces of different slots are ordered by when their first item
  was put, as InMemoryStore orders them: exactly for one process, to within the clients' clock
  skew across machines.
  A namespace is listed (prefix_ns) exactly while its index holds a key: the forget() that
  empties the index drops it from prefix_ns, prefix_nsver, prefix_fvzero and prefix_nsdue.
  bucket(prefix, K)   sets the bucket suffix from K, the script's declared prefix_ns<suffix>.
  next_seq(nk)        the bucket's next seq, as a string: INCR on one server; on a cluster the
                      put's stamp (STAMP: the client's clock in microseconds, increasing in
                      the order of its puts), kept increasing within the bucket.
  under(prefix, P)    the namespaces N == P or under P .. ":" (a label boundary), as {N, its
                      first seq}, in that order: InMemoryStore's order of namespaces.
  now_ms()            the server's clock.
  bump(nk, K)         a new version for the namespace, K's change in its log.
  since(nk, version)  the seq of `version` (its score, as a string) while the log still holds
                      it, else false.
  arm(nk, K, ttl, now)   the item's deadline now + ttl, on the key (and its documents) and in
                      the mirror, together.
  disarm(nk, K)       no deadline: PERSIST and out of the mirror.
  write_docs(nk, K, vectors, at)  K's documents from its vectors (deadline `at` or none);
                      drop_docs(nk, K) removes them (before K's vectors change or go).
  forget(nk, K)       K out of the index, the vectors and the deadlines (the item key itself is
                      the caller's); a new version when that removed anything, and the
                      namespace unlisted when that emptied it.
  expire(nk, now, n)  removes the items whose deadline has passed (at most n, all when n is nil):
                      the key too, because a script may still see a key in its last millisecond.
]]
local SFX = ''  -- the bucket suffix: "" on one server, ":{b}" on a cluster

local function bucket(prefix, key)
  SFX = string.sub(key, #prefix + 4)  -- after "<prefix>_ns"
end

local function ns_keys(prefix, ns)
  -- one server: {N}; a cluster: {b}N, b the bucket's tag (SFX is ":{b}")
  local tag = SFX == '' and ('{' .. ns .. '}') or (string.sub(SFX, 2) .. ns)
  return {
    prefix = prefix,
    ns = ns,
    listed = prefix .. '_ns' .. SFX,
    order = prefix .. '_nsseq' .. SFX,
    seq = prefix .. '_seq' .. SFX,
    dims = prefix .. '_dims' .. SFX,
    zero = prefix .. '_fvzero' .. SFX,
    versions = prefix .. '_nsver' .. SFX,
    docs = prefix .. '_fv:' .. tag .. ':',
    items = prefix .. ':' .. tag .. ':',
    index = prefix .. '_keys:' .. tag,
    vectors = prefix .. '_vec:' .. tag,
    deadlines = prefix .. '_exp:' .. tag,
    log = prefix .. '_log:' .. tag,
    due = prefix .. '_nsdue' .. SFX,
  }
end

local STAMP = 0  -- a put's order stamp from the client (store_put's ARGV[9]); 0: none

local function next_seq(nk)
  if SFX == '' then return tostring(redis.call('INCR', nk.seq)) end
  local n = tonumber(redis.call('GET', nk.seq) or '0') + 1
  if STAMP > n then n = STAMP end
  local s = string.format('%.0f', n)
  redis.call('SET', nk.seq, s)
  return s
end

local function under(prefix, p)
  local key, namespaces = prefix .. '_ns' .. SFX, nil
  if p == '' then
    namespaces = redis.call('ZRANGE', key, 0, -1)
  else
    namespaces = redis.call('ZRANGEBYLEX', key, '[' .. p .. ':', '(' .. p .. ';')
    if redis.call('ZSCORE', key, p) then table.insert(namespaces, 1, p) end
  end
  local order = {}
  for i, ns in ipairs(namespaces) do
    order[i] = {ns, tonumber(redis.call('HGET', prefix .. '_nsseq' .. SFX, ns) or '0')}
  end
  table.sort(order, function(a, b) return a[2] < b[2] end)
  return order
end

local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- the vector index's dimensions when documents are kept, else nil (read once per call)
local fv_read, fv_dims = false, nil
local function index_dims(prefix)
  if not fv_read then
    -- (one server only: a cluster has no vector index, and _fvon is in no namespace's slot)
    fv_dims = SFX == '' and tonumber(redis.call('GET', prefix .. '_fvon') or '') or nil
    fv_read = true
  end
  return fv_dims
end

-- each document of K (as many as its stored vectors hold)
local function each_doc(nk, k, fn)
  local dims = index_dims(nk.prefix)
  if not dims then return end
  local n = math.floor(redis.call('HSTRLEN', nk.vectors, k) / (4 * dims))
  for i = 1, n do fn(nk.docs .. k .. ':' .. i) end
end

local function drop_docs(nk, k)
  each_doc(nk, k, function(d) redis.call('UNLINK', d) end)
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

local function write_docs(nk, k, raw, at)
  local dims = index_dims(nk.prefix)
  if not dims or not raw or raw == '' then return end
  local w = 4 * dims
  if #raw % w ~= 0 then return end  -- another embedding's vectors: never in the index
  local seq = redis.call('HGET', nk.items .. k, 's')
  local o = redis.call('HGET', nk.order, nk.ns)
  local p = tags(nk.ns)
  for i = 1, #raw / w do
    local v = string.sub(raw, (i - 1) * w + 1, i * w)
    if string.find(v, '^[%z\128]*$') then
      -- +0 and -0 only (and some denormals: scanning them too is merely slower)
      redis.call('ZADD', nk.zero, 0, nk.ns)
    else
      local d = nk.docs .. k .. ':' .. i
      redis.call('HSET', d, 'v', v, 'p', p, 's', seq, 'o', o)
      if at then redis.call('PEXPIREAT', d, at) end
    end
  end
end

local LOG = 64  -- log entries kept per namespace: the last 32 to 63 changes
local has_vectors = nil
local function bump(nk, k)
  local seq = next_seq(nk)
  local t = redis.call('TIME')
  local version = seq .. '@' .. t[1] .. '.' .. t[2]
  redis.call('HSET', nk.versions, nk.ns, version)
  if has_vectors == nil then has_vectors = redis.call('EXISTS', nk.dims) == 1 end
  if has_vectors then
    redis.call('ZADD', nk.log, seq, 'k:' .. k, seq, 'v:' .. version)
    redis.call('ZREMRANGEBYRANK', nk.log, 0, -(LOG + 1))
  end
end

local function since(nk, version)
  return redis.call('ZSCORE', nk.log, 'v:' .. version)
end

local function arm(nk, k, ttl, now)
  redis.call('PEXPIREAT', nk.items .. k, now + ttl)
  redis.call('ZADD', nk.deadlines, now + ttl, k)
  redis.call('ZADD', nk.due, 'LT', now + ttl, nk.ns)
  each_doc(nk, k, function(d) redis.call('PEXPIREAT', d, now + ttl) end)
end

local function disarm(nk, k)
  redis.call('PERSIST', nk.items .. k)
  redis.call('ZREM', nk.deadlines, k)
  each_doc(nk, k, function(d) redis.call('PERSIST', d) end)
end

local function forget(nk, k)
  drop_docs(nk, k)
  local gone = redis.call('ZREM', nk.index, k) + redis.call('HDEL', nk.vectors, k)
  redis.call('ZREM', nk.deadlines, k)
  if gone > 0 then
    bump(nk, k)
    if redis.call('ZCARD', nk.index) == 0 then
      -- emptied: unlisted now, its place in the search order (prefix_nsseq) kept for good
      redis.call('ZREM', nk.listed, nk.ns)
      redis.call('HDEL', nk.versions, nk.ns)
      redis.call('UNLINK', nk.log)
      redis.call('ZREM', nk.zero, nk.ns)
      redis.call('ZREM', nk.due, nk.ns)
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
end
