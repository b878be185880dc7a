--[[ store_namespaces: the namespaces of RedisStore that hold a live item (ListNamespacesOp).

  KEYS[1]  namespaces         store_ns        (ZSET, score 0, lexical)
  ARGV[1]  the store prefix   ("store")

  A namespace whose items were all deleted or expired is dropped from the index here (its place
  in the search order, store_nsseq, stays: see store_put-3.lua), so it is never listed:
  PostgresStore's answer, not InMemoryStore's (whose dict keeps an emptied namespace). Expired
  items are removed on the way, with their entries (includes/store.lua). Prefix, suffix and
  depth are applied by the client.
  Returns { N, ... } in lexical order.
]]
--@include store
local prefix, now = ARGV[1], now_ms()
local out = {}
for _, ns in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  local nk = ns_keys(prefix, ns)
  expire(nk, now)
  local live = false
  while true do
    local first = redis.call('ZRANGE', nk.index, 0, 0)[1]
    if not first then break end
    if redis.call('EXISTS', nk.items .. first) == 1 then
      live = true
      break
    end
    forget(nk, first)  -- evicted, or gone without its deadline in the mirror
  end
  if live then
    out[#out + 1] = ns
  else
    redis.call('ZREM', KEYS[1], ns)
    redis.call('HDEL', nk.versions, ns)
    redis.call('ZREM', prefix .. '_fvzero', ns)
  end
end
return out
