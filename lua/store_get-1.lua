--[[ store_get: one item of RedisStore, refreshing its TTL when asked, in one call.

  KEYS[1]  item hash          store:{N}:K
  ARGV[1]  "1" to refresh the item's TTL (GetOp.refresh_ttl), "0" not to

  Returns nil when the item does not exist (or expired), else { y, v, c, u }.
]]
local h = redis.call('HMGET', KEYS[1], 'y', 'v', 'c', 'u', 't')
if not h[1] then return nil end
if ARGV[1] == '1' and h[5] then redis.call('PEXPIRE', KEYS[1], h[5]) end
return {h[1], h[2], h[3], h[4]}
