--[[ store_put: put or delete one item of RedisStore (langgraph.store.redis), atomically.

  KEYS[1]  item hash          store:{N}:K     (v value, c created ms, u updated ms, s seq,
                                               t ttl ms or absent, e vectors or absent)
  KEYS[2]  namespace keys     store_keys:{N}  (ZSET, member K, score = the item's seq)
  KEYS[3]  namespaces         store_ns        (ZSET, score 0, lexical: prefix listings)

  ARGV[1]  N, the encoded namespace (labels encoded and joined by ":")
  ARGV[2]  K, the encoded key
  ARGV[3]  the value (serde-typed msgpack, opaque here), or "" to delete the item
  ARGV[4]  TTL in ms, "0" for none
  ARGV[5]  the vectors (msgpack {path: float32 bytes}, opaque here), or "" for none
  ARGV[6]  the sequence counter key  store_seq   (insertion order, as InMemoryStore keeps it)
  ARGV[7]  the namespace order hash  store_nsseq (N -> seq of its first item)

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
redis.call('HSET', item, 'v', value, 'u', now)
if vectors ~= '' then redis.call('HSET', item, 'e', vectors) end
redis.call('ZADD', keys, seq, key)
if redis.call('ZADD', ns_set, 'NX', 0, ns) == 1 or redis.call('HEXISTS', ARGV[7], ns) == 0 then
  redis.call('HSET', ARGV[7], ns, seq)
end
if ttl > 0 then
  redis.call('HSET', item, 't', ttl)
  redis.call('PEXPIRE', item, ttl)
else
  redis.call('PERSIST', item)
end
return existed
