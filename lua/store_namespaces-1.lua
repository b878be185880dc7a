--[[ store_namespaces: the namespaces of RedisStore that hold a live item (ListNamespacesOp).

  KEYS[1]  namespaces         store_ns        (ZSET, score 0, lexical)
  ARGV[1]  the store prefix   ("store")
  ARGV[2]  unused (was the order hash; kept so the call shape stays)

  A namespace whose items were all deleted or expired is dropped from the index here (its place
  in the search order, store_nsseq, stays: see store_put-3.lua), so it is never listed: PostgresStore's answer, not InMemoryStore's (whose dict
  keeps an emptied namespace). Prefix, suffix and depth are applied by the client.
  Returns { N, ... } in lexical order.
]]
local prefix = ARGV[1]
local out = {}
for _, ns in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  local idx = prefix .. '_keys:{' .. ns .. '}'
  local live = false
  while true do
    local first = redis.call('ZRANGE', idx, 0, 0)[1]
    if not first then break end
    if redis.call('EXISTS', prefix .. ':{' .. ns .. '}:' .. first) == 1 then
      live = true
      break
    end
    redis.call('ZREM', idx, first)
  end
  if live then
    out[#out + 1] = ns
  else
    redis.call('ZREM', KEYS[1], ns)
  end
end
return out
