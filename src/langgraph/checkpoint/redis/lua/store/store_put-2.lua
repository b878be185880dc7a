--[[ store_put: put or delete one item of RedisStore (langgraph.store.redis), atomically.

  KEYS[1]  item hash          store:{N}:K     (fields: includes/store.lua)
  KEYS[2]  the fence          store_fence<b>  never written (<b> the bucket suffix, "" on one
                                               server): declared so that while the bucket's
                                               slot migrates the server answers TRYAGAIN/ASK
                                               before the script starts. Its name also gives
                                               the script the store prefix ("store", before
                                               "_fence": the namespace's other keys, such as
                                               store_keys:{N}, the ZSET of its keys by seq,
                                               store_vec:{N}, store_exp:{N}, and the bucket's
                                               store_ns<b>, the lexical ZSET of namespaces,
                                               store_seq<b>, store_nsseq<b>, ..., are named
                                               from it: ns_keys in includes/store.lua) and the
                                               bucket (includes/store.lua: Buckets)

  ARGV[1]  ns: N, the encoded namespace (labels encoded and joined by ":")
  ARGV[2]  key: K, the encoded key
  ARGV[3]  value: the value's serde bytes (msgpack for JSON-like values), or "" to delete
           the item
  ARGV[4]  ttl: TTL in ms, "0" for none
  ARGV[5]  vectors: the item's vectors (float32s, one vector after another), or "" for none
  ARGV[6]  type: the value's serde type ("msgpack", "json", ...)
  ARGV[7]  dims: the dimensions of the vectors in ARGV[5] ("0" with none): the bucket's first
           vector sets store_dims<b>, and a put of other dimensions is refused (an embedding
           function changed under stored vectors would have every query misread them)
  ARGV[8]  stamp: the put's order stamp on a cluster (includes/store.lua: next_seq), "0" on
           one server

  The item's times (fields c and u) are the server's clock in microseconds (items written
  before kept milliseconds: ops._time tells them apart by size).
  An update keeps the item's created time and its place in the order (InMemoryStore's dict
  keeps an updated key's position); a delete removes the item and its entries, and unlists the
  namespace when that empties it (forget in includes/store.lua). An item that expires empties
  it without any script running: the next listing finds the namespace due and unlists it
  (store_namespaces-0.lua). Each put also removes up to 16 expired
  items of its namespace, so a namespace that is written but never read does not grow.
  Once setup() readied the server's vector index (store_fvon; one server only), the item's
  vectors also get their documents (includes/store.lua: docs).
  Returns 1 when the item existed before, else 0; an error "DIMS ..." for vectors of other
  dimensions than the store's.
]]
--@include store
local item = KEYS[1]
local ns, key, value, ttl, vectors = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4]), ARGV[5]
STAMP = tonumber(ARGV[8])
local nk = ns_keys(ns, bucket(string.match(KEYS[2], FENCE)))
local dims = tonumber(ARGV[7])
if dims > 0 then
  local have = redis.call('GET', bk(nk.b, '_dims'))
  if not have then
    redis.call('SET', bk(nk.b, '_dims'), dims)
  elseif tonumber(have) ~= dims then
    return redis.error_reply('DIMS the store holds vectors of ' .. have ..
      ' dimensions; this put has ' .. dims)
  end
  nk.b.vec = true  -- (includes/store.lua: bump() need not ask)
end
local now = now_ms()
-- the item's times, in microseconds (InMemoryStore's resolution): an update within the same
-- millisecond still moves updated_at, and it never goes back (a later put is later)
local us = tonumber(TIME[1]) * 1000000 + tonumber(TIME[2])
expire(nk, now, 16)
local old = redis.call('HMGET', item, 's', 't', 'u')  -- its seq (every item has one), TTL, time
local existed = old[1] and 1 or 0
if old[3] and tonumber(old[3]) >= us then us = tonumber(old[3]) + 1 end
us = string.format('%.0f', us)
if value == '' then
  redis.call('UNLINK', item)
  forget(nk, key)
  return existed
end
local seq = old[1]
if not seq then
  seq = next_seq(nk)
  redis.call('HSET', item, 'c', us, 's', seq)
end
-- after the seq: a key created since a version has a seq above it (store_search-0.lua's delta)
bump(nk, key)
redis.call('HSET', item, 'y', ARGV[6], 'v', value, 'u', us)
local D = docs(nk)
if D then D.each(nk, key, 'UNLINK') end
if vectors ~= '' then
  redis.call('HSET', nk.vectors, key, vectors)
else
  redis.call('HDEL', nk.vectors, key)
end
redis.call('ZADD', nk.index, seq, key)
redis.call('ZADD', bk(nk.b, '_ns'), 'NX', 0, ns)
-- a namespace keeps its first place for good, even after it was emptied (as InMemoryStore's
-- dict keeps it): so the search order never depends on whether someone listed namespaces
redis.call('HSETNX', bk(nk.b, '_nsseq'), ns, seq)
if D then D.write(nk, key, vectors, nil) end
if ttl > 0 then
  redis.call('HSET', item, 't', ttl)
  arm(nk, key, ttl, now)
elseif old[2] then
  redis.call('HDEL', item, 't')
  disarm(nk, key)
else
  -- no TTL before or now (a key's expiry goes with its t field): only a stale deadline can
  -- remain, of an item evicted under maxmemory and put again, and it must not expire this one
  redis.call('ZREM', nk.deadlines, key)
end
return existed
