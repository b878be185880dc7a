--[[ store_put: put or delete one item of RedisStore (langgraph.store.redis), atomically.

  KEYS[1]  item hash          store:{N}:K     (y serde type, v serde bytes, c created ms,
                                               u updated ms, s seq, t ttl ms or absent,
                                               e vectors or absent)
  KEYS[2]  namespace keys     store_keys:{N}  (ZSET, member K, score = the item's seq)
  KEYS[3]  namespaces         store_ns        (ZSET, score 0, lexical: prefix listings)

  ARGV[1]  N, the encoded namespace (labels encoded and joined by ":")
  ARGV[2]  K, the encoded key
  ARGV[3]  the value's serde bytes (msgpack for JSON-like values), or "" to delete the item
  ARGV[4]  TTL in ms, "0" for none
  ARGV[5]  the vectors (msgpack {path: float32 bytes}, opaque here), or "" for none
  ARGV[6]  the sequence counter key  store_seq   (insertion order, as InMemoryStore keeps it)
  ARGV[7]  the namespace order hash  store_nsseq (N -> seq of its first item)
  ARGV[8]  the value's serde type ("msgpack", "json", ...)

  An update keeps the item's created time and its place in the order (InMemoryStore's dict
  keeps an updated key's position); a delete removes the item and its index entry. The
  namespace stays listed until a reader finds it empty (store_namespaces-1.lua), because an
  expired item can empty a namespace without any script running.
  Returns 1 when the item existed before, else 0.
]]
local item, keys, ns_set = KEYS[1], KEYS[2], KEYS[3]
local ns, key, value, ttl, vectors = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4]), ARGV[5]
local existed = redis.call('EXISTS', item)
if value == '' then
  redis.call('UNLINK', item)
  redis.call('ZREM', keys, key)
  return existed
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local seq
if existed == 1 then
  seq = redis.call('HGET', item, 's')
  redis.call('HDEL', item, 't', 'e')
else
  seq = redis.call('INCR', ARGV[6])
  redis.call('HSET', item, 'c', now, 's', seq)
end
redis.call('HSET', item, 'y', ARGV[8], 'v', value, 'u', now)
if vectors ~= '' then redis.call('HSET', item, 'e', vectors) end
redis.call('ZADD', keys, seq, key)
redis.call('ZADD', ns_set, 'NX', 0, ns)
-- a namespace keeps its first place for good, even after it was emptied (as InMemoryStore's
-- dict keeps it): so the search order never depends on whether someone listed namespaces
redis.call('HSETNX', ARGV[7], ns, seq)
if ttl > 0 then
  redis.call('HSET', item, 't', ttl)
  redis.call('PEXPIRE', item, ttl)
else
  redis.call('PERSIST', item)
end
return existed
