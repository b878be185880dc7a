--[[ store_sweep: removes the entries of every expired item of RedisStore now (sweep_ttl), on
  one server or on one master of a cluster.

  No KEYS: a fan-out, called as store_namespaces is (once per master on a cluster, with the
  master's buckets; each bucket's fence touched first, so a migrating slot is refused before
  anything changes).

  ARGV[1]  prefix: the store prefix ("store")
  ARGV[2]  buckets: "" on one server; on a cluster the master's bucket suffixes joined by
           "," ("," for none)

  Redis drops an expired item's hash by itself; its entries (the namespace's key index,
  vectors, deadline, and the namespace's place in the listings once it is empty) go when a
  script meets them: a put of the namespace removes up to 16, a listing or a search all of
  the namespaces it reads. This call does the rest at once, reading only the namespaces the
  bucket's due set (store_nsdue<b>) says may hold an expired item, so it costs nothing where
  nothing is due. Nothing needs it for correctness: no read ever returns an expired item.
  Returns the number of expired items whose entries it removed.
]]
--@include store
local prefix, now, removed = ARGV[1], now_ms(), 0

local function sweep(b)
  local due = bk(b, '_nsdue')
  local expiring = redis.call('ZRANGEBYSCORE', due, '-inf', now)
  if #expiring == 0 then return end
  redis.call('EXISTS', bk(b, '_fence'))
  for _, ns in ipairs(expiring) do removed = removed + settle(ns_keys(ns, b), now) end
end

if ARGV[2] == '' then
  sweep(bucket(prefix, ''))
else
  for sfx in string.gmatch(ARGV[2], '[^,]+') do sweep(bucket(prefix, sfx)) end
end
return removed
