--[[ store_get: one item of RedisStore, refreshing its TTL when asked, in one call.

  KEYS[1]  item hash          store:{N}:K
  KEYS[2]  namespaces         store_ns<b>, N's bucket (includes/store.lua): declared so that
                              the script knows the bucket's keys (and a cluster its slot)
  KEYS[3]  the fence          store_fence<b>  never written: declared so that while the
                                               bucket's slot migrates the server answers
                                               TRYAGAIN/ASK before the script starts
                                               (includes/store.lua: Buckets)
  ARGV[1]  "1" to refresh the item's TTL (GetOp.refresh_ttl, or a search's page), "0" not to
  ARGV[2]  the store prefix ("store")
  ARGV[3]  N, the encoded namespace
  ARGV[4]  K, the encoded key
  ARGV[5]  "1" when a query reads the items it ranked (ops.StoreOps._search), "0" for a get

  For a query: a missing item's index, vector and deadline entries go (an item evicted under
  maxmemory leaves them, and the query found them: includes/store.lua), and the namespace's
  version comes back, so a query that scanned under another one knows the namespace changed
  between its scan and this read. A get pays for neither.
  Returns nil when the item does not exist (or expired), else { y, v, c, u } for a get and
  { y, v, c, u, version or false } for a query.
]]
--@include store
bucket(ARGV[2], KEYS[2])
local h = redis.call('HMGET', KEYS[1], 'y', 'v', 'c', 'u', 't')
local nk = ns_keys(ARGV[2], ARGV[3])
local query = ARGV[5] == '1'
if not h[1] then
  if query then forget(nk, ARGV[4]) end
  return nil
end
if ARGV[1] == '1' and h[5] then arm(nk, ARGV[4], tonumber(h[5]), now_ms()) end
if not query then return {h[1], h[2], h[3], h[4]} end
return {h[1], h[2], h[3], h[4], redis.call('HGET', nk.versions, ARGV[3]) or false}
