--[[ store_put: put or delete one item of RedisStore (langgraph.store.redis), atomically.

  KEYS[1]  item hash          store:{N}:K     (fields: includes/store.lua)
  KEYS[2]  namespace keys     store_keys:{N}  (ZSET, member K, score = the item's seq)
  KEYS[3]  namespaces         store_ns<b>     (ZSET, score 0, lexical: prefix listings; <b> the
                                               bucket suffix, "" on one server: store.lua)
  KEYS[4]  the fence          store_fence<b>  never written: declared so that while the
                                               bucket's slot migrates the server answers
                                               TRYAGAIN/ASK before the script starts
                                               (includes/store.lua: Buckets)

  ARGV[1]  N, the encoded namespace (labels encoded and joined by ":")
  ARGV[2]  K, the encoded key
  ARGV[3]  the value's serde bytes (msgpack for JSON-like values), or "" to delete the item
  ARGV[4]  TTL in ms, "0" for none
  ARGV[5]  the item's vectors (float32s, one vector after another), or "" for none
  ARGV[6]  the value's serde type ("msgpack", "json", ...)
  ARGV[7]  the store prefix ("store"): the namespace's other keys (store_vec:{N},
           store_exp:{N}, and the bucket's store_seq<b>, store_nsseq<b>, store_nsver<b>, ...)
           are named from it (ns_keys in includes/store.lua)
  ARGV[8]  the dimensions of the vectors in ARGV[5] ("0" with none): the bucket's first vector
           sets store_dims<b>, and a put of other dimensions is refused (an embedding function
           changed under stored vectors would have every query misread them)
  ARGV[9]  the put's order stamp on a cluster (includes/store.lua: next_seq), "0" on one server

  An update keeps the item's created time and its place in the order (InMemoryStore's dict
  keeps an updated key's position); a delete removes the item and its entries, and unlists the
  namespace when that empties it (forget in includes/store.lua). An item that expires empties
  it without any script running: the next listing finds the namespace due and unlists it
  (store_namespaces-2.lua). Each put also removes up to 16 expired
  items of its namespace, so a namespace that is written but never read does not grow.
  Once setup() readied the server's vector index (store_fvon; one server only), the item's vectors also get
  their documents (includes/store.lua).
  Returns 1 when the item existed before, else 0; an error "DIMS ..." for vectors of other
  dimensions than the store's.
]]
--@include store
local item, keys, ns_set = KEYS[1], KEYS[2], KEYS[3]
local ns, key, value, ttl, vectors = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4]), ARGV[5]
bucket(ARGV[7], ns_set)
STAMP = tonumber(ARGV[9])
local nk = ns_keys(ARGV[7], ns)
local dims = tonumber(ARGV[8])
if dims > 0 then
  local have = redis.call('GET', nk.dims)
  if not have then
    redis.call('SET', nk.dims, dims)
  elseif tonumber(have) ~= dims then
    return redis.error_reply('DIMS the store holds vectors of ' .. have ..
      ' dimensions; this put has ' .. dims)
  end
  has_vectors = true  -- (includes/store.lua: bump() need not ask)
end
local now = now_ms()
expire(nk, now, 16)
local existed = redis.call('EXISTS', item)
if value == '' then
  redis.call('UNLINK', item)
  forget(nk, key)
  return existed
end
local seq
if existed == 1 then
  seq = redis.call('HGET', item, 's')
  redis.call('HDEL', item, 't')
else
  seq = next_seq(nk)
  redis.call('HSET', item, 'c', now, 's', seq)
end
-- after the seq: a key created since a version has a seq above it (store_search-2.lua's delta)
bump(nk, key)
redis.call('HSET', item, 'y', ARGV[6], 'v', value, 'u', now)
drop_docs(nk, key)
if vectors ~= '' then
  redis.call('HSET', nk.vectors, key, vectors)
else
  redis.call('HDEL', nk.vectors, key)
end
redis.call('ZADD', keys, seq, key)
redis.call('ZADD', ns_set, 'NX', 0, ns)
-- a namespace keeps its first place for good, even after it was emptied (as InMemoryStore's
-- dict keeps it): so the search order never depends on whether someone listed namespaces
redis.call('HSETNX', nk.order, ns, seq)
write_docs(nk, key, vectors, nil)
if ttl > 0 then
  redis.call('HSET', item, 't', ttl)
  arm(nk, key, ttl, now)
else
  disarm(nk, key)
end
return existed
