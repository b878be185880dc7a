--[[ store.lua: one namespace of RedisStore, for the store_* scripts.

  ns_keys(prefix, N)  the keys of namespace N, all in its hash tag {N} (ops.StoreOps names them
                      the same way):
      items      prefix:{N}:<K>    HASH  y serde type, v serde bytes, c created ms, u updated
                                         ms, s seq, t TTL ms (items with a TTL only)
      index      prefix_keys:{N}   ZSET  K by insertion seq (InMemoryStore's order)
      vectors    prefix_vec:{N}    HASH  K -> msgpack {path: float32 bytes}: one HGETALL gives
                                         a query every candidate's vectors
      deadlines  prefix_exp:{N}    ZSET  K by its item's expiry (ms): the item's own PEXPIREAT,
                                         mirrored so that expired items leave the index and the
                                         vectors before anyone reads them
      version    prefix_nsver      HASH  N -> a stamp that changes whenever N's keys, order or
                                         vectors may have: a client caches a namespace's
                                         vectors under it and is sent them again only after a
                                         change (store_search-1.lua). seq@time: unique even after
                                         a failover or a restore rewinds the counter.
  now_ms()            the server's clock.
  bump(nk)            a new version for the namespace.
  arm(nk, K, ttl, now)   the item's deadline now + ttl, on the key and in the mirror, together.
  disarm(nk, K)       no deadline: PERSIST and out of the mirror.
  forget(nk, K)       K out of the index, the vectors and the deadlines (the item key itself is
                      the caller's); a new version when that removed anything.
  expire(nk, now, n)  removes the items whose deadline has passed (at most n, all when n is nil):
                      the key too, because a script may still see a key in its last millisecond.
]]
local function ns_keys(prefix, ns)
  local tag = '{' .. ns .. '}'
  return {
    prefix = prefix,
    ns = ns,
    versions = prefix .. '_nsver',
    items = prefix .. ':' .. tag .. ':',
    index = prefix .. '_keys:' .. tag,
    vectors = prefix .. '_vec:' .. tag,
    deadlines = prefix .. '_exp:' .. tag,
  }
end

local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

local function bump(nk)
  local seq = redis.call('INCR', nk.prefix .. '_seq')
  local t = redis.call('TIME')
  redis.call('HSET', nk.versions, nk.ns, seq .. '@' .. t[1] .. '.' .. t[2])
end

local function arm(nk, k, ttl, now)
  redis.call('PEXPIREAT', nk.items .. k, now + ttl)
  redis.call('ZADD', nk.deadlines, now + ttl, k)
end

local function disarm(nk, k)
  redis.call('PERSIST', nk.items .. k)
  redis.call('ZREM', nk.deadlines, k)
end

local function forget(nk, k)
  local gone = redis.call('ZREM', nk.index, k) + redis.call('HDEL', nk.vectors, k)
  redis.call('ZREM', nk.deadlines, k)
  if gone > 0 then bump(nk) end
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
