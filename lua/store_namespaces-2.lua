--[[ store_namespaces: the namespaces of RedisStore that hold a live item (ListNamespacesOp).

  KEYS[1]  namespaces         store_ns<b>     (ZSET, score 0, lexical; <b> the bucket suffix,
                                               "" on one server; on a cluster the client
                                               calls this once per bucket that exists)
  KEYS[2]  the fence          store_fence<b>  never written: declared so that while the
                                               bucket's slot migrates the server answers
                                               TRYAGAIN/ASK before the script starts
                                               (includes/store.lua: Buckets)
  ARGV[1]  the store prefix   ("store")

  A namespace is listed while its index holds a key (includes/store.lua: the forget() that
  empties it unlists it): PostgresStore's answer, not InMemoryStore's (whose dict keeps an
  emptied namespace). Items expire on their own, without a script, so first the namespaces
  that may hold an expired item (store_nsdue: a time at or before their earliest deadline) are
  expired, with their entries; that may empty and so unlist them. Every other namespace costs
  nothing here, so a listing reads one sorted set, not each namespace.
  An item evicted under maxmemory leaves its entries until a search meets it or its deadline
  passes: keep store data under noeviction or a volatile-* policy (README).
  Prefix, suffix and depth are applied by the client.
  Returns { N, ... } in lexical order.
]]
--@include store
local prefix, now = ARGV[1], now_ms()
bucket(prefix, KEYS[1])
for _, ns in ipairs(redis.call('ZRANGEBYSCORE', prefix .. '_nsdue' .. SFX, '-inf', now)) do
  local nk = ns_keys(prefix, ns)
  expire(nk, now)
  local next = redis.call('ZRANGE', nk.deadlines, 0, 0, 'WITHSCORES')
  if next[2] then
    redis.call('ZADD', nk.due, next[2], ns)
  else
    redis.call('ZREM', nk.due, ns)
  end
end
return redis.call('ZRANGE', KEYS[1], 0, -1)
