--[[ store_get: one item of RedisStore, refreshing its TTL when asked, in one call.

  KEYS[1]  item hash          store:{N}:K
  KEYS[2]  the fence          store_fence<b>  never written (<b> the bucket suffix, "" on one
                                               server): declared so that while the bucket's
                                               slot migrates the server answers TRYAGAIN/ASK
                                               before the script starts. Its name also gives
                                               the script the store prefix ("store", before
                                               "_fence") and the bucket (includes/store.lua:
                                               Buckets)
  ARGV[1]  refresh: "1" to refresh the item's TTL (GetOp.refresh_ttl, or a search's page),
           "0" not to
  ARGV[2]  ns: N, the encoded namespace
  ARGV[3]  key: K, the encoded key
  ARGV[4]  query: "1" when a query reads the items it ranked (ops.StoreOps._search), "0"
           for a get

  For a query: a missing item's index, vector and deadline entries go (an item evicted under
  maxmemory leaves them, and the query found them: includes/store.lua), and the namespace's
  version comes back, so a query that scanned under another one knows the namespace changed
  between its scan and this read. A get pays for neither: one that does not re-arm returns
  before includes/store.lua is even defined (it costs the server per call: see there).
  Returns nil when the item does not exist (or expired), else { y, v, c, u } for a get and
  { y, v, c, u, version or false } for a query.
]]
local h = redis.call('HMGET', KEYS[1], 'y', 'v', 'c', 'u', 't')
local query, refresh = ARGV[4] == '1', ARGV[1] == '1' and h[5]
if not query and not refresh then
  if not h[1] then return nil end
  return {h[1], h[2], h[3], h[4]}
end
--@include store
local nk = ns_keys(ARGV[2], bucket(string.match(KEYS[2], FENCE)))
if not h[1] then
  if query then forget(nk, ARGV[3]) end
  return nil
end
if refresh then arm(nk, ARGV[3], tonumber(h[5]), now_ms()) end
if not query then return {h[1], h[2], h[3], h[4]} end
return {h[1], h[2], h[3], h[4], redis.call('HGET', bk(nk.b, '_nsver'), ARGV[2]) or false}
